"""A session that scans while it sends (``tui-sender send``): issue 14, item 1.

The scan feeds open destination queues a chunk at a time; these tests hold
the scan back at a chosen point (a feed that waits) to prove what happens
while it is still running, and check that the record still accounts for
every path the scan met, exactly once.
"""

from __future__ import annotations

import shutil
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.fault_runs import QUICK_RETRY, write_study
from tests.memory_transport import MemoryTransport
from tui_sender.core.engine.destination_queue import DestinationQueue
from tui_sender.core.engine.scan_feed import ScanFeed
from tui_sender.core.engine.session import Session, SessionOptions
from tui_sender.core.engine.targets import TransferTarget
from tui_sender.core.model.catalog import Catalog
from tui_sender.core.model.events import FileDone, ScanFinished, SessionStarted
from tui_sender.core.net.endpoint import LinkSettings
from tui_sender.core.record.journal import list_journals, read_journal
from tui_sender.core.record.stored_index import StoredIndex
from tui_sender.core.scan.scanner import ScanBatch, scan_paths

WAIT = 10.0


@dataclass(frozen=True)
class _HeldFeed(ScanFeed):
    """A scan that stops after its first chunk until ``go_on`` is set (bounded wait)."""

    go_on: threading.Event = field(default_factory=threading.Event)
    held: threading.Event = field(default_factory=threading.Event)

    def chunks(self, should_stop: Callable[[], bool]) -> Iterator[ScanBatch]:
        chunks = super().chunks(should_stop)
        yield next(chunks)
        self.held.set()
        assert self.go_on.wait(WAIT), "the test never let the scan go on"
        yield from chunks


def _target(transport: MemoryTransport, workers: int = 1) -> TransferTarget:
    settings = LinkSettings("memory.invalid", 104, "MEMORY", "TEST_SCU")
    return TransferTarget(
        "memory", settings, workers=workers, retry=QUICK_RETRY, transport=transport
    )


def _session(
    tmp_path: Path,
    transport: MemoryTransport,
    feed: ScanFeed,
    *,
    workers: int = 1,
    index: StoredIndex | None = None,
) -> Session:
    options = SessionOptions(logs_dir=tmp_path / "logs", index=index)
    return Session(Catalog(), [_target(transport, workers)], options=options, feed=feed)


def _events(session: Session) -> list[object]:
    out = []
    while not session.events.empty():
        out.append(session.events.get())
    return out


def test_the_first_file_is_stored_while_the_scan_is_still_running(tmp_path: Path) -> None:
    write_study(tmp_path / "in" / "a", 6, study=0)
    write_study(tmp_path / "in" / "b", 6, study=1)
    feed = _HeldFeed([str(tmp_path / "in")], recursive=True, interval=0.0)
    first_store = threading.Event()

    def answer(uid: str, attempt: int) -> int:
        first_store.set()
        return 0x0000

    transport = MemoryTransport(answers=answer)
    session = _session(tmp_path, transport, feed)
    runner = threading.Thread(target=session.run, daemon=True)
    runner.start()
    try:
        # The scan is held after one chunk (one file): a store can only come from it.
        assert feed.held.wait(WAIT)
        assert first_store.wait(WAIT), "nothing was sent while the scan was held"
        assert session.scanning and session.file_count == 1
    finally:
        feed.go_on.set()
        runner.join(WAIT)
    assert not runner.is_alive()

    events = _events(session)
    started = next(e for e in events if isinstance(e, SessionStarted))
    assert started.scanning and started.files == 0
    first_done = next(n for n, e in enumerate(events) if isinstance(e, FileDone))
    scan_end = next(n for n, e in enumerate(events) if isinstance(e, ScanFinished))
    assert first_done < scan_end
    finished = events[scan_end]
    assert isinstance(finished, ScanFinished)
    assert (finished.instances, finished.studies, finished.complete) == (12, 2, True)
    assert len(transport.stored) == 12
    assert not session.scanning


def test_every_path_the_scan_meets_ends_once_in_the_record(tmp_path: Path) -> None:
    files = write_study(tmp_path / "in" / "a", 5, study=0)
    write_study(tmp_path / "in" / "b", 3, study=1)
    (tmp_path / "in" / "b" / "notes.txt").write_text("not DICOM")
    shutil.copy(files[0], tmp_path / "in" / "b" / "copy-of-a0.dcm")  # a duplicate UID
    transport = MemoryTransport()
    feed = ScanFeed([str(tmp_path / "in")], recursive=True, interval=0.0)
    session = _session(tmp_path, transport, feed, workers=2)

    result = session.run()

    assert result.exit_code == 0
    states = Counter(f["state"] for f in result.summary["files"])
    assert states == {"sent": 8, "skipped": 2}
    totals = result.summary["totals"]
    assert totals["found"] == 10 == totals["sent"] + totals["skipped"]
    assert result.summary["configuration"]["scan_while_sending"] is True
    assert result.summary["configuration"]["scan_complete"] is True
    # What reached the peer is each file's data set, byte for byte.
    catalog = scan_paths([str(tmp_path / "in")], recursive=True)
    for study in catalog.studies.values():
        for inst in study.instances():
            with open(inst.path, "rb") as f:
                f.seek(inst.dataset_offset)
                assert transport.stored[inst.sop_instance_uid] == f.read(inst.dataset_bytes)
    journal = read_journal(list_journals(tmp_path / "logs")[0])
    assert journal.complete and len(list(journal.stored())) == 8


def test_files_already_stored_are_skipped_as_the_scan_finds_them(tmp_path: Path) -> None:
    write_study(tmp_path / "in", 7)
    index = StoredIndex(tmp_path / "index.sqlite")
    try:
        first = _session(tmp_path, MemoryTransport(), ScanFeed([str(tmp_path / "in")], False),
                         index=index).run()  # fmt: skip
        assert first.counts["sent"] == 7
        again_transport = MemoryTransport()
        again = _session(tmp_path, again_transport, ScanFeed([str(tmp_path / "in")], False),
                         index=index).run()  # fmt: skip
    finally:
        index.close()
    assert again.exit_code == 0
    assert again.counts["skipped"] == 7 and again_transport.opens == 0
    reasons = {f["reason"].split(" (")[0] for f in again.summary["files"]}
    assert len(reasons) == 1 and "already stored" in reasons.pop()


def test_a_hard_cancel_stops_the_scan_and_the_record_says_so(tmp_path: Path) -> None:
    write_study(tmp_path / "in", 20)
    feed = _HeldFeed([str(tmp_path / "in")], recursive=False, interval=0.0)
    session = _session(tmp_path, MemoryTransport(), feed)
    runner = threading.Thread(target=session.run, daemon=True)
    runner.start()
    assert feed.held.wait(WAIT)
    session.cancel_now()
    feed.go_on.set()
    runner.join(WAIT)
    assert not runner.is_alive()

    summary = session.files and session.files.summary.read_text()
    assert summary and '"scan_complete": false' in summary
    scan_end = next(e for e in _events(session) if isinstance(e, ScanFinished))
    assert not scan_end.complete and scan_end.files_seen < 20
    # The files found (one, or a few) each have one outcome; the rest were never met.
    assert session.ledger.counts()["found"] == scan_end.files_seen
    log = session.files.log.read_text() if session.files else ""
    assert "the scan stopped early" in log


def test_an_open_queue_keeps_a_worker_waiting_until_more_comes_or_it_closes() -> None:
    queue = DestinationQueue(_target(MemoryTransport()), (), open_ended=True)
    queue.join("w1")
    taken: list[object] = []
    waiter = threading.Thread(target=lambda: taken.append(queue.take("w1")), daemon=True)
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive(), "take() returned from an empty open queue"
    queue.close()
    waiter.join(WAIT)
    assert taken == [None] and not queue.is_open
