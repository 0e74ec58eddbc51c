"""A circuit breaker per destination: stop feeding a PACS that cannot take files.

Per-file retries suit a file-level problem. When the PACS itself is the
problem, they multiply it: with the disk full, every one of 1,000 files
would be sent three times over and refused three times, and a PACS that
accepts associations but never answers would cost each file three DIMSE
timeouts (three minutes at the default; two days for 1,000 files).

So the workers of a destination share one :class:`Breaker` and report
every outcome to it:

* ``threshold`` different files refused for lack of resources (0xA7xx,
  0x0213) in a row, with nothing stored in between, pause the whole
  destination once for ``pause`` seconds (time for a purge job or an
  administrator); ``threshold`` more after the pause trip it: the remaining
  files fail at once with the reason;
* ``threshold`` files in a row whose outcome stayed unknown after all their
  attempts (no response, aborted every time) trip it directly: those files
  have had their retries already;
* a stored file closes it again; any response at all resets the count of
  unknown outcomes (the PACS is answering).

Refusals of different files count together, whichever worker sent them, so
a PACS that refuses now and then between successes never trips it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Pause:
    """Stop sending to the destination for ``seconds`` (reported once, by whoever tripped it)."""

    seconds: float
    message: str


@dataclass(frozen=True, slots=True)
class Trip:
    """Give up on the destination: the remaining files fail with ``reason``."""

    reason: str


class Breaker:
    """Shared by the workers of one destination; every method is thread-safe."""

    def __init__(
        self,
        threshold: int,
        pause: float,
        peer: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = max(1, threshold)
        self.pause = pause
        self.peer = peer
        self._clock = clock
        self._lock = threading.Lock()
        self._refused_files: set[str] = set()
        self._unknown = 0
        self._paused = False
        self._resume_at = 0.0

    def pause_left(self) -> float:
        """Seconds to wait before the next C-STORE to this destination (0: go)."""
        with self._lock:
            return max(0.0, self._resume_at - self._clock())

    def stored(self) -> None:
        """A file was stored: whatever was wrong is not wrong for every file."""
        with self._lock:
            self._refused_files.clear()
            self._unknown = 0
            self._paused = False

    def answered(self) -> None:
        """A response came (any status): the PACS is not hung."""
        with self._lock:
            self._unknown = 0

    def refused(self, file: str, meaning: str) -> Pause | Trip | None:
        """``file`` was refused for lack of resources (``meaning``: the status in words)."""
        with self._lock:
            self._unknown = 0
            self._refused_files.add(file)
            if len(self._refused_files) < self.threshold:
                return None
            self._refused_files.clear()
            if not self._paused:
                self._paused = True
                self._resume_at = self._clock() + self.pause
                return Pause(
                    self.pause,
                    f"{self.peer} refused {self.threshold} files in a row for lack of "
                    f"resources ({meaning}): pausing it for {self.pause:g} s before trying again",
                )
            return Trip(
                f"gave up on this destination: {self.peer} kept refusing files for lack of "
                f"resources ({meaning}), "
                f"also after a {self.pause:g} s pause: free space on the PACS (disk, quota), "
                "then resend the failed files"
            )

    def unknown(self, detail: str) -> Trip | None:
        """A file failed because its outcome stayed unknown after all its attempts."""
        with self._lock:
            self._unknown += 1
            if self._unknown < self.threshold:
                return None
            return Trip(
                f"gave up on this destination: the outcome of {self._unknown} files in a row "
                f"stayed unknown at "
                f"{self.peer} after every attempt (last: {detail}); the PACS seems hung or "
                "unable to take these files: check it and its log, then resend the failed files"
            )
