"""Fault laboratory, part 3: an established association that goes wrong mid-transfer.

Silence past the DIMSE timeout, aborts before, during and after a data set,
connections cut or reset by a proxy, a peer that stops reading, garbage
where a response belongs, a release nobody answers, a tiny maximum PDU.
A file whose outcome is unknown is resent on a new association and is never
counted as sent without a response. Cases 36-48 of reliability.md (c).
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread

from peers.dicom_files import dataset_bytes, make_instance, write_instance
from peers.fault_proxy import Fault, FaultProxy
from peers.pynetdicom_scp import ScriptedSCP, StoreCall
from peers.raw_scp import SHORT_ABORT, UNKNOWN_PDU, Raw, RawSCP
from tests.fault_runs import send_in_process, send_with_cli, write_study
from tui_sender.core.engine.targets import RetryPolicy

pytestmark = pytest.mark.timeout(90)

ScpFactory = Callable[..., ScriptedSCP]
BIG_SIDE = 1024
"""A 1024 x 1024 16-bit image: 2 MiB of pixel data, many P-DATA PDUs."""


def dataset_uid(path: str) -> str:
    return str(dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def _write_big(path: Path, side: int = BIG_SIDE) -> Path:
    return write_instance(path, make_instance(rows=side, columns=side))


@pytest.fixture(scope="module")
def huge_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding one 8 MiB image: more than the kernel's socket buffers take."""
    folder = tmp_path_factory.mktemp("huge")
    _write_big(folder / "huge.dcm", side=2048)
    return folder


# -- no response ------------------------------------------------------------------------------


def test_a_response_late_once_is_resent_on_a_new_association(
    scp_factory: ScpFactory, tmp_path: Path
) -> None:
    write_study(tmp_path / "in", 3)

    def late_first_time(call: StoreCall) -> float:
        return 1.5 if call.attempt == 1 and call.index == 1 else 0.0

    scp = scp_factory(sleep=late_first_time)
    run = send_in_process(tmp_path / "in", scp.port, tmp_path / "logs")
    assert run.exit_code == 0
    assert run.states() == {"sent": 3}
    assert sorted(f["attempts"] for f in run.files()) == [1, 1, 2]
    assert len({f["association"] for f in run.files()}) == 2, "resent on a new association"
    associations = run.summary["associations"]
    assert [a["released"] for a in associations] == [False, True]
    assert "DIMSE timeout" in associations[0]["note"]
    assert run.seconds < 4
    assert scp.wait_until_idle() == 0


def test_a_pacs_that_never_answers_leaves_files_unknown_never_sent(
    scp_factory: ScpFactory, tmp_path: Path
) -> None:
    """The real command: each file tried ``--retries`` times, then failed as unknown."""
    write_study(tmp_path / "in", 2)
    scp = scp_factory(sleep=3)
    run = send_with_cli(tmp_path / "in", scp.port, tmp_path, "--retries", "2",
                        called_ae=scp.ae_title)  # fmt: skip
    assert run.exit_code == 1
    assert run.states() == {"failed": 2}
    for record in run.files():
        assert record["attempts"] == 2
        assert record["reason"].startswith("outcome unknown after 2 attempts: no C-STORE "
                                           "response within 1 s (DIMSE timeout)")  # fmt: skip
        assert record["status"] is None
    assert run.seconds < 15
    assert len(scp.received) == 4


# -- aborts -----------------------------------------------------------------------------------


def test_an_scp_aborting_after_every_few_stores_still_gets_every_file(
    scp_factory: ScpFactory, tmp_path: Path
) -> None:
    write_study(tmp_path / "in", 9)
    scp = scp_factory(abort_after=2)
    run = send_in_process(tmp_path / "in", scp.port, tmp_path / "logs")
    assert run.exit_code == 0
    assert run.states() == {"sent": 9}
    assert set(scp.stored()) == {f["sop_instance_uid"] for f in run.files()}
    assert collections.Counter(f["attempts"] for f in run.files()) == {1: 5, 2: 4}
    assert scp.aborts_sent == 4
    assert scp.wait_until_idle() == 0


def test_a_file_that_kills_the_association_every_time_fails_alone(
    scp_factory: ScpFactory, tmp_path: Path
) -> None:
    files = write_study(tmp_path / "in", 6)
    poison = str(sorted(files)[2])
    poison_uid = dataset_uid(poison)
    scp = scp_factory(abort_during_instances={poison_uid})
    run = send_in_process(tmp_path / "in", scp.port, tmp_path / "logs")
    assert run.exit_code == 1
    by_path = run.by_path()
    assert by_path[poison]["state"] == "failed"
    assert by_path[poison]["attempts"] == 3
    assert "association aborted by the PACS" in by_path[poison]["reason"]
    assert "broke every time" in by_path[poison]["reason"]
    assert run.states() == {"sent": 5, "failed": 1}
    assert poison_uid not in scp.stored()
    assert scp.wait_until_idle() == 0


@pytest.mark.parametrize("when", ["abort_during", "abort_after"])
def test_dcmtk_aborting_every_store_gives_bounded_unknown_failures(
    storescp: Any, tmp_path: Path, when: str
) -> None:
    """``--abort-during``: mid data set; ``--abort-after``: data set in, no response."""
    write_study(tmp_path / "in", 2)
    scp = storescp(**{when: True})
    run = send_with_cli(tmp_path / "in", scp.port, tmp_path, called_ae=scp.ae_title)
    assert run.exit_code == 1
    assert run.states() == {"failed": 2}
    for record in run.files():
        assert record["attempts"] == 3
        assert record["reason"].startswith("outcome unknown after 3 attempts: association "
                                           "aborted by the PACS")  # fmt: skip
        assert record["status"] is None
    if when == "abort_during":
        assert scp.received_files() == []
    assert run.seconds < 15


@pytest.mark.parametrize(
    "fault",
    [
        Fault(cut_after_bytes=1_000_000, connections=1),
        Fault(reset_after_bytes=1_000_000, connections=1),
    ],
    ids=["closed", "reset"],
)
def test_a_connection_lost_inside_a_large_file_is_resent_intact(
    scp_factory: ScpFactory, tmp_path: Path, fault: Fault
) -> None:
    big = _write_big(tmp_path / "in" / "big.dcm")
    write_study(tmp_path / "in", 2)
    scp = scp_factory()
    with FaultProxy(scp.port, fault) as proxy:
        run = send_in_process(tmp_path / "in", proxy.port, tmp_path / "logs")
        assert proxy.faults_triggered == 1
    assert run.exit_code == 0
    assert run.states() == {"sent": 3}
    record = run.by_path()[str(big)]
    assert record["attempts"] == 2
    stored = scp.stored()[dataset_uid(str(big))]
    assert stored.dataset == dataset_bytes(big), "the resent copy is the file, byte for byte"
    assert scp.wait_until_idle() == 0


def test_a_reset_instead_of_a_response_resends_the_file_in_flight(
    scp_factory: ScpFactory, tmp_path: Path
) -> None:
    files = sorted(write_study(tmp_path / "in", 6))
    scp = scp_factory()
    with FaultProxy(scp.port, Fault(reset_after_responses=3, connections=1)) as proxy:
        run = send_in_process(tmp_path / "in", proxy.port, tmp_path / "logs")
        assert proxy.faults_triggered == 1
    assert run.exit_code == 0
    assert run.states() == {"sent": 6}
    attempts = [run.by_path()[str(p)]["attempts"] for p in files]
    assert attempts == [1, 1, 1, 2, 1, 1]
    # The PACS stored the fourth file the first time too: resending is the price of not knowing.
    assert [r.call.attempt for r in scp.received].count(2) == 1
    assert scp.wait_until_idle() == 0


# -- a peer that stops reading ----------------------------------------------------------------


def test_a_peer_that_stops_reading_trips_the_network_timeout_and_the_file_is_resent(
    scp_factory: ScpFactory, tmp_path: Path, huge_folder: Path
) -> None:
    scp = scp_factory()
    fault = Fault(stall_after_bytes=300_000, connections=1)
    with FaultProxy(scp.port, fault) as proxy:
        run = send_in_process(huge_folder, proxy.port, tmp_path / "logs", dimse_timeout=20)
        assert proxy.faults_triggered == 1
    assert run.exit_code == 0
    [record] = run.files()
    assert record["state"] == "sent" and record["attempts"] == 2
    first = run.summary["associations"][0]
    assert "stopped reading data for 1 s (network timeout)" in first["note"]
    assert run.seconds < 4, "the network timeout fired, not the 20 s DIMSE timeout"
    assert scp.wait_until_idle() == 0


def test_a_peer_that_always_stops_reading_fails_the_file_in_bounded_time(
    scp_factory: ScpFactory, tmp_path: Path, huge_folder: Path
) -> None:
    scp = scp_factory()
    with FaultProxy(scp.port, Fault(stall_after_bytes=300_000)) as proxy:
        run = send_in_process(huge_folder, proxy.port, tmp_path / "logs", dimse_timeout=20)
        assert proxy.connections == 3
    assert run.exit_code == 1
    [record] = run.files()
    assert record["state"] == "failed" and record["attempts"] == 3
    assert "network timeout" in record["reason"]
    assert run.seconds < 6


def test_a_slow_link_within_the_timeouts_is_just_slow(
    scp_factory: ScpFactory, tmp_path: Path
) -> None:
    write_study(tmp_path / "in", 4)
    scp = scp_factory()
    with FaultProxy(scp.port, Fault(delay=0.05)) as proxy:
        run = send_in_process(tmp_path / "in", proxy.port, tmp_path / "logs")
    assert run.exit_code == 0
    assert run.states() == {"sent": 4}
    assert all(f["attempts"] == 1 for f in run.files())


# -- protocol garbage and release -------------------------------------------------------------


@pytest.mark.parametrize(
    ("garbage", "words"),
    [
        (Raw(UNKNOWN_PDU), "bytes that are not DICOM"),
        (Raw(SHORT_ABORT, close=True), "connection lost"),
    ],
)
def test_garbage_where_a_response_belongs_resends_the_file_in_flight(
    tmp_path: Path, garbage: Raw, words: str
) -> None:
    files = sorted(write_study(tmp_path / "in", 4))
    with RawSCP(store_script=[0x0000, garbage, 0x0000]) as peer:
        run = send_in_process(tmp_path / "in", peer.port, tmp_path / "logs")
        assert peer.connections == 2
    assert run.exit_code == 0
    assert run.states() == {"sent": 4}
    assert [run.by_path()[str(p)]["attempts"] for p in files] == [1, 2, 1, 1]
    first = run.summary["associations"][0]
    assert not first["released"] and words in first["note"], first


def test_a_release_nobody_answers_is_aborted_and_the_files_stay_sent(tmp_path: Path) -> None:
    write_study(tmp_path / "in", 3)
    with RawSCP(answer_release=False) as peer:
        run = send_in_process(tmp_path / "in", peer.port, tmp_path / "logs")
        assert peer.release_requests == 1
    assert run.exit_code == 0
    assert run.states() == {"sent": 3}
    [association] = run.summary["associations"]
    assert not association["released"]
    assert "release was not confirmed" in association["note"]
    assert 1.0 <= run.seconds < 3


def test_a_release_nobody_answers_through_the_cli(tmp_path: Path) -> None:
    write_study(tmp_path / "in", 2)
    with RawSCP(answer_release=False) as peer:
        run = send_with_cli(tmp_path / "in", peer.port, tmp_path, called_ae=peer.ae_title)
        assert peer.aborts_received == 1
    assert run.exit_code == 0
    assert run.states() == {"sent": 2}
    assert run.seconds < 10


# -- PDU sizes --------------------------------------------------------------------------------


def test_dcmtk_with_a_4096_byte_max_pdu_receives_every_file_intact(
    storescp: Any, tmp_path: Path
) -> None:
    big = _write_big(tmp_path / "in" / "big.dcm", side=256)
    small = write_study(tmp_path / "in", 3)
    scp = storescp(max_pdu=4096, extra_args=["+B"])
    run = send_with_cli(tmp_path / "in", scp.port, tmp_path, called_ae=scp.ae_title)
    assert run.exit_code == 0, run.stderr
    assert run.states() == {"sent": 4}
    [association] = run.summary["associations"]
    assert association["peer_max_pdu"] == 4096
    received = {dataset_bytes(p) for p in scp.wait_for_files(4)}
    assert received == {dataset_bytes(p) for p in [big, *small]}


# -- a destination that goes bad mid-session --------------------------------------------------


def test_an_association_the_pacs_ended_while_idle_is_not_charged_to_the_next_file(
    scp_factory: ScpFactory, tmp_path: Path
) -> None:
    """The worker waits out a backoff on an open association; the PACS's idle timeout ends it."""
    write_study(tmp_path / "in", 1)
    scp = scp_factory(replies=[0xA700, 0x0000], timeout=0.3)
    patient = RetryPolicy(status_backoff=(1.0,))
    run = send_in_process(tmp_path / "in", scp.port, tmp_path / "logs", retry=patient)
    assert run.exit_code == 0
    [record] = run.files()
    assert record["state"] == "sent"
    assert record["attempts"] == 2, "the dead association did not cost an attempt"
    first = run.summary["associations"][0]
    assert "ended the association while it was idle" in first["note"]
    assert scp.wait_until_idle() == 0


def test_a_pacs_that_hangs_on_every_file_is_given_up_after_a_few_files(
    scp_factory: ScpFactory, tmp_path: Path
) -> None:
    write_study(tmp_path / "in", 10)
    scp = scp_factory(sleep=2)
    policy = RetryPolicy(max_attempts=2, breaker_threshold=2)
    run = send_in_process(
        tmp_path / "in", scp.port, tmp_path / "logs", retry=policy, dimse_timeout=0.3
    )
    assert run.exit_code == 1
    assert run.states() == {"failed": 10}
    assert len(scp.received) == 4, "two files, two attempts each; the rest not sent"
    tried = [f for f in run.files() if f["attempts"]]
    assert len(tried) == 2
    assert all(f["reason"].startswith("outcome unknown after 2 attempts") for f in tried)
    untried = [f for f in run.files() if not f["attempts"]]
    assert all("gave up on this destination" in f["reason"] for f in untried)
    assert all("seems hung" in f["reason"] for f in untried)
    assert run.seconds < 3


def test_a_pacs_lost_mid_session_fails_the_rest_at_once(
    scp_factory: ScpFactory, tmp_path: Path
) -> None:
    files = sorted(write_study(tmp_path / "in", 12))
    scp = scp_factory(abort_after=3, reject=lambda n: None if n == 0 else (2, 3, 1))
    run = send_in_process(tmp_path / "in", scp.port, tmp_path / "logs")
    assert run.exit_code == 1
    assert run.states() == {"sent": 3, "failed": 9}
    assert scp.association_requests == 4, "one association, then one bounded retry cycle"
    in_doubt = run.by_path()[str(files[3])]
    assert "temporary congestion" in in_doubt["reason"]
    assert (
        "outcome is unknown" in in_doubt["reason"] and "the PACS may hold it" in in_doubt["reason"]
    )
    assert all("gave up after 3 attempts" in r for r in run.reasons())
    assert run.seconds < 2
