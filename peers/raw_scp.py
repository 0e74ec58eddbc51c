"""A storage SCP on a raw socket that answers from a script: protocol faults pynetdicom won't make.

pynetdicom's acceptor always answers a release and never sends a malformed
PDU, so the faults below need a peer that writes its own bytes:

* answer the A-ASSOCIATE-RQ with anything (``association_answer``): an
  unknown PDU type, an A-ASSOCIATE-RJ with invalid codes, nothing at all;
* accept (every proposed context, in its first transfer syntax) and answer
  each C-STORE from ``store_script``: a status (``0x0000``), or :class:`Raw`
  bytes instead of a response (garbage, a truncated PDU), optionally closing
  the connection after them; entries count stores over all connections, and
  the last one repeats;
* ignore A-RELEASE-RQ (``answer_release=False``).

PDUs are decoded by hand (6-byte header, PDVs); pynetdicom only decodes the
A-ASSOCIATE-RQ and encodes the A-ASSOCIATE-AC. Each connection gets a thread;
every read is bounded by ``timeout`` and :meth:`RawSCP.stop` closes
everything and joins the threads.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydicom.uid import UID
from pynetdicom.pdu import A_ASSOCIATE_AC, A_ASSOCIATE_RQ
from pynetdicom.pdu_primitives import (
    A_ASSOCIATE,
    ImplementationClassUIDNotification,
    MaximumLengthNotification,
)
from pynetdicom.presentation import PresentationContext

from peers.loopback_server import LoopbackServer
from tui_sender.core.net import wire

UNKNOWN_PDU = b"\x53\x00\x00\x00\x00\x04\x00\x00\x00\x00"
"""A PDU of type 0x53, which PS3.8 does not define (pynetdicom's ``test_unknown_pdu_aborts``)."""
INVALID_REJECT = b"\x03\x00\x00\x00\x00\x04\x00\x03\x04\x09"
"""An A-ASSOCIATE-RJ with result 3, source 4, reason 9: none of them valid."""
SHORT_ABORT = b"\x07\x00\x00\x00\x00\x04"
"""An A-ABORT header whose 4-byte body never comes (``test_recv_short_aborts``)."""
SILENT = b""
"""As ``association_answer``: send nothing, keep the connection open."""

_IMPLEMENTATION_UID = "1.2.826.0.1.3680043.8.498.77"
_ELEMENT = struct.Struct("<HHI")
_STORE_RSP = 0x8001
_NO_DATASET = 0x0101


@dataclass(frozen=True, slots=True)
class Raw:
    """Bytes to send instead of a C-STORE response, then close the connection or not."""

    data: bytes
    close: bool = False


StoreAction = int | Raw


@dataclass(frozen=True, slots=True)
class RawStore:
    """A C-STORE request that arrived in full."""

    connection: int
    sop_instance_uid: str
    data_bytes: int


class RawSCP(LoopbackServer[socket.socket]):
    """``with RawSCP(store_script=[0, Raw(UNKNOWN_PDU)]) as scp:`` connect to ``scp.port``."""

    thread_prefix = "raw-scp"

    def __init__(
        self,
        *,
        association_answer: bytes | None = None,
        store_script: Sequence[StoreAction] | Callable[[int], StoreAction] = (0x0000,),
        answer_release: bool = True,
        max_pdu: int = 16382,
        timeout: float = 10.0,
    ) -> None:
        super().__init__()
        self._answer = association_answer
        self._script = store_script
        self._answer_release = answer_release
        self._max_pdu = max_pdu
        self._timeout = timeout
        self.ae_title = "RAW_SCP"
        self.stores: list[RawStore] = []
        self.release_requests = 0
        self.aborts_received = 0

    # -- connections -------------------------------------------------------------

    def _admit(self, sock: socket.socket, index: int) -> socket.socket:
        sock.settimeout(self._timeout)
        return sock

    def _close(self, conn: socket.socket) -> None:
        _close(conn)

    def _serve(self, conn: socket.socket, index: int) -> None:
        self._spawn(self._converse_then_close, f"conn {index}", conn, index)

    def _converse_then_close(self, sock: socket.socket, index: int) -> None:
        try:
            self._converse(sock, index)
        except (OSError, ValueError):
            pass
        finally:
            _close(sock)

    def _converse(self, sock: socket.socket, index: int) -> None:
        pdu_type, body = _read_pdu(sock)
        if pdu_type != wire.A_ASSOCIATE_RQ:
            return
        if self._answer is not None:
            sock.sendall(self._answer)
            _drain(sock)
            return
        sock.sendall(self._accept(body))
        command = b""
        pending: tuple[int, wire.CommandSet, int] | None = None
        while True:
            pdu_type, body = _read_pdu(sock)
            if pdu_type == wire.A_RELEASE_RQ:
                with self._lock:
                    self.release_requests += 1
                if self._answer_release:
                    sock.sendall(wire.PDU_HEADER.pack(wire.A_RELEASE_RP, 0, 4) + bytes(4))
                    return
                continue
            if pdu_type != wire.P_DATA_TF:
                with self._lock:
                    self.aborts_received += pdu_type == wire.A_ABORT
                return
            for context_id, control, data in wire.iter_pdvs(body):
                if control & wire.MCH_COMMAND:
                    command += data
                    if not control & wire.MCH_LAST:
                        continue
                    request = wire.decode_command(command)
                    command = b""
                    if request.us(0x00000800) == _NO_DATASET:
                        continue  # not a C-STORE with data; ignored
                    pending = (context_id, request, 0)
                    continue
                if pending is None:
                    return  # a data set without a command: not a peer worth talking to
                cid, request, size = pending
                pending = (cid, request, size + len(data))
                if not control & wire.MCH_LAST:
                    continue
                pending = None
                with self._lock:
                    nth = len(self.stores)
                    self.stores.append(
                        RawStore(index, request.affected_sop_instance_uid, size + len(data))
                    )
                action = self._action(nth)
                if isinstance(action, Raw):
                    sock.sendall(action.data)
                    if action.close:
                        return
                    continue
                sock.sendall(_store_response(cid, request, action))

    def _action(self, n: int) -> StoreAction:
        script = self._script
        if callable(script):
            return script(n)
        return script[min(n, len(script) - 1)]

    def _accept(self, request: bytes) -> bytes:
        rq = A_ASSOCIATE_RQ()
        rq.decode(wire.PDU_HEADER.pack(wire.A_ASSOCIATE_RQ, 0, len(request)) + request)
        asked = rq.to_primitive()
        answer = A_ASSOCIATE()
        answer.application_context_name = asked.application_context_name
        answer.calling_ae_title = asked.calling_ae_title
        answer.called_ae_title = asked.called_ae_title
        answer.result = 0
        answer.result_source = 1
        results = []
        for cx in asked.presentation_context_definition_list:
            result = PresentationContext()
            result.context_id = cx.context_id
            result.abstract_syntax = cx.abstract_syntax
            result.transfer_syntax = [cx.transfer_syntax[0]]
            result.result = 0
            results.append(result)
        answer.presentation_context_definition_results_list = results
        max_length = MaximumLengthNotification()
        max_length.maximum_length_received = self._max_pdu
        implementation = ImplementationClassUIDNotification()
        implementation.implementation_class_uid = UID(_IMPLEMENTATION_UID)
        answer.user_information = [max_length, implementation]
        pdu = A_ASSOCIATE_AC()
        pdu.from_primitive(answer)
        return bytes(pdu.encode())


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionResetError("peer closed")
        data += chunk
    return data


def _read_pdu(sock: socket.socket) -> tuple[int, bytes]:
    pdu_type, _, length = wire.PDU_HEADER.unpack(_read_exactly(sock, wire.PDU_HEADER.size))
    return pdu_type, _read_exactly(sock, length)


def _drain(sock: socket.socket) -> None:
    """Read until the peer closes (or the timeout): it decides when the conversation ends."""
    while sock.recv(4096):
        pass


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


def _store_response(context_id: int, request: wire.CommandSet, status: int) -> bytes:
    """A C-STORE-RSP command in one P-DATA-TF PDU."""

    def element(elem: int, value: bytes) -> bytes:
        return _ELEMENT.pack(0x0000, elem, len(value)) + value

    def uid(tag: int) -> bytes:
        raw = request.elements.get(tag, b"")
        return raw + b"\x00" if len(raw) % 2 else raw

    body = b"".join(
        [
            element(0x0002, uid(0x00000002)),
            element(0x0100, struct.pack("<H", _STORE_RSP)),
            element(0x0120, struct.pack("<H", request.us(0x00000110) or 0)),
            element(0x0800, struct.pack("<H", _NO_DATASET)),
            element(0x0900, struct.pack("<H", status)),
            element(0x1000, uid(0x00001000)),
        ]
    )
    command = element(0x0000, struct.pack("<I", len(body))) + body
    return wire.encode_pdv_items([(context_id, wire.MCH_COMMAND | wire.MCH_LAST, command)])
