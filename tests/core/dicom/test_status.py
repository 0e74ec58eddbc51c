"""Every C-STORE status lands in the state DESIGN.md's table gives it."""

from __future__ import annotations

import pytest

from tui_sender.core.dicom.status import classify
from tui_sender.core.model.outcomes import FileState

CASES = [
    (0x0000, FileState.SENT, False),
    (0xB000, FileState.WARNING, False),
    (0xB006, FileState.WARNING, False),
    (0xB007, FileState.WARNING, False),
    (0xB123, FileState.WARNING, False),
    (0x0001, FileState.WARNING, False),
    (0x0107, FileState.WARNING, False),
    (0x0116, FileState.WARNING, False),
    (0xA700, FileState.FAILED, True),
    (0xA7FF, FileState.FAILED, True),
    (0x0213, FileState.FAILED, True),
    (0xA900, FileState.FAILED, False),
    (0xA9AB, FileState.FAILED, False),
    (0xC000, FileState.FAILED, False),
    (0xCFFF, FileState.FAILED, False),
    (0x0122, FileState.FAILED, False),
    (0x0124, FileState.FAILED, False),
    (0x0117, FileState.FAILED, False),
    (0x0111, FileState.FAILED, False),
    (0xFF00, FileState.FAILED, False),
    (0xFE00, FileState.FAILED, False),
    (0xFFF0, FileState.FAILED, False),
    (0x1234, FileState.FAILED, False),
]


@pytest.mark.parametrize(("status", "state", "retry"), CASES)
def test_status_table(status: int, state: FileState, retry: bool) -> None:
    verdict = classify(status)
    assert (verdict.state, verdict.retry) == (state, retry)
    assert f"0x{status:04X}" in verdict.meaning


def test_unknown_status_is_never_success_and_says_so() -> None:
    verdict = classify(0xFFF0)
    assert verdict.state is FileState.FAILED
    assert "Unknown status" in verdict.reason


def test_failures_tell_the_admin_what_to_do() -> None:
    assert "disk" in classify(0xA700).advice
    assert "SOP class" in classify(0x0122).advice
