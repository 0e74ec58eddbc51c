"""One pane per worker: its association, study, file, progress, rate and counts.

Redrawn from :class:`~tui_sender.core.progress.WorkerProgress` on the
dashboard's timer; the worker thread never touches it.
"""

from __future__ import annotations

import os
import time
from collections import deque

from rich.text import Text
from textual.widgets import Static

from tui_sender.core.progress import WorkerProgress, WorkerState
from tui_sender.core.summary import display_path
from tui_sender.ui.widgets.study_tree import size_text

BAR_WIDTH = 12
RATE_WINDOW = 3.0


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


class WorkerPanel(Static):
    """Two lines about one worker."""

    def __init__(self, progress: WorkerProgress, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.progress = progress
        self.meter = RateMeter()

    def tick(self, colors: dict[str, str]) -> None:
        """Redraw from the worker's counters."""
        p = self.progress
        in_flight = min(p.current_bytes_done, p.current_bytes) if p.current_path else 0
        rate = self.meter.add(p.bytes_done + in_flight)
        state_colour = {
            WorkerState.SENDING: colors.get("success", ""),
            WorkerState.CONNECTING: colors.get("accent", ""),
            WorkerState.WAITING: colors.get("warning", ""),
            WorkerState.DONE: colors.get("text-muted", ""),
        }.get(p.state, "")
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f"{p.name:<4} ", style="bold")
        line.append(f"{p.state.value:<10} ", style=state_colour)
        line.append(f"{p.association_id or '--':<4} ")
        line.append(f"{bar(p.study_files_done, p.study_files)} ")
        line.append(f"{p.study_files_done:>4}/{p.study_files:<4} ")
        line.append(f"{size_text(int(rate)) + '/s':>11} ")
        line.append(f"✓{p.sent} ", style=colors.get("success", ""))
        line.append(f"!{p.warning} ", style=colors.get("warning", ""))
        line.append(f"✗{p.failed}", style=colors.get("error", ""))
        detail = Text(no_wrap=True, overflow="ellipsis", style="dim")
        if p.current_path and p.state is WorkerState.SENDING:
            detail.append(
                f"     {p.destination} · study …{p.study_uid[-12:]} · "
                f"{os.path.basename(display_path(p.current_path))}"
            )
        elif p.state is WorkerState.DONE:
            detail.append(f"     {p.destination} · finished: {p.files_done} files")
        else:
            detail.append(f"     {p.destination}")
        # Two lines in a pane of fixed height: no layout pass needed (it is costly at 15 Hz).
        self.update(Text.assemble(line, "\n", detail), layout=False)
