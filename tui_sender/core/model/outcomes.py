"""The final state of one file at one destination.

Every file a session was given ends in exactly one :class:`FileState`. The
session record, the console, the TUI summary and the exit code are all
computed from these records, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FileState(StrEnum):
    """Terminal states (see DESIGN.md, "Every file ends in exactly one state")."""

    SENT = "sent"
    """A C-STORE response with status 0x0000 came back for this SOP Instance UID."""
    WARNING = "warning"
    """Stored, with a warning status (0xBxxx, 0x0001, 0x0107, 0x0116)."""
    FAILED = "failed"
    """Not stored, or not known to be stored; ``reason`` says why."""
    SKIPPED = "skipped"
    """Never offered to the destination; ``reason`` says why."""


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What happened to one file at one destination, for the record.

    Holds paths, UIDs and codes only: no patient data.
    """

    path: str
    destination: str
    state: FileState
    sop_instance_uid: str = ""
    sop_class_uid: str = ""
    study_uid: str = ""
    series_uid: str = ""
    """Beside the study UID, what a C-FIND at IMAGE level needs to find the instance again."""
    status: int | None = None
    """The last DIMSE status received, if any (DICOMweb: the instance's status in the STOW-RS
    response, or the one its HTTP status stands for)."""
    http_status: int = 0
    """DICOMweb: the HTTP status of the request that carried its last attempt (0: DIMSE)."""
    reason: str = ""
    """Why it failed or was skipped, or the warning's meaning; empty when sent."""
    attempts: int = 0
    """How many times a C-STORE was started for it (0 for skipped)."""
    transfer_syntax: str = ""
    """The transfer syntax UID the data set was sent in."""
    converted_from: str = ""
    """The file's own transfer syntax UID when it was converted before sending."""
    bytes_sent: int = 0
    association_id: str = ""
    """The association that carried the final attempt."""
    file_size: int = 0
    """Size of the file on disk (with the UID, how the stored-instance index recognises it)."""

    @property
    def stored(self) -> bool:
        """True when the destination confirmed storage (sent or warning)."""
        return self.state in (FileState.SENT, FileState.WARNING)
