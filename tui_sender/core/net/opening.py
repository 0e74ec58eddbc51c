"""Opening an association: connect, TLS, A-ASSOCIATE-RQ, and reading the answer.

pynetdicom encodes and decodes the association PDUs and negotiates the
presentation contexts; every failure becomes an :class:`AssociationError`
worded for the administrator (:mod:`tui_sender.core.net.failures`).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from pydicom.uid import UID
from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID
from pynetdicom.pdu import A_ASSOCIATE_AC, A_ASSOCIATE_RQ
from pynetdicom.pdu_primitives import (
    A_ASSOCIATE,
    AsynchronousOperationsWindowNegotiation,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
    MaximumLengthNotification,
)
from pynetdicom.presentation import PresentationContext, negotiate_as_requestor
from pynetdicom.transport import AddressInformation

from tui_sender.core.model.events import ContextResult
from tui_sender.core.net import wire
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

APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"
IMPLEMENTATION_VERSION = "TUI_SENDER_010"
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


def _build_request(
    settings: LinkSettings, proposed: Sequence[ProposedContext], local: tuple[str, int]
) -> tuple[bytes, list[PresentationContext]]:
    contexts = []
    for index, item in enumerate(proposed):
        cx = PresentationContext()
        cx.context_id = 2 * index + 1
        cx.abstract_syntax = UID(item.sop_class_uid)
        cx.transfer_syntax = [UID(item.transfer_syntax_uid)]
        contexts.append(cx)
    primitive = A_ASSOCIATE()
    primitive.application_context_name = UID(APPLICATION_CONTEXT)
    primitive.calling_ae_title = settings.calling_ae
    primitive.called_ae_title = settings.called_ae
    primitive.calling_presentation_address = AddressInformation(*local)
    primitive.called_presentation_address = AddressInformation(settings.host, settings.port)
    primitive.presentation_context_definition_list = contexts
    max_length = MaximumLengthNotification()
    max_length.maximum_length_received = settings.max_pdu
    impl_uid = ImplementationClassUIDNotification()
    impl_uid.implementation_class_uid = PYNETDICOM_IMPLEMENTATION_UID
    impl_version = ImplementationVersionNameNotification()
    impl_version.implementation_version_name = IMPLEMENTATION_VERSION
    primitive.user_information = [max_length, impl_uid, impl_version]
    if settings.outstanding > 1:
        window = AsynchronousOperationsWindowNegotiation()
        window.maximum_number_operations_invoked = settings.outstanding
        window.maximum_number_operations_performed = 1
        primitive.user_information.append(window)
    pdu = A_ASSOCIATE_RQ()
    pdu.from_primitive(primitive)
    return pdu.encode(), contexts


def _context_results(
    requested: list[PresentationContext], negotiated: list[PresentationContext]
) -> tuple[ContextResult, ...]:
    by_id = {cx.context_id: cx for cx in negotiated}
    results = []
    for rq in requested:
        cx = by_id.get(rq.context_id)
        result = cx.result if cx is not None and cx.result is not None else 2
        accepted = result == 0
        ts = (
            str(cx.transfer_syntax[0])
            if accepted and cx is not None and cx.transfer_syntax
            else str(rq.transfer_syntax[0])
        )
        results.append(
            ContextResult(
                context_id=int(rq.context_id or 0),
                sop_class_uid=str(rq.abstract_syntax),
                transfer_syntax_uid=ts,
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
    local = sock.getsockname()[:2]
    request, requested = _build_request(settings, proposed, (str(local[0]), int(local[1])))
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
        ac = A_ASSOCIATE_AC()
        ac.decode(wire.PDU_HEADER.pack(pdu_type, 0, len(body)) + body)
        primitive = ac.to_primitive()
        negotiated = negotiate_as_requestor(
            requested, primitive.presentation_context_definition_results_list, {}
        )
    except Exception as exc:
        _abort_quietly(sock, 2)
        raise AssociationError(
            FailureKind.PROTOCOL, f"{settings.peer} sent an A-ASSOCIATE-AC we cannot decode: {exc}"
        ) from exc
    contexts = _context_results(requested, negotiated)
    if not any(c.accepted for c in contexts):
        _abort_quietly(sock)
        raise AssociationError(
            FailureKind.NO_CONTEXTS,
            f"{settings.peer} accepted none of the {len(contexts)} proposed presentation contexts",
            contexts,
        )
    peer = _PeerInformation.from_user_information(primitive.user_information)
    return Link(
        sock,
        settings,
        peer.max_pdu,
        contexts,
        peer_implementation_uid=peer.implementation_uid,
        peer_implementation_version=peer.implementation_version,
        window=_window(settings.outstanding, peer.invoked),
    )


def _window(offered: int, granted: int) -> int:
    """C-STOREs to keep in flight: what the peer granted (0: unlimited), never more than offered."""
    if offered <= 1:
        return 1
    return offered if granted == 0 else max(1, min(offered, granted))


@dataclass(frozen=True, slots=True)
class _PeerInformation:
    """What the peer said about itself in the A-ASSOCIATE-AC's user information."""

    max_pdu: int = 0
    implementation_uid: str = ""
    implementation_version: str = ""
    invoked: int = 1
    """Operations we may keep outstanding (1 when the peer did not answer the window; 0: any)."""

    @classmethod
    def from_user_information(cls, items: Iterable[object]) -> _PeerInformation:
        max_pdu, uid, version, invoked = 0, "", "", 1
        for item in items:
            if isinstance(item, AsynchronousOperationsWindowNegotiation):
                invoked = int(item.maximum_number_operations_invoked)
            elif isinstance(item, MaximumLengthNotification):
                max_pdu = int(item.maximum_length_received or 0)
            elif isinstance(item, ImplementationClassUIDNotification):
                uid = str(item.implementation_class_uid or "")
            elif isinstance(item, ImplementationVersionNameNotification):
                version = str(item.implementation_version_name or "")
        return cls(max_pdu, uid, version, invoked)
