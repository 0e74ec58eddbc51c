"""The storage commitment SCU and C-FIND check against a scripted archive that misbehaves.

The archive (``peers/commitment_scp.py``) is a real pynetdicom SCP on
127.0.0.1: it holds instances, answers N-ACTION and reports on the same or
a new association, or badly (never, twice, for a transaction we did not
ask, naming an instance we did not send), and answers C-FIND from what it
holds. Each test checks every instance's verdict.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from peers.commitment_scp import ArchiveSCP
from peers.processes import free_port
from tests.sending import wait_until
from tui_sender.core.model.verification import StoredInstance, VerifyMethod, VerifySettings
from tui_sender.core.net.endpoint import LinkSettings
from tui_sender.core.verify.commitment import ReportBox, ReportListener
from tui_sender.core.verify.find import NO_ANSWER
from tui_sender.core.verify.stage import DestinationVerification, VerifyJob, run_verification

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
        [VerifyJob("archive", link, settings, tuple(instances))], log=logged.append, box=box
    )
    return result, logged


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
