"""A bandwidth cap shared by every association to a destination.

A gateway often shares its WAN link with everything else at the site, so an
administrator caps what tui-sender may use (``max_rate`` in the address book,
``--max-rate`` on ``send``). The cap is on the destination, not on each
association: four workers at a 20 MB/s cap send 20 MB/s together.

The :class:`Pacer` is a virtual clock: each batch of data books the time the
capped link needs to carry it, after whatever was booked before, and its
sender waits until its booking starts. So the average over any stretch
longer than a batch or two is the cap, whatever the number of associations,
and nothing is sent in bursts above it for longer than one batch.
"""

from __future__ import annotations

import threading
import time


class Pacer:
    """Hands out send slots at ``bytes_per_second``; thread-safe."""

    def __init__(self, bytes_per_second: float) -> None:
        if not bytes_per_second > 0:
            raise ValueError(f"a rate must be positive, got {bytes_per_second}")
        self.rate = float(bytes_per_second)
        self._lock = threading.Lock()
        self._free_at = 0.0

    def wait_for(self, n: int, interrupted: threading.Event) -> bool:
        """Book ``n`` bytes; wait until they may leave. False when ``interrupted`` was set."""
        with self._lock:
            now = time.monotonic()
            start = max(self._free_at, now)
            self._free_at = start + n / self.rate
        delay = start - now
        if delay <= 0:
            return not interrupted.is_set()
        return not interrupted.wait(delay)
