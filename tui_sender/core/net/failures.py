"""What went wrong talking to a destination: one taxonomy, and messages an administrator can act on.

Send, echo and probe share :class:`FailureKind`, so they retry on the same
conditions and the CLI, the TUI and the session log word a failure the same way.
"""

from __future__ import annotations

import errno
import socket
import ssl
from dataclasses import dataclass
from enum import StrEnum

from tui_sender.core.model.events import ContextResult
from tui_sender.core.net.endpoint import LinkSettings

_TLS_RECORD_TYPES = frozenset({0x14, 0x15, 0x16, 0x17})
"""First byte of a TLS record (change cipher spec, alert, handshake, data): a TLS server's
answer to a plain association request. DICOM PDU types are 0x01 to 0x07."""


class FailureKind(StrEnum):
    """Why talking to a destination failed: one taxonomy for send, echo and probe.

    Coarse enough to decide on retries (:attr:`AssociationError.retryable`);
    the message that comes with it says what to check.
    """

    UNREACHABLE = "unreachable"
    """No TCP connection: refused, no route, unknown host."""
    TIMEOUT = "timeout"
    """A wait ran out: TCP connect, association answer, DIMSE response."""
    REJECTED_PERMANENT = "rejected_permanent"
    """A-ASSOCIATE-RJ with result 1: a configuration must change first."""
    REJECTED_TRANSIENT = "rejected_transient"
    """A-ASSOCIATE-RJ with result 2: busy, too many associations."""
    ABORTED = "aborted"
    PROTOCOL = "protocol"
    """The peer closed the connection or sent something that is not the expected DICOM."""
    TLS = "tls"
    """TLS could not be set up (handshake, certificate, files) or the two sides disagree on it."""
    NO_CONTEXTS = "no_contexts"
    """Associated, but none of the proposed presentation contexts was accepted."""
    CANCELLED = "cancelled"
    BAD_STATUS = "bad_status"
    """Associated, but the peer answered the C-ECHO with a non-success status."""
    INVALID_DESTINATION = "invalid_destination"
    """The destination's settings cannot work (AE title too long, ...): nothing was dialled."""


_RETRYABLE = {
    FailureKind.UNREACHABLE,
    FailureKind.TIMEOUT,
    FailureKind.REJECTED_TRANSIENT,
    FailureKind.ABORTED,
    FailureKind.PROTOCOL,
}


@dataclass(frozen=True, slots=True)
class Rejection:
    """An A-ASSOCIATE-RJ as received: result, source and reason codes (PS3.8 Table 9-21)."""

    result: int
    """1: permanent, 2: transient."""
    source: int
    """1: service user (the PACS), 2: ACSE provider, 3: presentation provider."""
    reason: int
    """Meaning depends on ``source``: (1, 3) calling AE title not recognised, ..."""

    @property
    def permanent(self) -> bool:
        """True when retrying will not help until someone changes a configuration."""
        return self.result != 2


class AssociationError(Exception):
    """Talking to the destination failed; ``message`` tells the admin what to do.

    Raised by :func:`open_link` when no association could be established;
    :mod:`tui_sender.core.engine.echo` also reports a failed C-ECHO with one, so the
    CLI, the TUI and the session log show every failure the same way.
    """

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        contexts: tuple[ContextResult, ...] = (),
        rejection: Rejection | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.contexts = contexts
        """For ``NO_CONTEXTS``: every proposed context as the peer answered it."""
        self.rejection = rejection
        """For ``REJECTED_*``: the A-ASSOCIATE-RJ codes."""

    @property
    def retryable(self) -> bool:
        """True when trying again later may succeed (transient conditions)."""
        return self.kind in _RETRYABLE


class LinkBroken(Exception):
    """The association died mid-operation: the outcome of the in-flight request is unknown.

    ``kind`` says how: ``TIMEOUT``, ``CANCELLED`` (:meth:`Link.interrupt`),
    ``ABORTED`` (A-ABORT or connection lost) or ``PROTOCOL`` (a response that
    does not fit the request). ``http_status`` is the status of the HTTP
    response that broke a DICOMweb exchange (a 500: the server failed, and
    what it stored is unknown), 0 when no response came; the record keeps it.
    """

    def __init__(
        self, message: str, kind: FailureKind = FailureKind.ABORTED, *, http_status: int = 0
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.http_status = http_status


class ForeignBytes(LinkBroken):
    """The peer sent bytes that cannot start a DICOM PDU."""

    def __init__(self, header: bytes) -> None:
        self.what = f"bytes that are not DICOM (starting {header[:2].hex(' ')})"
        super().__init__(f"the peer sent {self.what}", FailureKind.PROTOCOL)
        self.header = header


# -- what went wrong, in words an administrator can act on -------------------------------------


def reject_message(rejection: Rejection, settings: LinkSettings) -> str:
    how = {1: "permanently", 2: "transiently"}.get(rejection.result, "")
    calling, called = settings.calling_ae, settings.called_ae
    texts = {
        (1, 1): (
            "no reason given",
            f"most often our calling AE title {calling!r} or this computer's address is not "
            "registered there: check the PACS log or ask its administrator",
        ),
        (1, 2): ("application context name not supported", "is it a DICOM service?"),
        (1, 3): (
            f"calling AE title {calling!r} not recognised",
            f"ask the PACS administrator to register our calling AE title {calling!r} (and "
            "this computer's address), or use a calling AE title it knows",
        ),
        (1, 7): (
            f"called AE title {called!r} not recognised",
            "check the destination's AE title: the PACS does not answer to that name",
        ),
        (2, 1): ("no reason given by its DICOM stack", "check the PACS log"),
        (2, 2): (
            "protocol version not supported",
            "it does not speak DICOM upper layer protocol version 1",
        ),
        (3, 1): ("temporary congestion", "the PACS is busy: try again later"),
        (3, 2): (
            "its association limit is reached",
            "try again later, or use fewer workers",
        ),
    }
    what, hint = texts.get(
        (rejection.source, rejection.reason),
        (f"source {rejection.source}, reason {rejection.reason}", "check the PACS log"),
    )
    rejected = f"{how} rejected" if how else f"rejected (result {rejection.result})"
    return f"association {rejected} by {settings.peer}: {what}: {hint}"


def connect_failure(exc: OSError, settings: LinkSettings) -> AssociationError:
    where = settings.address
    if isinstance(exc, TimeoutError):
        return AssociationError(
            FailureKind.TIMEOUT,
            f"no TCP connection to {where} within {settings.connect_timeout:g} s: is the host "
            "up and the address right, or is a firewall dropping the connection?",
        )
    if isinstance(exc, ConnectionRefusedError) or exc.errno == errno.ECONNREFUSED:
        return AssociationError(
            FailureKind.UNREACHABLE,
            f"connection refused: nothing is listening on {where}: is the PACS running, is the "
            "port right?",
        )
    if isinstance(exc, socket.gaierror):
        return AssociationError(
            FailureKind.UNREACHABLE,
            f"cannot resolve the host name {settings.host!r} ({exc.strerror}): check its "
            "spelling or the DNS settings",
        )
    return AssociationError(
        FailureKind.UNREACHABLE,
        f"cannot reach {where} ({exc.strerror or exc}): check the host address, the network "
        "route or VPN",
    )


def tls_failure(exc: OSError, settings: LinkSettings) -> AssociationError:
    where = settings.address
    if isinstance(exc, ssl.SSLCertVerificationError):
        text = (
            f"the TLS certificate of {where} was not accepted ({exc.verify_message}): check the "
            "destination's CA file, server name and the server's certificate"
        )
    elif isinstance(exc, TimeoutError):
        text = (
            f"no TLS handshake from {where} within {settings.connect_timeout:g} s: is this a "
            "DICOM TLS port? A plain DICOM port waits silently for the rest of the request"
        )
    elif isinstance(exc, ssl.SSLError) and exc.reason == "WRONG_VERSION_NUMBER":
        text = f"{where} did not answer in TLS: is this a DICOM TLS port?"
    elif isinstance(exc, ssl.SSLError) and not isinstance(exc, ssl.SSLEOFError):
        text = (
            f"the TLS handshake with {where} failed ({exc.reason or exc}): do both sides allow "
            "TLS 1.2 or later? Does it require a client certificate?"
        )
    else:
        text = (
            f"{where} closed the connection during the TLS handshake "
            f"({exc.strerror or exc or type(exc).__name__}): is this a DICOM TLS port? Does it "
            "require a client certificate?"
        )
    return AssociationError(FailureKind.TLS, text + " (no plain-TCP fallback)")


def unanswered_failure(exc: OSError | LinkBroken, settings: LinkSettings) -> AssociationError:
    """The connection ended, timed out or spoke something else before the association answer."""
    where = settings.address
    if isinstance(exc, TimeoutError):
        return AssociationError(
            FailureKind.TIMEOUT,
            f"{settings.peer} accepted the connection but did not answer the association "
            f"request within {settings.acse_timeout:g} s (ACSE timeout): is this port a DICOM "
            "service, is the PACS hung?",
        )
    if isinstance(exc, ForeignBytes):
        if exc.header[0] in _TLS_RECORD_TYPES and exc.header[1] == 0x03:
            return AssociationError(
                FailureKind.TLS,
                f"{where} answered the association request in TLS: turn TLS on for this "
                "destination (and give it the CA file of the PACS's certificate)",
            )
        return AssociationError(
            FailureKind.PROTOCOL,
            f"{where} answered the association request with {exc.what}: is this port a DICOM "
            "service? Check the destination's port",
        )
    if isinstance(exc, ssl.SSLError):
        # TLS 1.3 finishes the client's handshake before the server has
        # checked our certificate; its refusal arrives on the first read,
        # often as a bare EOF.
        return AssociationError(
            FailureKind.TLS,
            f"TLS session with {where} refused by the PACS ({exc.reason or exc}): it may "
            "require a client certificate it trusts (set the destination's client certificate "
            "and key) or a TLS version we do not offer (no plain-TCP fallback)",
        )
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    tls_hint = (
        ""
        if settings.tls_context is not None
        else "the port may expect TLS (TLS is off for this destination), "
    )
    return AssociationError(
        FailureKind.PROTOCOL,
        f"{where} closed the connection without answering the association request ({detail}): "
        f"{tls_hint}it may not be a DICOM service, or the PACS refuses connections from this "
        "address",
    )


def abort_text(body: bytes) -> str:
    source = body[2] if len(body) > 2 else -1
    reason = body[3] if len(body) > 3 else -1
    who = {0: "the PACS (service user)", 2: "the PACS's DICOM stack (service provider)"}
    return f"association aborted by {who.get(source, 'the peer')} (reason {reason})"
