"""A frozen clock for the dashboard, so its elapsed time, rates and ETA are fixed numbers.

The dashboard reads ``time.monotonic()`` for the elapsed time and keeps
:class:`~tui_sender.ui.widgets.worker_board.RateMeter` objects for rates and
the ETA. :func:`frozen_dashboard_clock` replaces both, in those two modules
only, while its block runs: the clock says what :class:`FrozenClock` says, and
a rate is the average since the clock's start.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from tui_sender.ui.widgets.worker_board import RateMeter


class FrozenClock:
    """Stands in for the ``time`` module of the dashboard: the time is what we set."""

    def __init__(self, start: float = 1000.0) -> None:
        self.start = start
        self.now = start

    def monotonic(self) -> float:
        """The frozen time."""
        return self.now

    def set_elapsed(self, seconds: float) -> None:
        """Move the clock to ``seconds`` after its start."""
        self.now = self.start + seconds

    def average_rate(self, total_bytes: int) -> float:
        """Bytes per second since the start (what a rate meter shows on this clock)."""
        span = self.now - self.start
        return total_bytes / span if span > 0 else 0.0


@contextlib.contextmanager
def frozen_dashboard_clock() -> Iterator[FrozenClock]:
    """Freeze the dashboard's clock and rate meters while the block runs; then restore."""
    from tui_sender.ui.screens import transfer
    from tui_sender.ui.widgets import worker_board

    clock = FrozenClock()

    class AverageRateMeter(RateMeter):
        """The average rate since the start of the frozen clock."""

        def add(self, total_bytes: int, now: float | None = None) -> float:
            return clock.average_rate(total_bytes)

    replacements: list[tuple[object, str, object]] = [
        (transfer, "time", clock),
        (transfer, "RateMeter", AverageRateMeter),
        (worker_board, "RateMeter", AverageRateMeter),
    ]
    saved = [(module, name, getattr(module, name)) for module, name, _ in replacements]
    for module, name, value in replacements:
        setattr(module, name, value)
    try:
        yield clock
    finally:
        for module, name, value in saved:
            setattr(module, name, value)
