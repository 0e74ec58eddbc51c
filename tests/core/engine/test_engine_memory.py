"""Engine behaviour through the in-memory transport: retries, breaker, journal, cancel.

No socket: the session, its workers and its record are the real ones, and
only the destination is a script (tests/memory_transport.py). What crosses a
wire is tested against real peers elsewhere.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from tests.fault_runs import QUICK_RETRY, write_study
from tests.memory_transport import MemoryTransport
from tui_sender.core.engine.session import Session, SessionOptions, SessionResult
from tui_sender.core.engine.targets import RetryPolicy, TransferTarget
from tui_sender.core.model.catalog import Catalog
from tui_sender.core.net.endpoint import LinkSettings
from tui_sender.core.net.failures import AssociationError, FailureKind, LinkBroken
from tui_sender.core.record.journal import read_journal
from tui_sender.core.scan.scanner import scan_paths


def _session(
    tmp_path: Path,
    transport: MemoryTransport,
    *,
    workers: int = 1,
    retry: RetryPolicy = QUICK_RETRY,
) -> Session:
    settings = LinkSettings("memory.invalid", 104, "MEMORY", "TEST_SCU")
    target = TransferTarget("memory", settings, workers=workers, retry=retry, transport=transport)
    catalog = scan_paths([str(tmp_path / "in")], recursive=True)
    return Session(catalog, [target], options=SessionOptions(logs_dir=tmp_path / "logs"))


def _states(result: SessionResult) -> Counter[str]:
    return Counter(f["state"] for f in result.summary["files"])


def _dataset_bytes(catalog: Catalog) -> dict[str, bytes]:
    """What the engine must send of each file: its data set, after the file meta."""
    out = {}
    for study in catalog.studies.values():
        for inst in study.instances():
            with open(inst.path, "rb") as f:
                f.seek(inst.dataset_offset)
                out[inst.sop_instance_uid] = f.read(inst.dataset_bytes)
    return out


def test_every_file_arrives_byte_for_byte_and_the_journal_says_so(tmp_path: Path) -> None:
    write_study(tmp_path / "in" / "a", 4, study=0)
    write_study(tmp_path / "in" / "b", 3, study=1)
    transport = MemoryTransport()
    session = _session(tmp_path, transport, workers=2)

    result = session.run()

    assert result.exit_code == 0
    assert _states(result) == {"sent": 7}
    assert transport.stored == _dataset_bytes(session.catalog)
    journal = read_journal(
        result.summary_path.parent / f"dicom_sender_journal_{result.session_id}.jsonl"
    )
    assert journal.complete
    assert sorted(f.sop_instance_uid for f in journal.stored()) == sorted(transport.stored)


def test_out_of_resources_is_retried_after_a_pause_then_sent(tmp_path: Path) -> None:
    write_study(tmp_path / "in", 3)
    transport = MemoryTransport(answers=lambda uid, attempt: 0xA700 if attempt < 3 else 0)

    result = _session(tmp_path, transport).run()

    assert _states(result) == {"sent": 3}
    assert set(transport.attempts.values()) == {3}
    assert {f["attempts"] for f in result.summary["files"]} == {3}


def test_a_destination_that_keeps_refusing_trips_the_breaker(tmp_path: Path) -> None:
    """Every file refused: paused once, then tripped; the rest fail at once, counts add up."""
    write_study(tmp_path / "in", 14)
    transport = MemoryTransport(answers=lambda uid, attempt: 0xA700)
    retry = RetryPolicy(
        max_attempts=1, status_backoff=(0.01,), breaker_threshold=3, breaker_pause=0.2
    )

    result = _session(tmp_path, transport, retry=retry).run()

    states = _states(result)
    assert states == {"failed": 14}
    assert result.exit_code != 0
    # 3 refusals pause, 3 more trip: the 8 others are never offered.
    assert sum(transport.attempts.values()) == 6
    reasons = Counter(f["reason"] for f in result.summary["files"])
    tripped = [r for r in reasons if r.startswith("gave up on this destination")]
    assert len(tripped) == 1 and reasons[tripped[0]] == 9, reasons
    assert all(r.endswith("(after 1 attempt)") for r in reasons if r not in tripped), reasons
    assert transport.stored == {}


def test_a_transient_rejection_is_retried_and_a_permanent_one_is_not(tmp_path: Path) -> None:
    write_study(tmp_path / "in", 2)
    busy = AssociationError(FailureKind.REJECTED_TRANSIENT, "busy: try again later")
    transport = MemoryTransport(open_failures=[busy, busy])

    result = _session(tmp_path, transport).run()

    assert _states(result) == {"sent": 2}
    assert transport.opens == 3

    refused = AssociationError(FailureKind.REJECTED_PERMANENT, "calling AE title not recognised")
    again = MemoryTransport(open_failures=[refused, refused, refused])
    (tmp_path / "logs").rename(tmp_path / "logs1")
    result = _session(tmp_path, again).run()

    assert _states(result) == {"failed": 2}
    assert again.opens == 1
    assert all("calling AE title not recognised" in f["reason"] for f in result.summary["files"])


def test_a_broken_link_resends_the_file_on_a_new_association_once(tmp_path: Path) -> None:
    write_study(tmp_path / "in", 4)
    transport = MemoryTransport()
    first = sorted(_dataset_bytes(scan_paths([str(tmp_path / "in")], recursive=True)))[1]
    transport.answers = lambda uid, attempt: (
        LinkBroken("connection lost: reset by peer") if uid == first and attempt == 1 else 0
    )

    result = _session(tmp_path, transport).run()

    assert _states(result) == {"sent": 4}
    assert transport.attempts[first] == 2
    assert transport.opens == 2
    assert len(transport.stored) == 4


def test_a_hard_cancel_leaves_the_file_in_flight_unknown_and_the_rest_cancelled(
    tmp_path: Path,
) -> None:
    write_study(tmp_path / "in", 6)
    transport = MemoryTransport()
    uids = sorted(_dataset_bytes(scan_paths([str(tmp_path / "in")], recursive=True)))
    session = _session(tmp_path, transport)
    transport.block = {uids[2]}
    done: list[SessionResult] = []
    runner = threading.Thread(target=lambda: done.append(session.run()))
    runner.start()
    assert transport.blocked.wait(10)

    session.cancel_now()
    runner.join(10)

    assert not runner.is_alive() and done
    result = done[0]
    files = result.summary["files"]
    assert len(files) == 6
    assert result.cancelled
    by_uid = {f["sop_instance_uid"]: f for f in files}
    assert by_uid[uids[2]]["state"] == "failed"
    assert "in flight" in by_uid[uids[2]]["reason"]
    states = _states(result)
    assert states["sent"] == len(transport.stored)
    assert states["sent"] + states["failed"] == 6
    journal = read_journal(
        result.summary_path.parent / f"dicom_sender_journal_{result.session_id}.jsonl"
    )
    assert sorted(f.sop_instance_uid for f in journal.stored()) == sorted(transport.stored)
