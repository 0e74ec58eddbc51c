"""The benchmark in its smallest configuration: one command, one table per set, JSON.

Runs ``python -m bench.run`` as a user would (a subprocess from the
repository root) with two tiny sets, storescu and tui-sender -t 1, into
storescp writing to disk: a few seconds. It checks what the bench promises:
a table per set with ratios to DCMTK storescu, and raw results in which every
run delivered every file, judged by the files storescp actually wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_smallest_bench_prints_ratio_tables_and_delivered_json(
    dcmtk_available: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "results" / "smoke.json"
    command = [
        sys.executable,
        "-m",
        "bench.run",
        "--sets",
        "large,tiny",
        "--profile",
        "tiny",
        "--scale",
        "0.01",
        "--receivers",
        "storescp",
        "--senders",
        "storescu,tui-t1",
        "--repeat",
        "1",
        "--data-dir",
        str(tmp_path / "data"),
        "--out",
        str(out),
    ]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=60, env=env, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr

    table = done.stdout
    assert "large: 140 files" in table
    assert "tiny: 100 files" in table
    rows = [line for line in table.splitlines() if line.startswith("│ storescp (disk)")]
    for label in ("DCMTK storescu, 1 process", "tui-sender -t 1"):
        assert sum(label in row for row in rows) == 2  # one row in each set's table
    assert table.count("1.00x") >= 4  # the baseline's own ratios, MB/s and images/s, per set
    assert "Scan speed" in table

    document = json.loads(out.read_text())
    runs = document["runs"]
    assert {(r["dataset"], r["sender"]) for r in runs} == {
        ("large", "storescu"),
        ("large", "tui-t1"),
        ("tiny", "storescu"),
        ("tiny", "tui-t1"),
    }
    for run in runs:
        assert run["delivered"] is True, run
        assert run["receiver_stored"] == run["files"]  # counted in storescp's folder
        assert run["sender_reported"] == run["files"]
        assert run["mb_per_s"] > 0 and run["rss_sum_mb"] > 5  # above the launcher's own RSS
        if run["sender"] == "tui-t1":
            assert run["cpu_s"] > 0.1  # a Python start-up at least; storescu may be below a tick
    tui_rows = [row for row in document["summary"] if row["sender"] == "tui-t1"]
    assert len(tui_rows) == 2
    assert all(row["images_ratio"] > 0 for row in tui_rows)
    assert out.with_suffix(".txt").read_text().count("x img/s") == 2


def test_keys_are_split_at_the_sessions_last_file() -> None:
    """Keys answered after the session's end_time are kept apart; unanswered keys fail
    the bar only when they had a second of the transfer left to show."""
    from bench.tui_driver import _split_at_session_end

    end = 1_000_000.0
    summary = {"end_time": "1970-01-12T13:46:40+00:00"}  # 1,000,000 s after the epoch
    probed = [
        (end - 3.0, 40.0, True),  # during the transfer
        (end - 2.0, 5000.0, False),  # never answered, 2 s before the end: a failure
        (end - 0.05, 120.0, True),  # answered after the end: apart
        (end - 0.5, 5000.0, False),  # never answered, sent at the very end: dropped
    ]
    during, at_end = _split_at_session_end(probed, summary)
    assert during == [40.0, 5000.0]
    assert at_end == [120.0]


def test_stow_rs_senders_side_by_side(tmp_path: Path) -> None:
    """tui-sender and dicomweb-client by STOW-RS into the scripted STOW-RS server: the
    DICOMweb table, the bar against dicomweb-client, and every instance delivered."""
    pytest.importorskip("dicomweb_client", reason="the bench extra (dicomweb-client)")
    out = tmp_path / "results" / "web.json"
    command = [
        sys.executable, "-m", "bench.run", "--sets", "tiny", "--profile", "tiny",
        "--scale", "0.005", "--receivers", "stow-server", "--senders",
        "tui-web-t1,dicomweb-client-1,dicomweb-client-b10-x2", "--no-scan",
        "--data-dir", str(tmp_path / "data"), "--out", str(out),
    ]  # fmt: skip
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=90, env=env, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "DICOMweb (STOW-RS) side by side" in done.stdout
    assert "x best client" in done.stdout

    document = json.loads(out.read_text())
    runs = document["runs"]
    assert {r["sender"] for r in runs} == {
        "tui-web-t1",
        "dicomweb-client-1",
        "dicomweb-client-b10-x2",
    }
    for run in runs:
        assert run["delivered"] is True, run
        assert run["receiver_stored"] == run["files"] == 50  # what the server stored
        assert run["sender_reported"] == run["files"]
    assert next(r for r in runs if r["sender"] == "dicomweb-client-b10-x2")["processes"] == 2
    bars = {b["bar"] for b in document["bars"]}
    assert bars == {
        "tui-web >= 1.5x dicomweb-client (1 process)",
        "tui-web >= 1.5x dicomweb-client (any N)",
    } or bars == {"tui-web >= 1.5x dicomweb-client (1 process)"}
