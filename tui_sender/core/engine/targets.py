"""From an address-book :class:`Destination` to what the engine runs with (a TransferTarget).

Kept apart from :mod:`destinations` (which is about the TOML file and its
validation) so building TLS contexts and link settings happens in one place
for sending, echo and probing, from the CLI and the TUI alike.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field, replace
from pathlib import Path

from tui_sender.core.base.deferred_imports import IMPORT_LOCK
from tui_sender.core.config.destinations import DecompressPolicy, Destination
from tui_sender.core.config.rates import parse_rate
from tui_sender.core.engine.transport import DimseTransport, Transport
from tui_sender.core.model.verification import VerifySettings
from tui_sender.core.net.endpoint import LinkSettings
from tui_sender.core.net.pacing import Pacer
from tui_sender.core.web.credentials import CredentialError, load_credentials
from tui_sender.core.web.settings import WebSettings


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounds on retrying, so a bad night ends in a record, not a hang."""

    max_attempts: int = 3
    """C-STORE attempts per file for unknown outcomes and out-of-resources refusals."""
    status_backoff: tuple[float, ...] = (2.0, 5.0, 10.0)
    """Pause before resending after an out-of-resources status, per retry."""
    association_attempts: int = 4
    association_backoff: tuple[float, ...] = (1.0, 2.0, 4.0)
    """Pause before reconnecting after a transient association failure."""
    breaker_threshold: int = 5
    """Files refused for lack of resources, or left with an unknown outcome, in a row (nothing
    stored in between) before the destination is paused or given up."""
    breaker_pause: float = 30.0
    """How long a destination that keeps refusing for lack of resources is left alone, once."""

    def status_pause(self, retry: int) -> float:
        """Pause before the n-th (1-based) status retry."""
        return self.status_backoff[min(retry, len(self.status_backoff)) - 1]

    def association_pause(self, attempt: int) -> float:
        """Pause after the n-th (1-based) failed association attempt."""
        return self.association_backoff[min(attempt, len(self.association_backoff)) - 1]


@dataclass(frozen=True, slots=True)
class TransferTarget:
    """A destination as the engine needs it."""

    name: str
    link: LinkSettings
    workers: int = 1
    decompress: DecompressPolicy = DecompressPolicy.LOSSLESS
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_per_association: int = 0
    """Release and reopen the association after this many C-STOREs (0: no limit). Some
    PACS leak memory per association or cap requests per association."""
    transport: Transport | None = None
    """How associations are opened; None: DIMSE to :attr:`link`."""
    verify: VerifySettings = field(default_factory=VerifySettings)
    """How the session proves, after the send, that the destination holds what it stored."""
    web: WebSettings | None = None
    """A DICOMweb destination's settings (its transport is STOW-RS; verified by QIDO-RS)."""

    @property
    def peer(self) -> str:
        """How messages name the destination: ``AE@host:port``, or a DICOMweb URL."""
        return self.web.url if self.web is not None else self.link.peer

    @property
    def worker_unit(self) -> str:
        """What one worker holds open: an "association", or a DICOMweb "connection"."""
        return "connection" if self.web is not None else "association"

    def connector(self) -> Transport:
        """The transport the workers open associations through."""
        return self.transport if self.transport is not None else DimseTransport(self.link)


class DestinationSetupError(Exception):
    """What a destination needs before its first connection cannot be had; the message says
    what and why. Raised before anything is sent."""


class TlsSetupError(DestinationSetupError):
    """The destination's TLS files cannot be loaded."""


class CredentialSetupError(DestinationSetupError):
    """The destination's password or token cannot be read (unset, missing, readable by others)."""


def tls_context(dest: Destination) -> ssl.SSLContext | None:
    """A client TLS context: certificate and host name verified, TLS 1.2 at least.

    Never a context that silently accepts anything: verification stays on,
    and a failure is reported, not worked around with plain TCP.
    """
    if not dest.tls:
        return None
    if dest.is_web and not dest.url.lower().startswith("https:"):
        return None
    try:
        ctx = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH,
            cafile=str(Path(dest.ca_file).expanduser()) if dest.ca_file else None,
        )
    except (OSError, ssl.SSLError) as exc:
        raise TlsSetupError(f"cannot load CA file {dest.ca_file!r}: {exc}") from exc
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = dest.verify_hostname
    ctx.verify_mode = ssl.CERT_REQUIRED
    if dest.client_cert:
        try:
            ctx.load_cert_chain(
                str(Path(dest.client_cert).expanduser()),
                str(Path(dest.client_key).expanduser()) if dest.client_key else None,
                password=dest.client_key_password or None,
            )
        except (OSError, ssl.SSLError) as exc:
            raise TlsSetupError(
                f"cannot load client certificate {dest.client_cert!r}: {exc}"
            ) from exc
    return ctx


def link_settings(dest: Destination, *, timeout_cap: float | None = None) -> LinkSettings:
    """Where and how to associate with ``dest``.

    ``timeout_cap`` shortens every wait to at most that many seconds (the
    ``echo --timeout`` a quick check wants); None keeps the destination's.
    Raises :class:`TlsSetupError` when its TLS files cannot be loaded.
    """

    def capped(seconds: float) -> float:
        return seconds if timeout_cap is None else min(seconds, timeout_cap)

    return LinkSettings(
        host=dest.host,
        port=dest.port,
        called_ae=dest.ae_title,
        calling_ae=dest.calling_ae,
        max_pdu=dest.max_pdu,
        connect_timeout=capped(dest.connect_timeout),
        acse_timeout=capped(dest.acse_timeout),
        dimse_timeout=capped(dest.dimse_timeout),
        network_timeout=capped(dest.network_timeout),
        tls_context=tls_context(dest),
        tls_server_name=dest.server_name or None,
        pacer=Pacer(parse_rate(dest.max_rate)) if dest.max_rate else None,
    )


def web_settings(dest: Destination, *, timeout_cap: float | None = None) -> WebSettings:
    """How to reach the DICOMweb destination ``dest``: URL, credentials, TLS, request sizes.

    Raises :class:`TlsSetupError` when its TLS files cannot be loaded and
    :class:`~tui_sender.core.web.credentials.CredentialError` when its password or token
    cannot be read.
    """

    def capped(seconds: float) -> float:
        return seconds if timeout_cap is None else min(seconds, timeout_cap)

    https = dest.url.lower().startswith("https:")
    try:
        credentials = load_credentials(
            username=dest.username,
            password_env=dest.password_env,
            password_file=dest.password_file,
            token_env=dest.token_env,
            token_file=dest.token_file,
        )
    except CredentialError as exc:
        raise CredentialSetupError(f"{dest.name}: {exc}") from exc
    return WebSettings(
        url=dest.url,
        credentials=credentials,
        ssl_context=tls_context(replace(dest, tls=True)) if https else None,
        connect_timeout=capped(dest.connect_timeout),
        response_timeout=capped(dest.dimse_timeout),
        write_timeout=capped(dest.network_timeout),
        max_instances=dest.stow_instances,
        max_bytes=dest.stow_megabytes << 20,
        pacer=Pacer(parse_rate(dest.max_rate)) if dest.max_rate else None,
    )


def transfer_target(dest: Destination, retry: RetryPolicy | None = None) -> TransferTarget:
    """The engine's view of ``dest``."""
    web = web_settings(dest) if dest.is_web else None
    transport: Transport | None = None
    if web is not None:
        # Here, not at the top: httpx (and the Rich it imports) is for DICOMweb only.
        with IMPORT_LOCK:
            from tui_sender.core.web.stow import StowTransport
        transport = StowTransport(web)
    return TransferTarget(
        name=dest.name,
        link=link_settings(dest),
        transport=transport,
        web=web,
        workers=dest.workers,
        decompress=dest.decompress,
        retry=retry or RetryPolicy(),
        max_per_association=dest.max_per_association,
        verify=verify_settings(dest),
    )


def verify_settings(dest: Destination) -> VerifySettings:
    """How ``dest`` is verified, from its address-book entry (or the flags)."""
    return VerifySettings(
        method=dest.verify,
        listen_ae=dest.commit_ae or dest.calling_ae,
        listen_port=dest.commit_port,
        listen_host=dest.commit_host,
        timeout=dest.commit_timeout,
        batch=dest.commit_batch,
    )
