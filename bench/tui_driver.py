"""Drive the real app in a pseudo-terminal: send through the TUI, time key presses.

The app runs as a user would run it (``python -m tui_sender.cli --dest
bench DATA`` in a 120x40 terminal); this module types keys into the
terminal and reads what the app draws. It measures:

* how long the session takes (from the summary the session writes, so it
  compares directly with a headless ``tui-sender send`` of the same data);
* how long a key press takes to show on the screen while files are being
  sent: once a second a key switches the dashboard's tab (``n`` to the
  negotiation, then ``g`` back to the log, and so on), and the time from
  writing the key to reading a line only that tab draws back from the
  terminal is the latency a user sees. A key not answered within
  ``PROBE_TIMEOUT`` counts as answered then, so it fails the bar.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

NEGOTIATION = re.compile(rb"\d+ accepted, \d+ rejected")
"""A line only the dashboard's negotiation tab draws (``n`` shows it)."""
LOG_LINE = re.compile(rb"[IWE] \[[^\]\s]*w\d+\] ")
"""A line only the dashboard's log tab draws (``g`` shows it): level, then worker."""
CONFIRM_MARKER = b"Confirm send"
SCAN_DONE_MARKER = b"Scan finished"
PROBE_TIMEOUT = 5.0
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass
class TuiRun:
    """What one send through the app did."""

    summary: dict[str, object]
    session_seconds: float
    key_latencies_ms: list[float] = field(default_factory=list)
    """Keys answered while files were being sent."""
    end_key_latencies_ms: list[float] = field(default_factory=list)
    """Keys answered after the session's last file (while it wrote its record)."""
    exit_code: int | None = None


class _Screen:
    """Collects what the app writes to the terminal (ANSI codes stripped)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._text = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self._lock:
                self._text += ANSI.sub(b"", chunk)
                del self._text[: max(0, len(self._text) - 2_000_000)]

    def mark(self) -> int:
        """A position to search from (what has been read so far)."""
        with self._lock:
            return len(self._text)

    def wait_for(
        self, marker: bytes | re.Pattern[bytes], since: int, timeout: float
    ) -> float | None:
        """Seconds until ``marker`` appears after position ``since``; None on timeout."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            with self._lock:
                window = bytes(self._text[max(0, since - 64) :])
            found = marker.search(window) if isinstance(marker, re.Pattern) else marker in window
            if found:
                return time.monotonic() - start
            time.sleep(0.002)
        return None

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(1)


def _write_config(path: Path, ae: str, port: int, workers: int) -> None:
    path.write_text(
        "[[destinations]]\n"
        f'name = "bench"\nae_title = "{ae}"\nhost = "127.0.0.1"\nport = {port}\n'
        f"workers = {workers}\n"
    )
    path.chmod(0o600)


def _split_at_session_end(
    probed: list[tuple[float, float, bool]], summary: dict[str, object]
) -> tuple[list[float], list[float]]:
    """Key latencies answered while files were sent, and those that met the session's end.

    The session's ``end_time`` is when its last file was done; after it the
    session writes its record (the summary of every file: pure Python, a
    few hundred milliseconds for 20,000 files, on the GIL the screen needs)
    and the app switches to the summary screen. A key answered after that
    moment is kept apart. A key never answered counts at the timeout (it
    fails the bar) if it had a second of the transfer left to show; one sent
    later may have gone to the summary screen and is dropped.
    """
    end = dt.datetime.fromisoformat(str(summary["end_time"])).timestamp()
    during: list[float] = []
    at_end: list[float] = []
    for sent, ms, answered in probed:
        if answered:
            (during if sent + ms / 1000 <= end else at_end).append(ms)
        elif sent + 1.0 <= end:
            during.append(ms)
    return during, at_end


def send_through_tui(
    data: Path,
    ae: str,
    port: int,
    workers: int,
    work_dir: Path,
    *,
    probe_every: float = 1.0,
    probe: bool = True,
    timeout: float = 1200,
) -> TuiRun:
    """Select every study, send them to ``ae@127.0.0.1:port``, quit; report timings."""
    work_dir.mkdir(parents=True, exist_ok=True)
    config = work_dir / "config.toml"
    _write_config(config, ae, port, workers)
    logs = work_dir / "logs"
    env = {
        **os.environ,
        "TUI_SENDER_CONFIG": str(config),
        "TUI_SENDER_STATE_DIR": str(work_dir / "state"),
        "TERM": "xterm-256color",
        "COLUMNS": "120",
        "LINES": "40",
    }
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    command = [sys.executable, "-m", "tui_sender.cli", "--dest", "bench", "--logs-dir", str(logs)]
    profile = os.environ.get("BENCH_TUI_PYSPY")  # a path: record a py-spy profile of the app
    if profile:
        command = ["py-spy", "record", "-f", "raw", "-r", "200", "-o", profile, "--", *command]
    process = subprocess.Popen(
        [*command, str(data.resolve())],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=work_dir,
        start_new_session=True,
    )
    os.close(slave)
    screen = _Screen(master)
    probed: list[tuple[float, float, bool]] = []  # wall clock when sent, ms, answered
    probes = 0
    try:
        if screen.wait_for(SCAN_DONE_MARKER, 0, timeout=300) is None:
            raise RuntimeError("the app did not finish scanning")
        time.sleep(0.3)
        os.write(master, b"a")
        time.sleep(0.2)
        since = screen.mark()
        os.write(master, b"s")
        if screen.wait_for(CONFIRM_MARKER, since, timeout=10) is None:
            raise RuntimeError("no confirmation dialog")
        os.write(master, b"\r")
        deadline = time.monotonic() + timeout
        summary_path = None
        while time.monotonic() < deadline:
            found = list(logs.glob("dicom_sender_summary_*.json"))
            if found:
                summary_path = found[0]
                break
            time.sleep(probe_every)
            if not probe or any(logs.glob("dicom_sender_summary_*.json")):
                continue  # keys are timed while files are sent, not on the summary screen
            # One key a second, alternating: n shows the negotiation tab, g the log.
            key, marker = (b"n", NEGOTIATION) if probes % 2 == 0 else (b"g", LOG_LINE)
            probes += 1
            since = screen.mark()
            sent_wall, sent_at = time.time(), time.monotonic()
            os.write(master, key)
            answered = screen.wait_for(marker, since, timeout=PROBE_TIMEOUT) is not None
            probed.append((sent_wall, (time.monotonic() - sent_at) * 1000, answered))
        if summary_path is None:
            raise RuntimeError("the session did not finish in time")
        summary = json.loads(summary_path.read_text())
        latencies, end_latencies = _split_at_session_end(probed, summary)
        screen.wait_for(b"Finished:", 0, timeout=60)  # the summary screen is up: q quits
        time.sleep(0.2)
        os.write(master, b"q")
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        seconds = float(summary.get("total_time_ms", 0)) / 1000
        return TuiRun(summary, seconds, latencies, end_latencies, process.returncode)
    finally:
        screen.stop()
        if process.poll() is None:
            process.kill()
            process.wait(5)
        os.close(master)
