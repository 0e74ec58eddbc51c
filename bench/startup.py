"""``python -m bench.startup``: time from exec to the first A-ASSOCIATE-RQ, side by side.

A listener on 127.0.0.1 timestamps the first bytes of each connection; each
sender is started with one small file to send to it, and its start-up is the
time from ``Popen`` to those bytes (the association request). The listener
then closes the connection and the sender is stopped. Reports the median of
``--repeat`` runs for tui-sender ``send`` and DCMTK ``storescu``, and their
ratio. The issue's goal is 120 ms on this machine.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import REPO_ROOT
from peers.dcmtk import dcmtk_environment, find_dcmtk_tool
from tui_sender.demo.samples.data import generate_tiny_files


def _first_bytes_after(command: list[str], env: dict[str, str], listener: socket.socket) -> float:
    started = time.monotonic()
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO_ROOT
    )
    try:
        listener.settimeout(10)
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(10)
            conn.recv(1)
            return time.monotonic() - started
    finally:
        proc.kill()
        proc.wait(5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, socket.create_server(("127.0.0.1", 0)) as listener:
        port = str(listener.getsockname()[1])
        generate_tiny_files(Path(tmp) / "one", 1)
        file = next(p for p in (Path(tmp) / "one").rglob("*") if p.is_file())
        env = {
            **os.environ,
            "TUI_SENDER_STATE_DIR": str(Path(tmp) / "state"),
            "TUI_SENDER_CONFIG": str(Path(tmp) / "none.toml"),
            "PYTHONPATH": str(REPO_ROOT),
        }
        logs = str(Path(tmp) / "logs")
        tui = [sys.executable, "-m", "tui_sender.cli", "send", "-i", str(file), "-a", "X",
               "-H", "127.0.0.1", "-p", port, "-q", "--logs-dir", logs]  # fmt: skip
        senders = {"tui-sender send": (tui, env)}
        storescu = find_dcmtk_tool("storescu")
        if storescu:
            senders["DCMTK storescu"] = ([storescu, "127.0.0.1", port, str(file)],
                                         dcmtk_environment())  # fmt: skip
        medians = {}
        for name, (command, environment) in senders.items():
            times = [_first_bytes_after(command, environment, listener) for _ in range(args.repeat)]
            medians[name] = statistics.median(times)
            print(f"{name}: {medians[name] * 1000:.0f} ms to the A-ASSOCIATE-RQ "
                  f"(median of {args.repeat}; min {min(times) * 1000:.0f} ms)")  # fmt: skip
        if len(medians) == 2:
            ratio = medians["tui-sender send"] / medians["DCMTK storescu"]
            print(f"tui-sender / storescu: {ratio:.1f}x; goal 120 ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
