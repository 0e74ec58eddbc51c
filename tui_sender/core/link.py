"""One SCU association, driven synchronously by the worker thread that owns it.

pynetdicom encodes and decodes the association PDUs and negotiates the
presentation contexts (:func:`pynetdicom.presentation.negotiate_as_requestor`);
this module moves the bytes itself, on a plain blocking socket:

* pynetdicom's own association runs three threads that poll each other with
  1 ms sleeps, so every C-STORE waits several milliseconds doing nothing;
* its requestor reactor can steal a C-STORE response: ``send_c_store`` pauses
  the reactor by clearing ``_reactor_checkpoint`` and then trusts the
  ``_is_paused`` flag, which can still be True from the previous pause while
  the reactor is already awake and about to call ``dimse.get_msg``. The
  response is then consumed as an "unexpected C-STORE service message" and
  the sender waits for the whole DIMSE timeout (the stall seen in about 1 run
  in 7 on loopback). With one thread per association that cannot happen;
* it never sets TCP_NODELAY, so each small C-STORE waits ~40 ms for a
  delayed ACK.

A :class:`Link` is owned by one thread. The only call another thread may make
is :meth:`Link.interrupt`, which shuts the socket so a blocked send or
receive returns at once (the cancel path).
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydicom.uid import UID
from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID
from pynetdicom.pdu import A_ASSOCIATE_AC, A_ASSOCIATE_RQ
from pynetdicom.pdu_primitives import (
    A_ASSOCIATE,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
    MaximumLengthNotification,
)
from pynetdicom.presentation import PresentationContext, negotiate_as_requestor
from pynetdicom.transport import AddressInformation

from tui_sender.core import wire
from tui_sender.core.events import ContextResult

APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"
IMPLEMENTATION_VERSION = "TUI_SENDER_010"
MAX_CONTEXTS = 128
BATCH_BYTES = 1 << 20
"""Data bytes read and sent per system call pair when streaming a file."""

_CONTEXT_RESULTS = {
    0: "Accepted",
    1: "User Rejected",
    2: "Provider Rejected (no reason)",
    3: "Abstract Syntax Not Supported",
    4: "Transfer Syntax(es) Not Supported",
}


class FailureKind(StrEnum):
    """Why an association could not be established."""

    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    REJECTED_PERMANENT = "rejected_permanent"
    REJECTED_TRANSIENT = "rejected_transient"
    ABORTED = "aborted"
    PROTOCOL = "protocol"
    TLS = "tls"
    NO_CONTEXTS = "no_contexts"
    CANCELLED = "cancelled"


_RETRYABLE = {
    FailureKind.UNREACHABLE,
    FailureKind.TIMEOUT,
    FailureKind.REJECTED_TRANSIENT,
    FailureKind.ABORTED,
    FailureKind.PROTOCOL,
}


class AssociationError(Exception):
    """The association was not established; ``message`` tells the admin what to do."""

    def __init__(
        self, kind: FailureKind, message: str, contexts: tuple[ContextResult, ...] = ()
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.contexts = contexts

    @property
    def retryable(self) -> bool:
        """True when trying again later may succeed (transient conditions)."""
        return self.kind in _RETRYABLE


class LinkBroken(Exception):
    """The association died mid-operation: the outcome of the in-flight C-STORE is unknown."""


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """Where and how to associate. Timeouts in seconds."""

    host: str
    port: int
    called_ae: str
    calling_ae: str
    max_pdu: int = 65536
    """Our Maximum Length Received: the largest P-DATA the peer may send us."""
    connect_timeout: float = 10.0
    acse_timeout: float = 30.0
    dimse_timeout: float = 60.0
    """Longest wait for a C-STORE response after the last byte was sent."""
    network_timeout: float = 60.0
    """Longest a single write may block (a stalled peer that stopped reading)."""
    tls_context: ssl.SSLContext | None = None
    tls_server_name: str | None = None

    @property
    def peer(self) -> str:
        """``AE@host:port``, for messages."""
        return f"{self.called_ae}@{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class StoreReply:
    """What a C-STORE-RSP said."""

    status: int
    error_comment: str
    offending_elements: str


def _reject_message(result: int, source: int, reason: int, settings: LinkSettings) -> str:
    kind = "permanently" if result == 1 else "temporarily" if result == 2 else "(invalid result)"
    texts = {
        (1, 1): "no reason given",
        (1, 2): "application context name not supported",
        (1, 3): (
            f"calling AE title {settings.calling_ae!r} not recognised by the PACS: ask its "
            "administrator to register it, or use the calling AE title it expects (-c)"
        ),
        (1, 7): (
            f"called AE title {settings.called_ae!r} not recognised by the PACS: check the "
            "destination's AE title (-a)"
        ),
        (2, 1): "no reason given (DUL service provider, ACSE)",
        (2, 2): "protocol version not supported",
        (3, 1): "temporary congestion at the PACS: will retry",
        (3, 2): "the PACS's association limit is reached: will retry; consider fewer workers (-t)",
    }
    text = texts.get((source, reason), f"source {source}, reason {reason}")
    return f"association {kind} rejected by {settings.peer}: {text}"


def _describe_os_error(exc: OSError, settings: LinkSettings) -> tuple[FailureKind, str]:
    where = f"{settings.host}:{settings.port}"
    if isinstance(exc, socket.timeout | TimeoutError):
        return FailureKind.TIMEOUT, (
            f"no TCP connection to {where} within {settings.connect_timeout:g} s: is the host "
            "up and the port open in the firewall?"
        )
    if isinstance(exc, ConnectionRefusedError) or exc.errno == errno.ECONNREFUSED:
        return FailureKind.UNREACHABLE, (
            f"connection refused by {where}: nothing is listening there; is the PACS running "
            "and is the port right?"
        )
    if isinstance(exc, socket.gaierror):
        return FailureKind.UNREACHABLE, f"cannot resolve host {settings.host!r}: {exc.strerror}"
    return FailureKind.UNREACHABLE, f"cannot connect to {where}: {exc.strerror or exc}"


def _tls_message(exc: Exception, settings: LinkSettings) -> str:
    where = f"{settings.host}:{settings.port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"TLS certificate of {where} rejected: {exc.verify_message}: check the destination's "
            "CA file and host name (no plain-TCP fallback)"
        )
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake with {where} failed: {exc.reason or exc} (no plain-TCP fallback)"
    return (
        f"TLS handshake with {where} failed: {exc}: is this a DICOM TLS port? "
        "(no plain-TCP fallback)"
    )


class _Reader:
    """Reads whole PDUs from a blocking socket."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._header = bytearray(wire.PDU_HEADER.size)

    def _fill(self, view: memoryview) -> None:
        got = 0
        while got < len(view):
            n = self._sock.recv_into(view[got:])
            if n == 0:
                raise ConnectionResetError(errno.ECONNRESET, "connection closed by the peer")
            got += n

    def read_pdu(self) -> tuple[int, bytes]:
        """The next PDU's type and its bytes after the 6-byte header."""
        self._fill(memoryview(self._header))
        pdu_type, _, length = wire.PDU_HEADER.unpack(self._header)
        if length > 64 * 1024 * 1024:
            raise LinkBroken(f"peer sent a PDU of {length} bytes: not a DICOM peer?")
        body = bytearray(length)
        self._fill(memoryview(body))
        return pdu_type, bytes(body)


def _abort_text(body: bytes) -> str:
    source = body[2] if len(body) > 2 else -1
    reason = body[3] if len(body) > 3 else -1
    who = {0: "the PACS (service user)", 2: "the PACS's DICOM stack (service provider)"}
    return f"association aborted by {who.get(source, 'the peer')} (reason {reason})"


@dataclass(frozen=True, slots=True)
class ProposedContext:
    """One presentation context to propose: an abstract syntax with one transfer syntax."""

    sop_class_uid: str
    transfer_syntax_uid: str


class Link:
    """An established association. Use :func:`open_link` to make one."""

    def __init__(
        self,
        sock: socket.socket,
        settings: LinkSettings,
        peer_max_pdu: int,
        contexts: tuple[ContextResult, ...],
    ) -> None:
        self.settings = settings
        self.peer_max_pdu = peer_max_pdu
        self.contexts = contexts
        self.accepted: dict[tuple[str, str], int] = {
            (c.sop_class_uid, c.transfer_syntax_uid): c.context_id for c in contexts if c.accepted
        }
        self._sock = sock
        self._reader = _Reader(sock)
        self._fragment = wire.fragment_size(peer_max_pdu, 256 * 1024)
        per_batch = max(1, BATCH_BYTES // self._fragment)
        self._stride = self._fragment + wire.PDATA_OVERHEAD
        self._buffer = bytearray(self._stride * per_batch)
        self._view = memoryview(self._buffer)
        self._full_iov = [
            self._view[i * self._stride + wire.PDATA_OVERHEAD : (i + 1) * self._stride]
            for i in range(per_batch)
        ]
        self._message_id = 0
        self._closed = False
        self._interrupted = threading.Event()
        self.bytes_sent = 0
        self.stores = 0

    # -- the data path -------------------------------------------------------

    def next_message_id(self) -> int:
        """Message IDs count up from 1 and wrap within an unsigned short."""
        self._message_id = self._message_id % 0xFFFF + 1
        return self._message_id

    def store_file(
        self,
        context_id: int,
        sop_class_uid: str,
        sop_instance_uid: str,
        fd: int,
        offset: int,
        length: int,
        on_bytes: Callable[[int], None] | None = None,
    ) -> StoreReply:
        """C-STORE a data set streamed from an open file, unchanged.

        The file's bytes go out in P-DATA fragments sized by the peer's max
        PDU, read with ``preadv`` straight into a reusable buffer between
        fragment headers, and written with one ``sendall`` per batch: memory
        stays bounded whatever the file size, and the kernel's socket buffer
        gives back-pressure.
        """

        def fill(views: Sequence[memoryview], position: int) -> int:
            return os.preadv(fd, views, position)

        return self._store(
            context_id, sop_class_uid, sop_instance_uid, fill, offset, length, on_bytes
        )

    def store_bytes(
        self,
        context_id: int,
        sop_class_uid: str,
        sop_instance_uid: str,
        data: bytes,
        on_bytes: Callable[[int], None] | None = None,
    ) -> StoreReply:
        """C-STORE a data set already encoded in memory (after a conversion)."""
        source = memoryview(data)

        def fill(views: Sequence[memoryview], position: int) -> int:
            done = 0
            for view in views:
                n = len(view)
                view[:] = source[position + done : position + done + n]
                done += n
            return done

        return self._store(
            context_id, sop_class_uid, sop_instance_uid, fill, 0, len(data), on_bytes
        )

    def _store(
        self,
        context_id: int,
        sop_class_uid: str,
        sop_instance_uid: str,
        fill: Callable[[Sequence[memoryview], int], int],
        offset: int,
        length: int,
        on_bytes: Callable[[int], None] | None,
    ) -> StoreReply:
        if self._closed:
            raise LinkBroken("the association is closed")
        message_id = self.next_message_id()
        command = wire.encode_command_pdus(
            context_id,
            wire.encode_c_store_rq(message_id, sop_class_uid, sop_instance_uid),
            self.peer_max_pdu,
        )
        try:
            self._sock.settimeout(self.settings.network_timeout)
            self._send_dataset(context_id, command, fill, offset, length, on_bytes)
            self._sock.settimeout(self.settings.dimse_timeout)
            reply = self._read_store_reply(message_id, sop_instance_uid)
        except TimeoutError as exc:
            self._fail()
            raise LinkBroken(self._timeout_text()) from exc
        except OSError as exc:
            self._fail()
            if self._interrupted.is_set():
                raise LinkBroken("cancelled while the C-STORE was in flight") from exc
            raise LinkBroken(f"connection lost: {exc.strerror or exc}") from exc
        except (LinkBroken, wire.CommandDecodeError) as exc:
            self._fail()
            raise LinkBroken(str(exc)) from exc
        self.stores += 1
        return reply

    def _timeout_text(self) -> str:
        timeout = self._sock.gettimeout()
        if timeout == self.settings.network_timeout and (
            self.settings.network_timeout != self.settings.dimse_timeout
        ):
            return f"the PACS stopped reading data for {timeout:g} s (network timeout)"
        return f"no C-STORE response within {timeout:g} s (DIMSE timeout)"

    def _send_dataset(
        self,
        context_id: int,
        command: bytes,
        fill: Callable[[Sequence[memoryview], int], int],
        offset: int,
        length: int,
        on_bytes: Callable[[int], None] | None,
    ) -> None:
        """Send the command PDU(s) then the data set, batch by batch.

        The buffer holds ``[header|fragment]`` slots; ``fill`` reads the
        file straight into the fragment parts, the headers are written in
        between, and each batch leaves in one ``sendall``. The command goes
        out with the first batch so a small file is a single write.
        """
        if length == 0:
            self._sock.sendall(command + wire.pdata_header(context_id, wire.MCH_LAST, 0))
            return
        frag, stride, per_batch = self._fragment, self._stride, len(self._full_iov)
        full_header = wire.pdata_header(context_id, 0, frag)
        pending = command
        remaining, position = length, offset
        while remaining > 0:
            final = remaining <= per_batch * frag
            count = -(-remaining // frag) if final else per_batch
            last_size = remaining - frag * (count - 1) if final else frag
            if final:
                iov = [
                    *self._full_iov[: count - 1],
                    self._view[(count - 1) * stride + 12 : (count - 1) * stride + 12 + last_size],
                ]
            else:
                iov = self._full_iov
            want = frag * (count - 1) + last_size
            got = fill(iov, position)
            if got != want:
                raise LinkBroken(
                    f"file changed while sending: read {got} of {want} bytes at {position}"
                )
            for i in range(count - 1):
                self._buffer[i * stride : i * stride + 12] = full_header
            control = wire.MCH_LAST if final else 0
            at = (count - 1) * stride
            self._buffer[at : at + 12] = wire.pdata_header(context_id, control, last_size)
            end = at + 12 + last_size
            if pending:
                self._sock.sendall(pending + self._view[:end])
                pending = b""
            else:
                self._sock.sendall(self._view[:end])
            remaining -= want
            position += want
            self.bytes_sent += want
            if on_bytes is not None:
                on_bytes(want)

    def _read_store_reply(self, message_id: int, sop_instance_uid: str) -> StoreReply:
        fragments: list[bytes] = []
        while True:
            pdu_type, body = self._reader.read_pdu()
            if pdu_type == wire.A_ABORT:
                raise LinkBroken(_abort_text(body))
            if pdu_type == wire.A_RELEASE_RQ:
                raise LinkBroken("the PACS asked to release the association mid-transfer")
            if pdu_type != wire.P_DATA_TF:
                raise LinkBroken(f"unexpected PDU type 0x{pdu_type:02X} instead of a C-STORE-RSP")
            done = False
            for _cid, control, data in wire.iter_pdvs(body):
                if not control & wire.MCH_COMMAND:
                    raise LinkBroken("the PACS sent a data set instead of a C-STORE response")
                fragments.append(data)
                done = bool(control & wire.MCH_LAST)
            if done:
                break
        command = wire.decode_command(b"".join(fragments))
        if command.command_field != wire.C_STORE_RSP:
            raise LinkBroken(f"unexpected DIMSE command 0x{command.command_field or 0:04X}")
        if command.message_id_responded not in (None, message_id):
            raise LinkBroken(
                f"C-STORE response for message {command.message_id_responded}, "
                f"expected {message_id}"
            )
        responded_uid = command.affected_sop_instance_uid
        if responded_uid and responded_uid != sop_instance_uid:
            raise LinkBroken(
                f"C-STORE response names SOP Instance {responded_uid}, not {sop_instance_uid}"
            )
        status = command.status
        if status is None:
            raise LinkBroken("C-STORE response without a status")
        return StoreReply(status, command.error_comment, command.offending_elements)

    # -- ending ----------------------------------------------------------------

    def release(self) -> bool:
        """Release politely; abort if the peer does not answer. True when released."""
        if self._closed:
            return False
        try:
            self._sock.settimeout(self.settings.acse_timeout)
            self._sock.sendall(wire.A_RELEASE_RQ_PDU)
            deadline = time.monotonic() + self.settings.acse_timeout
            while time.monotonic() < deadline:
                pdu_type, _ = self._reader.read_pdu()
                if pdu_type == wire.A_RELEASE_RP:
                    self._close()
                    return True
                if pdu_type == wire.A_ABORT:
                    break
        except (OSError, LinkBroken):
            pass
        self.abort()
        return False

    def abort(self) -> None:
        """Send an A-ABORT (best effort) and close."""
        if self._closed:
            return
        try:
            self._sock.settimeout(1.0)
            self._sock.sendall(wire.abort_pdu())
        except OSError:
            pass
        self._close()

    def interrupt(self) -> None:
        """From another thread: make a blocked send/receive return now (cancel)."""
        self._interrupted.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    @property
    def closed(self) -> bool:
        """True once released, aborted or broken."""
        return self._closed

    def _fail(self) -> None:
        self.abort()

    def _close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.close()


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
    """Connect, negotiate and return an established :class:`Link`.

    ``on_socket`` receives the connected socket before negotiation so a
    canceller can shut it (an ACSE wait is then interrupted too). Raises
    :class:`AssociationError` with an actionable message on any failure.
    """
    if not 1 <= len(proposed) <= MAX_CONTEXTS:
        raise ValueError(f"between 1 and {MAX_CONTEXTS} presentation contexts, not {len(proposed)}")
    try:
        raw = socket.create_connection(
            (settings.host, settings.port), timeout=settings.connect_timeout
        )
    except OSError as exc:
        kind, message = _describe_os_error(exc, settings)
        raise AssociationError(kind, message) from exc
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock: socket.socket = raw
    if on_socket is not None:
        on_socket(raw)
    try:
        if settings.tls_context is not None:
            try:
                raw.settimeout(settings.acse_timeout)
                sock = settings.tls_context.wrap_socket(
                    raw, server_hostname=settings.tls_server_name or settings.host
                )
            except (ssl.SSLError, OSError) as exc:
                raise AssociationError(FailureKind.TLS, _tls_message(exc, settings)) from exc
        return _negotiate(sock, settings, proposed)
    except AssociationError:
        _close_quietly(sock)
        raise
    except BaseException:
        _close_quietly(sock)
        raise


def _close_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()


def _negotiate(
    sock: socket.socket, settings: LinkSettings, proposed: Sequence[ProposedContext]
) -> Link:
    local = sock.getsockname()[:2]
    request, requested = _build_request(settings, proposed, (str(local[0]), int(local[1])))
    reader = _Reader(sock)
    try:
        sock.settimeout(settings.acse_timeout)
        sock.sendall(request)
        pdu_type, body = reader.read_pdu()
    except TimeoutError as exc:
        raise AssociationError(
            FailureKind.TIMEOUT,
            f"{settings.peer} accepted the connection but did not answer the association "
            f"request within {settings.acse_timeout:g} s (ACSE timeout)",
        ) from exc
    except (OSError, LinkBroken) as exc:
        raise AssociationError(
            FailureKind.PROTOCOL,
            f"{settings.peer} closed the connection during association negotiation: "
            f"{getattr(exc, 'strerror', None) or exc} (is it a DICOM port? does it need TLS?)",
        ) from exc
    full = wire.PDU_HEADER.pack(pdu_type, 0, len(body)) + body
    if pdu_type == wire.A_ASSOCIATE_RJ and len(body) >= 4:
        result, source, reason = body[1], body[2], body[3]
        message = _reject_message(result, source, reason, settings)
        kind = FailureKind.REJECTED_TRANSIENT if result == 2 else FailureKind.REJECTED_PERMANENT
        raise AssociationError(kind, message)
    if pdu_type == wire.A_ABORT:
        raise AssociationError(FailureKind.ABORTED, _abort_text(body) + " during negotiation")
    if pdu_type != wire.A_ASSOCIATE_AC:
        raise AssociationError(
            FailureKind.PROTOCOL,
            f"{settings.peer} answered the association request with PDU type 0x{pdu_type:02X}",
        )
    try:
        ac = A_ASSOCIATE_AC()
        ac.decode(full)
        primitive = ac.to_primitive()
        negotiated = negotiate_as_requestor(
            requested, primitive.presentation_context_definition_results_list, {}
        )
    except Exception as exc:
        sock.sendall(wire.abort_pdu(2, 0))
        raise AssociationError(
            FailureKind.PROTOCOL, f"{settings.peer} sent an A-ASSOCIATE-AC we cannot decode: {exc}"
        ) from exc
    peer_max = 0
    for item in primitive.user_information:
        if isinstance(item, MaximumLengthNotification):
            peer_max = int(item.maximum_length_received or 0)
    contexts = _context_results(requested, negotiated)
    if not any(c.accepted for c in contexts):
        with contextlib.suppress(OSError):
            sock.sendall(wire.abort_pdu())
        raise AssociationError(
            FailureKind.NO_CONTEXTS,
            f"{settings.peer} accepted none of the {len(contexts)} proposed presentation contexts",
            contexts,
        )
    return Link(sock, settings, peer_max, contexts)
