"""Testing a destination before sending: C-ECHO, and what it will accept.

:func:`echo` answers "can we talk to this PACS at all, and how fast?";
:func:`probe` answers "which of my (SOP class, transfer syntax) pairs will it
take?", so the TUI can show rejections before a send starts rather than as
failed files afterwards.

pynetdicom reports most failures as flags on the returned association plus
log lines (a refused connection is an ``OSError`` caught and logged in the
DUL thread). Here every failure becomes an :class:`AssociationFailure` with
one actionable sentence, so the CLI, the TUI and the session log all say the
same thing. Nothing here prints or logs secrets; every wait is bounded by the
destination's timeouts (optionally capped by ``timeout``).
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, evt
from pynetdicom.association import Association
from pynetdicom.pdu_primitives import A_ABORT, A_ASSOCIATE, A_P_ABORT
from pynetdicom.presentation import PresentationContext, build_context
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from pynetdicom.status import code_to_category

from tui_sender.core.destinations import Destination
from tui_sender.core.events import ContextResult

MAX_CONTEXTS = 128
"""Presentation context IDs are odd numbers 1..255 (PS3.8 9.3.2.2)."""

FALLBACK_SYNTAXES = (str(ExplicitVRLittleEndian), str(ImplicitVRLittleEndian))
"""Proposed for every SOP class besides its own syntaxes: every SCP must accept Implicit VR
LE, and pynetdicom converts between the two while encoding."""


class FailureKind(StrEnum):
    """What went wrong, coarse enough to decide on retries and pick a message."""

    INVALID_DESTINATION = "invalid-destination"
    UNRESOLVED_HOST = "unresolved-host"
    CONNECTION_REFUSED = "connection-refused"
    CONNECT_TIMEOUT = "connect-timeout"
    UNREACHABLE = "unreachable"
    TLS = "tls"
    NO_ANSWER = "no-answer"
    """Connected, but no answer to the association request within the ACSE timeout."""
    REJECTED = "rejected"
    ABORTED = "aborted"
    NO_CONTEXT = "no-context"
    """Associated, but the peer accepted none of the proposed presentation contexts."""
    NO_RESPONSE = "no-response"
    """No C-ECHO response within the DIMSE timeout."""
    BAD_STATUS = "bad-status"


_TRANSIENT_KINDS = {
    FailureKind.CONNECTION_REFUSED,
    FailureKind.CONNECT_TIMEOUT,
    FailureKind.UNREACHABLE,
    FailureKind.NO_ANSWER,
    FailureKind.ABORTED,
    FailureKind.NO_RESPONSE,
}

_RESULTS = {1: "rejected permanently", 2: "rejected transiently"}
_SOURCES = {
    1: "by the DICOM service (service-user)",
    2: "by the ACSE layer (service-provider)",
    3: "by the presentation layer (service-provider)",
}
_REASONS = {
    (1, 1): "no reason given",
    (1, 2): "application context name not supported",
    (1, 3): "calling AE title not recognised",
    (1, 7): "called AE title not recognised",
    (2, 1): "no reason given",
    (2, 2): "protocol version not supported",
    (3, 1): "temporary congestion",
    (3, 2): "local limit exceeded",
}


@dataclass(frozen=True, slots=True)
class Rejection:
    """An A-ASSOCIATE-RJ as received: result, source and reason codes (PS3.8 Table 9-21)."""

    result: int
    """1: permanent, 2: transient."""
    source: int
    """1: service-user, 2: ACSE provider, 3: presentation provider."""
    reason: int
    """Meaning depends on ``source``."""

    @property
    def permanent(self) -> bool:
        """True when retrying will not help until someone changes a configuration."""
        return self.result == 1

    def describe(self) -> str:
        """The codes in words, e.g. "rejected permanently by the DICOM service (...)"."""
        result = _RESULTS.get(self.result, f"rejected (result {self.result})")
        source = _SOURCES.get(self.source, f"(source {self.source})")
        reason = _REASONS.get((self.source, self.reason), f"reason {self.reason}")
        return f"{result} {source}: {reason}"


@dataclass(frozen=True, slots=True)
class AssociationFailure:
    """Why we could not talk to a destination, in words an administrator can act on."""

    kind: FailureKind
    reason: str
    """One sentence: what happened and what to check."""
    rejection: Rejection | None = None
    detail: str = ""
    """The low-level error text (errno message, TLS alert), when there is one."""

    @property
    def transient(self) -> bool:
        """True when trying again later may succeed without changing any configuration."""
        if self.rejection is not None:
            return not self.rejection.permanent
        return self.kind in _TRANSIENT_KINDS


@dataclass(frozen=True, slots=True)
class EchoResult:
    """The outcome of one C-ECHO: timings on success, a failure otherwise."""

    destination: str
    peer: str
    """``AE@host:port``."""
    failure: AssociationFailure | None = None
    status: int | None = None
    """The C-ECHO response status (0x0000 on success)."""
    associate_ms: float | None = None
    """TCP connect (plus TLS) and association negotiation, in milliseconds."""
    echo_ms: float | None = None
    """C-ECHO request to response, in milliseconds."""
    release_ms: float | None = None
    """Association release request to reply, in milliseconds."""
    peer_max_pdu: int | None = None
    """The peer's maximum PDU length (0: unlimited)."""
    peer_implementation: str = ""
    """The peer's implementation version name and class UID, when it sent them."""

    @property
    def ok(self) -> bool:
        """True when the destination answered the C-ECHO with success."""
        return self.failure is None

    @property
    def reason(self) -> str:
        """Why it failed ("" on success)."""
        return "" if self.failure is None else self.failure.reason


@dataclass(frozen=True, slots=True)
class PairVerdict:
    """What the destination said about one (SOP class, transfer syntax) pair."""

    sop_class_uid: str
    transfer_syntax_uid: str
    accepted: bool
    """The pair's own syntax was accepted: files can go as they are."""
    chosen_transfer_syntax: str
    """The syntax a file of this pair would travel in: its own when accepted, else an
    accepted uncompressed fallback for the SOP class (needs conversion), else ""."""
    result: str
    """The answer to the pair's own context in words ("Accepted", "Abstract Syntax Not
    Supported", ...), or "not probed: ..." when its association failed."""

    @property
    def sop_class_accepted(self) -> bool:
        """True when the destination takes this SOP class in some syntax."""
        return bool(self.chosen_transfer_syntax)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What a destination accepts, pair by pair, over one or more probe associations."""

    destination: str
    peer: str
    verdicts: tuple[PairVerdict, ...]
    contexts: tuple[ContextResult, ...] = ()
    """Every proposed context as answered (IDs restart at 1 in each association)."""
    associations: int = 0
    """Probe associations that were negotiated."""
    failure: AssociationFailure | None = None
    """Set when an association could not be negotiated; later pairs are then not probed."""

    @property
    def ok(self) -> bool:
        """True when every pair got an answer (accepted or rejected)."""
        return self.failure is None

    def verdict(self, sop_class_uid: str, transfer_syntax_uid: str) -> PairVerdict | None:
        """The verdict for one pair, if it was asked about."""
        for v in self.verdicts:
            if (v.sop_class_uid, v.transfer_syntax_uid) == (sop_class_uid, transfer_syntax_uid):
                return v
        return None


@dataclass(frozen=True, slots=True)
class _Timeouts:
    """The waits for one association, each capped by the caller's overall ``timeout``."""

    connect: float
    acse: float
    dimse: float
    network: float

    @classmethod
    def for_destination(cls, destination: Destination, cap: float | None) -> _Timeouts:
        def capped(value: float) -> float:
            return value if cap is None else min(value, cap)

        return cls(
            connect=capped(destination.connect_timeout),
            acse=capped(destination.acse_timeout),
            dimse=capped(destination.dimse_timeout),
            network=capped(destination.network_timeout),
        )


@dataclass
class _Watch:
    """What pynetdicom told our event handlers while associating."""

    connected: bool = False
    received: list[Any] = field(default_factory=list)
    """ACSE primitives received (A-ASSOCIATE, A-ABORT, A-P-ABORT)."""


def _on_connection_open(event: evt.Event, watch: _Watch) -> None:
    """Disable Nagle: without it every small PDU waits ~40 ms for a delayed ACK."""
    watch.connected = True
    sock = event.assoc.dul.socket
    if sock is not None and sock.socket is not None:
        sock.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _on_acse_received(event: evt.Event, watch: _Watch) -> None:
    # pynetdicom sets the event's attributes dynamically from the trigger's data.
    watch.received.append(vars(event).get("primitive"))


def tls_arguments(destination: Destination) -> tuple[ssl.SSLContext, str] | None:
    """pynetdicom's ``tls_args`` for the destination, or None without TLS.

    TLS 1.2 at least (PS3.15 B.12), the server certificate always verified,
    the host name too unless ``verify_hostname`` is off. Raises ``ssl.SSLError``
    or ``OSError`` when the CA, certificate or key cannot be loaded.
    """
    if not destination.tls:
        return None
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=destination.ca_file or None
    )
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = destination.verify_hostname
    if destination.client_cert:
        context.load_cert_chain(
            destination.client_cert,
            destination.client_key or None,
            password=destination.client_key_password or None,
        )
    return context, destination.server_name or destination.host


def _where(destination: Destination) -> str:
    host = f"[{destination.host}]" if ":" in destination.host else destination.host
    return f"{host}:{destination.port}"


def _connect_failure(
    destination: Destination,
    tls: tuple[ssl.SSLContext, str] | None,
    timeouts: _Timeouts,
    elapsed: float,
) -> AssociationFailure:
    """Name a failed connection. pynetdicom only logs the error, so when the connect did not
    simply run out of time, one more bounded attempt with the same settings recovers it."""
    where = _where(destination)
    if elapsed >= timeouts.connect * 0.95:
        return _connect_timeout(where, timeouts.connect)
    try:
        sock = socket.create_connection(
            (destination.host, destination.port), timeout=timeouts.connect
        )
    except ConnectionRefusedError:
        return AssociationFailure(
            FailureKind.CONNECTION_REFUSED,
            f"nothing is listening on {where}: is the PACS running, is the port right?",
        )
    except TimeoutError:
        return _connect_timeout(where, timeouts.connect)
    except OSError as exc:
        return _unreachable(where, exc)
    with sock:
        if tls is None:
            return AssociationFailure(
                FailureKind.UNREACHABLE,
                f"the connection to {where} failed once and worked when tried again: "
                "the network or the PACS is unstable; try again",
            )
        return _tls_handshake_failure(where, sock, tls)


def _connect_timeout(where: str, seconds: float) -> AssociationFailure:
    return AssociationFailure(
        FailureKind.CONNECT_TIMEOUT,
        f"no answer from {where} within {seconds:g} s: is the host up and the address right, "
        "or is a firewall dropping the connection?",
    )


def _unreachable(where: str, exc: OSError) -> AssociationFailure:
    detail = exc.strerror or str(exc)
    return AssociationFailure(
        FailureKind.UNREACHABLE,
        f"cannot reach {where} ({detail}): check the host address, the network route or VPN",
        detail=detail,
    )


def _tls_handshake_failure(
    where: str, sock: socket.socket, tls: tuple[ssl.SSLContext, str]
) -> AssociationFailure:
    """Repeat the TLS handshake on a fresh connection to learn why it failed."""
    context, server_name = tls
    try:
        with context.wrap_socket(sock, server_hostname=server_name):
            pass
    except ssl.SSLCertVerificationError as exc:
        detail = exc.verify_message or str(exc)
        return AssociationFailure(
            FailureKind.TLS,
            f"the TLS certificate of {where} was not accepted ({detail}): check ca_file, "
            "server_name and the server's certificate",
            detail=detail,
        )
    except ssl.SSLError as exc:
        detail = exc.reason or str(exc)
        if detail == "WRONG_VERSION_NUMBER":
            detail = "the server did not answer in TLS"
        return AssociationFailure(
            FailureKind.TLS,
            f"the TLS handshake with {where} failed ({detail}): is this a TLS port, and do "
            "both sides allow TLS 1.2 or later?",
            detail=str(detail),
        )
    except OSError as exc:
        detail = exc.strerror or str(exc) or type(exc).__name__
        return AssociationFailure(
            FailureKind.TLS,
            f"{where} closed the connection during the TLS handshake ({detail}): is this a "
            "TLS port? Does it require a client certificate?",
            detail=detail,
        )
    return AssociationFailure(
        FailureKind.TLS,
        f"the TLS connection to {where} failed once and worked when tried again: try again",
    )


def _rejection_failure(destination: Destination, rejection: Rejection) -> AssociationFailure:
    peer = destination.peer_label
    hints = {
        (1, 7): f"check the destination's AE title ({destination.ae_title!r}): the PACS does "
        "not answer to that name",
        (1, 3): "ask the PACS administrator to register our calling AE title "
        f"{destination.calling_ae!r} (and this computer's address)",
        (1, 2): "the peer does not accept the DICOM application context: is it a DICOM service?",
        (2, 2): "the peer does not support DICOM upper layer protocol version 1",
        (3, 1): "the PACS is busy: try again later",
        (3, 2): "the PACS has too many associations open: try again later or use fewer workers",
        (1, 1): "the PACS gave no reason; most often our calling AE title "
        f"{destination.calling_ae!r} or this computer's address is not registered there: "
        "check the PACS log or ask its administrator",
    }
    hint = hints.get((rejection.source, rejection.reason), "check the PACS log")
    return AssociationFailure(
        FailureKind.REJECTED,
        f"{peer} {rejection.describe()}: {hint}",
        rejection=rejection,
    )


def _aborted_failure(
    destination: Destination, primitive: Any, timeouts: _Timeouts
) -> AssociationFailure:
    """Name what ended a negotiation that was neither accepted nor rejected."""
    peer = destination.peer_label
    if isinstance(primitive, A_ABORT):
        return AssociationFailure(
            FailureKind.ABORTED,
            f"{peer} aborted the association request without a reason: check the PACS log "
            f"(unregistered calling AE title {destination.calling_ae!r}?)",
        )
    if isinstance(primitive, A_P_ABORT):
        reason = primitive.provider_reason
        if reason in (0, None):
            tls_hint = "" if destination.tls else " (tls is off for this destination)"
            return AssociationFailure(
                FailureKind.ABORTED,
                f"{_where(destination)} closed the connection without answering the "
                f"association request: the port may expect TLS{tls_hint}, may not be a DICOM "
                "service, or the PACS refuses connections from this address",
            )
        return AssociationFailure(
            FailureKind.ABORTED,
            f"the association with {peer} was aborted by the network layer (provider reason "
            f"{reason}): the peer sent something unexpected; is it a DICOM service?",
        )
    return AssociationFailure(
        FailureKind.NO_ANSWER,
        f"{_where(destination)} accepted the connection but did not answer the association "
        f"request within {timeouts.acse:g} s: is this port a DICOM service, is the PACS hung?",
    )


def _peer_implementation(assoc: Association) -> str:
    acceptor = assoc.acceptor
    try:
        name = acceptor.implementation_version_name or ""
        uid = acceptor.implementation_class_uid or ""
    except (ValueError, AttributeError):
        return ""
    return f"{name} ({uid})" if name and uid else str(name or uid)


@dataclass
class _Attempt:
    """One association attempt: the association (if any), its failure and timing."""

    assoc: Association | None
    failure: AssociationFailure | None
    seconds: float
    accepted_any: bool = False
    """The peer answered with A-ASSOCIATE-AC (even if it accepted no context)."""


def _associate(
    destination: Destination,
    contexts: Sequence[PresentationContext],
    timeouts: _Timeouts,
) -> _Attempt:
    """Request an association and classify any failure; never raises for network trouble."""
    problems = destination.validate()
    if problems:
        return _Attempt(
            None,
            AssociationFailure(FailureKind.INVALID_DESTINATION, "; ".join(problems)),
            0.0,
        )
    try:
        tls = tls_arguments(destination)
    except (ssl.SSLError, OSError) as exc:
        detail = getattr(exc, "reason", None) or exc.strerror or str(exc)
        return _Attempt(
            None,
            AssociationFailure(
                FailureKind.TLS,
                f"cannot load the TLS CA, certificate or key for {destination.name!r} "
                f"({detail}): check ca_file, client_cert, client_key and the key password",
                detail=str(detail),
            ),
            0.0,
        )

    ae = AE(ae_title=destination.calling_ae)
    ae.connection_timeout = timeouts.connect
    ae.acse_timeout = timeouts.acse
    ae.dimse_timeout = timeouts.dimse
    ae.network_timeout = timeouts.network
    watch = _Watch()
    started = time.perf_counter()
    try:
        assoc = ae.associate(
            destination.host,
            destination.port,
            contexts=list(contexts),
            ae_title=destination.ae_title,
            max_pdu=destination.max_pdu,
            tls_args=tls,
            evt_handlers=[
                (evt.EVT_CONN_OPEN, _on_connection_open, [watch]),
                (evt.EVT_ACSE_RECV, _on_acse_received, [watch]),
            ],
        )
    except socket.gaierror as exc:
        return _Attempt(
            None,
            AssociationFailure(
                FailureKind.UNRESOLVED_HOST,
                f"cannot resolve the host name {destination.host!r} ({exc.strerror}): check "
                "its spelling or the DNS settings",
                detail=str(exc.strerror),
            ),
            time.perf_counter() - started,
        )
    seconds = time.perf_counter() - started
    answer = next((p for p in watch.received if isinstance(p, A_ASSOCIATE)), None)
    accepted_any = answer is not None and answer.result == 0
    if assoc.is_established:
        return _Attempt(assoc, None, seconds, accepted_any=True)
    if not watch.connected:
        failure = _connect_failure(destination, tls, timeouts, seconds)
    elif assoc.is_rejected and answer is not None:
        rejection = Rejection(answer.result or 0, answer.result_source or 0, answer.diagnostic or 0)
        failure = _rejection_failure(destination, rejection)
    elif accepted_any:
        failure = AssociationFailure(
            FailureKind.NO_CONTEXT,
            f"{destination.peer_label} accepted the association but none of the "
            f"{len(contexts)} proposed presentation contexts",
        )
    else:
        aborts = [p for p in watch.received if isinstance(p, A_ABORT | A_P_ABORT)]
        failure = _aborted_failure(destination, aborts[0] if aborts else None, timeouts)
    return _Attempt(assoc, failure, seconds, accepted_any=accepted_any)


def _release(assoc: Association) -> float | None:
    """Release (bounded by the ACSE timeout) and return its duration, or abort a broken one."""
    if not assoc.is_established:
        return None
    started = time.perf_counter()
    assoc.release()
    if not assoc.is_released:
        assoc.abort()
        return None
    return (time.perf_counter() - started) * 1000


def echo(destination: Destination, *, timeout: float | None = None) -> EchoResult:
    """Associate with Verification, send one C-ECHO, release; time each step.

    ``timeout`` caps every single wait (connect, association, response,
    release) below the destination's own timeouts; None uses them as they are.
    """
    timeouts = _Timeouts.for_destination(destination, timeout)
    context = build_context(Verification, list(FALLBACK_SYNTAXES))
    attempt = _associate(destination, [context], timeouts)
    result = EchoResult(destination=destination.name, peer=destination.peer_label)
    if attempt.assoc is None or attempt.failure is not None:
        failure = attempt.failure
        if failure is not None and failure.kind is FailureKind.NO_CONTEXT:
            failure = AssociationFailure(
                FailureKind.NO_CONTEXT,
                f"{destination.peer_label} accepted the association but not the Verification "
                "service: it does not support C-ECHO (a C-STORE may still work)",
            )
        return replace(result, failure=failure)

    assoc = attempt.assoc
    result = replace(
        result,
        associate_ms=attempt.seconds * 1000,
        peer_max_pdu=assoc.acceptor.maximum_length,
        peer_implementation=_peer_implementation(assoc),
    )
    try:
        started = time.perf_counter()
        response = assoc.send_c_echo()
        echo_ms = (time.perf_counter() - started) * 1000
    except BaseException:
        assoc.abort()
        raise
    status = int(response.Status) if "Status" in response else None
    release_ms = _release(assoc)
    if status is None:
        failure = AssociationFailure(
            FailureKind.NO_RESPONSE,
            f"{destination.peer_label} did not answer the C-ECHO within {timeouts.dimse:g} s "
            "(or aborted the association)",
        )
        return replace(result, failure=failure)
    if status != 0x0000:
        failure = AssociationFailure(
            FailureKind.BAD_STATUS,
            f"{destination.peer_label} answered the C-ECHO with status 0x{status:04X} "
            f"({code_to_category(status)}) instead of success",
        )
        return replace(result, failure=failure, status=status)
    return replace(result, status=status, echo_ms=echo_ms, release_ms=release_ms)


@dataclass(frozen=True, slots=True)
class _Proposal:
    """One context to propose, and the pair it asks about (None for a fallback)."""

    sop_class_uid: str
    transfer_syntaxes: tuple[str, ...]
    pair: tuple[str, str] | None


def plan_probe(pairs: Iterable[tuple[str, str]]) -> list[list[_Proposal]]:
    """Group the contexts for ``pairs`` into associations of at most 128 contexts.

    Each distinct pair gets its own context; each SOP class also gets one
    context with whichever of Explicit/Implicit VR LE it does not already
    propose as a pair. A SOP class's contexts stay in one association (so its
    fallback can be matched to its pairs) unless they alone exceed the limit.
    """
    by_class: dict[str, list[str]] = {}
    for sop_class, syntax in dict.fromkeys((str(s), str(t)) for s, t in pairs):
        by_class.setdefault(sop_class, []).append(syntax)

    groups: list[list[_Proposal]] = []
    for sop_class, syntaxes in by_class.items():
        fallback = tuple(s for s in FALLBACK_SYNTAXES if s not in syntaxes)
        per_group = MAX_CONTEXTS - (1 if fallback else 0)
        for start in range(0, len(syntaxes), per_group):
            group = [
                _Proposal(sop_class, (s,), (sop_class, s))
                for s in syntaxes[start : start + per_group]
            ]
            if fallback:
                group.append(_Proposal(sop_class, fallback, None))
            groups.append(group)

    batches: list[list[_Proposal]] = []
    for group in groups:
        if batches and len(batches[-1]) + len(group) <= MAX_CONTEXTS:
            batches[-1].extend(group)
        else:
            batches.append(list(group))
    return batches


def _judge_batch(
    batch: list[_Proposal], assoc: Association
) -> tuple[list[PairVerdict], list[ContextResult]]:
    """Match the peer's answers (context IDs 1, 3, 5, ... in proposal order) to the pairs."""
    answered: dict[int | None, PresentationContext] = {
        cx.context_id: cx for cx in [*assoc.accepted_contexts, *assoc.rejected_contexts]
    }
    contexts: list[ContextResult] = []
    accepted_syntaxes: dict[str, list[str]] = {}
    for index, proposal in enumerate(batch):
        context_id = 2 * index + 1
        cx = answered.get(context_id)
        accepted = cx is not None and cx.result == 0x00
        syntax = str(cx.transfer_syntax[0]) if accepted and cx is not None else ""
        if accepted:
            accepted_syntaxes.setdefault(proposal.sop_class_uid, []).append(syntax)
        contexts.append(
            ContextResult(
                context_id=context_id,
                sop_class_uid=proposal.sop_class_uid,
                transfer_syntax_uid=syntax or proposal.transfer_syntaxes[0],
                accepted=accepted,
                result=cx.status if cx is not None else "No answer",
            )
        )

    verdicts: list[PairVerdict] = []
    for proposal, context in zip(batch, contexts, strict=True):
        if proposal.pair is None:
            continue
        sop_class, syntax = proposal.pair
        uncompressed = [s for s in FALLBACK_SYNTAXES if s in accepted_syntaxes.get(sop_class, [])]
        chosen = syntax if context.accepted else (uncompressed[0] if uncompressed else "")
        verdicts.append(PairVerdict(sop_class, syntax, context.accepted, chosen, context.result))
    return verdicts, contexts


def probe(
    destination: Destination,
    pairs: Iterable[tuple[str, str]],
    *,
    timeout: float | None = None,
) -> ProbeResult:
    """Ask the destination which (SOP class UID, transfer syntax UID) pairs it accepts.

    Proposes the contexts of :func:`plan_probe`, one association per batch of
    at most 128, reads the answers and releases; no data is sent. A peer that
    accepts none of a batch's contexts is an answer (all rejected), not a
    failure. When an association fails, the remaining pairs are reported as
    not probed and ``failure`` says why.
    """
    timeouts = _Timeouts.for_destination(destination, timeout)
    verdicts: list[PairVerdict] = []
    contexts: list[ContextResult] = []
    associations = 0
    failure: AssociationFailure | None = None
    for batch in plan_probe(pairs):
        if failure is not None:
            verdicts += _not_probed(batch, failure)
            continue
        proposed = [build_context(UID(p.sop_class_uid), list(p.transfer_syntaxes)) for p in batch]
        attempt = _associate(destination, proposed, timeouts)
        if attempt.assoc is not None and (attempt.failure is None or attempt.accepted_any):
            associations += 1
            found, answered = _judge_batch(batch, attempt.assoc)
            verdicts += found
            contexts += answered
            _release(attempt.assoc)
        else:
            failure = attempt.failure
            verdicts += _not_probed(batch, failure)
    return ProbeResult(
        destination=destination.name,
        peer=destination.peer_label,
        verdicts=tuple(verdicts),
        contexts=tuple(contexts),
        associations=associations,
        failure=failure,
    )


def _not_probed(batch: list[_Proposal], failure: AssociationFailure | None) -> list[PairVerdict]:
    why = f"not probed: {failure.kind.value}" if failure is not None else "not probed"
    return [PairVerdict(p.pair[0], p.pair[1], False, "", why) for p in batch if p.pair is not None]
