"""From an address-book :class:`Destination` to what the engine runs with.

Kept apart from :mod:`destinations` (which is about the TOML file and its
validation) so building TLS contexts and link settings happens in one place
for sending, echo and probing, from the CLI and the TUI alike.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from tui_sender.core.config.destinations import Destination
from tui_sender.core.engine.transfer import RetryPolicy, TransferTarget
from tui_sender.core.net.endpoint import LinkSettings


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
    )
