"""What ``send`` has loaded when it dials the PACS: the engine's path, nothing of the app.

Start-up time is the time to the first A-ASSOCIATE-RQ; every module on the way
counts. This pins the list of our own modules loaded by then and forbids the
heavy ones a headless send never needs (how long it takes, ``bench`` measures).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.fault_runs import write_study

# Runs ``send`` until it opens its first TCP connection, then reports sys.modules and stops.
_PROBE = """
import json, os, socket, sys
def connect(*args, **kwargs):  # in a worker thread: os._exit ends the whole process at once
    print(json.dumps(sorted(sys.modules)))
    sys.stdout.flush()
    os._exit(0)
socket.create_connection = connect
from tui_sender.cli import main
sys.exit(main())
"""

NEVER_BEFORE_CONNECTING = (
    "textual", "jinja2", "tui_sender.ui", "tui_sender.demo",
    "pydicom", "numpy", "pynetdicom", "rich", "httpx",
)  # fmt: skip
"""The app, the HTML report's templates and the demo: a headless send needs none of them.
Nor, before its first association, pydicom and numpy (about 0.17 s to import here),
pynetdicom (our own PDUs) or Rich (the console comes while the association opens), nor httpx
(DICOMweb only)."""


def _modules_when_connecting(tmp_path: Path) -> list[str]:
    write_study(tmp_path / "in", 1)
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, "send", "-i", "in", "-a", "X", "-H", "127.0.0.1",
         "-p", "104", "-q", "--processes", "1"],  # the probe ends the process that dials
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"TUI_SENDER_STATE_DIR": str(tmp_path / "state"), "PATH": "/usr/bin:/bin",
             "TUI_SENDER_CONFIG": str(tmp_path / "none.toml"),
             "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    modules: list[str] = json.loads(proc.stdout.splitlines()[-1])
    return modules


def test_send_dials_without_the_app_or_the_report(tmp_path: Path) -> None:
    modules = _modules_when_connecting(tmp_path)
    loaded = [
        m
        for m in modules
        for banned in NEVER_BEFORE_CONNECTING
        if m == banned or m.startswith(banned + ".")
    ]
    assert loaded == []


def test_the_modules_of_ours_on_the_way_to_the_first_association(tmp_path: Path) -> None:
    """A change here is a start-up cost: make it on purpose (and measure it in bench)."""
    ours = {m for m in _modules_when_connecting(tmp_path) if m.startswith("tui_sender")}
    assert "tui_sender.commands.send" in ours and "tui_sender.core.net.opening" in ours
    assert not {m for m in ours if m.startswith("tui_sender.commands.") and m not in (
        "tui_sender.commands.send", "tui_sender.commands.common")}, ours  # fmt: skip
    assert len(ours) <= 74, sorted(
        ours
    )  # 73: the DICOMweb settings (three small modules, no httpx); 74: core.base.times
