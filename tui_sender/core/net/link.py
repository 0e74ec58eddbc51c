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
:func:`~tui_sender.core.net.opening.open_link`, so they connect, handle TLS
and fail the same way, with one :class:`FailureKind` taxonomy and one set of
messages (:mod:`tui_sender.core.net.failures`) written for the administrator
who has to fix the configuration.

A :class:`Link` is owned by one thread. The only call another thread may make
is :meth:`Link.interrupt`, which shuts the socket so a blocked send or
receive returns at once (the cancel path).
"""

from __future__ import annotations

import collections
import contextlib
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass

from tui_sender.core.model.events import ContextResult
from tui_sender.core.net import wire
from tui_sender.core.net.endpoint import LinkSettings
from tui_sender.core.net.failures import FailureKind, LinkBroken, abort_text
from tui_sender.core.net.pdu_reader import PduReader

BATCH_BYTES = 1 << 20
"""Data bytes read and sent per system call pair when streaming a file."""

PENDING = (0xFF00, 0xFF01)
"""C-FIND statuses that mean "a match, and more to come" (PS3.4 C.4.1.1.4)."""
MAX_RESPONSES = 1_000_000
"""More responses than this to one C-FIND: the peer is not ending its answer."""


@dataclass(frozen=True, slots=True)
class StoreReply:
    """What a C-STORE-RSP said."""

    status: int
    error_comment: str
    offending_elements: str
    http_status: int = 0
    """DICOMweb: the HTTP status of the request that carried the instance (0: DIMSE)."""
    retry_after: float | None = None
    """DICOMweb: the server's Retry-After, in seconds, for a refusal to retry later."""
    explanation: str = ""
    """Our words for a failure the status alone does not explain (an HTTP error), which
    replace the status's meaning in the record."""
    request: str = ""
    """DICOMweb: which HTTP request carried it, so the breaker counts a refused request of
    many instances as one refusal, not as many."""


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
        window: int = 1,
    ) -> None:
        self.settings = settings
        self.window = window
        """C-STOREs that may be in flight at once (the granted Asynchronous Operations Window)."""
        self._outstanding: dict[int, str] = {}
        """Message ID -> SOP Instance UID of each C-STORE sent and not yet answered."""
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
        self._reader = PduReader(sock)
        self._pdvs: collections.deque[tuple[int, bytes]] = collections.deque()
        """Fragments of a P-DATA-TF PDU read but not yet taken (see :meth:`_next_pdv`)."""
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
        """C-STORE a data set streamed from an open file, unchanged, and wait for the answer.

        The file's bytes go out in P-DATA fragments sized by the peer's max
        PDU, read with ``preadv`` straight into a reusable buffer between
        fragment headers, and written with one ``sendall`` per batch: memory
        stays bounded whatever the file size, and the kernel's socket buffer
        gives back-pressure.
        """
        self.submit_file(context_id, sop_class_uid, sop_instance_uid, fd, offset, length, on_bytes)
        return self.collect()[1]

    def store_bytes(
        self,
        context_id: int,
        sop_class_uid: str,
        sop_instance_uid: str,
        data: bytes,
        on_bytes: Callable[[int], None] | None = None,
    ) -> StoreReply:
        """C-STORE a data set already encoded in memory (after a conversion), and wait."""
        self.submit_bytes(context_id, sop_class_uid, sop_instance_uid, data, on_bytes)
        return self.collect()[1]

    def submit_file(
        self,
        context_id: int,
        sop_class_uid: str,
        sop_instance_uid: str,
        fd: int,
        offset: int,
        length: int,
        on_bytes: Callable[[int], None] | None = None,
    ) -> int:
        """Send a C-STORE from an open file without waiting; its Message ID (:meth:`collect`)."""

        def fill(views: Sequence[memoryview], position: int) -> int:
            return os.preadv(fd, views, position)

        return self._submit(
            context_id, sop_class_uid, sop_instance_uid, fill, offset, length, on_bytes
        )

    def submit_bytes(
        self,
        context_id: int,
        sop_class_uid: str,
        sop_instance_uid: str,
        data: bytes,
        on_bytes: Callable[[int], None] | None = None,
    ) -> int:
        """Send a C-STORE of data in memory without waiting; its Message ID."""
        source = memoryview(data)

        def fill(views: Sequence[memoryview], position: int) -> int:
            done = 0
            for view in views:
                n = len(view)
                view[:] = source[position + done : position + done + n]
                done += n
            return done

        return self._submit(
            context_id, sop_class_uid, sop_instance_uid, fill, 0, len(data), on_bytes
        )

    @property
    def in_flight(self) -> int:
        """C-STOREs sent and not answered yet."""
        return len(self._outstanding)

    def _submit(
        self,
        context_id: int,
        sop_class_uid: str,
        sop_instance_uid: str,
        fill: Callable[[Sequence[memoryview], int], int],
        offset: int,
        length: int,
        on_bytes: Callable[[int], None] | None,
    ) -> int:
        if len(self._outstanding) >= self.window:
            raise ValueError(f"{self.window} C-STOREs are already in flight: collect one first")
        message_id = self.next_message_id()
        command = wire.encode_command_pdus(
            context_id,
            wire.encode_c_store_rq(message_id, sop_class_uid, sop_instance_uid),
            self.peer_max_pdu,
        )
        with self._exchange("C-STORE"):
            self._sending()
            self._send_dataset(context_id, command, fill, offset, length, on_bytes)
        self._outstanding[message_id] = sop_instance_uid
        return message_id

    def collect(self) -> tuple[int, StoreReply]:
        """Wait for the next C-STORE response: the Message ID it answers, and what it said.

        Responses are matched by Message ID Being Responded To, in whatever
        order the peer sends them; one for a request not in flight, or naming
        another SOP instance, breaks the link (nothing is taken on trust).
        """
        if not self._outstanding:
            raise ValueError("no C-STORE is in flight")
        with self._exchange("C-STORE"):
            self._awaiting()
            status, reply = self._read_response(wire.C_STORE_RSP, "C-STORE", self._outstanding)
            message_id = reply.message_id_responded
            if message_id is None:
                if len(self._outstanding) > 1:
                    raise LinkBroken(
                        "C-STORE response without the Message ID it answers, with "
                        f"{len(self._outstanding)} in flight",
                        FailureKind.PROTOCOL,
                    )
                message_id = next(iter(self._outstanding))
            sop_instance_uid = self._outstanding.pop(message_id)
            responded_uid = reply.affected_sop_instance_uid
            if responded_uid and responded_uid != sop_instance_uid:
                raise LinkBroken(
                    f"C-STORE response names SOP Instance {responded_uid}, not {sop_instance_uid}",
                    FailureKind.PROTOCOL,
                )
        self.stores += 1
        return message_id, StoreReply(status, reply.error_comment, reply.offending_elements)

    def echo(self) -> int:
        """C-ECHO on the accepted Verification context; the response's status.

        Raises :class:`LinkBroken` (the association is then aborted) when no
        response comes within the DIMSE timeout, the peer aborts, or the
        link is interrupted; ``ValueError`` when Verification was not
        accepted (propose :data:`wire.VERIFICATION_SOP_CLASS` to open it).
        """
        context = self.context_for(wire.VERIFICATION_SOP_CLASS)
        if context is None:
            raise ValueError("the Verification SOP class was not accepted on this association")
        message_id = self.next_message_id()
        request = wire.encode_command_pdus(
            context.context_id, wire.encode_c_echo_rq(message_id), self.peer_max_pdu
        )
        with self._exchange("C-ECHO"):
            self._sending()
            self._sock.sendall(request)
            self._awaiting()
            status, _ = self._read_response(wire.C_ECHO_RSP, "C-ECHO", (message_id,))
        return status

    def find(self, sop_class_uid: str, identifier: bytes) -> tuple[int, list[bytes]]:
        """One C-FIND: its final status and the identifier of every pending response.

        ``identifier`` and the identifiers returned are encoded in the transfer
        syntax of the accepted context for ``sop_class_uid`` (see
        :meth:`context_for`). Unlike pynetdicom's ``send_c_find``, no second
        thread reads the socket, so a fast archive's first match cannot be
        taken away as an "unexpected C-FIND service message" (its reactor
        race, pydicom/pynetdicom#875: one instance in a few hundred went
        missing). Raises :class:`LinkBroken` as :meth:`echo` does, and after
        :data:`MAX_RESPONSES` responses (a peer that never ends its answer).
        """
        context = self.context_for(sop_class_uid)
        if context is None:
            raise ValueError(f"{sop_class_uid} was not accepted on this association")
        message_id = self.next_message_id()
        request = wire.encode_command_pdus(
            context.context_id, wire.encode_c_find_rq(message_id, sop_class_uid), self.peer_max_pdu
        ) + wire.encode_dataset_pdus(context.context_id, identifier, self.peer_max_pdu)
        matches: list[bytes] = []
        with self._exchange("C-FIND"):
            self._sending()
            self._sock.sendall(request)
            self._awaiting()
            for _ in range(MAX_RESPONSES):
                status, command = self._read_response(wire.C_FIND_RSP, "C-FIND", (message_id,))
                data = self._read_dataset("C-FIND") if command.has_dataset else None
                if status not in PENDING:
                    return status, matches
                if data is not None:
                    matches.append(data)
            raise LinkBroken(
                f"the C-FIND went on past {MAX_RESPONSES:,} responses", FailureKind.PROTOCOL
            )

    def context_for(self, sop_class_uid: str) -> ContextResult | None:
        """The first accepted context for ``sop_class_uid`` (None: not accepted)."""
        return next(
            (c for c in self.contexts if c.accepted and c.sop_class_uid == sop_class_uid), None
        )

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
                start = (count - 1) * stride + wire.PDATA_OVERHEAD
                iov = [*self._full_iov[: count - 1], self._view[start : start + last_size]]
            else:
                iov = self._full_iov
            want = frag * (count - 1) + last_size
            got = fill(iov, position)
            if got != want:
                raise LinkBroken(
                    f"file changed while sending: read {got} of {want} bytes at {position}"
                )
            for i in range(count - 1):
                self._buffer[i * stride : i * stride + wire.PDATA_OVERHEAD] = full_header
            control = wire.MCH_LAST if final else 0
            at = (count - 1) * stride
            self._buffer[at : at + wire.PDATA_OVERHEAD] = wire.pdata_header(
                context_id, control, last_size
            )
            end = at + wire.PDATA_OVERHEAD + last_size
            pacer = self.settings.pacer
            if pacer is not None and not pacer.wait_for(want, self._interrupted):
                raise LinkBroken(
                    "cancelled while waiting for the bandwidth cap", FailureKind.CANCELLED
                )
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
        self, command_field: int, what: str, expected: Collection[int]
    ) -> tuple[int, wire.CommandSet]:
        """Read the response to one of the requests ``expected``: its status and all of it."""
        fragments: list[bytes] = []
        while True:
            control, data = self._next_pdv(what)
            if not control & wire.MCH_COMMAND:
                raise LinkBroken(
                    f"the PACS sent a data set instead of a {what} response",
                    FailureKind.PROTOCOL,
                )
            fragments.append(data)
            if control & wire.MCH_LAST:
                break
        command = wire.decode_command(b"".join(fragments))
        if command.command_field != command_field:
            raise LinkBroken(
                f"unexpected DIMSE command 0x{command.command_field or 0:04X} instead of a "
                f"{what} response",
                FailureKind.PROTOCOL,
            )
        responded = command.message_id_responded
        if responded is not None and responded not in expected:
            waiting = ", ".join(str(m) for m in sorted(expected))
            raise LinkBroken(
                f"{what} response for message {responded}, expected {waiting}",
                FailureKind.PROTOCOL,
            )
        if command.status is None:
            raise LinkBroken(f"{what} response without a status", FailureKind.PROTOCOL)
        return command.status, command

    def _read_dataset(self, what: str) -> bytes:
        """The data set that follows a response's command set, all of its fragments."""
        fragments: list[bytes] = []
        while True:
            control, data = self._next_pdv(what)
            if control & wire.MCH_COMMAND:
                raise LinkBroken(
                    f"the PACS sent a command where the {what} response's data set belongs",
                    FailureKind.PROTOCOL,
                )
            fragments.append(data)
            if control & wire.MCH_LAST:
                return b"".join(fragments)

    def _next_pdv(self, what: str) -> tuple[int, bytes]:
        """The next (control header, data) fragment, reading a P-DATA-TF PDU when none waits.

        A PDU may carry several fragments, the end of a command set and the
        start of its data set among them; those not read yet wait here.
        """
        while not self._pdvs:
            pdu_type, body = self._reader.read_pdu()
            if pdu_type == wire.A_ABORT:
                raise LinkBroken(abort_text(body))
            if pdu_type == wire.A_RELEASE_RQ:
                raise LinkBroken(
                    f"the PACS asked to release the association while a {what} was in flight"
                )
            if pdu_type != wire.P_DATA_TF:
                raise LinkBroken(
                    f"unexpected PDU type 0x{pdu_type:02X} instead of a {what} response",
                    FailureKind.PROTOCOL,
                )
            self._pdvs.extend((control, data) for _cid, control, data in wire.iter_pdvs(body))
        return self._pdvs.popleft()

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
        if not readable and not pending_tls and not self._reader.buffered and not self._pdvs:
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
