"""C-STORE response statuses: what they mean, what state they give, whether to retry.

The table follows DESIGN.md and PS3.4 Annex B.2.3 / PS3.7 Annex C. An
unknown code is a failure, never a success.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui_sender.core.model.outcomes import FileState


@dataclass(frozen=True, slots=True)
class StatusVerdict:
    """How the sender treats one status code."""

    state: FileState
    retry: bool
    """True for transient refusals worth retrying after a pause (out of resources)."""
    meaning: str
    """The standard's wording, with the code."""
    advice: str = ""
    """What the administrator can do about it."""

    @property
    def reason(self) -> str:
        """Meaning plus advice, as one line for records."""
        return f"{self.meaning}: {self.advice}" if self.advice else self.meaning


_EXACT: dict[int, tuple[FileState, bool, str, str]] = {
    0x0000: (FileState.SENT, False, "Success", ""),
    0xB000: (FileState.WARNING, False, "Warning: coercion of data elements", ""),
    0xB006: (FileState.WARNING, False, "Warning: elements discarded", ""),
    0xB007: (FileState.WARNING, False, "Warning: data set does not match SOP class", ""),
    0x0001: (FileState.WARNING, False, "Warning: requested optional attributes not supported", ""),
    0x0107: (FileState.WARNING, False, "Warning: attribute list error", ""),
    0x0116: (FileState.WARNING, False, "Warning: attribute value out of range", ""),
    0x0213: (
        FileState.FAILED,
        True,
        "Refused: resource limitation",
        "the PACS is short of resources; retried with backoff, resend later",
    ),
    0x0122: (
        FileState.FAILED,
        False,
        "Refused: SOP class not supported",
        "ask the PACS administrator to accept this SOP class",
    ),
    0xC122: (
        FileState.FAILED,
        False,
        "Refused: referenced SOP class not supported",
        "ask the PACS administrator to accept this SOP class",
    ),
    0x0119: (
        FileState.FAILED,
        False,
        "Error: class-instance conflict",
        "the SOP class does not match what the PACS has for this SOP Instance UID",
    ),
    0x0124: (
        FileState.FAILED,
        False,
        "Refused: not authorised",
        "the PACS does not let our calling AE title store this; check its permissions",
    ),
    0x0117: (
        FileState.FAILED,
        False,
        "Error: invalid SOP instance",
        "the PACS rejected the instance's UIDs; check the file with dcmdump",
    ),
    0x0111: (
        FileState.FAILED,
        False,
        "Error: duplicate SOP instance",
        "the PACS already holds this SOP Instance UID and refuses to overwrite it",
    ),
    0x0110: (
        FileState.FAILED,
        False,
        "Error: processing failure",
        "the PACS failed while storing; check its log",
    ),
    0x0210: (FileState.FAILED, False, "Error: duplicate invocation", "a protocol error"),
    0x0211: (FileState.FAILED, False, "Error: unrecognised operation", "a protocol error"),
    0x0212: (FileState.FAILED, False, "Error: mistyped argument", "a protocol error"),
    0xFE00: (FileState.FAILED, False, "Cancel: not a valid final C-STORE status", ""),
    0xFF00: (FileState.FAILED, False, "Pending: not a valid final C-STORE status", ""),
    0xFF01: (FileState.FAILED, False, "Pending: not a valid final C-STORE status", ""),
}


def classify(status: int) -> StatusVerdict:
    """The verdict for a C-STORE-RSP status code."""
    code = f"0x{status:04X}"
    exact = _EXACT.get(status)
    if exact is not None:
        state, retry, meaning, advice = exact
        return StatusVerdict(state, retry, f"{meaning} ({code})", advice)
    high = status & 0xFF00
    if high == 0xA700:
        return StatusVerdict(
            FileState.FAILED,
            True,
            f"Refused: out of resources ({code})",
            "the PACS is out of resources (disk or quota full?); retried with backoff, "
            "free space on the PACS and resend",
        )
    if high == 0xA900:
        return StatusVerdict(
            FileState.FAILED,
            False,
            f"Error: data set does not match SOP class ({code})",
            "the PACS found the data set invalid for its SOP class; check the file with dcmdump",
        )
    if status & 0xF000 == 0xC000:
        return StatusVerdict(
            FileState.FAILED,
            False,
            f"Error: cannot understand ({code})",
            "the PACS could not parse the data set; check the file and the PACS log",
        )
    if status & 0xF000 == 0xB000:
        return StatusVerdict(FileState.WARNING, False, f"Warning ({code})")
    return StatusVerdict(
        FileState.FAILED,
        False,
        f"Unknown status ({code})",
        "not a C-STORE status the standard defines; treated as failed",
    )
