"""Starting and stopping local server processes: free ports, bounded waits, PIDs.

Each server is started in its own session (``start_new_session=True``), so
its PID is also its process-group ID and :func:`stop_process` can end it and
everything it forked (``storescp --fork``) without touching anything else.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago.

    Another process may take it before the server binds it; callers that
    start a server on it retry with a new port when the server exits early
    (see :func:`start_listening_process`).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def is_listening(port: int, pid: int | None = None) -> bool:
    """True when something (process ``pid``, if given) listens on TCP ``port``.

    Reads ``/proc/net/tcp{,6}`` instead of connecting, so a server that takes
    one association at a time (``storescp`` without ``--fork``) does not see a
    probe connection. With ``pid``, the listening socket must be one of that
    process's file descriptors: another program that grabbed the port does
    not count. Falls back to a connect probe off Linux.
    """
    if not Path("/proc/net/tcp").exists():
        return _accepts_connection(port)
    inodes = _listening_socket_inodes(port)
    if pid is None or not inodes:
        return bool(inodes)
    return not inodes.isdisjoint(_socket_inodes_of(pid))


def _listening_socket_inodes(port: int) -> set[str]:
    wanted = f":{port:04X}"
    inodes: set[str] = set()
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        with contextlib.suppress(OSError):
            for line in table.read_text().splitlines()[1:]:
                fields = line.split()
                if fields[1].endswith(wanted) and fields[3] == "0A":  # 0A = LISTEN
                    inodes.add(fields[9])
    return inodes


def _socket_inodes_of(pid: int) -> set[str]:
    inodes: set[str] = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:[") : -1])
    return inodes


def _accepts_connection(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    *,
    what: str,
    process: subprocess.Popen[bytes] | None = None,
    interval: float = 0.02,
) -> None:
    """Poll ``condition`` until true; raise ``TimeoutError`` after ``timeout`` s.

    Raises ``ServerExited`` at once if ``process`` exits while waiting.
    """
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if process is not None and process.poll() is not None:
            raise ServerExited(f"{what}: process {process.pid} exited ({process.returncode})")
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not ready after {timeout:.1f} s")
        time.sleep(interval)


class ServerExited(RuntimeError):
    """The server process ended while we waited for it to become ready."""


def start_process(
    command: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``command`` in its own session, stdout and stderr to ``log_path``.

    Output goes to a file, not a pipe, so a chatty server can never block on
    a full pipe nobody reads.
    """
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )


def stop_process(process: subprocess.Popen[bytes], timeout: float = 5.0) -> int | None:
    """SIGTERM the process group, SIGKILL it after ``timeout`` s; return the exit code.

    Signals go to the group whose ID is the process's own PID (it was started
    in a new session), which holds the server and any child it forked.
    """
    group = process.pid
    _signal_group(group, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        _signal_group(group, signal.SIGKILL)
        process.wait(timeout)
    # Forked children may outlive their parent; the group ID stays reserved
    # while any member lives, so this reaches only them.
    _signal_group(group, signal.SIGKILL)
    return process.returncode


def _signal_group(group: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signum)


def group_members(group: int) -> list[int]:
    """PIDs of live processes in process group ``group`` (Linux ``/proc``)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            # Fields after the ")" closing the command name: state, ppid, pgrp, ...
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) == group and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def log_tail(log_path: Path, lines: int = 20) -> str:
    """The last lines of a server log, for error messages."""
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
