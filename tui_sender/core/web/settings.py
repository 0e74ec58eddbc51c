"""Where and how to reach a DICOMweb server: the settings every request starts from."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from tui_sender.core.net.pacing import Pacer
from tui_sender.core.web.credentials import Credentials


@dataclass(frozen=True, slots=True)
class WebSettings:
    """A DICOMweb base URL, its credentials and TLS, and how requests are sized and timed."""

    url: str
    """The base URL (``https://host/dicom-web``), without a trailing slash."""
    credentials: Credentials | None = None
    ssl_context: ssl.SSLContext | None = None
    """For ``https``: certificate and host name verified (None: plain ``http``)."""
    connect_timeout: float = 10.0
    """Longest wait for the TCP connection and the TLS handshake."""
    response_timeout: float = 60.0
    """Longest wait for the answer after the last byte of a request was sent."""
    write_timeout: float = 60.0
    """Longest a single write may block (a server that stopped reading)."""
    max_instances: int = 50
    """Instances per STOW-RS request, at most."""
    max_bytes: int = 32 << 20
    """A request takes no more instances once it holds this many bytes."""
    pacer: Pacer | None = None
    """The destination's bandwidth cap, shared by all its connections."""
    retry_after_cap: float = 300.0
    """The longest Retry-After we honour; a longer one is cut to this."""

    @property
    def base(self) -> str:
        return self.url.rstrip("/")
