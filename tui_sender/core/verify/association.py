"""Opening the short associations verification needs, with the send's settings.

Verification is not the hot path (one N-ACTION per thousand instances, one
C-FIND per series), so it uses pynetdicom's association rather than the
send's own link: the same peer, AE titles, timeouts and TLS context as the
send (:class:`~tui_sender.core.net.endpoint.LinkSettings`), and one clear
sentence when the peer cannot be reached or refuses.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from tui_sender.core.base.deferred_imports import IMPORT_LOCK
from tui_sender.core.net.endpoint import LinkSettings

if TYPE_CHECKING:
    from pynetdicom.association import Association

UNCOMPRESSED = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")
"""Explicit then Implicit VR Little Endian: every peer takes one of them."""


def no_delay(event: Any) -> None:
    """``EVT_CONN_OPEN`` handler: Nagle's algorithm off on the association's socket.

    pynetdicom writes a request's command and data set separately, and never
    sets TCP_NODELAY: with Nagle on, the data set waits for the peer's
    delayed ACK, about 40 ms a query (10,000 instances in 101 series took
    13 s to C-FIND instead of about 3).
    """
    sock = event.assoc.dul.socket
    if sock is not None and sock.socket is not None:
        sock.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def park_reactor(assoc: Any, *, timeout: float = 1.0) -> None:
    """Before a pynetdicom ``send_*`` call: make sure its reactor thread is really paused.

    ``send_*`` clears ``_reactor_checkpoint`` and then trusts ``_is_paused``,
    which is also True in the instant after the reactor passed the checkpoint
    and before it takes the next message off the queue. A fast archive's
    response is then served as an "unexpected ... service message" and the
    request waits out the whole DIMSE timeout (pydicom/pynetdicom#875; for
    C-FIND it lost one match in about 700 queries against dcmqrscp, which is
    why C-FIND now runs on our own association). Here the checkpoint is
    cleared first and we wait until the reactor is blocked on it (the Event's
    condition has a waiter); ``send_*`` sets it again after the response.
    pynetdicom 3.0's internals: without them this does nothing.
    """
    checkpoint = getattr(assoc, "_reactor_checkpoint", None)
    waiters = getattr(getattr(checkpoint, "_cond", None), "_waiters", None)
    if checkpoint is None or waiters is None:
        return
    checkpoint.clear()
    deadline = time.monotonic() + timeout
    while not waiters and assoc.is_established and time.monotonic() < deadline:
        time.sleep(0.0002)


class VerificationError(Exception):
    """The verification association could not be used; the message says why."""


@contextmanager
def associated(
    link: LinkSettings,
    abstract_syntaxes: Sequence[str],
    *,
    handlers: Sequence[tuple[Any, Any]] = (),
    ae_title: str | None = None,
) -> Iterator[Association]:
    """An established association proposing ``abstract_syntaxes``; released (or aborted) after.

    ``handlers`` are pynetdicom event handlers bound to the association (an
    N-EVENT-REPORT on the same association, say). Raises
    :class:`VerificationError` when it cannot be established.
    """
    with IMPORT_LOCK:
        from pynetdicom import AE, evt

    ae = AE(ae_title=ae_title or link.calling_ae)
    ae.acse_timeout = link.acse_timeout
    ae.dimse_timeout = link.dimse_timeout
    ae.network_timeout = link.network_timeout
    ae.connection_timeout = link.connect_timeout
    for syntax in abstract_syntaxes:
        ae.add_requested_context(syntax, list(UNCOMPRESSED))
    tls = (link.tls_context, link.tls_server_name or link.host) if link.tls_context else None
    assoc = ae.associate(
        link.host,
        link.port,
        ae_title=link.called_ae,
        max_pdu=link.max_pdu,
        evt_handlers=[(evt.EVT_CONN_OPEN, no_delay), *handlers],
        tls_args=tls,
    )
    if not assoc.is_established:
        peer = f"{link.called_ae}@{link.host}:{link.port}"
        if assoc.is_rejected:
            raise VerificationError(f"{peer} rejected the verification association")
        raise VerificationError(f"could not associate with {peer} to verify (no answer)")
    try:
        yield assoc
    finally:
        if assoc.is_established:
            assoc.release()
        if not assoc.is_released:
            assoc.abort()


def accepted(assoc: Association, abstract_syntax: str) -> bool:
    """True when the peer accepted a context for ``abstract_syntax``."""
    return any(c.abstract_syntax == abstract_syntax for c in assoc.accepted_contexts)
