"""Helpers for end-to-end send tests: run the real CLI, read its record, compare data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom import Dataset, dcmread


@dataclass(frozen=True)
class SendRun:
    """What one ``tui-sender send`` process did."""

    exit_code: int
    stdout: str
    stderr: str
    summary: dict[str, Any]

    def files(self, state: str | None = None) -> list[dict[str, Any]]:
        """The per-file records, optionally only those in ``state``."""
        return [f for f in self.summary["files"] if state is None or f["state"] == state]


def run_cli(
    args: list[str], cwd: Path, *, timeout: float = 120, program: str = "tui-sender"
) -> SendRun:
    """Run ``tui-sender ARGS`` (or ``dicom-sender``) in a subprocess, return its record."""
    entry = "main" if program == "tui-sender" else "dicom_sender_main"
    code = f"import sys; from tui_sender.cli import {entry}; sys.exit({entry}())"
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "TUI_SENDER_CONFIG": str(cwd / "no-config.toml"),
        "TUI_SENDER_STATE_DIR": str(cwd / "state"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    summaries = sorted((cwd / "logs").glob("dicom_sender_summary_*.json"), key=os.path.getmtime)
    summary = json.loads(summaries[-1].read_text()) if summaries else {}
    return SendRun(proc.returncode, proc.stdout, proc.stderr, summary)


def read_dataset(path: Path | str) -> Dataset:
    """A file's data set without its file meta (what travels in a C-STORE)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = dcmread(path)
    ds.file_meta = Dataset()
    return ds


def datasets_by_uid(paths: list[Path]) -> dict[str, Dataset]:
    """Data sets keyed by SOP Instance UID."""
    out = {}
    for path in paths:
        ds = read_dataset(path)
        out[str(ds.SOPInstanceUID)] = ds
    return out


def assert_same_elements(original: Dataset, received: Dataset, where: str) -> None:
    """Element by element: same tags, same VRs where explicit, same values."""
    assert sorted(original.keys()) == sorted(received.keys()), f"{where}: tags differ"
    for element in original:
        assert element.value == received[element.tag].value, f"{where}: {element.tag} differs"


def check_counts_add_up(summary: dict[str, Any]) -> None:
    """found == sent + warning + failed + skipped, overall and per destination."""
    totals = summary["totals"]
    assert totals["found"] == sum(totals[s] for s in ("sent", "warning", "failed", "skipped"))
    assert totals["found"] == len(summary["files"])
    for dest in summary["destinations"]:
        t = dest["totals"]
        assert t["found"] == sum(t[s] for s in ("sent", "warning", "failed", "skipped"))


def child_pids(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    children = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.add(int(entry.name))
    return children


def is_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(done: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    """Poll ``done`` until it is true or ``timeout`` seconds pass; its last answer."""
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        time.sleep(step)
    return done()
