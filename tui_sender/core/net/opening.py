"""Opening an association: connect, TLS, A-ASSOCIATE-RQ, and reading the answer.

The association PDUs are encoded and decoded by
:mod:`tui_sender.core.net.association_pdus`; every failure becomes an
:class:`AssociationError` worded for the administrator
(:mod:`tui_sender.core.net.failures`).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tui_sender.core.model.events import ContextResult
from tui_sender.core.net import wire
from tui_sender.core.net.association_pdus import (
    ContextAnswer,
    MalformedPdu,
    decode_associate_ac,
    encode_associate_rq,
)
from tui_sender.core.net.endpoint import LinkSettings
from tui_sender.core.net.failures import (
    AssociationError,
    FailureKind,
    LinkBroken,
    Rejection,
    abort_text,
    connect_failure,
    reject_message,
    tls_failure,
    unanswered_failure,
)
from tui_sender.core.net.link import Link
from tui_sender.core.net.pdu_reader import PduReader

MAX_CONTEXTS = 128

_CONTEXT_RESULTS = {
    0: "Accepted",
    1: "User Rejected",
    2: "Provider Rejected (no reason)",
    3: "Abstract Syntax Not Supported",
    4: "Transfer Syntax(es) Not Supported",
}


@dataclass(frozen=True, slots=True)
class ProposedContext:
    """One presentation context to propose: an abstract syntax with one transfer syntax."""

    sop_class_uid: str
    transfer_syntax_uid: str


def _build_request(settings: LinkSettings, proposed: Sequence[ProposedContext]) -> bytes:
    contexts = [
        (2 * index + 1, item.sop_class_uid, item.transfer_syntax_uid)
        for index, item in enumerate(proposed)
    ]
    return encode_associate_rq(
        settings.called_ae,
        settings.calling_ae,
        contexts,
        max_pdu=settings.max_pdu,
        outstanding=settings.outstanding,
    )


def _context_results(
    proposed: Sequence[ProposedContext], answers: Sequence[ContextAnswer]
) -> tuple[ContextResult, ...]:
    """Each proposed context with the peer's answer (one it did not answer: rejected)."""
    by_id = {a.context_id: a for a in answers}
    results = []
    for index, item in enumerate(proposed):
        context_id = 2 * index + 1
        answer = by_id.get(context_id)
        result = answer.result if answer is not None else 2
        accepted = result == 0
        syntax = (
            answer.transfer_syntax_uid
            if accepted and answer is not None and answer.transfer_syntax_uid
            else item.transfer_syntax_uid
        )
        results.append(
            ContextResult(
                context_id=context_id,
                sop_class_uid=item.sop_class_uid,
                transfer_syntax_uid=syntax,
                accepted=accepted,
                result=_CONTEXT_RESULTS.get(result, f"Result {result}"),
            )
        )
    return tuple(results)


def open_link(
    settings: LinkSettings,
    proposed: Sequence[ProposedContext],
    on_socket: Callable[[socket.socket], None] | None = None,
) -> Link:
    """Connect (with TLS when ``settings.tls_context`` is set), negotiate, return the :class:`Link`.

    ``on_socket`` receives the connected socket before negotiation so a
    canceller can shut it (an ACSE wait is then interrupted too). Raises
    :class:`AssociationError` with an actionable message on any failure;
    ``NO_CONTEXTS`` carries the peer's answer to every proposed context.
    """
    if not 1 <= len(proposed) <= MAX_CONTEXTS:
        raise ValueError(f"between 1 and {MAX_CONTEXTS} presentation contexts, not {len(proposed)}")
    try:
        raw = socket.create_connection(
            (settings.host, settings.port), timeout=settings.connect_timeout
        )
    except OSError as exc:
        raise connect_failure(exc, settings) from exc
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock: socket.socket = raw
    if on_socket is not None:
        on_socket(raw)
    try:
        if settings.tls_context is not None:
            try:
                sock = settings.tls_context.wrap_socket(
                    raw, server_hostname=settings.tls_server_name or settings.host
                )
            except OSError as exc:  # ssl.SSLError is an OSError
                raise tls_failure(exc, settings) from exc
        return _negotiate(sock, settings, proposed)
    except BaseException:
        _close_quietly(sock)
        raise


def _close_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()


def _abort_quietly(sock: socket.socket, source: int = 0) -> None:
    with contextlib.suppress(OSError):
        sock.sendall(wire.abort_pdu(source, 0))


def _negotiate(
    sock: socket.socket, settings: LinkSettings, proposed: Sequence[ProposedContext]
) -> Link:
    request = _build_request(settings, proposed)
    reader = PduReader(sock)
    try:
        sock.settimeout(settings.acse_timeout)
        sock.sendall(request)
        pdu_type, body = reader.read_pdu()
    except (OSError, LinkBroken) as exc:
        raise unanswered_failure(exc, settings) from exc
    if pdu_type == wire.A_ASSOCIATE_RJ and len(body) >= 4:
        rejection = Rejection(result=body[1], source=body[2], reason=body[3])
        if rejection.result not in (1, 2) or rejection.source not in (1, 2, 3):
            _abort_quietly(sock, 2)
            raise AssociationError(
                FailureKind.PROTOCOL,
                f"{settings.peer} rejected the association with codes PS3.8 does not define "
                f"(result {rejection.result}, source {rejection.source}, reason "
                f"{rejection.reason}): its DICOM software is faulty or this is not a DICOM "
                "service; check the PACS log",
                rejection=rejection,
            )
        kind = (
            FailureKind.REJECTED_PERMANENT
            if rejection.permanent
            else (FailureKind.REJECTED_TRANSIENT)
        )
        raise AssociationError(kind, reject_message(rejection, settings), rejection=rejection)
    if pdu_type == wire.A_ABORT:
        raise AssociationError(
            FailureKind.ABORTED,
            f"{abort_text(body)} instead of an answer to the association request: check the "
            f"PACS log (is our calling AE title {settings.calling_ae!r} registered there?)",
        )
    if pdu_type != wire.A_ASSOCIATE_AC:
        _abort_quietly(sock, 2)
        raise AssociationError(
            FailureKind.PROTOCOL,
            f"{settings.peer} answered the association request with PDU type 0x{pdu_type:02X}",
        )
    try:
        accept = decode_associate_ac(body)
    except MalformedPdu as exc:
        _abort_quietly(sock, 2)
        raise AssociationError(
            FailureKind.PROTOCOL, f"{settings.peer} sent an A-ASSOCIATE-AC we cannot decode: {exc}"
        ) from exc
    contexts = _context_results(proposed, accept.contexts)
    if not any(c.accepted for c in contexts):
        _abort_quietly(sock)
        raise AssociationError(
            FailureKind.NO_CONTEXTS,
            f"{settings.peer} accepted none of the {len(contexts)} proposed presentation contexts",
            contexts,
        )
    return Link(
        sock,
        settings,
        accept.max_pdu,
        contexts,
        peer_implementation_uid=accept.implementation_uid,
        peer_implementation_version=accept.implementation_version,
        window=_window(settings.outstanding, accept.invoked),
    )


def _window(offered: int, granted: int) -> int:
    """C-STOREs to keep in flight: what the peer granted (0: unlimited), never more than offered."""
    if offered <= 1:
        return 1
    return offered if granted == 0 else max(1, min(offered, granted))
