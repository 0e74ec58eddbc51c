"""The seam between the engine and a destination: open, send one instance, collect its answer, end.

A worker drives one :class:`Association` at a time and knows nothing else of
the wire. The DIMSE link (:class:`~tui_sender.core.net.link.Link`, opened by
:class:`DimseTransport`) is the first implementation; tests drive the engine
through an in-memory one (retries, breaker, journal, cancel need no socket),
and a DICOMweb destination is the next.

Failures keep the network layer's vocabulary whatever the transport:
opening raises :class:`~tui_sender.core.net.failures.AssociationError`, a
store whose outcome is unknown raises
:class:`~tui_sender.core.net.failures.LinkBroken`, and a store the peer
answered returns its :class:`~tui_sender.core.net.link.StoreReply`.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from tui_sender.core.model.events import ContextResult
from tui_sender.core.net.endpoint import LinkSettings
from tui_sender.core.net.link import StoreReply
from tui_sender.core.net.opening import ProposedContext, open_link

SocketHook = Callable[[socket.socket], None]
"""Receives the connecting socket, so a canceller can shut it before the association exists."""


class Association(Protocol):
    """An open association to one destination, owned by one worker thread.

    Only :meth:`interrupt` may be called from another thread.
    """

    contexts: tuple[ContextResult, ...]
    """Every proposed context as the peer answered it, in proposal order."""
    accepted: dict[tuple[str, str], int]
    """(SOP class, transfer syntax) -> context ID, for the accepted contexts."""
    peer_max_pdu: int
    stores: int
    """Stores answered on this association."""
    bytes_sent: int
    window: int
    """C-STOREs that may be in flight at once: each :meth:`submit_file` is answered by a
    :meth:`collect`, matched by Message ID (1: collect before the next submit)."""

    @property
    def closed(self) -> bool: ...

    def submit_file(
        self,
        context_id: int,
        sop_class_uid: str,
        sop_instance_uid: str,
        fd: int,
        offset: int,
        length: int,
        on_bytes: Callable[[int], None] | None = None,
    ) -> int:
        """Send the data set at ``offset``/``length`` of the open file ``fd``, unchanged, without
        waiting for the answer; its Message ID."""
        ...

    def submit_bytes(
        self,
        context_id: int,
        sop_class_uid: str,
        sop_instance_uid: str,
        data: bytes,
        on_bytes: Callable[[int], None] | None = None,
    ) -> int:
        """Send a data set already encoded in memory (after a conversion); its Message ID."""
        ...

    def collect(self) -> tuple[int, StoreReply]:
        """The next answer to a submitted store: its Message ID and the reply."""
        ...

    def still_open(self) -> bool:
        """Before reusing an idle association: False when the peer has ended it."""
        ...

    def release(self) -> bool:
        """End politely; True when the peer confirmed."""
        ...

    def abort(self) -> None:
        """End at once, never waiting."""
        ...

    def interrupt(self) -> None:
        """From another thread: make a blocked store return now (hard cancel)."""
        ...


class Transport(Protocol):
    """How a destination is reached: opens associations for its workers."""

    def open(
        self, proposed: Sequence[ProposedContext], on_socket: SocketHook | None = None
    ) -> Association:
        """A new association proposing ``proposed``; raises ``AssociationError`` when none."""
        ...


@dataclass(frozen=True, slots=True)
class DimseTransport:
    """C-STORE over a DICOM upper layer association (:func:`open_link`)."""

    settings: LinkSettings

    def open(
        self, proposed: Sequence[ProposedContext], on_socket: SocketHook | None = None
    ) -> Association:
        return open_link(self.settings, proposed, on_socket)
