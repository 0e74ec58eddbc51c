"""Shared by the fault tests: small studies, one send (in-process or the real CLI), its record.

In-process runs use a :class:`~tui_sender.core.engine.session.Session` with short
timeouts and short backoffs (the CLI's backoffs are seconds long: right for
a PACS, too slow for a test suite), and check on the way out that the counts
add up and no worker thread is left behind. CLI runs go through
:func:`tests.sending.run_cli` and get the same short timeouts as flags.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peers.dicom_files import make_instance, write_instance
from tests.sending import SendRun, check_counts_add_up, run_cli
from tui_sender.core.engine.session import Session, SessionOptions, SessionResult
from tui_sender.core.engine.targets import RetryPolicy, TransferTarget
from tui_sender.core.model.events import Event
from tui_sender.core.net.endpoint import LinkSettings
from tui_sender.core.scan.scanner import scan_paths

CALLING_AE = "FAULT_TEST"
QUICK_TIMEOUT = 1.0
QUICK_RETRY = RetryPolicy(
    max_attempts=3,
    status_backoff=(0.1, 0.2, 0.4),
    association_attempts=3,
    association_backoff=(0.1, 0.2),
    breaker_pause=1.0,
)
"""The default shape (3 attempts, growing pauses, a breaker after 5 files) with pauses a test
can afford."""
QUICK_FLAGS = [
    "--connect-timeout", "1", "--acse-timeout", "1", "--dimse-timeout", "1",
    "--network-timeout", "1",
]  # fmt: skip


def write_study(root: Path, count: int, *, side: int = 16, study: int = 0) -> list[Path]:
    """``count`` CT files of study number ``study``, ``side`` x ``side`` 16-bit pixels each."""
    study_uid = f"1.2.826.0.1.3680043.8.498.{study + 1}"
    series_uid = f"{study_uid}.1"
    return [
        write_instance(
            root / f"im{n:04d}.dcm",
            make_instance(study_uid=study_uid, series_uid=series_uid, rows=side, columns=side),
        )
        for n in range(count)
    ]


@dataclass(frozen=True)
class FaultRun:
    """One send's result, however it was run: the summary is the common ground."""

    exit_code: int
    summary: dict[str, Any]
    seconds: float
    events: tuple[Event, ...] = ()
    stderr: str = ""

    def files(self, state: str | None = None) -> list[dict[str, Any]]:
        return [f for f in self.summary["files"] if state is None or f["state"] == state]

    def states(self) -> Counter[str]:
        return Counter(f["state"] for f in self.summary["files"])

    def by_path(self) -> dict[str, dict[str, Any]]:
        return {f["path"]: f for f in self.summary["files"]}

    def reasons(self, state: str = "failed") -> set[str]:
        return {f["reason"] for f in self.files(state)}


def send_in_process(
    root: Path,
    port: int,
    logs: Path,
    *,
    called_ae: str = "ANY_SCP",
    workers: int = 1,
    retry: RetryPolicy = QUICK_RETRY,
    **link_options: Any,
) -> FaultRun:
    """Send every file under ``root`` to 127.0.0.1:``port`` with a :class:`Session`."""
    waits = {
        "connect_timeout": QUICK_TIMEOUT,
        "acse_timeout": QUICK_TIMEOUT,
        "dimse_timeout": QUICK_TIMEOUT,
        "network_timeout": QUICK_TIMEOUT,
    }
    settings = LinkSettings("127.0.0.1", port, called_ae, CALLING_AE, **{**waits, **link_options})
    target = TransferTarget("pacs", settings, workers=workers, retry=retry)
    catalog = scan_paths([str(root)], recursive=True)
    session = Session(catalog, [target], options=SessionOptions(logs_dir=logs))
    started = time.monotonic()
    result: SessionResult = session.run()
    seconds = time.monotonic() - started
    events = []
    while not session.events.empty():
        events.append(session.events.get_nowait())
    assert_no_worker_threads()
    check_counts_add_up(result.summary)
    return FaultRun(result.exit_code, result.summary, seconds, tuple(events))


def send_with_cli(
    root: Path, port: int, cwd: Path, *extra: str, called_ae: str = "ANY_SCP"
) -> FaultRun:
    """Send with the real ``tui-sender send`` in a subprocess, short timeouts."""
    started = time.monotonic()
    run: SendRun = run_cli(
        ["send", "-i", str(root), "-r", "-a", called_ae, "-c", CALLING_AE, "-H", "127.0.0.1",
         "-p", str(port), "-t", "1", *QUICK_FLAGS, *extra],
        cwd,
        timeout=90,
    )  # fmt: skip
    seconds = time.monotonic() - started
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert run.summary, f"no summary written:\n{run.stderr[-3000:]}"
    check_counts_add_up(run.summary)
    return FaultRun(run.exit_code, run.summary, seconds, stderr=run.stderr)


def assert_no_worker_threads() -> None:
    """The session's worker threads ended with it."""
    alive = [t.name for t in threading.enumerate() if t.name.startswith("tui-sender ")]
    assert not alive, f"worker threads left running: {alive}"
