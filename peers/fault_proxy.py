"""A loopback TCP proxy that breaks connections on purpose: the network of fault tests.

It listens on 127.0.0.1 (a free port) and forwards each connection to a
target, until its :class:`Fault` says otherwise:

* ``cut_after_bytes``: after forwarding N bytes from the client, close both
  sides (an orderly FIN: the peer "went away");
* ``reset_after_bytes`` / ``reset_after_responses``: reset both sides
  (``SO_LINGER`` 0, so the kernel sends RST) after N client bytes, or instead
  of forwarding the server's (N+1)th P-DATA-TF PDU: the SCP has handled the
  request but its answer never arrives;
* ``stall_after_bytes``: stop reading from the client after N bytes, keeping
  both sockets open (a half-dead peer: the sender's send buffer fills and
  its writes block);
* ``delay``: sleep before forwarding each chunk, both ways;
* ``blackhole``: accept and then neither answer nor forward.

``connections`` limits the fault to the first N connections, so a retry on
a new connection gets through. Every thread polls a stop flag at least every
0.1 s; leaving the context manager closes every socket and joins every thread.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from dataclasses import dataclass

from peers.loopback_server import POLL, LoopbackServer

_CHUNK = 65536
_PDU_HEADER = struct.Struct(">BBI")
_P_DATA_TF = 0x04
_RST = struct.pack("ii", 1, 0)


@dataclass(frozen=True, slots=True)
class Fault:
    """What the proxy does to a connection; all off: a faithful proxy."""

    cut_after_bytes: int | None = None
    reset_after_bytes: int | None = None
    reset_after_responses: int | None = None
    stall_after_bytes: int | None = None
    delay: float = 0.0
    blackhole: bool = False
    connections: int | None = None
    """Fault only the first N connections (None: all of them)."""


class _Connection:
    """One client connection and its upstream twin; either may be absent."""

    def __init__(self, client: socket.socket, fault: Fault) -> None:
        self.client = client
        self.server: socket.socket | None = None
        self.fault = fault
        self.ended = threading.Event()

    def close(self, *, reset: bool = False) -> None:
        """Close both sides, with RST when ``reset``; idempotent."""
        self.ended.set()
        for sock in (self.client, self.server):
            if sock is None:
                continue
            with contextlib.suppress(OSError):
                if reset:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RST)
                else:
                    sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


class FaultProxy(LoopbackServer[_Connection]):
    """``with FaultProxy(port, Fault(cut_after_bytes=5000)) as proxy:``, connect to ``proxy.port``.

    ``target_port`` is the real SCP's; the counters say what the proxy saw and did.
    """

    thread_prefix = "fault-proxy"

    def __init__(self, target_port: int, fault: Fault, target_host: str = "127.0.0.1") -> None:
        super().__init__()
        self._target = (target_host, target_port)
        self._fault = fault
        self.faults_triggered = 0
        self.bytes_from_client = 0

    # -- connections -------------------------------------------------------------

    def _admit(self, sock: socket.socket, index: int) -> _Connection:
        limit = self._fault.connections
        return _Connection(sock, self._fault if limit is None or index < limit else Fault())

    def _close(self, conn: _Connection) -> None:
        conn.close()

    def _serve(self, conn: _Connection, index: int) -> None:
        if conn.fault.blackhole:
            self._count_fault()
            return  # held open, never read, closed by stop()
        try:
            conn.server = socket.create_connection(self._target, timeout=5)
        except OSError:
            conn.close()
            return
        for sock in (conn.client, conn.server):
            sock.settimeout(POLL)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._spawn(self._upstream, f"up {index}", conn)
        self._spawn(self._downstream, f"down {index}", conn)

    def _count_fault(self) -> None:
        with self._lock:
            self.faults_triggered += 1

    def _receive(self, conn: _Connection, sock: socket.socket) -> bytes | None:
        """The next chunk; b"" at end of stream; None when stopping."""
        while not (self._stopping.is_set() or conn.ended.is_set()):
            try:
                return sock.recv(_CHUNK)
            except TimeoutError:
                continue
            except OSError:
                return b""
        return None

    def _forward(self, conn: _Connection, sock: socket.socket, data: bytes) -> bool:
        if conn.fault.delay:
            self._stopping.wait(conn.fault.delay)
        try:
            sock.sendall(data)
        except OSError:
            conn.close()
            return False
        return True

    def _upstream(self, conn: _Connection) -> None:
        """Client to server, where the byte-counting faults apply."""
        assert conn.server is not None
        fault, done = conn.fault, 0
        limits = {
            "cut": fault.cut_after_bytes,
            "reset": fault.reset_after_bytes,
            "stall": fault.stall_after_bytes,
        }
        while True:
            data = self._receive(conn, conn.client)
            if not data:
                if data == b"":
                    with contextlib.suppress(OSError):
                        conn.server.shutdown(socket.SHUT_WR)
                return
            triggered = [(n - done, what) for what, n in limits.items() if n is not None]
            room, what = min(triggered, default=(len(data), ""))
            if room < len(data):
                if room > 0:
                    self._forward(conn, conn.server, data[:room])
                self._count_fault()
                if what == "stall":
                    conn.ended.wait()  # keep both sockets open, read nothing more
                else:
                    conn.close(reset=what == "reset")
                return
            with self._lock:
                self.bytes_from_client += len(data)
            done += len(data)
            if not self._forward(conn, conn.server, data):
                return

    def _downstream(self, conn: _Connection) -> None:
        """Server to client, PDU by PDU when responses are counted."""
        assert conn.server is not None
        limit = conn.fault.reset_after_responses
        pending, responses = b"", 0
        while True:
            data = self._receive(conn, conn.server)
            if not data:
                if data == b"":
                    with contextlib.suppress(OSError):
                        conn.client.shutdown(socket.SHUT_WR)
                return
            if limit is None:
                if not self._forward(conn, conn.client, data):
                    return
                continue
            pending += data
            while len(pending) >= _PDU_HEADER.size:
                pdu_type, _, length = _PDU_HEADER.unpack_from(pending)
                end = _PDU_HEADER.size + length
                if len(pending) < end:
                    break
                if pdu_type == _P_DATA_TF:
                    if responses == limit:
                        self._count_fault()
                        conn.close(reset=True)
                        return
                    responses += 1
                if not self._forward(conn, conn.client, pending[:end]):
                    return
                pending = pending[end:]
