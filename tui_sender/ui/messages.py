"""Messages between the app's threads and screens.

Past tense for things that happened, imperative for requests. Thread
workers only ever post these; they never touch a widget.
"""

from __future__ import annotations

from textual.message import Message

from tui_sender.core.model.events import (
    VerificationFinished,
    VerificationProgress,
    VerificationStarted,
)
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


class VerificationReported(Message):
    """A verification run from a screen (the summary's "verify again") reported progress.

    Carries the core's own event (started, progress, finished), posted from the
    worker thread as it happens: a few per destination, never one per instance.
    """

    def __init__(
        self, event: VerificationStarted | VerificationProgress | VerificationFinished
    ) -> None:
        super().__init__()
        self.event = event
        """The stage's event, for the screen to word."""
