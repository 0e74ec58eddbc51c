"""An in-memory transport: the engine's behaviour without a socket.

Scripted per test: which opens fail and how, which status each store
answers (by SOP Instance UID and attempt), which stores break the link, and
a store that blocks until the worker is interrupted (the hard-cancel path).
What "arrived" is kept byte for byte, read from the file descriptor the
engine hands over, so a test can compare it with the file on disk.

Real-peer tests stay for everything that crosses a wire; this one is for
retries, the breaker, the journal and cancel, where a socket only adds time.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tui_sender.core.engine.transport import Association, SocketHook
from tui_sender.core.model.events import ContextResult
from tui_sender.core.net.failures import AssociationError, FailureKind, LinkBroken
from tui_sender.core.net.link import StoreReply
from tui_sender.core.net.opening import ProposedContext

Answer = int | LinkBroken
"""What a scripted store does: answer with this status, or break the link."""


@dataclass
class MemoryTransport:
    """Opens :class:`MemoryAssociation`\\ s and records what reached the "peer"."""

    open_failures: list[AssociationError] = field(default_factory=list)
    """Raised by the next opens, in order; then opens succeed."""
    answers: Callable[[str, int], Answer] = lambda uid, attempt: 0x0000
    """(SOP Instance UID, 1-based attempt for that UID) -> what the store does."""
    block: set[str] = field(default_factory=set)
    """UIDs whose store waits until the association is interrupted."""
    stored: dict[str, bytes] = field(default_factory=dict)
    """SOP Instance UID -> data set bytes, for stores answered with a success or warning."""
    attempts: Counter[str] = field(default_factory=Counter)
    opens: int = 0
    blocked: threading.Event = field(default_factory=threading.Event)
    """Set when a store starts blocking (so a test knows when to cancel)."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def open(
        self, proposed: Sequence[ProposedContext], on_socket: SocketHook | None = None
    ) -> Association:
        with self._lock:
            self.opens += 1
            if self.open_failures:
                raise self.open_failures.pop(0)
        contexts = tuple(
            ContextResult(
                context_id=2 * n + 1,
                sop_class_uid=p.sop_class_uid,
                transfer_syntax_uid=p.transfer_syntax_uid,
                accepted=True,
                result="Accepted",
            )
            for n, p in enumerate(proposed)
        )
        return MemoryAssociation(self, contexts)

    def _answer(self, uid: str, data: bytes) -> StoreReply:
        with self._lock:
            self.attempts[uid] += 1
            answer = self.answers(uid, self.attempts[uid])
        if isinstance(answer, LinkBroken):
            raise answer
        if answer == 0 or answer >> 12 == 0xB:
            with self._lock:
                self.stored[uid] = data
        return StoreReply(answer, "", "")


class MemoryAssociation:
    """One association of a :class:`MemoryTransport`: each store is answered when collected."""

    def __init__(self, transport: MemoryTransport, contexts: tuple[ContextResult, ...]) -> None:
        self._transport = transport
        self.contexts = contexts
        self.accepted = {(c.sop_class_uid, c.transfer_syntax_uid): c.context_id for c in contexts}
        self.peer_max_pdu = 16384
        self.window = 1  # one store at a time: the engine's synchronous path
        self.stores = 0
        self.bytes_sent = 0
        self._closed = False
        self._interrupted = threading.Event()
        self._message_id = 0
        self._in_flight: dict[int, tuple[str, bytes]] = {}
        self.released: bool | None = None

    @property
    def closed(self) -> bool:
        return self._closed

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
        return self._submit(sop_instance_uid, os.pread(fd, length, offset), on_bytes)

    def submit_bytes(
        self,
        context_id: int,
        sop_class_uid: str,
        sop_instance_uid: str,
        data: bytes,
        on_bytes: Callable[[int], None] | None = None,
    ) -> int:
        return self._submit(sop_instance_uid, data, on_bytes)

    def _submit(self, uid: str, data: bytes, on_bytes: Callable[[int], None] | None) -> int:
        if self._closed:
            raise LinkBroken("the association is closed")
        self.bytes_sent += len(data)
        if on_bytes is not None:
            on_bytes(len(data))
        self._message_id += 1
        self._in_flight[self._message_id] = (uid, data)
        return self._message_id

    def collect(self) -> tuple[int, StoreReply]:
        """Answer the oldest store in flight, as scripted (or block until interrupted)."""
        message_id = next(iter(self._in_flight))
        uid, data = self._in_flight.pop(message_id)
        if uid in self._transport.block:
            self._transport.blocked.set()
            if not self._interrupted.wait(10):
                raise AssertionError("a blocked store was never interrupted")
            self._closed = True
            raise LinkBroken("cancelled while the C-STORE was in flight", FailureKind.CANCELLED)
        try:
            reply = self._transport._answer(uid, data)
        except LinkBroken:
            self._closed = True
            raise
        self.stores += 1
        return message_id, reply

    def still_open(self) -> bool:
        return not self._closed

    def release(self) -> bool:
        self.released = not self._closed
        self._closed = True
        return bool(self.released)

    def abort(self) -> None:
        self._closed = True

    def interrupt(self) -> None:
        self._interrupted.set()
