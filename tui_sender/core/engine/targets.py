"""From an address-book :class:`Destination` to what the engine runs with (a TransferTarget).

Kept apart from :mod:`destinations` (which is about the TOML file and its
validation) so building TLS contexts and link settings happens in one place
for sending, echo and probing, from the CLI and the TUI alike.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path

from tui_sender.core.config.destinations import DecompressPolicy, Destination
from tui_sender.core.config.rates import parse_rate
from tui_sender.core.engine.transport import DimseTransport, Transport
from tui_sender.core.model.verification import VerifySettings
from tui_sender.core.net.endpoint import LinkSettings
from tui_sender.core.net.pacing import Pacer


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

    def connector(self) -> Transport:
        """The transport the workers open associations through."""
        return self.transport if self.transport is not None else DimseTransport(self.link)


class TlsSetupError(Exception):
    """The destination's TLS files cannot be loaded; the message says which and why."""


def tls_context(dest: Destination) -> ssl.SSLContext | None:
    """A client TLS context: certificate and host name verified, TLS 1.2 at least.

    Never a context that silently accepts anything: verification stays on,
    and a failure is reported, not worked around with plain TCP.
    """
    if not dest.tls:
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


def transfer_target(dest: Destination, retry: RetryPolicy | None = None) -> TransferTarget:
    """The engine's view of ``dest``."""
    return TransferTarget(
        name=dest.name,
        link=link_settings(dest),
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
