"""What the numbers were measured on: machine, tool versions, source revision.

Recorded in the results JSON because a rate means little without it (two
cores shared by sender and receiver is not a server with sixteen).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import pydicom
import pynetdicom

import tui_sender
from bench import REPO_ROOT
from peers.dcmtk import find_dcmtk_tool
from peers.orthanc import find_orthanc


def describe_machine() -> dict[str, Any]:
    """Host, CPU, memory, kernel, and the versions of every program compared."""
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "system": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            "tui-sender": tui_sender.__version__,
            "pynetdicom": pynetdicom.__version__,
            "pydicom": pydicom.__version__,
            "dcmtk": _first_line([find_dcmtk_tool("storescu") or "storescu", "--version"]),
            "orthanc": _first_line([find_orthanc() or "Orthanc", "--version"]),
        },
        "source": str(REPO_ROOT),
        "git": {
            "commit": _first_line(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"]),
            "dirty": bool(_output(["git", "-C", str(REPO_ROOT), "status", "--porcelain"])),
        },
    }


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gb() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return None


def _output(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _first_line(command: list[str]) -> str:
    text = _output(command)
    return text.splitlines()[0] if text else ""


def short_summary(machine: dict[str, Any]) -> str:
    """One line for the report's header."""
    versions = machine["versions"]
    return (
        f"{machine['date']} on {machine['host']}: {machine['cpu']}, {machine['cores']} cores, "
        f"{machine['memory_gb']} GB; Python {machine['python']}, pynetdicom "
        f"{versions['pynetdicom']}; {versions['dcmtk']}; {versions['orthanc']}"
    )
