"""The one atomic, owner-only writer every record and the address book go through."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tui_sender.core.base.private_files import atomic_private, write_private_json


def test_a_new_file_is_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        with atomic_private(tmp_path / "report.html") as f:
            f.write("<p>é</p>")
    finally:
        os.umask(old)
    path = tmp_path / "report.html"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="utf-8") == "<p>é</p>"


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    with atomic_private(path, binary=True) as f:
        f.write(b"old = 1\n")
    with pytest.raises(RuntimeError), atomic_private(path, binary=True) as f:
        f.write(b"new = ")
        raise RuntimeError("disk full, say")
    assert path.read_bytes() == b"old = 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_the_json_summary_goes_through_it(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text("{}")
    path.chmod(0o644)
    write_private_json(path, {"files": [{"path": "a\nb"}], "counts": {"sent": 1}})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert '"a\\nb"' in path.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]
