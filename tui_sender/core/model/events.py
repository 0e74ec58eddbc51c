"""Small immutable messages the engine emits while a session runs.

Workers put these on the session's event queue; sinks (the session log, the
summary, the console, the TUI) read them. Past tense for things that
happened. Continuous byte progress is not an event: it lives in
:class:`tui_sender.core.model.progress.WorkerProgress`, which sinks poll on a timer,
so a 2 GB file does not turn into 100,000 messages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from time import time

from tui_sender.core.model.outcomes import FileOutcome


@dataclass(frozen=True, slots=True)
class ContextResult:
    """One presentation context as the peer answered it."""

    context_id: int
    sop_class_uid: str
    transfer_syntax_uid: str
    """The accepted syntax, or the proposed one when rejected."""
    accepted: bool
    result: str
    """The peer's answer in words ("Accepted", "Abstract Syntax Not Supported", ...)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of all engine events; ``at`` is the wall-clock time it happened."""

    at: float = field(default_factory=time)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionStarted(Event):
    """A session began: what it will send, where, with how many workers."""

    session_id: str
    destinations: tuple[str, ...]
    files: int
    bytes: int
    studies: int
    skipped: int
    workers: int
    log_path: str
    summary_path: str
    scanning: bool = False
    """True when the session sends while it scans: the counts above are then those found so
    far (none yet), and :class:`ScanFinished` gives the totals."""
    worker_unit: str = "association"
    """What a worker holds open: "association", or "connection" when every destination is
    DICOMweb."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanFinished(Event):
    """A session that sends while it scans has found every input file."""

    files_seen: int
    instances: int
    bytes: int
    studies: int
    skipped: int
    seconds: float
    complete: bool = True
    """False when a hard cancel stopped the scan: paths not reached are not in the record."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AssociationOpened(Event):
    """A worker established an association and learnt what the peer accepts."""

    worker: str
    association_id: str
    destination: str
    peer: str
    """``AE@host:port`` of the peer (DICOMweb: its URL)."""
    max_pdu: int
    """The peer's maximum PDU length (0: unlimited)."""
    contexts: tuple[ContextResult, ...]
    seconds: float
    unit: str = "association"
    """"connection" for a DICOMweb destination: an HTTP connection, nothing negotiated."""

    @property
    def accepted(self) -> tuple[ContextResult, ...]:
        """The accepted contexts."""
        return tuple(c for c in self.contexts if c.accepted)

    @property
    def rejected(self) -> tuple[ContextResult, ...]:
        """The rejected contexts."""
        return tuple(c for c in self.contexts if not c.accepted)


@dataclass(frozen=True, slots=True, kw_only=True)
class AssociationFailed(Event):
    """A worker could not establish an association (and whether it will retry)."""

    worker: str
    destination: str
    reason: str
    retrying: bool
    attempt: int
    unit: str = "association"
    """"connection" for a DICOMweb destination."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AssociationClosed(Event):
    """An association ended: released cleanly, or aborted (by us or the peer)."""

    worker: str
    association_id: str
    destination: str
    released: bool
    files: int
    bytes: int
    seconds: float
    note: str = ""
    unit: str = "association"
    """"connection" for a DICOMweb destination."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StudyStarted(Event):
    """A worker took a study from the queue."""

    worker: str
    destination: str
    study_uid: str
    files: int
    bytes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StudyFinished(Event):
    """A worker finished a study (every file has an outcome)."""

    worker: str
    destination: str
    study_uid: str
    sent: int
    warning: int
    failed: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FileRetrying(Event):
    """A file will be sent again (transient status, or outcome unknown)."""

    worker: str
    destination: str
    path: str
    attempt: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FileDone(Event):
    """A file reached its final state at a destination."""

    worker: str
    outcome: FileOutcome
    seconds: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class LogMessage(Event):
    """A line for the log pane and the session log (no patient data)."""

    level: int = logging.INFO
    message: str
    worker: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class VerificationStarted(Event):
    """The session asks a destination to prove it holds what it stored."""

    destination: str
    method: str
    """``commitment`` or ``find``."""
    instances: int


@dataclass(frozen=True, slots=True, kw_only=True)
class VerificationProgress(Event):
    """Requests asked and answered so far (N-ACTIONs and reports, or series queried)."""

    destination: str
    method: str
    asked: int
    answered: int
    total: int
    """Requests it will ask in all (transactions, or series)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VerificationFinished(Event):
    """A destination's verification ended; ``counts`` has one entry per verified value."""

    destination: str
    method: str
    counts: dict[str, int]
    seconds: float
    error: str = ""
    """Why the verification could not run at all (then every instance is unconfirmed)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionFinished(Event):
    """The session ended; the record is on disk."""

    session_id: str
    exit_code: int
    cancelled: bool
    totals: dict[str, float]
    summary_path: str
    log_path: str
