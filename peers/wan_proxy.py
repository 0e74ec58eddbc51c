"""A loopback proxy that behaves like a WAN: a set delay each way, optionally a bandwidth cap.

Gateways send to remote archives over links with 20-80 ms round trips, where
one C-STORE per round trip caps an association at a few dozen small images a
second. This proxy puts that on 127.0.0.1 for the bench: every chunk it reads
leaves ``delay`` seconds later, in order, while later chunks are already
being read. It is a delay line, not a pause per chunk (which would also cap
throughput at chunk/delay and so measure the proxy, not the sender).

``rate`` (bytes per second, each direction) paces what leaves, like a link of
that capacity: the delay is still added on top.

Each connection gets two directions, each a reader thread (socket to queue,
stamping arrival times) and a writer thread (queue to socket, waiting until a
chunk is due). Every wait polls the stop flag; :meth:`stop` closes every
socket and joins every thread within its timeout.
"""

from __future__ import annotations

import collections
import contextlib
import socket
import threading
import time

from peers.loopback_server import POLL, LoopbackServer

_CHUNK = 65536


class _Direction:
    """Chunks on their way from one socket to the other, each with the time it is due."""

    def __init__(self) -> None:
        self.chunks: collections.deque[tuple[float, bytes]] = collections.deque()
        self.ready = threading.Condition()
        self.closed = False


class _Connection:
    def __init__(self, client: socket.socket) -> None:
        self.client = client
        self.server: socket.socket | None = None
        self.ended = threading.Event()

    def close(self) -> None:
        self.ended.set()
        for sock in (self.client, self.server):
            if sock is None:
                continue
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


class WanProxy(LoopbackServer[_Connection]):
    """``with WanProxy(port, delay=0.025) as wan:``: connect to ``wan.port`` for a 50 ms RTT."""

    thread_prefix = "wan-proxy"

    def __init__(
        self,
        target_port: int,
        *,
        delay: float,
        rate: float | None = None,
        target_host: str = "127.0.0.1",
    ) -> None:
        super().__init__()
        if delay < 0 or (rate is not None and rate <= 0):
            raise ValueError("delay must be >= 0 and rate > 0")
        self._target = (target_host, target_port)
        self.delay = delay
        self.rate = rate
        self.bytes_up = 0
        self.bytes_down = 0

    def _admit(self, sock: socket.socket, index: int) -> _Connection:
        return _Connection(sock)

    def _close(self, conn: _Connection) -> None:
        conn.close()

    def _serve(self, conn: _Connection, index: int) -> None:
        try:
            conn.server = socket.create_connection(self._target, timeout=5)
        except OSError:
            conn.close()
            return
        for sock in (conn.client, conn.server):
            sock.settimeout(POLL)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        up, down = _Direction(), _Direction()
        self._spawn(self._read, f"read up {index}", conn, conn.client, up, True)
        self._spawn(self._write, f"write up {index}", conn, conn.server, up)
        self._spawn(self._read, f"read down {index}", conn, conn.server, down, False)
        self._spawn(self._write, f"write down {index}", conn, conn.client, down)

    def _read(
        self, conn: _Connection, sock: socket.socket, way: _Direction, upstream: bool
    ) -> None:
        while not self._stopping.is_set() and not conn.ended.is_set():
            try:
                data = sock.recv(_CHUNK)
            except TimeoutError:
                continue
            except OSError:
                data = b""
            with way.ready:
                if not data:
                    way.closed = True
                else:
                    way.chunks.append((time.monotonic() + self.delay, data))
                way.ready.notify()
            if not data:
                return
            with self._lock:
                if upstream:
                    self.bytes_up += len(data)
                else:
                    self.bytes_down += len(data)

    def _write(self, conn: _Connection, sock: socket.socket, way: _Direction) -> None:
        free_at = 0.0  # when the capped link has sent what it was given
        while not self._stopping.is_set() and not conn.ended.is_set():
            with way.ready:
                if not way.chunks:
                    if way.closed:
                        break
                    way.ready.wait(POLL)
                    continue
                due, data = way.chunks[0]
                wait = due - time.monotonic()
                if wait > 0:
                    way.ready.wait(min(wait, POLL))
                    continue
                way.chunks.popleft()
            if self.rate is not None:
                free_at = max(free_at, time.monotonic()) + len(data) / self.rate
                pause = free_at - time.monotonic()
                if pause > 0:
                    self._stopping.wait(pause)
            try:
                sock.sendall(data)
            except OSError:
                break
        conn.close()
