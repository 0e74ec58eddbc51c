"""The work of one destination, shared by its workers: batches, and whether the PACS is dead.

Workers take batches largest first, hand them back when the PACS has no
room for another association, and learn here, at once, when the
destination has been given up (so the rest fail with that reason instead
of each waiting through the same backoff).

A queue may also be *open*: a session that sends while it scans adds
batches as the scan finds them, and a worker that finds it empty waits for
the next one until the session closes it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from tui_sender.core.dicom.negotiation import Batch
from tui_sender.core.engine.targets import TransferTarget
from tui_sender.core.model.catalog import Instance
from tui_sender.core.net.breaker import Breaker

WAIT_SLICE = 0.5
"""Seconds between checks while a worker waits on an open queue (the session closes
it in any case; the slice only bounds each wait)."""


@dataclass(slots=True)
class Pending:
    """A file a worker holds, with what its attempts so far have taught."""

    instance: Instance
    attempts: int = 0
    status_retries: int = 0
    not_before: float = 0.0
    last_status: int | None = None
    last_http_status: int = 0
    """DICOMweb: the HTTP status of the last request that carried it."""
    last_reason: str = ""
    """Why the last attempt's outcome is unknown; empty when it got a response."""


@dataclass(frozen=True, slots=True)
class Work:
    """A batch to send; ``items`` when a worker that stepped aside handed it back mid-way."""

    batch: Batch
    items: tuple[Pending, ...] | None = None


class DestinationQueue:
    """The batches for one destination, shared by its workers.

    It also remembers whether the destination is known dead (a permanent
    rejection, a TLS failure, no association after all retries, or a tripped
    :class:`~tui_sender.core.net.breaker.Breaker`), so the remaining batches fail
    at once with that reason instead of each waiting through the same
    backoff; and which workers are still running, so a worker the PACS has
    no room for can hand its files to the others.
    """

    def __init__(
        self, target: TransferTarget, batches: Sequence[Batch], *, open_ended: bool = False
    ) -> None:
        self.target = target
        self._work = deque(Work(b) for b in batches)
        self._lock = threading.Lock()
        self._more = threading.Condition(self._lock)
        self._open = open_ended
        self._running: set[str] = set()
        self.breaker = Breaker(
            target.retry.breaker_threshold, target.retry.breaker_pause, target.peer
        )
        self.dead_reason: str | None = None
        self.established = 0
        self.attempted = False

    @property
    def remaining(self) -> int:
        """Batches not taken yet."""
        with self._lock:
            return len(self._work)

    def join(self, worker: str) -> None:
        """A worker will take batches from this queue."""
        with self._lock:
            self._running.add(worker)

    @property
    def is_open(self) -> bool:
        """True while more batches may still be added."""
        with self._lock:
            return self._open

    def add(self, batches: Sequence[Batch]) -> None:
        """More batches for an open queue (largest first among themselves)."""
        with self._more:
            if not self._open:
                raise RuntimeError("batches added to a closed destination queue")
            self._work.extend(Work(b) for b in batches)
            self._more.notify_all()

    def close(self) -> None:
        """No more batches will come: waiting workers take what is left, then stop."""
        with self._more:
            self._open = False
            self._more.notify_all()

    def take(self, worker: str) -> Work | None:
        """The next batch, or None (and ``worker`` counts as gone) when none is left.

        On an open queue this waits until a batch is added or the queue is closed.
        """
        with self._more:
            while not self._work and self._open:
                self._more.wait(WAIT_SLICE)
            if self._work:
                return self._work.popleft()
            self._running.discard(worker)
            return None

    def leave(self, worker: str) -> None:
        """``worker`` stopped (idempotent)."""
        with self._lock:
            self._running.discard(worker)

    def give_back(self, worker: str, work: Work) -> bool:
        """Hand ``work`` to the other workers and leave; False (and keep it) if none is left."""
        with self._more:
            if not self._running - {worker}:
                return False
            self._work.appendleft(work)
            self._running.discard(worker)
            self._more.notify_all()
            return True

    def opened(self) -> None:
        """A worker established an association."""
        with self._lock:
            self.established += 1

    def others_running(self, worker: str) -> bool:
        """True when another worker will still take batches."""
        with self._lock:
            return bool(self._running - {worker})

    def mark_dead(self, reason: str) -> bool:
        """Stop offering work to this destination; True for the call that did it."""
        with self._lock:
            if self.dead_reason is not None:
                return False
            self.dead_reason = reason
            return True
