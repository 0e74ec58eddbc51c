"""Where and how to associate: the settings every association starts from."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from tui_sender.core.net.pacing import Pacer


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
    outstanding: int = 16
    """C-STOREs we offer to keep in flight per association (the Asynchronous Operations
    Window, PS3.7 D.3.3.3); the peer grants at most that, and most grant 1. 1: not proposed."""
    pacer: Pacer | None = None
    """The destination's bandwidth cap, shared by all its associations (None: none)."""

    @property
    def address(self) -> str:
        """``host:port``, an IPv6 address in brackets, for messages."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def peer(self) -> str:
        """``AE@host:port``, for messages."""
        return f"{self.called_ae}@{self.address}"
