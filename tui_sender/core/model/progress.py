"""Live per-worker counters that the UI and console poll on a timer.

One worker thread writes a :class:`WorkerProgress`; readers only read. Plain
attribute writes of ints and strings are atomic under the GIL, and a reader
that sees a value a few milliseconds old draws a frame a few milliseconds
old: that is the point. Events carry what must not be missed; this carries
what only needs to be current.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class WorkerState(StrEnum):
    """What a worker is doing right now."""

    IDLE = "idle"
    CONNECTING = "connecting"
    SENDING = "sending"
    WAITING = "waiting"
    """Backing off before a retry."""
    RELEASING = "releasing"
    DONE = "done"


@dataclass(slots=True)
class WorkerProgress:
    """Counters for one worker (one association at a time)."""

    name: str
    destination: str
    state: WorkerState = WorkerState.IDLE
    association_id: str = ""
    study_uid: str = ""
    study_files: int = 0
    study_files_done: int = 0
    current_path: str = ""
    current_bytes: int = 0
    current_bytes_done: int = 0
    files_done: int = 0
    bytes_done: int = 0
    """Data set bytes confirmed by a C-STORE response (any status)."""
    sent: int = 0
    warning: int = 0
    failed: int = 0
    associations: int = 0
    started_at: float = 0.0
    last_status: str = ""

    def add_wire_bytes(self, n: int) -> None:
        """Called by the link after each batch it writes (O(1), no locks)."""
        self.current_bytes_done += n
