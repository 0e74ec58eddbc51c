"""Run sender processes and measure them: wall time, CPU seconds and peak RSS.

Why a launcher: ``ru_maxrss`` is a high-water mark that survives ``exec``,
and a child forked (or vforked) from this process starts with *our* peak
RSS, tens of megabytes of pydicom, pynetdicom and Rich. Measured directly,
``/bin/true`` would "use" 60 MB. So each command runs under a tiny
``python -S`` launcher, which forks and execs it and reports the child's
own ``wait4`` rusage and its start and end times (``CLOCK_MONOTONIC``, the
same clock in every process) in a small JSON file. Memory readings below the
launcher's own ~5 MB are therefore floored at that value; every sender here
needs more.

Nothing waits unbounded: after ``timeout`` seconds every child's process
group gets SIGTERM, then SIGKILL, and the run is marked timed out. Output
goes to log files, never pipes, so a chatty sender cannot block.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from peers.processes import start_process

KILL_GRACE_SECONDS = 5.0

LAUNCHER = """
import json, os, sys, time
usage_path, command = sys.argv[1], sys.argv[2:]
start = time.monotonic()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(command[0], command)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
end = time.monotonic()
code = os.waitstatus_to_exitcode(status)
with open(usage_path, "w") as out:
    json.dump({"start": start, "end": end, "exit_code": code, "user_s": usage.ru_utime,
               "system_s": usage.ru_stime, "max_rss_kb": usage.ru_maxrss}, out)
sys.exit(code if code >= 0 else 128 - code)
"""


@dataclass(frozen=True)
class ChildUsage:
    """One finished child: exit code (negative: killed by that signal) and its rusage."""

    command: tuple[str, ...]
    exit_code: int
    user_s: float
    system_s: float
    max_rss_kb: int
    log_path: Path


@dataclass(frozen=True)
class MeasuredRun:
    """Several children started together (N parallel storescu, or one sender)."""

    wall_s: float
    children: tuple[ChildUsage, ...]
    timed_out: bool

    @property
    def cpu_s(self) -> float:
        """User plus system CPU of all children."""
        return sum(c.user_s + c.system_s for c in self.children)

    @property
    def rss_sum_mb(self) -> float:
        """Sum of the children's peak RSS: the memory the whole configuration needed."""
        return sum(c.max_rss_kb for c in self.children) / 1024

    @property
    def rss_max_mb(self) -> float:
        """The largest single child's peak RSS."""
        return max((c.max_rss_kb for c in self.children), default=0) / 1024

    @property
    def all_exited_zero(self) -> bool:
        return not self.timed_out and all(c.exit_code == 0 for c in self.children)


def run_measured(
    commands: Sequence[Sequence[str]],
    *,
    log_dir: Path,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> MeasuredRun:
    """Start ``commands`` at once, wait for all (at most ``timeout`` s), measure them.

    Child ``i`` writes stdout and stderr to ``log_dir/child-i.log``. The
    wall time runs from the first child's start to the last one's end. On
    timeout, on Ctrl-C or on any error the children still running are
    stopped by their process-group ID (each starts its own session).
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    processes: list[subprocess.Popen[bytes]] = []
    started = time.monotonic()
    timed_out = False
    try:
        for index, command in enumerate(commands):
            usage_path = log_dir / f"child-{index}.usage.json"
            launcher = [sys.executable, "-S", "-c", LAUNCHER, str(usage_path), *command]
            log_path = log_dir / f"child-{index}.log"
            processes.append(start_process(launcher, log_path=log_path, env=env, cwd=cwd))
        deadline = started + timeout
        for process in processes:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
                break
    finally:
        _stop_running(processes)
    ended = time.monotonic()
    children, spans = [], []
    for index, (command, process) in enumerate(zip(commands, processes, strict=False)):
        usage = _read_usage(log_dir / f"child-{index}.usage.json")
        if usage is not None:
            spans.append((float(usage["start"]), float(usage["end"])))
        children.append(
            ChildUsage(
                command=tuple(command),
                exit_code=int(usage["exit_code"]) if usage else _exit_code(process),
                user_s=float(usage["user_s"]) if usage else 0.0,
                system_s=float(usage["system_s"]) if usage else 0.0,
                max_rss_kb=int(usage["max_rss_kb"]) if usage else 0,
                log_path=log_dir / f"child-{index}.log",
            )
        )
    complete = len(spans) == len(processes) and not timed_out
    wall = max(e for _, e in spans) - min(s for s, _ in spans) if complete else ended - started
    return MeasuredRun(wall_s=wall, children=tuple(children), timed_out=timed_out)


def _exit_code(process: subprocess.Popen[bytes]) -> int:
    """The launcher's exit code when the command's own is unknown (killed: negative)."""
    return process.returncode if process.returncode is not None else -int(signal.SIGKILL)


def _read_usage(path: Path) -> dict[str, float] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _stop_running(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM, then SIGKILL, the process groups of children still running.

    The SIGKILL goes to every such group even when its launcher already
    exited on SIGTERM: the command it started may have ignored the signal.
    """
    running = [p for p in processes if p.poll() is None]
    for signum in (signal.SIGTERM, signal.SIGKILL):
        for process in running:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signum)
        deadline = time.monotonic() + KILL_GRACE_SECONDS
        for process in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.0, deadline - time.monotonic()))
