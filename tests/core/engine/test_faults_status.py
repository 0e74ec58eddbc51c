"""Fault laboratory, part 1: every C-STORE status class a PACS can answer, and what follows.

A scripted pynetdicom SCP answers each request with the status the test
chooses. Each test checks the final state of every file, the attempts, the
exit code, that the counts add up, that the time is bounded, and that no
association is left open at the SCP. Cases 37-39 of reliability.md (c).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from peers.pynetdicom_scp import ScriptedSCP, StoreCall
from tests.fault_runs import send_in_process, send_with_cli, write_study
from tui_sender.core.engine.targets import RetryPolicy
from tui_sender.core.model.events import LogMessage
from tui_sender.core.net.breaker import Breaker, Pause, Trip

pytestmark = pytest.mark.timeout(60)

ScpFactory = Callable[..., ScriptedSCP]


def test_warning_statuses_are_stored_with_the_warning_recorded(
    scp_factory: ScpFactory, tmp_path: Path
) -> None:
    files = write_study(tmp_path / "in", 5)
    warnings = [0xB000, 0xB006, 0xB007, 0x0107, 0xB123]
    scp = scp_factory(replies=warnings)
    run = send_in_process(tmp_path / "in", scp.port, tmp_path / "logs")
    assert run.exit_code == 0
    assert run.states() == {"warning": 5}
    assert sorted(f["status"] for f in run.files()) == sorted(f"0x{s:04X}" for s in warnings)
    assert all(f["attempts"] == 1 for f in run.files())
    assert {r for r in run.reasons("warning")} >= {
        "Warning: coercion of data elements (0xB000)",
        "Warning: elements discarded (0xB006)",
        "Warning: data set does not match SOP class (0xB007)",
    }
    assert len(scp.received) == len(files), "a warning is never resent"
    assert scp.wait_until_idle() == 0


def test_out_of_resources_twice_then_success_is_sent_on_the_third_attempt(
    scp_factory: ScpFactory, tmp_path: Path
) -> None:
    write_study(tmp_path / "in", 3)

    def twice_full(call: StoreCall) -> int:
        return 0xA700 if call.attempt <= 2 else 0x0000

    scp = scp_factory(replies=twice_full)
    run = send_in_process(tmp_path / "in", scp.port, tmp_path / "logs")
    assert run.exit_code == 0
    assert run.states() == {"sent": 3}
    assert [f["attempts"] for f in run.files()] == [3, 3, 3]
    assert len(scp.received) == 9
    assert run.seconds < 5
    assert scp.wait_until_idle() == 0


def test_out_of_resources_for_ever_fails_after_bounded_retries_with_advice(
    scp_factory: ScpFactory, tmp_path: Path
) -> None:
    write_study(tmp_path / "in", 3)
    scp = scp_factory(replies=0xA702)
    run = send_in_process(tmp_path / "in", scp.port, tmp_path / "logs")
    assert run.exit_code == 1
    assert run.states() == {"failed": 3}
    for record in run.files():
        assert record["attempts"] == 3
        assert record["status"] == "0xA702"
        assert "out of resources (0xA702)" in record["reason"]
        assert "free space on the PACS" in record["reason"]
        assert "after 3 attempts" in record["reason"]
    assert len(scp.received) == 9
    assert run.seconds < 5
    assert scp.wait_until_idle() == 0


@pytest.mark.parametrize(
    ("status", "advice"),
    [
        (0xA900, "check the file with dcmdump"),
        (0xA9F0, "check the file with dcmdump"),
        (0xC000, "check the file and the PACS log"),
        (0xC123, "check the file and the PACS log"),
        (0x0122, "ask the PACS administrator to accept this SOP class"),
        (0x0124, "check its permissions"),
        (0x0117, "check the file with dcmdump"),
        (0x0111, "refuses to overwrite it"),
        (0xFFF0, "not a C-STORE status the standard defines"),
        (0xFF00, "not a valid final C-STORE status"),
    ],
)
def test_permanent_failure_statuses_fail_at_once_with_what_to_do(
    scp_factory: ScpFactory, tmp_path: Path, status: int, advice: str
) -> None:
    write_study(tmp_path / "in", 2)
    scp = scp_factory(replies=status)
    run = send_in_process(tmp_path / "in", scp.port, tmp_path / "logs")
    assert run.exit_code == 1
    assert run.states() == {"failed": 2}
    for record in run.files():
        assert record["attempts"] == 1, "never retried"
        assert record["status"] == f"0x{status:04X}"
        assert f"(0x{status:04X})" in record["reason"]
        assert advice in record["reason"]
    assert len(scp.received) == 2
    assert scp.wait_until_idle() == 0


def test_mixed_statuses_through_the_cli_each_file_in_its_own_state(
    scp_factory: ScpFactory, tmp_path: Path
) -> None:
    """The real command: one file per status class, the summary says which is which."""
    files = write_study(tmp_path / "in", 4)
    scp = scp_factory(replies=[0x0000, 0xB000, 0xC000, 0x0122])
    run = send_with_cli(tmp_path / "in", scp.port, tmp_path, called_ae=scp.ae_title)
    assert run.exit_code == 1
    by_path = run.by_path()
    states = [by_path[str(p)]["state"] for p in sorted(files)]
    assert states == ["sent", "warning", "failed", "failed"]
    assert run.summary["totals"]["sent"] == 1
    assert run.summary["totals"]["warning"] == 1
    assert run.summary["totals"]["failed"] == 2
    assert scp.wait_until_idle() == 0


# -- the circuit breaker: a full disk stops the session, not each file in turn ----------------


BREAKER = RetryPolicy(
    max_attempts=3,
    status_backoff=(0.05, 0.1),
    association_attempts=3,
    association_backoff=(0.1, 0.2),
    breaker_threshold=4,
    breaker_pause=0.6,
)


def test_a_destination_that_stays_full_is_paused_once_then_the_rest_fail_fast(
    scp_factory: ScpFactory, tmp_path: Path
) -> None:
    write_study(tmp_path / "in", 30)
    scp = scp_factory(replies=0xA700)
    run = send_in_process(tmp_path / "in", scp.port, tmp_path / "logs", retry=BREAKER)
    assert run.exit_code == 1
    assert run.states() == {"failed": 30}
    # Two rounds of 4 refusals (before and after the pause), not 30 files x 3 attempts.
    assert len(scp.received) <= 2 * BREAKER.breaker_threshold + 2
    assert BREAKER.breaker_pause <= run.seconds < 4
    for record in run.files():
        assert "out of resources" in record["reason"], record
    untried = [f for f in run.files() if f["attempts"] == 0]
    assert len(untried) >= 20
    assert all("resend" in f["reason"] for f in untried)
    logged = [e.message for e in run.events if isinstance(e, LogMessage)]
    assert any("pausing" in m for m in logged), logged
    assert any(
        e.level == logging.ERROR and "giving up" in e.message
        for e in run.events
        if isinstance(e, LogMessage)
    )
    assert scp.wait_until_idle() == 0


def test_a_destination_that_recovers_during_the_pause_gets_everything(
    scp_factory: ScpFactory, tmp_path: Path
) -> None:
    write_study(tmp_path / "in", 12)
    scp = scp_factory(replies=[0xA700] * 4 + [0x0000])
    run = send_in_process(tmp_path / "in", scp.port, tmp_path / "logs", retry=BREAKER)
    assert run.exit_code == 0
    assert run.states() == {"sent": 12}
    assert run.seconds >= BREAKER.breaker_pause
    assert set(scp.stored()) == {f["sop_instance_uid"] for f in run.files()}
    assert scp.wait_until_idle() == 0


def test_scattered_refusals_do_not_trip_the_breaker(
    scp_factory: ScpFactory, tmp_path: Path
) -> None:
    """Refusals between successes are a busy PACS, not a full one: no pause."""
    write_study(tmp_path / "in", 12)

    def every_other_first_attempt(call: StoreCall) -> int:
        return 0xA700 if call.attempt == 1 and call.index % 2 == 0 else 0x0000

    scp = scp_factory(replies=every_other_first_attempt)
    run = send_in_process(tmp_path / "in", scp.port, tmp_path / "logs", retry=BREAKER)
    assert run.exit_code == 0
    assert run.states() == {"sent": 12}
    assert run.seconds < BREAKER.breaker_pause
    assert not any("pausing" in e.message for e in run.events if isinstance(e, LogMessage))


# -- the breaker on its own (a fake clock) ------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_counts_files_not_attempts_and_pauses_once_then_trips() -> None:
    clock = _Clock()
    breaker = Breaker(threshold=3, pause=30, peer="PACS@h:104", clock=clock)
    for _ in range(5):
        assert breaker.refused("a", "Refused: out of resources (0xA700)") is None
    assert breaker.refused("b", "full") is None
    pause = breaker.refused("c", "full")
    assert isinstance(pause, Pause) and pause.seconds == 30
    assert "refused 3 files in a row" in pause.message
    assert breaker.pause_left() == 30
    clock.now += 31
    assert breaker.pause_left() == 0
    assert breaker.refused("a", "full") is None
    assert breaker.refused("b", "full") is None
    trip = breaker.refused("d", "full")
    assert isinstance(trip, Trip)
    assert "free space on the PACS" in trip.reason and "resend" in trip.reason


def test_breaker_forgets_everything_when_a_file_is_stored() -> None:
    breaker = Breaker(threshold=2, pause=30, peer="PACS@h:104", clock=_Clock())
    assert breaker.refused("a", "full") is None
    breaker.stored()
    assert breaker.refused("b", "full") is None
    assert isinstance(breaker.refused("c", "full"), Pause)
    breaker.stored()  # recovered: a later full disk gets its pause again
    assert breaker.refused("d", "full") is None
    assert isinstance(breaker.refused("e", "full"), Pause)


def test_breaker_trips_on_unknown_outcomes_unless_the_pacs_answers_between() -> None:
    breaker = Breaker(threshold=2, pause=30, peer="PACS@h:104", clock=_Clock())
    assert breaker.unknown("no C-STORE response within 60 s (DIMSE timeout)") is None
    breaker.answered()  # a C000 for another file: the PACS is not hung
    assert breaker.unknown("no response") is None
    trip = breaker.unknown("no response")
    assert isinstance(trip, Trip)
    assert "2 files in a row" in trip.reason and "seems hung" in trip.reason
