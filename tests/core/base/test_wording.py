"""One voice for numbers: the console, the screens and the report word them the same."""

from __future__ import annotations

import pytest

from tui_sender.core.base import wording
from tui_sender.core.record import report_wording


@pytest.mark.parametrize(
    ("n", "text"), [(12, "12 Bytes"), (1234, "1.2 kB"), (667_441, "667.4 kB"), (1.5e9, "1.5 GB")]
)
def test_sizes_are_decimal_with_one_decimal(n: float, text: str) -> None:
    assert wording.size(n) == text
    assert report_wording.size(int(n)) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.042, "0.04 s"), (4.25, "4.2 s"), (187, "3 min 07 s"), (3725, "1 h 02 min 05 s")],
)
def test_durations(seconds: float, text: str) -> None:
    assert wording.duration(seconds) == text
    assert report_wording.duration(seconds) == text


def test_counts_and_rates() -> None:
    assert wording.count(1, "study", "studies") == "1 study"
    assert wording.count(12_345, "file") == "12,345 files"
    assert wording.rate(48_200_000) == "48.2 MB/s"
    assert wording.throughput(48.24, 310.4) == "48.2 MB/s, 310 img/s"
    assert report_wording.size("not a number") == "0 Bytes"
