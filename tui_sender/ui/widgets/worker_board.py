"""The dashboard's worker lines: two per worker (association).

Line one: name, state, association, the study's progress bar and count,
rate, and the worker's sent / warning / failed counts. Line two: the
destination and the file in flight. Redrawn from
:class:`~tui_sender.core.model.progress.WorkerProgress` on the dashboard's timer;
the worker thread never touches the screen.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Mapping, Sequence

from rich.style import Style

from tui_sender.core.base import wording
from tui_sender.core.model.progress import WorkerProgress, WorkerState
from tui_sender.core.model.recorded_path import display_path
from tui_sender.ui.widgets.status_lines import Line, StatusLines

BAR_WIDTH = 12
RATE_WINDOW = 3.0
EDGE = "▌ "
"""Marks each worker's pair of lines (in the theme's primary colour)."""
BOLD = Style(bold=True)
DIM = Style(dim=True)


def bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """A text progress bar that reads on any terminal."""
    if total <= 0:
        return "░" * width
    filled = min(width, round(width * done / total))
    return "█" * filled + "░" * (width - filled)


class RateMeter:
    """Bytes per second over the last few seconds (smooths per-file bursts)."""

    def __init__(self, window: float = RATE_WINDOW) -> None:
        self.window = window
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, total_bytes: int, now: float | None = None) -> float:
        """Record the running total; return the current rate."""
        now = time.monotonic() if now is None else now
        self._samples.append((now, total_bytes))
        while len(self._samples) > 2 and now - self._samples[0][0] > self.window:
            self._samples.popleft()
        first_t, first_b = self._samples[0]
        span = now - first_t
        return (total_bytes - first_b) / span if span > 0 else 0.0


def worker_lines(p: WorkerProgress, rate: float, styles: Mapping[str, Style]) -> tuple[Line, Line]:
    """The two lines of one worker, as styled runs of text."""
    state_style = {
        WorkerState.SENDING: styles.get("success"),
        WorkerState.CONNECTING: styles.get("accent"),
        WorkerState.WAITING: styles.get("warning"),
        WorkerState.DONE: DIM,
    }.get(p.state)
    edge = (EDGE, styles.get("primary"))
    head: Line = (
        edge,
        (f"{p.name:<4} ", BOLD),
        (f"{p.state.value:<10} ", state_style),
        (f"{p.association_id or '--':<4} {bar(p.study_files_done, p.study_files)} ", None),
        (f"{p.study_files_done:>4}/{p.study_files:<4} {wording.size(int(rate)) + '/s':>11} ", None),
        (f"✓{p.sent} ", styles.get("success")),
        (f"!{p.warning} ", styles.get("warning")),
        (f"✗{p.failed}", styles.get("error")),
    )
    if p.current_path and p.state is WorkerState.SENDING:
        where = (
            f"     {p.destination} · study …{p.study_uid[-12:]} · "
            f"{os.path.basename(display_path(p.current_path))}"
        )
    elif p.state is WorkerState.DONE:
        where = f"     {p.destination} · finished: {p.files_done} files"
    else:
        where = f"     {p.destination}"
    return head, (edge, (where, DIM))


class WorkerBoard(StatusLines):
    """Every worker's two lines in one widget: one repaint per tick, not one per worker."""

    def __init__(self, *, expected: int = 0, id: str | None = None) -> None:
        """``expected`` workers get their rows from the start (as "starting"), so
        the first real redraw repaints them instead of laying the screen out."""
        super().__init__(id=id)
        self._meters: dict[str, RateMeter] = {}
        self.show([((EDGE, None), ("starting…", DIM)), ((EDGE, None),)] * expected)

    def tick(self, workers: Sequence[WorkerProgress], styles: Mapping[str, Style]) -> None:
        """Redraw from the workers' counters (until the first exists: the rows as they are)."""
        if not workers:
            return
        lines: list[Line] = []
        for p in workers:
            meter = self._meters.get(p.name)
            if meter is None:
                meter = self._meters[p.name] = RateMeter()
            in_flight = min(p.current_bytes_done, p.current_bytes) if p.current_path else 0
            lines.extend(worker_lines(p, meter.add(p.bytes_done + in_flight), styles))
        self.show(lines)
