"""How many workers a session starts, and that screens can know it beforehand."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from peers.pynetdicom_scp import ScriptedSCP
from tests.fault_runs import CALLING_AE, QUICK_RETRY, write_study
from tui_sender.core.engine.session import GC_YOUNG_THRESHOLD, Session, SessionOptions
from tui_sender.core.engine.targets import TransferTarget
from tui_sender.core.model.progress import WorkerState
from tui_sender.core.net.endpoint import LinkSettings
from tui_sender.core.scan.scanner import scan_paths


def _session_to(scp: ScriptedSCP, tmp_path: Path, workers: int) -> Session:
    """A session of everything under ``tmp_path/in`` to ``scp``, with this many workers."""
    settings = LinkSettings("127.0.0.1", scp.port, "ANY_SCP", CALLING_AE)
    target = TransferTarget("pacs", settings, workers=workers, retry=QUICK_RETRY)
    catalog = scan_paths([str(tmp_path / "in")], recursive=True)
    return Session(catalog, [target], options=SessionOptions(logs_dir=tmp_path / "logs"))


@pytest.mark.parametrize(
    ("studies", "workers", "started"),
    [
        (3, 4, 4),  # six files: studies split so that four associations share them
        (5, 2, 2),
        (1, 1, 1),
    ],
)
def test_expected_workers_is_what_run_starts(
    scp_factory: Callable[..., ScriptedSCP],
    tmp_path: Path,
    studies: int,
    workers: int,
    started: int,
) -> None:
    for study in range(studies):
        write_study(tmp_path / "in" / f"s{study}", 2, study=study)
    session = _session_to(scp_factory(), tmp_path, workers)

    expected = session.expected_workers
    result = session.run()

    assert expected == started
    assert len(session.progress) == expected
    assert result.counts["sent"] == 2 * studies


def test_the_collector_is_eased_while_workers_run_and_restored_after(
    scp_factory: Callable[..., ScriptedSCP], tmp_path: Path
) -> None:
    """Young passes are rarer while files are sent; the process gets its settings back."""
    write_study(tmp_path / "in", 3)
    session = _session_to(scp_factory(), tmp_path, workers=1)
    before = gc.get_threshold()
    seen: list[tuple[int, int]] = []  # (young threshold, frozen objects) while files go out
    stop = threading.Event()

    def watch() -> None:
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline:
            workers = session.progress
            sending = any(p.files_done for p in workers) and not all(
                p.state is WorkerState.DONE for p in workers
            )
            if sending:
                seen.append((gc.get_threshold()[0], gc.get_freeze_count()))
            time.sleep(0.001)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = session.run()
    finally:
        stop.set()
        watcher.join(5)

    assert result.counts["sent"] == 3
    assert seen and all(young >= GC_YOUNG_THRESHOLD and frozen > 0 for young, frozen in seen)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
