"""Messages between the app's threads and screens.

Past tense for things that happened, imperative for requests. Thread
workers only ever post these; they never touch a widget.
"""

from __future__ import annotations

from textual.message import Message

from tui_sender.core.scan.scanner import ScanBatch


class ScanBatchArrived(Message):
    """The background scan found more files (a batch per ~0.1 s, never per file)."""

    def __init__(self, batch: ScanBatch) -> None:
        super().__init__()
        self.batch = batch
        """Results to add to the catalog, with the running counts."""


class ScanFinished(Message):
    """The background scan walked every input (or was cancelled)."""

    def __init__(self, cancelled: bool) -> None:
        super().__init__()
        self.cancelled = cancelled


class DestinationsChanged(Message):
    """The address book or the chosen destinations changed."""
