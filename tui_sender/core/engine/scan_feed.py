"""Scanning while sending: the inputs a session scans itself, a chunk at a time.

``tui-sender send`` does not wait for the scan to end before the first
C-STORE (DCMTK's storescu reads each file as it sends it). The session runs
the scan in its own thread and, every ``interval`` seconds, plans the
instances found since the last chunk (the same :func:`make_plan` as a whole
send: the stored-instance index, batches per study, largest first) and adds
the batches to open destination queues that its workers are already
taking from. Balance is approximate: a study whose files come in two chunks
goes as two batches, and a big study found last is started last.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from tui_sender.core.scan.discovery import InputPath
from tui_sender.core.scan.scanner import ScanBatch, iter_scan_batches

CHUNK_SECONDS = 0.1
"""How often the scan hands what it found to the workers; shorter chunks make more,
smaller batches."""
FIRST_CHUNK_SECONDS = 0.01
"""The first chunk comes sooner: the first C-STORE can leave this soon after the scan starts."""


@dataclass(frozen=True)
class ScanFeed:
    """Inputs a session scans while it sends."""

    paths: Sequence[InputPath]
    recursive: bool
    interval: float = CHUNK_SECONDS
    first_after: float = FIRST_CHUNK_SECONDS

    def chunks(self, should_stop: Callable[[], bool]) -> Iterator[ScanBatch]:
        """The scan's results, a chunk at most every ``interval`` seconds (the last always)."""
        return iter_scan_batches(
            self.paths,
            recursive=self.recursive,
            interval=self.interval,
            should_stop=should_stop,
            first_after=min(self.first_after, self.interval),
        )
