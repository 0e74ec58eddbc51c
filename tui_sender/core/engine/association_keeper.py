"""One worker's association: reuse it while it serves, reopen it with backoff, end it cleanly.

A worker asks :meth:`AssociationKeeper.ensure` for an association that
covers the batch in hand. The keeper reuses the open one when it proposes
the same contexts and the peer has not ended it, or opens a new one through
the destination's transport: retrying transient failures with the policy's
backoff, giving the destination up on permanent ones, and stepping aside
(:class:`StepAside`) when the PACS has no room for this worker while others
still send. Every open, failure and close is an event.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from collections.abc import Callable

from tui_sender.core.base import wording
from tui_sender.core.dicom import registry
from tui_sender.core.dicom.negotiation import Batch
from tui_sender.core.engine.destination_queue import DestinationQueue
from tui_sender.core.engine.transport import Association
from tui_sender.core.model.events import (
    AssociationClosed,
    AssociationFailed,
    AssociationOpened,
    ContextResult,
    Event,
    LogMessage,
)
from tui_sender.core.model.progress import WorkerProgress, WorkerState
from tui_sender.core.net.failures import AssociationError, FailureKind
from tui_sender.core.net.opening import ProposedContext

CANCELLED = "cancelled before it was sent"


class StepAside(Exception):
    """This worker cannot associate while others can: it hands its files to them."""


class AssociationKeeper:
    """The association one worker holds, at most one at a time, never shared."""

    _ids = itertools.count(1)
    _ids_lock = threading.Lock()

    @classmethod
    def number_ids(cls, start: int, step: int) -> None:
        """Number this process's associations start, start + step, ...: worker process n of
        ``step`` (1-based) takes every step-th id, so ids stay unique in the session's record."""
        with cls._ids_lock:
            cls._ids = itertools.count(start, step)

    def __init__(
        self,
        worker: str,
        queue: DestinationQueue,
        emit: Callable[[Event], None],
        cancel: threading.Event,
        progress: WorkerProgress,
        give_up: Callable[[str], None],
    ) -> None:
        self.worker = worker
        self.queue = queue
        self.target = queue.target
        self.emit = emit
        self.cancel = cancel
        self.progress = progress
        self._give_up = give_up
        self._transport = self.target.connector()
        self._link: Association | None = None
        self._link_contexts: frozenset[tuple[str, str]] = frozenset()
        self._link_id = ""
        self._link_opened = 0.0
        self._socket_lock = threading.Lock()
        self._connecting_socket: socket.socket | None = None
        self.last_error = ""
        """Why the last attempt to associate failed (for the files it leaves unsent)."""
        self._refused: dict[tuple[ProposedContext, ...], tuple[ContextResult, ...]] = {}
        """Context proposals the peer accepted none of, with its answers: not proposed again."""

    @property
    def current(self) -> Association | None:
        """The association held now, if any."""
        return self._link

    @property
    def association_id(self) -> str:
        """``A<n>`` of the association held (or last held), for the record."""
        return self._link_id

    def refused(self, contexts: tuple[ProposedContext, ...]) -> tuple[ContextResult, ...] | None:
        """The peer's answers when it accepted none of ``contexts`` earlier; None otherwise."""
        return self._refused.get(contexts)

    def interrupt(self) -> None:
        """From another thread: break a blocked network wait now (hard cancel)."""
        with self._socket_lock:
            link = self._link
            sock = self._connecting_socket
        if link is not None:
            link.interrupt()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def ensure(self, batch: Batch) -> Association | None:
        """The current association if it covers the batch, else a new one.

        None when no association can be had: the destination is dead (see
        :attr:`DestinationQueue.dead_reason`) or refused every proposed
        context (see ``_refused``). Raises :class:`StepAside` when other
        workers of the destination still run and this one should leave its
        files to them.
        """
        wanted = frozenset((c.sop_class_uid, c.transfer_syntax_uid) for c in batch.contexts)
        link = self._link
        limit = self.target.max_per_association
        used_up = limit > 0 and link is not None and link.stores >= limit
        if link is not None and not link.closed and wanted <= self._link_contexts and not used_up:
            if link.still_open():
                return link
            self._emit_closed(
                link, released=False, note="the PACS ended the association while it was idle"
            )
            self._set_link(None)
        self.close(release=True)
        retry = self.target.retry
        attempt = 0
        while not self.cancel.is_set() and self.queue.dead_reason is None:
            attempt += 1
            self.progress.state = WorkerState.CONNECTING
            started = time.monotonic()
            self.queue.attempted = True
            try:
                link = self._transport.open(batch.contexts, self._remember_socket)
            except AssociationError as exc:
                self._forget_socket()
                if exc.kind is FailureKind.NO_CONTEXTS:
                    self._announce(exc.contexts, started, "")
                    self._refused[batch.contexts] = exc.contexts
                    self.last_error = exc.message
                    self.emit(
                        AssociationFailed(
                            worker=self.worker,
                            unit=self.target.worker_unit,
                            destination=self.target.name,
                            reason=exc.message,
                            retrying=False,
                            attempt=attempt,
                        )
                    )
                    return None
                if self.cancel.is_set():
                    self.last_error = CANCELLED
                    return None
                # A PACS out of association slots (or congested) while other
                # workers of ours still run: fewer associations, not failed
                # files. Workers that asked at the same moment may all be
                # refused; all but the last step aside, and it retries alone.
                others = self.queue.others_running(self.worker)
                crowded = exc.kind is FailureKind.REJECTED_TRANSIENT and others
                retrying = exc.retryable and not crowded and attempt < retry.association_attempts
                self.last_error = exc.message
                self.emit(
                    AssociationFailed(
                        worker=self.worker,
                        unit=self.target.worker_unit,
                        destination=self.target.name,
                        reason=exc.message,
                        retrying=retrying,
                        attempt=attempt,
                    )
                )
                if retrying:
                    self.progress.state = WorkerState.WAITING
                    self.cancel.wait(retry.association_pause(attempt))
                    continue
                if not exc.retryable:
                    self._give_up(exc.message)
                elif others:
                    raise StepAside(exc.message) from exc
                else:
                    self._give_up(
                        f"{exc.message} (gave up after {wording.count(attempt, 'attempt')})"
                    )
                return None
            self._forget_socket()
            self._set_link(link)
            self._link_contexts = frozenset(
                (c.sop_class_uid, c.transfer_syntax_uid) for c in batch.contexts
            )
            with AssociationKeeper._ids_lock:
                self._link_id = f"A{next(AssociationKeeper._ids)}"
            self._link_opened = time.monotonic()
            self.progress.association_id = self._link_id
            self.progress.associations += 1
            self._announce(link.contexts, started, self._link_id, link.peer_max_pdu)
            return link
        self.last_error = self.queue.dead_reason or CANCELLED
        return None

    def _announce(
        self,
        results: tuple[ContextResult, ...],
        started: float,
        association_id: str,
        max_pdu: int = 0,
    ) -> None:
        self.emit(
            AssociationOpened(
                worker=self.worker,
                association_id=association_id or "-",
                destination=self.target.name,
                peer=self.target.peer,
                unit=self.target.worker_unit,
                max_pdu=max_pdu,
                contexts=results,
                seconds=time.monotonic() - started,
            )
        )
        rejected = [c for c in results if not c.accepted]
        if rejected and association_id:
            names = sorted(
                {
                    f"{registry.sop_class_name(c.sop_class_uid)} / "
                    f"{registry.transfer_syntax_name(c.transfer_syntax_uid)}"
                    for c in rejected
                }
            )
            self.emit(
                LogMessage(
                    message=f"{association_id}: {len(rejected)} of {len(results)} contexts "
                    f"rejected: {', '.join(names[:6])}{' ...' if len(names) > 6 else ''}",
                    worker=self.worker,
                )
            )

    def _remember_socket(self, sock: socket.socket) -> None:
        with self._socket_lock:
            self._connecting_socket = sock
        if self.cancel.is_set():
            self.interrupt()

    def _forget_socket(self) -> None:
        with self._socket_lock:
            self._connecting_socket = None

    def _set_link(self, link: Association | None) -> None:
        """Hold ``link`` (or none), where :meth:`interrupt` can reach it."""
        with self._socket_lock:
            self._link = link
        if link is not None:
            self.queue.opened()

    def drop(self, note: str) -> None:
        """The association broke: record it closed (aborted)."""
        link = self._link
        if link is None:
            return
        link.abort()
        self._emit_closed(link, released=False, note=note)
        self._set_link(None)

    def close(self, release: bool) -> None:
        link = self._link
        if link is None:
            return
        self.progress.state = WorkerState.RELEASING
        if release and not link.closed:
            released = link.release()
            note = "" if released else "the release was not confirmed; aborted"
        else:
            link.abort()
            released, note = False, "aborted"
        self._emit_closed(link, released=released, note=note)
        self._set_link(None)

    def _emit_closed(self, link: Association, *, released: bool, note: str) -> None:
        self.emit(
            AssociationClosed(
                worker=self.worker,
                association_id=self._link_id,
                destination=self.target.name,
                released=released,
                files=link.stores,
                bytes=link.bytes_sent,
                seconds=time.monotonic() - self._link_opened,
                note=note,
                unit=self.target.worker_unit,
            )
        )
