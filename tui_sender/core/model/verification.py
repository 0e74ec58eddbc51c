"""What a verification can conclude about one stored instance, and why.

Every instance a destination confirmed storing (state ``sent`` or
``warning``) gets exactly one :class:`Verified` value once verification
ran; the record keeps ``not-asked`` for the others and for destinations
that are not verified.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class VerifyMethod(StrEnum):
    """How a destination proves it holds what was sent."""

    NONE = "none"
    """Trust the C-STORE responses (the default)."""
    COMMITMENT = "commitment"
    """Storage Commitment Push Model (PS3.4 Annex J): the archive takes responsibility."""
    FIND = "find"
    """C-FIND at IMAGE level: the archive lists the instances it holds."""


class Verified(StrEnum):
    """The verification answer for one instance at one destination."""

    COMMITTED = "committed"
    """The archive's N-EVENT-REPORT lists it as committed."""
    FOUND = "found"
    """A C-FIND by its Study, Series and SOP Instance UID returned it."""
    COMMIT_FAILED = "commit-failed"
    """The archive's N-EVENT-REPORT lists it as failed (the Failure Reason says why)."""
    MISSING = "missing"
    """The C-FIND of its series did not return it."""
    UNCONFIRMED = "unconfirmed"
    """No answer came (no report before the timeout, the query failed)."""
    NOT_ASKED = "not-asked"
    """Not verified: not stored, or the destination is not verified."""

    @property
    def proven(self) -> bool:
        """True when the archive confirmed it holds the instance."""
        return self in (Verified.COMMITTED, Verified.FOUND)

    @property
    def refuted(self) -> bool:
        """True when the archive said it does not hold the instance (not merely no answer)."""
        return self in (Verified.COMMIT_FAILED, Verified.MISSING)


VERIFIED_VALUES = tuple(v.value for v in Verified)

FAILURE_REASONS = {
    0x0110: "processing failure",
    0x0112: "no such object instance (the archive does not hold it)",
    0x0119: "class-instance conflict (held with another SOP class)",
    0x0122: "referenced SOP class not supported",
    0x0124: "refused: not authorised",
    0x0131: "duplicate transaction UID",
    0x0213: "resource limitation",
    0xA770: "the archive's storage media is full",
    0xC000: "cannot understand",
}
"""Failure Reason (0008,1197) codes of PS3.4 J.3.3 and C.4.2.1.4, in words."""


def failure_reason(code: int | None) -> str:
    """A Failure Reason in words, with its code."""
    if code is None:
        return "failed, without a failure reason"
    words = FAILURE_REASONS.get(code, "failure reason not known to tui-sender")
    return f"{words} (0x{code:04X})"


@dataclass(frozen=True, slots=True)
class StoredInstance:
    """An instance a destination confirmed storing: what verification asks about."""

    sop_instance_uid: str
    sop_class_uid: str
    study_uid: str
    series_uid: str


@dataclass(frozen=True, slots=True)
class Verification:
    """The answer for one instance: the value, why (in words), and when it was learnt."""

    verified: Verified
    reason: str = ""
    at: float = 0.0
    transaction: str = ""
    """The storage commitment Transaction UID that asked about it (empty for C-FIND, or
    when the request was refused). Recorded so that a later ``verify`` can still take a
    report the archive sends late for it."""


DEFAULT_COMMIT_TIMEOUT = 60.0
DEFAULT_COMMIT_BATCH = 100
"""Instances per N-ACTION. Orthanc 1.10's commitment work grows faster than the batch:
10,000 instances took 13.7 s in batches of 50 or 100, 19.5 s in batches of 1,000, over 60 s
in one; batches of 20 were slower again (a job and a report association each)."""


@dataclass(frozen=True, slots=True)
class VerifySettings:
    """How one destination is verified (from its address-book entry or the flags)."""

    method: VerifyMethod = VerifyMethod.NONE
    listen_ae: str = ""
    """Our listening AE title for reports on a new association (empty: the calling AE)."""
    listen_port: int = 0
    """Port of that listener (0: none; reports are taken on the request's association only)."""
    listen_host: str = ""
    """Address the listener binds to (empty: every interface, as an archive must reach it)."""
    timeout: float = DEFAULT_COMMIT_TIMEOUT
    """Seconds to wait for the N-EVENT-REPORTs after the last N-ACTION."""
    batch: int = DEFAULT_COMMIT_BATCH
    """Instances per N-ACTION request (one transaction each)."""
