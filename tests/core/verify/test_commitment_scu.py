"""The storage commitment SCU and C-FIND check against a scripted archive that misbehaves.

The archive (``peers/commitment_scp.py``) is a real pynetdicom SCP on
127.0.0.1: it holds instances, answers N-ACTION and reports on the same or
a new association, or badly (never, twice, for a transaction we did not
ask, naming an instance we did not send), and answers C-FIND from what it
holds, or keeps a report until the test releases it to a later run's
listener (a report that came late). Each test checks every instance's verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from peers.commitment_scp import ArchiveSCP
from peers.processes import free_port
from tests.sending import wait_until
from tui_sender.core.model.verification import StoredInstance, VerifyMethod, VerifySettings
from tui_sender.core.net.endpoint import LinkSettings
from tui_sender.core.verify.commitment import ReportBox, ReportListener, Transaction
from tui_sender.core.verify.find import NO_ANSWER
from tui_sender.core.verify.stage import (
    DestinationVerification,
    VerifyJob,
    earlier_requests,
    run_verification,
)

CT = "1.2.840.10008.5.1.4.1.1.2"
STUDY = "2.25.1001"
SERIES = "2.25.1002"
US = "TUI_TEST"


def _instances(count: int, series: str = SERIES) -> list[StoredInstance]:
    return [StoredInstance(f"{series}.{n}", CT, STUDY, series) for n in range(1, count + 1)]


@pytest.fixture
def archive() -> Iterator[Any]:
    started: list[ArchiveSCP] = []

    def start(held: list[StoredInstance], **options: Any) -> ArchiveSCP:
        scp = ArchiveSCP(**options)
        for inst in held:
            scp.hold(inst.sop_instance_uid, inst.sop_class_uid, inst.study_uid, inst.series_uid)
        started.append(scp)
        return scp.start()

    yield start
    for scp in started:
        scp.stop()


def _verify(
    scp: ArchiveSCP,
    instances: list[StoredInstance],
    method: VerifyMethod = VerifyMethod.COMMITMENT,
    *,
    listen_port: int = 0,
    timeout: float = 3.0,
    batch: int = 1000,
    box: ReportBox | None = None,
    earlier: tuple[Transaction, ...] = (),
) -> tuple[DestinationVerification, list[str]]:
    link = LinkSettings(
        host="127.0.0.1", port=scp.port, called_ae=scp.ae_title, calling_ae=US,
        acse_timeout=5, dimse_timeout=5, network_timeout=10, connect_timeout=5,
    )  # fmt: skip
    settings = VerifySettings(
        method, listen_ae=US, listen_port=listen_port, listen_host="127.0.0.1",
        timeout=timeout, batch=batch,
    )  # fmt: skip
    logged: list[str] = []
    (result,) = run_verification(
        [VerifyJob("archive", link, settings, tuple(instances), earlier=earlier)],
        log=logged.append,
        box=box,
    )
    return result, logged


def _verify_while(
    act: Callable[[], None], scp: ArchiveSCP, instances: list[StoredInstance], **options: Any
) -> tuple[DestinationVerification, list[str]]:
    """:func:`_verify` in a thread while ``act()`` plays the archive's part, bounded."""
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(_verify, scp, instances, **options)
        act()
        return running.result(timeout=30)


def _release_after_n_actions(
    scp: ArchiveSCP, count: int, transaction_uid: str
) -> Callable[[], None]:
    """Once the archive has ``count`` N-ACTIONs (the run listens), send the withheld report."""

    def act() -> None:
        scp.wait_for_n_actions(count, timeout=10)
        assert scp.release(transaction_uid)

    return act


def _states(result: DestinationVerification) -> dict[str, str]:
    return {uid: v.verified.value for uid, v in result.results.items()}


def test_report_on_a_new_association_with_a_partial_failure(archive: Any) -> None:
    sent = _instances(5)
    port = free_port()
    scp = archive(
        sent[:4],
        report_to=("127.0.0.1", port, US),
        failure_reasons={sent[1].sop_instance_uid: 0x0110},
    )
    result, _ = _verify(scp, sent, listen_port=port, batch=2)
    assert len(scp.n_actions) == 3, "five instances in batches of two: three transactions"
    assert len(result.transactions) == 3
    states = _states(result)
    assert states.pop(sent[4].sop_instance_uid) == "commit-failed"  # not held: 0x0112
    assert states.pop(sent[1].sop_instance_uid) == "commit-failed"
    assert set(states.values()) == {"committed"}
    assert "no such object instance" in result.results[sent[4].sop_instance_uid].reason
    assert result.results[sent[1].sop_instance_uid].reason == "processing failure (0x0110)"
    assert not any(r.on_same_association for r in scp.reports_sent)


def test_report_on_the_same_association_needs_no_listener(archive: Any) -> None:
    sent = _instances(3)
    scp = archive(sent, commitment="same-association", report_delay=0.3)
    result, _ = _verify(scp, sent)
    assert set(_states(result).values()) == {"committed"}
    assert [r.on_same_association for r in scp.reports_sent] == [True]


def test_a_report_that_never_comes_leaves_them_unconfirmed_after_the_timeout(
    archive: Any,
) -> None:
    sent = _instances(3)
    port = free_port()
    scp = archive(sent, commitment="never", report_to=("127.0.0.1", port, US))
    result, _ = _verify(scp, sent, listen_port=port, timeout=1.0)
    assert set(_states(result).values()) == {"unconfirmed"}
    assert {v.reason for v in result.results.values()} == {
        "no storage commitment report within 1 s"
    }
    assert 1.0 <= result.seconds < 5


def test_duplicated_and_unknown_transaction_reports_do_not_change_verdicts(
    archive: Any,
) -> None:
    """The test keeps the listener up past the stage, so the second report still arrives."""
    sent = _instances(3)
    port = free_port()
    box = ReportBox()
    scp = archive(sent, commitment="duplicate", report_to=("127.0.0.1", port, US))
    with ReportListener(box, US, port, "127.0.0.1"):
        result, _ = _verify(scp, sent, box=box)
        assert set(_states(result).values()) == {"committed"}
        scp.wait_for_reports(2, timeout=5)
        assert wait_until(lambda: box.duplicates == 1, timeout=5), "the duplicate is counted"

        scp.commitment = "unknown-transaction"
        result, _ = _verify(scp, sent, timeout=1.0, box=box)
        assert set(_states(result).values()) == {"unconfirmed"}, "a report for another one"
        assert len(box.unknown) == 1


def test_a_report_naming_an_instance_we_did_not_send_is_ignored(archive: Any) -> None:
    sent = _instances(2)
    port = free_port()
    scp = archive(sent, commitment="extra-instance", report_to=("127.0.0.1", port, US))
    result, logged = _verify(scp, sent, listen_port=port)
    assert _states(result) == {i.sop_instance_uid: "committed" for i in sent}
    assert any("did not name; ignored" in line for line in logged)


def test_a_refused_request_is_unconfirmed_with_the_status(archive: Any) -> None:
    sent = _instances(2)
    scp = archive(sent, reject_n_action=0x0110)
    result, _ = _verify(scp, sent, timeout=1.0)
    assert set(_states(result).values()) == {"unconfirmed"}
    assert {v.reason for v in result.results.values()} == {
        "the archive refused the storage commitment request (0x0110)"
    }


def test_find_marks_found_and_missing_and_checks_series_counts(archive: Any) -> None:
    sent = _instances(4) + _instances(2, series="2.25.1003")
    scp = archive(sent)
    scp.forget(sent[2].sop_instance_uid)
    result, _ = _verify(scp, sent, VerifyMethod.FIND)
    states = _states(result)
    assert states.pop(sent[2].sop_instance_uid) == "missing"
    assert set(states.values()) == {"found"}
    assert sorted((c.series_uid, c.listed, c.related) for c in result.series) == [
        (SERIES, 3, 3),
        ("2.25.1003", 2, 2),
    ]
    levels = [q.get("QueryRetrieveLevel") for q in scp.finds]
    assert levels.count("IMAGE") == 2, "one IMAGE query per series, not per instance"


def test_an_archive_that_cannot_be_reached_leaves_every_instance_unconfirmed() -> None:
    sent = _instances(2)
    link = LinkSettings(host="127.0.0.1", port=free_port(), called_ae="NOBODY", calling_ae=US,
                        connect_timeout=2, acse_timeout=2)  # fmt: skip
    settings = VerifySettings(VerifyMethod.FIND, timeout=1)
    (result,) = run_verification([VerifyJob("gone", link, settings, tuple(sent))])
    assert set(_states(result).values()) == {"unconfirmed"}
    assert "could not associate" in result.error


def test_find_from_an_ae_the_archive_does_not_answer_stops_at_the_first_query(
    archive: Any,
) -> None:
    """Orthanc leaves a C-FIND from an unknown AE unanswered: one timeout, not one per series."""
    sent = _instances(2) + _instances(2, series="2.25.1004") + _instances(2, series="2.25.1005")
    scp = archive(sent, find_delay=30.0)
    link = LinkSettings(host="127.0.0.1", port=scp.port, called_ae=scp.ae_title, calling_ae=US,
                        dimse_timeout=1, acse_timeout=2, network_timeout=5)  # fmt: skip
    (result,) = run_verification(
        [VerifyJob("archive", link, VerifySettings(VerifyMethod.FIND), tuple(sent))]
    )
    assert set(_states(result).values()) == {"unconfirmed"}
    assert {v.reason for v in result.results.values()} == {NO_ANSWER}
    assert result.seconds < 5


# -- late reports for an earlier run's request ---------------------------------------


def _withheld_first_run(
    scp: ArchiveSCP, sent: list[StoredInstance], port: int
) -> tuple[DestinationVerification, str]:
    """A first run whose report the archive keeps past the timeout: all unconfirmed."""
    first, _ = _verify(scp, sent, listen_port=port, timeout=0.5)
    assert set(_states(first).values()) == {"unconfirmed"}
    (old,) = scp.withheld
    assert {v.transaction for v in first.results.values()} == {old}, "each records its request"
    return first, old


def test_a_late_report_for_an_earlier_request_is_taken_while_a_later_run_listens(
    archive: Any,
) -> None:
    sent = _instances(3)
    port = free_port()
    scp = archive(sent, commitment="withhold", report_to=("127.0.0.1", port, US))
    _, old = _withheld_first_run(scp, sent, port)

    second, logged = _verify_while(
        _release_after_n_actions(scp, 2, old),
        scp, sent, listen_port=port, timeout=3.0, earlier=(Transaction(old, tuple(sent)),),
    )  # fmt: skip
    assert _states(second) == {i.sop_instance_uid: "committed" for i in sent}
    assert {v.transaction for v in second.results.values()} == {old}, "proven by the old one"
    assert len(scp.n_actions) == 2 and second.transactions != [old], "it asked again too"
    assert any(f"took a late report for the earlier request {old}" in t for t in logged), logged


def test_the_new_request_s_report_wins_over_an_older_late_one(archive: Any) -> None:
    """The old report (all committed) comes first; the new one, a second later, says one
    instance is gone: the most recent report decides each instance."""
    sent = _instances(2)
    port = free_port()
    scp = archive(sent, commitment="withhold", report_to=("127.0.0.1", port, US))
    _, old = _withheld_first_run(scp, sent, port)
    scp.forget(sent[0].sop_instance_uid)
    scp.commitment, scp.report_delay = "new-association", 1.0

    second, _ = _verify_while(
        _release_after_n_actions(scp, 2, old),
        scp, sent, listen_port=port, timeout=5.0, earlier=(Transaction(old, tuple(sent)),),
    )  # fmt: skip
    (new,) = second.transactions
    gone, kept = (second.results[i.sop_instance_uid] for i in sent)
    assert (gone.verified.value, gone.transaction) == ("commit-failed", new)
    assert (kept.verified.value, kept.transaction) == ("committed", new)
    assert [r.transaction_uid for r in scp.reports_sent] == [old, new]


def test_a_late_report_names_only_what_waits_on_it(archive: Any) -> None:
    """The old request named three instances; one now waits on it, one does not (quietly
    ignored), one this destination did not store (ignored, said in the log)."""
    sent = _instances(3)
    port = free_port()
    scp = archive(sent, commitment="withhold", report_to=("127.0.0.1", port, US))
    _, old = _withheld_first_run(scp, sent, port)

    second, logged = _verify_while(
        _release_after_n_actions(scp, 2, old),
        scp, sent[:2], listen_port=port, timeout=2.0, earlier=(Transaction(old, (sent[0],)),),
    )  # fmt: skip
    assert _states(second) == {
        sent[0].sop_instance_uid: "committed",
        sent[1].sop_instance_uid: "unconfirmed",
    }
    (new,) = second.transactions
    assert second.results[sent[1].sop_instance_uid].transaction == new
    assert any("lists 1 instance(s) that this destination did not store" in t for t in logged)


def test_a_late_report_for_instances_proven_since_is_ignored_and_said_so(archive: Any) -> None:
    sent = _instances(2)
    port = free_port()
    scp = archive(sent, commitment="withhold", report_to=("127.0.0.1", port, US))
    _, old = _withheld_first_run(scp, sent, port)
    proven = [_entry(i, "committed", old) for i in sent]
    assert earlier_requests(proven, "archive") == ()

    box = ReportBox()
    second, logged = _verify_while(
        _release_after_n_actions(scp, 2, old),
        scp, sent, listen_port=port, timeout=2.0, box=box,
    )  # fmt: skip
    assert set(_states(second).values()) == {"unconfirmed"}, "the new request went unanswered"
    assert [r.transaction_uid for r in box.unknown] == [old]
    assert not any("late report" in t for t in logged), logged
    assert any("ignored 1 storage commitment report(s)" in t and old in t for t in logged)


def _entry(inst: StoredInstance, verified: str, transaction: str, **extra: Any) -> dict[str, Any]:
    return {
        "destination": "archive", "state": "sent", "sop_instance_uid": inst.sop_instance_uid,
        "sop_class_uid": inst.sop_class_uid, "study_uid": inst.study_uid,
        "series_uid": inst.series_uid, "verified": verified,
        "verified_transaction": transaction, **extra,
    }  # fmt: skip


def test_earlier_requests_are_read_from_unconfirmed_stored_entries() -> None:
    a, b, c, d = _instances(4)
    files = [
        _entry(a, "unconfirmed", "2.25.1"),
        _entry(a, "unconfirmed", "2.25.1", path="/again/a.dcm"),  # the same instance twice
        _entry(b, "unconfirmed", "2.25.2"),
        _entry(c, "committed", "2.25.1"),
        _entry(d, "unconfirmed", ""),  # its request was refused: no report will come
        _entry(d, "unconfirmed", "2.25.1", state="failed"),
        _entry(d, "unconfirmed", "2.25.1", destination="elsewhere"),
    ]
    assert earlier_requests(files, "archive") == (
        Transaction("2.25.1", (a,)),
        Transaction("2.25.2", (b,)),
    )
