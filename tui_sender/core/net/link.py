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

It is the only way the product associates: sending (C-STORE), echo (C-ECHO)
and probing (which contexts a destination accepts) all go through
:func:`open_link`, so they connect, handle TLS and fail the same way, with
one :class:`FailureKind` taxonomy and one set of messages written for the
administrator who has to fix the configuration.

A :class:`Link` is owned by one thread. The only call another thread may make
is :meth:`Link.interrupt`, which shuts the socket so a blocked send or
receive returns at once (the cancel path).
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
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

from tui_sender.core.model.events import ContextResult
from tui_sender.core.net import wire

APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"
IMPLEMENTATION_VERSION = "TUI_SENDER_010"
MAX_CONTEXTS = 128
BATCH_BYTES = 1 << 20
"""Data bytes read and sent per system call pair when streaming a file."""
MAX_PDU_BYTES = 64 * 1024 * 1024
"""A larger PDU length from the peer means it is not speaking DICOM to us."""

_CONTEXT_RESULTS = {
    0: "Accepted",
    1: "User Rejected",
    2: "Provider Rejected (no reason)",
    3: "Abstract Syntax Not Supported",
    4: "Transfer Syntax(es) Not Supported",
}

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
    does not fit the request).
    """

    def __init__(self, message: str, kind: FailureKind = FailureKind.ABORTED) -> None:
        super().__init__(message)
        self.kind = kind


class _ForeignBytes(LinkBroken):
    """The peer sent bytes that cannot start a DICOM PDU."""

    def __init__(self, header: bytes) -> None:
        self.what = f"bytes that are not DICOM (starting {header[:2].hex(' ')})"
        super().__init__(f"the peer sent {self.what}", FailureKind.PROTOCOL)
        self.header = header


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
    """Longest wait for the TCP connection, and then for the TLS handshake."""
    acse_timeout: float = 30.0
    """Longest wait for the answer to an association or release request."""
    dimse_timeout: float = 60.0
    """Longest wait for a C-STORE or C-ECHO response after the last byte was sent."""
    network_timeout: float = 60.0
    """Longest a single write may block (a stalled peer that stopped reading)."""
    tls_context: ssl.SSLContext | None = None
    tls_server_name: str | None = None

    @property
    def address(self) -> str:
        """``host:port``, an IPv6 address in brackets, for messages."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def peer(self) -> str:
        """``AE@host:port``, for messages."""
        return f"{self.called_ae}@{self.address}"


@dataclass(frozen=True, slots=True)
class StoreReply:
    """What a C-STORE-RSP said."""

    status: int
    error_comment: str
    offending_elements: str


# -- what went wrong, in words an administrator can act on -------------------------------------


def _reject_message(rejection: Rejection, settings: LinkSettings) -> str:
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


def _connect_failure(exc: OSError, settings: LinkSettings) -> AssociationError:
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


def _tls_failure(exc: OSError, settings: LinkSettings) -> AssociationError:
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


def _unanswered_failure(exc: OSError | LinkBroken, settings: LinkSettings) -> AssociationError:
    """The connection ended, timed out or spoke something else before the association answer."""
    where = settings.address
    if isinstance(exc, TimeoutError):
        return AssociationError(
            FailureKind.TIMEOUT,
            f"{settings.peer} accepted the connection but did not answer the association "
            f"request within {settings.acse_timeout:g} s (ACSE timeout): is this port a DICOM "
            "service, is the PACS hung?",
        )
    if isinstance(exc, _ForeignBytes):
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


def _abort_text(body: bytes) -> str:
    source = body[2] if len(body) > 2 else -1
    reason = body[3] if len(body) > 3 else -1
    who = {0: "the PACS (service user)", 2: "the PACS's DICOM stack (service provider)"}
    return f"association aborted by {who.get(source, 'the peer')} (reason {reason})"


class _Reader:
    """Reads whole PDUs from a blocking socket, through a small buffer.

    One ``recv`` usually brings a whole response PDU (a C-STORE-RSP is
    about 200 bytes), instead of one call for the header and one for the
    body.
    """

    CHUNK = 65536

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = bytearray()

    @property
    def buffered(self) -> bool:
        """True when bytes already received wait to be read."""
        return bool(self._buf)

    def _need(self, n: int) -> None:
        while len(self._buf) < n:
            chunk = self._sock.recv(max(self.CHUNK, n - len(self._buf)))
            if not chunk:
                raise ConnectionResetError(errno.ECONNRESET, "connection closed by the peer")
            self._buf += chunk

    def read_pdu(self) -> tuple[int, bytes]:
        """The next PDU's type and its bytes after the 6-byte header.

        A header that cannot start a DICOM PDU (unknown type, absurd length)
        raises at once rather than waiting for a body that never comes.
        """
        self._need(wire.PDU_HEADER.size)
        pdu_type, _, length = wire.PDU_HEADER.unpack_from(self._buf)
        if not wire.A_ASSOCIATE_RQ <= pdu_type <= wire.A_ABORT or length > MAX_PDU_BYTES:
            raise _ForeignBytes(bytes(self._buf[: wire.PDU_HEADER.size]))
        end = wire.PDU_HEADER.size + length
        self._need(end)
        body = bytes(self._buf[wire.PDU_HEADER.size : end])
        del self._buf[:end]
        return pdu_type, body


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
        *,
        peer_implementation_uid: str = "",
        peer_implementation_version: str = "",
    ) -> None:
        self.settings = settings
        self.peer_max_pdu = peer_max_pdu
        """The peer's Maximum Length Received (0: no limit): what our P-DATA PDUs fit in."""
        self.contexts = contexts
        """Every proposed context as the peer answered it, in proposal order."""
        self.peer_implementation_uid = peer_implementation_uid
        """The peer's Implementation Class UID from its A-ASSOCIATE-AC ("" if absent)."""
        self.peer_implementation_version = peer_implementation_version
        """The peer's Implementation Version Name, e.g. "OFFIS_DCMTK_367" ("" if absent)."""
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
        self._awaiting_response = False
        self._timeout: float | None = None
        self.bytes_sent = 0
        self.stores = 0

    @property
    def peer_implementation(self) -> str:
        """``"NAME (UID)"``, or whichever of the two the peer sent, for display."""
        name, uid = self.peer_implementation_version, self.peer_implementation_uid
        return f"{name} ({uid})" if name and uid else name or uid

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
        message_id = self.next_message_id()
        command = wire.encode_command_pdus(
            context_id,
            wire.encode_c_store_rq(message_id, sop_class_uid, sop_instance_uid),
            self.peer_max_pdu,
        )
        with self._exchange("C-STORE"):
            self._sending()
            self._send_dataset(context_id, command, fill, offset, length, on_bytes)
            self._awaiting()
            status, reply = self._read_response(wire.C_STORE_RSP, "C-STORE", message_id)
            responded_uid = reply.affected_sop_instance_uid
            if responded_uid and responded_uid != sop_instance_uid:
                raise LinkBroken(
                    f"C-STORE response names SOP Instance {responded_uid}, not {sop_instance_uid}",
                    FailureKind.PROTOCOL,
                )
        self.stores += 1
        return StoreReply(status, reply.error_comment, reply.offending_elements)

    def echo(self) -> int:
        """C-ECHO on the accepted Verification context; the response's status.

        Raises :class:`LinkBroken` (the association is then aborted) when no
        response comes within the DIMSE timeout, the peer aborts, or the
        link is interrupted; ``ValueError`` when Verification was not
        accepted (propose :data:`wire.VERIFICATION_SOP_CLASS` to open it).
        """
        context_id = next(
            (
                c.context_id
                for c in self.contexts
                if c.accepted and c.sop_class_uid == wire.VERIFICATION_SOP_CLASS
            ),
            None,
        )
        if context_id is None:
            raise ValueError("the Verification SOP class was not accepted on this association")
        message_id = self.next_message_id()
        request = wire.encode_command_pdus(
            context_id, wire.encode_c_echo_rq(message_id), self.peer_max_pdu
        )
        with self._exchange("C-ECHO"):
            self._sending()
            self._sock.sendall(request)
            self._awaiting()
            status, _ = self._read_response(wire.C_ECHO_RSP, "C-ECHO", message_id)
        return status

    @contextlib.contextmanager
    def _exchange(self, what: str) -> Iterator[None]:
        """Run one request/response exchange; whatever ends it early becomes :class:`LinkBroken`.

        The association is aborted then: the peer may or may not have acted
        on the request, and nothing else can be trusted on this link.
        """
        if self._closed:
            raise LinkBroken("the association is closed")
        try:
            yield
        except TimeoutError as exc:
            self._fail()
            raise LinkBroken(self._timeout_text(what), FailureKind.TIMEOUT) from exc
        except LinkBroken:
            self._fail()
            raise
        except wire.CommandDecodeError as exc:
            self._fail()
            raise LinkBroken(str(exc), FailureKind.PROTOCOL) from exc
        except OSError as exc:
            self._fail()
            if self._interrupted.is_set():
                raise LinkBroken(
                    f"cancelled while the {what} was in flight", FailureKind.CANCELLED
                ) from exc
            raise LinkBroken(f"connection lost: {exc.strerror or exc}") from exc

    def _sending(self) -> None:
        """Writes may block for the network timeout (a peer that stopped reading)."""
        self._awaiting_response = False
        self._set_timeout(self.settings.network_timeout)

    def _awaiting(self) -> None:
        """The response may take the DIMSE timeout (the PACS storing, or thinking)."""
        self._awaiting_response = True
        self._set_timeout(self.settings.dimse_timeout)

    def _set_timeout(self, seconds: float) -> None:
        """``settimeout`` costs system calls; skip it when nothing changes (the usual case)."""
        if self._timeout != seconds:
            self._sock.settimeout(seconds)
            self._timeout = seconds

    def _timeout_text(self, what: str) -> str:
        if self._awaiting_response:
            return f"no {what} response within {self.settings.dimse_timeout:g} s (DIMSE timeout)"
        return (
            f"the PACS stopped reading data for {self.settings.network_timeout:g} s "
            "(network timeout)"
        )

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

    def _read_response(
        self, command_field: int, what: str, message_id: int
    ) -> tuple[int, wire.CommandSet]:
        """Read the response command to request ``message_id``: its status and all of it."""
        fragments: list[bytes] = []
        while True:
            pdu_type, body = self._reader.read_pdu()
            if pdu_type == wire.A_ABORT:
                raise LinkBroken(_abort_text(body))
            if pdu_type == wire.A_RELEASE_RQ:
                raise LinkBroken(
                    f"the PACS asked to release the association while a {what} was in flight"
                )
            if pdu_type != wire.P_DATA_TF:
                raise LinkBroken(
                    f"unexpected PDU type 0x{pdu_type:02X} instead of a {what} response",
                    FailureKind.PROTOCOL,
                )
            done = False
            for _cid, control, data in wire.iter_pdvs(body):
                if not control & wire.MCH_COMMAND:
                    raise LinkBroken(
                        f"the PACS sent a data set instead of a {what} response",
                        FailureKind.PROTOCOL,
                    )
                fragments.append(data)
                done = bool(control & wire.MCH_LAST)
            if done:
                break
        command = wire.decode_command(b"".join(fragments))
        if command.command_field != command_field:
            raise LinkBroken(
                f"unexpected DIMSE command 0x{command.command_field or 0:04X} instead of a "
                f"{what} response",
                FailureKind.PROTOCOL,
            )
        if command.message_id_responded not in (None, message_id):
            raise LinkBroken(
                f"{what} response for message {command.message_id_responded}, "
                f"expected {message_id}",
                FailureKind.PROTOCOL,
            )
        if command.status is None:
            raise LinkBroken(f"{what} response without a status", FailureKind.PROTOCOL)
        return command.status, command

    # -- ending ----------------------------------------------------------------

    def release(self) -> bool:
        """Release politely; abort if the peer does not answer. True when released."""
        if self._closed:
            return False
        try:
            self._set_timeout(self.settings.acse_timeout)
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
        """Send an A-ABORT (best effort, never waiting) and close.

        Non-blocking: when the peer has stopped reading, the A-ABORT would
        only queue behind megabytes of unread data, and waiting for room
        would add a delay to every failure of that kind.
        """
        if self._closed:
            return
        try:
            self._sock.setblocking(False)
            self._sock.send(wire.abort_pdu())
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

    def still_open(self) -> bool:
        """Before reusing an idle association: False if the peer has ended it meanwhile.

        Between our requests a peer may only abort, ask to release (its idle
        timeout) or close the connection; any of these ends the association
        (a release request is answered first). Checking costs one ``poll``
        and spares the next file an attempt on a dead link, which would
        count against its retries.
        """
        if self._closed:
            return False
        try:
            poller = select.poll()  # not select.select: no limit on the descriptor number
            poller.register(self._sock, select.POLLIN)
            readable = bool(poller.poll(0))
        except (OSError, ValueError):
            self._close()
            return False
        pending_tls = isinstance(self._sock, ssl.SSLSocket) and self._sock.pending() > 0
        if not readable and not pending_tls and not self._reader.buffered:
            return True
        try:
            self._set_timeout(1.0)
            pdu_type, _ = self._reader.read_pdu()
            if pdu_type == wire.A_RELEASE_RQ:
                self._sock.sendall(wire.A_RELEASE_RP_PDU)
            elif pdu_type != wire.A_ABORT:
                self._sock.sendall(wire.abort_pdu(2, 2))  # unexpected PDU
        except (OSError, LinkBroken):
            pass
        self._close()
        return False

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
        raise _connect_failure(exc, settings) from exc
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
                raise _tls_failure(exc, settings) from exc
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
    reader = _Reader(sock)
    try:
        sock.settimeout(settings.acse_timeout)
        sock.sendall(request)
        pdu_type, body = reader.read_pdu()
    except (OSError, LinkBroken) as exc:
        raise _unanswered_failure(exc, settings) from exc
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
        raise AssociationError(kind, _reject_message(rejection, settings), rejection=rejection)
    if pdu_type == wire.A_ABORT:
        raise AssociationError(
            FailureKind.ABORTED,
            f"{_abort_text(body)} instead of an answer to the association request: check the "
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
    )


@dataclass(frozen=True, slots=True)
class _PeerInformation:
    """What the peer said about itself in the A-ASSOCIATE-AC's user information."""

    max_pdu: int = 0
    implementation_uid: str = ""
    implementation_version: str = ""

    @classmethod
    def from_user_information(cls, items: Iterable[object]) -> _PeerInformation:
        max_pdu, uid, version = 0, "", ""
        for item in items:
            if isinstance(item, MaximumLengthNotification):
                max_pdu = int(item.maximum_length_received or 0)
            elif isinstance(item, ImplementationClassUIDNotification):
                uid = str(item.implementation_class_uid or "")
            elif isinstance(item, ImplementationVersionNameNotification):
                version = str(item.implementation_version_name or "")
        return cls(max_pdu, uid, version)
