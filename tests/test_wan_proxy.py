"""The bench's WAN proxy: it delays each way without serialising the stream."""

from __future__ import annotations

import socket
import threading
import time

from peers.loopback_server import LoopbackServer
from peers.wan_proxy import WanProxy


class _Echo(LoopbackServer[socket.socket]):
    """Sends every byte back."""

    def _admit(self, sock: socket.socket, index: int) -> socket.socket:
        return sock

    def _close(self, conn: socket.socket) -> None:
        conn.close()

    def _serve(self, conn: socket.socket, index: int) -> None:
        self._spawn(self._echo, f"echo {index}", conn)

    def _echo(self, conn: socket.socket) -> None:
        conn.settimeout(0.1)
        while not self._stopping.is_set():
            try:
                data = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            conn.sendall(data)


def _round_trip(port: int, payload: bytes) -> float:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        started = time.monotonic()
        sock.sendall(payload)
        got = b""
        while len(got) < len(payload):
            got += sock.recv(65536)
        assert got == payload
        return time.monotonic() - started


def test_a_round_trip_costs_twice_the_delay() -> None:
    with _Echo() as echo, WanProxy(echo.port, delay=0.05) as wan:
        rtt = min(_round_trip(wan.port, b"ping") for _ in range(3))
    assert 0.1 <= rtt < 0.2


def test_many_requests_in_flight_share_one_delay() -> None:
    """Ten requests sent back to back on ten connections come back after about one round trip,
    not ten: the proxy holds them all at once instead of pausing per chunk."""
    results: list[float] = []
    with _Echo() as echo, WanProxy(echo.port, delay=0.05) as wan:
        started = time.monotonic()
        threads = [
            threading.Thread(target=lambda: results.append(_round_trip(wan.port, b"x" * 200_000)))
            for _ in range(10)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        took = time.monotonic() - started
    assert len(results) == 10
    assert took < 0.9, f"10 parallel round trips of 100 ms took {took:.2f} s (1 s: serialised)"
