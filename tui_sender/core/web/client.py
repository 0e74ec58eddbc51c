"""An httpx client for one worker: one kept-alive connection whose socket we can shut.

httpx does the HTTP (keep-alive, TLS, streamed request bodies); two things it
does not offer are added here through httpcore's network backend, its
documented extension point:

* the socket is handed to the caller as it connects, so a hard cancel can
  shut it and a blocked request returns at once (as for a DIMSE link);
* every socket gets TCP_NODELAY (httpcore sets it too; kept explicit).

Each worker owns its own client (one connection), so the workers' requests
are in flight side by side and none waits for another's connection.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx

from tui_sender.core.web.settings import WebSettings

USER_AGENT = "tui-sender"


class _WatchedBackend(httpcore.SyncBackend):
    """httpcore's own backend, telling us each socket it opens."""

    def __init__(self, on_socket: Callable[[socket.socket], None]) -> None:
        self._on_socket = on_socket

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = super().connect_tcp(host, port, timeout, local_address, socket_options)
        sock = stream.get_extra_info("socket")
        if isinstance(sock, socket.socket):
            self._on_socket(sock)
        return stream


class WebClient:
    """An httpx client to one DICOMweb server, with :meth:`interrupt` for another thread."""

    def __init__(
        self, settings: WebSettings, on_socket: Callable[[socket.socket], None] | None = None
    ) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._outside_hook = on_socket
        self.interrupted = threading.Event()
        self.server = ""
        """The server's ``Server`` header, once it answered (for the echo report)."""
        transport = httpx.HTTPTransport(verify=settings.ssl_context or True)
        # httpx builds its pool without a backend option; give it one that reports sockets.
        transport._pool = httpcore.ConnectionPool(
            ssl_context=settings.ssl_context,
            max_connections=1,
            max_keepalive_connections=1,
            keepalive_expiry=30.0,
            http1=True,
            http2=False,
            network_backend=_WatchedBackend(self._remember),
        )
        headers = {"User-Agent": USER_AGENT}
        if settings.credentials is not None:
            headers["Authorization"] = settings.credentials.header
        self.http = httpx.Client(
            transport=transport,
            headers=headers,
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.response_timeout,
                write=settings.write_timeout,
                pool=settings.connect_timeout,
            ),
            follow_redirects=False,
        )

    def _remember(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets = [s for s in self._sockets if s.fileno() != -1]
            self._sockets.append(sock)
        if self._outside_hook is not None:
            self._outside_hook(sock)
        if self.interrupted.is_set():
            _shut(sock)

    def url(self, path: str) -> str:
        """``path`` under the base URL."""
        return f"{self.settings.base}/{path.lstrip('/')}"

    def interrupt(self) -> None:
        """From another thread: make a blocked request fail now."""
        self.interrupted.set()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def close(self) -> None:
        self.http.close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)
