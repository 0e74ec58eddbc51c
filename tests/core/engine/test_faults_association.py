"""Fault laboratory, part 2: getting an association, or being refused one.

Nothing listening, a port that swallows the request, every A-ASSOCIATE-RJ
flavour, garbage instead of an answer, no usable presentation context, too
few association slots for our workers. Each test checks every file's final
state, the exit code, the counts, and that the time stays bounded (no retry
loop where retrying cannot help). Cases 25-35 of reliability.md (c).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from peers.fault_proxy import Fault, FaultProxy
from peers.pynetdicom_scp import ScriptedSCP
from peers.raw_scp import INVALID_REJECT, SILENT, UNKNOWN_PDU, RawSCP
from tests.fault_runs import send_in_process, send_with_cli, write_study
from tui_sender.core.engine.targets import RetryPolicy
from tui_sender.core.model.events import LogMessage
from tui_sender.core.net import wire

pytestmark = pytest.mark.timeout(60)

ScpFactory = Callable[..., ScriptedSCP]
TWO_TRIES = RetryPolicy(association_attempts=2, association_backoff=(0.1,))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_retries_a_bounded_number_of_times_then_fails_all(
    tmp_path: Path,
) -> None:
    write_study(tmp_path / "in", 5)
    run = send_in_process(tmp_path / "in", _free_port(), tmp_path / "logs")
    assert run.exit_code == 3
    assert run.states() == {"failed": 5}
    assert all("connection refused" in r and "is the PACS running" in r for r in run.reasons())
    assert all("gave up after 3 attempts" in r for r in run.reasons())
    assert run.seconds < 2


def test_a_port_that_never_answers_hits_the_acse_timeout_a_bounded_number_of_times(
    scp_factory: ScpFactory, tmp_path: Path
) -> None:
    write_study(tmp_path / "in", 4)
    scp = scp_factory()
    with FaultProxy(scp.port, Fault(blackhole=True)) as proxy:
        run = send_in_process(tmp_path / "in", proxy.port, tmp_path / "logs", retry=TWO_TRIES)
        assert proxy.connections == 2, "one connection per association attempt, two attempts"
    assert run.exit_code == 3
    assert run.states() == {"failed": 4}
    assert all("(ACSE timeout)" in r for r in run.reasons())
    assert 2.0 <= run.seconds < 4.0


@pytest.mark.parametrize(
    ("scp_options", "called_ae", "hint"),
    [
        (
            {"require_calling_aet": ["SOMEONE_ELSE"]},
            "SCRIPTED_SCP",
            "ask the PACS administrator to register our calling AE title 'FAULT_TEST'",
        ),
        (
            {"require_called_aet": True},
            "WRONG_AE",
            "called AE title 'WRONG_AE' not recognised: check the destination's AE title",
        ),
        ({"reject": (1, 1, 1)}, "SCRIPTED_SCP", "check the PACS log or ask its administrator"),
    ],
)
def test_a_permanent_rejection_fails_everything_at_once_with_the_fix(
    scp_factory: ScpFactory,
    tmp_path: Path,
    scp_options: dict[str, object],
    called_ae: str,
    hint: str,
) -> None:
    write_study(tmp_path / "in", 6)
    scp = scp_factory(**scp_options)
    run = send_with_cli(tmp_path / "in", scp.port, tmp_path, called_ae=called_ae)
    assert run.exit_code == 3
    assert run.states() == {"failed": 6}
    assert all("permanently rejected" in r and hint in r for r in run.reasons()), run.reasons()
    assert scp.association_requests == 1, "no retry loop"
    assert run.seconds < 10


def test_transient_rejections_then_acceptance_gets_everything(
    scp_factory: ScpFactory, tmp_path: Path
) -> None:
    write_study(tmp_path / "in", 5)
    scp = scp_factory(reject=lambda n: (2, 3, 2) if n < 2 else None)
    run = send_in_process(tmp_path / "in", scp.port, tmp_path / "logs")
    assert run.exit_code == 0
    assert run.states() == {"sent": 5}
    assert scp.association_requests == 3
    assert scp.wait_until_idle() == 0


def test_transient_rejections_for_ever_fail_bounded(
    scp_factory: ScpFactory, tmp_path: Path
) -> None:
    write_study(tmp_path / "in", 5)
    scp = scp_factory(reject=(2, 3, 1))
    run = send_in_process(tmp_path / "in", scp.port, tmp_path / "logs")
    assert run.exit_code == 3
    assert run.states() == {"failed": 5}
    assert all("transiently rejected" in r and "temporary congestion" in r for r in run.reasons())
    assert scp.association_requests == 3
    assert run.seconds < 2


def test_more_workers_than_the_pacs_allows_associations_still_sends_everything(
    scp_factory: ScpFactory, tmp_path: Path
) -> None:
    """(2,3,2) local limit for the extra workers: they step back, the others do the work."""
    for study in range(4):
        write_study(tmp_path / "in" / f"s{study}", 6, study=study)
    scp = scp_factory(max_associations=1, sleep=0.02)
    run = send_in_process(tmp_path / "in", scp.port, tmp_path / "logs", workers=3)
    assert run.exit_code == 0, run.reasons()
    assert run.states() == {"sent": 24}
    assert len(scp.stored()) == 24
    stepped_aside = [
        e.message for e in run.events if isinstance(e, LogMessage) and "steps aside" in e.message
    ]
    assert stepped_aside, "a worker the PACS had no room for left its files to the others"
    assert all("its association limit is reached" in m for m in stepped_aside)
    assert run.seconds < 10
    assert scp.wait_until_idle() == 0


def test_garbage_instead_of_an_association_answer_is_a_protocol_failure(tmp_path: Path) -> None:
    write_study(tmp_path / "in", 3)
    with RawSCP(association_answer=UNKNOWN_PDU) as peer:
        run = send_in_process(tmp_path / "in", peer.port, tmp_path / "logs", retry=TWO_TRIES)
        assert peer.connections == 2
    assert run.exit_code == 3
    assert run.states() == {"failed": 3}
    for reason in run.reasons():
        expected = "answered the association request with bytes that are not DICOM (starting 53 00)"
        assert expected in reason, reason
        assert "is this port a DICOM service?" in reason, reason
    assert run.seconds < 2


def test_a_rejection_with_invalid_codes_is_a_protocol_failure(tmp_path: Path) -> None:
    write_study(tmp_path / "in", 3)
    with RawSCP(association_answer=INVALID_REJECT) as peer:
        run = send_in_process(tmp_path / "in", peer.port, tmp_path / "logs", retry=TWO_TRIES)
    assert run.exit_code == 3
    assert run.states() == {"failed": 3}
    for reason in run.reasons():
        assert "result 3, source 4, reason 9" in reason, reason
    assert run.seconds < 2


def test_an_abort_instead_of_an_association_answer_is_retried_bounded(tmp_path: Path) -> None:
    write_study(tmp_path / "in", 3)
    with RawSCP(association_answer=wire.abort_pdu(0, 0)) as peer:
        run = send_in_process(tmp_path / "in", peer.port, tmp_path / "logs", retry=TWO_TRIES)
        assert peer.connections == 2
    assert run.exit_code == 3
    assert all("association aborted by the PACS" in r for r in run.reasons())
    assert run.seconds < 2


def test_a_silent_dicom_peer_after_connect_is_an_acse_timeout(tmp_path: Path) -> None:
    write_study(tmp_path / "in", 2)
    with RawSCP(association_answer=SILENT) as peer:
        run = send_in_process(tmp_path / "in", peer.port, tmp_path / "logs", retry=TWO_TRIES)
    assert run.exit_code == 3
    assert all("(ACSE timeout)" in r for r in run.reasons())
    assert run.seconds < 4


def test_every_context_rejected_fails_each_file_naming_its_sop_class(
    scp_factory: ScpFactory, tmp_path: Path
) -> None:
    write_study(tmp_path / "in", 5)
    scp = scp_factory(sop_classes=[str(Verification)])
    run = send_in_process(tmp_path / "in", scp.port, tmp_path / "logs")
    assert run.states() == {"failed": 5}
    for reason in run.reasons():
        assert "CT Image Storage" in reason, reason
        assert "Abstract Syntax Not Supported" in reason, reason
    assert scp.association_requests == 1, "one negotiation answers it for the whole batch"
    assert run.exit_code == 3
    assert run.seconds < 2
