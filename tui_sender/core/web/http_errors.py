"""HTTP failures in the network layer's vocabulary, worded for the administrator.

A DICOMweb destination fails the way a DIMSE one does
(:class:`~tui_sender.core.net.failures.AssociationError` with a
:class:`~tui_sender.core.net.failures.FailureKind`), so the echo report, the
session log and the retry rules need no second path.
"""

from __future__ import annotations

import email.utils
import ssl
import time
from http import HTTPStatus

import httpx

from tui_sender.core.net.failures import AssociationError, FailureKind
from tui_sender.core.web.settings import WebSettings

SNIPPET = 120
"""Characters of an error body quoted in a message."""


def http_words(response: httpx.Response) -> str:
    """``HTTP 413 Payload Too Large``, plus the first words of a short text body."""
    try:
        phrase = HTTPStatus(response.status_code).phrase
    except ValueError:
        phrase = response.reason_phrase or "unknown status"
    words = f"HTTP {response.status_code} {phrase}"
    kind = response.headers.get("content-type", "")
    if response.status_code >= 400 and ("text/plain" in kind or "json" in kind):
        text = " ".join(response.text.split())[:SNIPPET]
        repeats = text.lower() in (phrase.lower(), f"{response.status_code} {phrase}".lower())
        if text and not repeats:  # "413 Request Entity Too Large" says nothing new
            words += f" ({text})"
    return words


def retry_after_seconds(response: httpx.Response, cap: float) -> float | None:
    """The Retry-After header (seconds or an HTTP date) in seconds, at most ``cap``."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), cap)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, min(when.timestamp() - time.time(), cap))


def connection_failure(exc: Exception, url: str) -> AssociationError:
    """Why no HTTP exchange with ``url`` happened, as the DIMSE path words a failed connect."""
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, httpx.ConnectTimeout):
        return AssociationError(
            FailureKind.TIMEOUT, f"{url}: no connection within the connect timeout ({exc})"
        )
    if isinstance(exc, httpx.TimeoutException):
        return AssociationError(FailureKind.TIMEOUT, f"{url}: no answer in time ({exc})")
    if isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return AssociationError(
            FailureKind.TLS,
            f"{url}: the server's TLS certificate is not trusted ({exc}); give the CA that "
            "signed it with ca_file (--ca-file)",
        )
    if "CERTIFICATE_REQUIRED" in str(exc):
        return AssociationError(
            FailureKind.TLS,
            f"{url}: the server wants a client certificate and took none from us ({exc}); "
            "give client_cert and client_key (--client-cert, --client-key)",
        )
    if "HANDSHAKE_FAILURE" in str(exc):  # TLS 1.2 says no more than this
        return AssociationError(
            FailureKind.TLS,
            f"{url}: the server refused the TLS handshake ({exc}); it may want a client "
            "certificate (--client-cert) or another TLS version or cipher",
        )
    if isinstance(cause, ssl.SSLError) or "SSL" in str(exc):
        return AssociationError(FailureKind.TLS, f"{url}: TLS failed: {exc}")
    if isinstance(exc, httpx.ConnectError):
        return AssociationError(
            FailureKind.UNREACHABLE,
            f"{url}: cannot connect ({exc}); is the server running, and are the host and "
            "port of the URL right?",
        )
    return AssociationError(FailureKind.PROTOCOL, f"{url}: the connection failed: {exc}")


def probe_failure(response: httpx.Response, settings: WebSettings) -> AssociationError | None:
    """What the answer to the QIDO-RS probe says about the destination (None: usable)."""
    status = response.status_code
    words = http_words(response)
    url = settings.base
    if status in (401, 403):
        how = (
            f"we sent {settings.credentials.describe()}"
            if settings.credentials is not None
            else "we sent no credentials: set username with password_env/password_file, or "
            "token_env/token_file"
        )
        return AssociationError(
            FailureKind.REJECTED_PERMANENT,
            f"{url}: authentication failed ({words}); {how}",
        )
    if status in (429, 503):
        return AssociationError(
            FailureKind.REJECTED_TRANSIENT, f"{url}: the server is busy ({words})"
        )
    if 300 <= status < 400:
        where = response.headers.get("location", "?")
        return AssociationError(
            FailureKind.INVALID_DESTINATION,
            f"{url}: the server redirects to {where} ({words}); put the final URL in the "
            "destination",
        )
    if status >= 500:
        return AssociationError(FailureKind.PROTOCOL, f"{url}: the server failed ({words})")
    return None
