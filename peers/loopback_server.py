"""What the hand-written test peers share: a listener on 127.0.0.1, threads, a bounded stop.

:class:`~peers.fault_proxy.FaultProxy` and
:class:`~peers.raw_scp.RawSCP` differ only in what they do with a
connection. Both need the same guarantees from the rest: a free port on
loopback only, an accept loop that notices :meth:`LoopbackServer.stop`
within 0.1 s, and a stop that closes every connection and joins every thread
within its timeout, so no test leaves a socket or a thread behind.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Generic, Self, TypeVar

POLL = 0.1
"""Seconds between checks of the stop flag in every loop."""

C = TypeVar("C")


class LoopbackServer(Generic[C]):
    """Accept connections on ``port``; a subclass turns each into a ``C`` and serves it."""

    thread_prefix = "loopback"

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(POLL)
        self.port = int(self._listener.getsockname()[1])
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._open: list[C] = []

    # -- what a subclass provides -------------------------------------------------

    def _admit(self, sock: socket.socket, index: int) -> C:
        """Wrap the ``index``-th accepted socket (called under the lock: keep it quick)."""
        raise NotImplementedError

    def _serve(self, conn: C, index: int) -> None:
        """Start serving ``conn`` (in the accept thread: spawn threads for slow work)."""
        raise NotImplementedError

    def _close(self, conn: C) -> None:
        """Close ``conn`` at stop."""
        raise NotImplementedError

    # -- life cycle ---------------------------------------------------------------

    @property
    def connections(self) -> int:
        """Connections accepted so far."""
        with self._lock:
            return len(self._open)

    def start(self) -> Self:
        self._spawn(self._accept_loop, "accept")
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close every socket and join every thread (bounded)."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            connections, threads = list(self._open), list(self._threads)
        for conn in connections:
            self._close(conn)
        for thread in threads:
            thread.join(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- threads ------------------------------------------------------------------

    def _spawn(self, target: Callable[..., None], name: str, *args: object) -> None:
        thread = threading.Thread(
            target=target, args=args, name=f"{self.thread_prefix} {self.port} {name}", daemon=True
        )
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                index = len(self._open)
                conn = self._admit(sock, index)
                self._open.append(conn)
            self._serve(conn, index)
