"""One worker's loop: take a batch, keep an association, send, classify, retry.

A worker owns at most one association at a time (an
:class:`~tui_sender.core.engine.transport.Association`, opened through its
destination's transport) and never shares it. Workers of one destination
pull batches from a shared :class:`DestinationQueue` (largest first), so a
big study never leaves the others idle. Every file handed to a worker leaves it with exactly one
:class:`~tui_sender.core.model.outcomes.FileOutcome`.

Retries (DESIGN.md):
* unknown outcome (no response, abort, connection lost): resend on a new
  association, at most ``max_attempts`` times; a file that kills the
  association every time fails as such while the others go on;
* out of resources (0xA7xx, 0x0213): resend after a growing pause;
* association refused for a transient reason / connection refused: reconnect
  with backoff; a permanent rejection or TLS failure stops the destination,
  and so does a destination still unreachable after every attempt (the rest
  then fail at once instead of each waiting through the same backoff);
* a worker that cannot associate while other workers of the destination
  still run (at once for a transient rejection: the PACS's association
  limit or congestion; after its retries for anything else) hands its files
  back and stops: the session goes on with fewer associations instead of
  failing those files;
* many files in a row refused for lack of resources, or left with an unknown
  outcome, trip the destination's :class:`~tui_sender.core.net.breaker.Breaker`.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tui_sender.core.config.destinations import DecompressPolicy
from tui_sender.core.dicom import registry
from tui_sender.core.dicom.convert import ConversionError, encode_in
from tui_sender.core.dicom.negotiation import (
    Batch,
    Conversion,
    NoRoute,
    Route,
    choose_route,
)
from tui_sender.core.dicom.status import classify
from tui_sender.core.engine.transport import Association, DimseTransport, Transport
from tui_sender.core.model.catalog import Instance
from tui_sender.core.model.events import (
    AssociationClosed,
    AssociationFailed,
    AssociationOpened,
    ContextResult,
    Event,
    FileDone,
    FileRetrying,
    LogMessage,
    StudyFinished,
    StudyStarted,
)
from tui_sender.core.model.outcomes import FileOutcome, FileState
from tui_sender.core.model.progress import WorkerProgress, WorkerState
from tui_sender.core.net.breaker import Breaker, Pause, Trip
from tui_sender.core.net.endpoint import LinkSettings
from tui_sender.core.net.failures import AssociationError, FailureKind, LinkBroken
from tui_sender.core.net.link import StoreReply
from tui_sender.core.net.opening import ProposedContext

CANCELLED = "cancelled before it was sent"
CANCELLED_IN_FLIGHT = (
    "cancelled while in flight: the destination may or may not have stored it; resend to be sure"
)


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

    def connector(self) -> Transport:
        """The transport the workers open associations through."""
        return self.transport if self.transport is not None else DimseTransport(self.link)


@dataclass(slots=True)
class _Pending:
    instance: Instance
    attempts: int = 0
    status_retries: int = 0
    not_before: float = 0.0
    last_status: int | None = None
    last_reason: str = ""
    """Why the last attempt's outcome is unknown; empty when it got a response."""


@dataclass(frozen=True, slots=True)
class _Work:
    """A batch to send; ``items`` when a worker that stepped aside handed it back mid-way."""

    batch: Batch
    items: tuple[_Pending, ...] | None = None


class DestinationQueue:
    """The batches for one destination, shared by its workers.

    It also remembers whether the destination is known dead (a permanent
    rejection, a TLS failure, no association after all retries, or a tripped
    :class:`~tui_sender.core.net.breaker.Breaker`), so the remaining batches fail
    at once with that reason instead of each waiting through the same
    backoff; and which workers are still running, so a worker the PACS has
    no room for can hand its files to the others.
    """

    def __init__(self, target: TransferTarget, batches: Sequence[Batch]) -> None:
        self.target = target
        self._work = deque(_Work(b) for b in batches)
        self._lock = threading.Lock()
        self._running: set[str] = set()
        self.breaker = Breaker(
            target.retry.breaker_threshold, target.retry.breaker_pause, target.link.peer
        )
        self.dead_reason: str | None = None
        self.established = 0
        self.attempted = False

    @property
    def remaining(self) -> int:
        """Batches not taken yet."""
        with self._lock:
            return len(self._work)

    def join(self, worker: str) -> None:
        """A worker will take batches from this queue."""
        with self._lock:
            self._running.add(worker)

    def take(self, worker: str) -> _Work | None:
        """The next batch, or None (and ``worker`` counts as gone) when none is left."""
        with self._lock:
            if self._work:
                return self._work.popleft()
            self._running.discard(worker)
            return None

    def leave(self, worker: str) -> None:
        """``worker`` stopped (idempotent)."""
        with self._lock:
            self._running.discard(worker)

    def give_back(self, worker: str, work: _Work) -> bool:
        """Hand ``work`` to the other workers and leave; False (and keep it) if none is left."""
        with self._lock:
            if not self._running - {worker}:
                return False
            self._work.appendleft(work)
            self._running.discard(worker)
            return True

    def opened(self) -> None:
        """A worker established an association."""
        with self._lock:
            self.established += 1

    def others_running(self, worker: str) -> bool:
        """True when another worker will still take batches."""
        with self._lock:
            return bool(self._running - {worker})

    def mark_dead(self, reason: str) -> bool:
        """Stop offering work to this destination; True for the call that did it."""
        with self._lock:
            if self.dead_reason is not None:
                return False
            self.dead_reason = reason
            return True


class Worker:
    """Sends batches for one destination on one association at a time."""

    _ids = itertools.count(1)
    _ids_lock = threading.Lock()

    def __init__(
        self,
        name: str,
        queue: DestinationQueue,
        emit: Callable[[Event], None],
        cancel: threading.Event,
        progress: WorkerProgress,
    ) -> None:
        self.name = name
        self.queue = queue
        self.target = queue.target
        self.emit = emit
        self.cancel = cancel
        self.progress = progress
        self._transport = self.target.connector()
        self._link: Association | None = None
        self._link_contexts: frozenset[tuple[str, str]] = frozenset()
        self._link_id = ""
        self._link_opened = 0.0
        self._link_files = 0
        self._socket_lock = threading.Lock()
        self._connecting_socket: socket.socket | None = None
        self._last_association_error = ""
        self._refused: dict[tuple[ProposedContext, ...], tuple[ContextResult, ...]] = {}
        """Context proposals the peer accepted none of, with its answers: not proposed again."""
        queue.join(name)

    # -- public ------------------------------------------------------------------

    def run(self) -> None:
        """Work until the queue is empty or the session is cancelled."""
        self.progress.started_at = time.time()
        try:
            while True:
                work = self.queue.take(self.name)
                if work is None or not self._send_batch(work):
                    break
        finally:
            # Release even when cancelled: the C-STORE in flight has finished,
            # so the peer deserves a clean end (a hard cancel has already shut
            # the socket, and release then falls back to abort).
            self._close_link(release=True)
            self.queue.leave(self.name)
            self.progress.state = WorkerState.DONE
            self.progress.current_path = ""

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

    # -- batches ---------------------------------------------------------------

    def _send_batch(self, work: _Work) -> bool:
        """Send one batch; False when this worker stepped aside and handed the rest back."""
        batch = work.batch
        items = (
            work.items if work.items is not None else tuple(_Pending(i) for i in batch.instances)
        )
        progress = self.progress
        progress.study_uid = batch.study_uid
        progress.study_files = len(items)
        progress.study_files_done = 0
        self.emit(
            StudyStarted(
                worker=self.name,
                destination=self.target.name,
                study_uid=batch.study_uid,
                files=len(items),
                bytes=sum(item.instance.size for item in items),
            )
        )
        counts = {FileState.SENT: 0, FileState.WARNING: 0, FileState.FAILED: 0}
        now = time.monotonic()
        pending = deque(item for item in items if item.not_before <= now)
        waiting = [item for item in items if item.not_before > now]
        while pending or waiting:
            if not pending:
                self._wait_for(waiting, pending)
                continue
            item = pending.popleft()
            try:
                outcome = self._attempt(batch, item, pending, waiting)
            except _StepAside as step:
                rest = (item, *pending, *waiting)
                if self.queue.give_back(self.name, _Work(batch, rest)):
                    self.emit(
                        LogMessage(
                            message=f"{self.name} steps aside: {step}; the other workers take "
                            f"its {len(rest)} remaining files",
                            level=logging.WARNING,
                            worker=self.name,
                        )
                    )
                    return False
                pending.appendleft(item)  # the others have just finished: carry on alone
                continue
            if outcome is not None:
                counts[outcome.state] = counts.get(outcome.state, 0) + 1
                progress.study_files_done += 1
        self.emit(
            StudyFinished(
                worker=self.name,
                destination=self.target.name,
                study_uid=batch.study_uid,
                sent=counts[FileState.SENT],
                warning=counts[FileState.WARNING],
                failed=counts[FileState.FAILED],
            )
        )
        return True

    def _wait_for(self, waiting: list[_Pending], pending: deque[_Pending]) -> None:
        """Pause until the earliest delayed retry is due (or cancel)."""
        waiting.sort(key=lambda p: p.not_before)
        delay = waiting[0].not_before - time.monotonic()
        if delay > 0:
            self.progress.state = WorkerState.WAITING
            self.cancel.wait(delay)
        now = time.monotonic()
        while waiting and (waiting[0].not_before <= now or self.cancel.is_set()):
            pending.append(waiting.pop(0))

    def _attempt(
        self,
        batch: Batch,
        item: _Pending,
        pending: deque[_Pending],
        waiting: list[_Pending],
    ) -> FileOutcome | None:
        """Try one file once; return its outcome when final, None when requeued."""
        inst = item.instance
        if self.cancel.is_set():
            return self._finish(item, FileState.FAILED, _not_resent(item, CANCELLED))
        if self.queue.dead_reason is not None:
            return self._finish(item, FileState.FAILED, _not_resent(item, self.queue.dead_reason))
        refused = self._refused.get(batch.contexts)
        if refused is not None:
            return self._finish(item, FileState.FAILED, self._no_route_reason(inst, refused))
        pause = self.queue.breaker.pause_left()
        if pause > 0:
            # The destination is paused (out of resources): an idle
            # association would only time out meanwhile.
            self._close_link(release=True)
            self.progress.state = WorkerState.WAITING
            self.cancel.wait(pause)
            pending.appendleft(item)
            return None
        link = self._ensure_link(batch)
        if link is None:
            refused = self._refused.get(batch.contexts)
            if refused is not None:
                return self._finish(item, FileState.FAILED, self._no_route_reason(inst, refused))
            reason = self.queue.dead_reason or self._last_association_error
            return self._finish(item, FileState.FAILED, _not_resent(item, reason))
        route = choose_route(inst, link.accepted, link.contexts, self.target.decompress)
        if isinstance(route, NoRoute):
            return self._finish(item, FileState.FAILED, route.reason)
        item.attempts += 1
        started = time.monotonic()
        bytes_before = link.bytes_sent
        try:
            reply = self._store(link, inst, route)
        except _FileProblem as problem:
            return self._finish(item, FileState.FAILED, str(problem), route=route)
        except LinkBroken as broken:
            self._drop_link(str(broken))
            item.last_reason = str(broken)
            if self.cancel.is_set():
                return self._finish(item, FileState.FAILED, CANCELLED_IN_FLIGHT, route=route)
            if item.attempts >= self.target.retry.max_attempts:
                outcome = self._finish(
                    item,
                    FileState.FAILED,
                    f"outcome unknown after {item.attempts} attempts: {broken}; the "
                    "association broke every time this file was sent",
                    route=route,
                )
                trip = self.queue.breaker.unknown(str(broken))
                if trip is not None:
                    self._give_up(trip.reason)
                return outcome
            self._retrying(item, f"outcome unknown ({broken}); resending on a new association")
            pending.appendleft(item)
            return None
        verdict = classify(reply.status)
        item.last_status = reply.status
        item.last_reason = ""  # a response: no longer in doubt
        self.progress.last_status = f"0x{reply.status:04X}"
        reaction = self._tell_breaker(inst.path, verdict.state, verdict.retry, verdict.meaning)
        if isinstance(reaction, Trip):
            return self._finish(
                item,
                FileState.FAILED,
                reaction.reason,
                status=reply.status,
                route=route,
                seconds=time.monotonic() - started,
            )
        if verdict.retry and item.status_retries < self.target.retry.max_attempts - 1:
            item.status_retries += 1
            pause = self.target.retry.status_pause(item.status_retries)
            item.not_before = time.monotonic() + pause
            self._retrying(item, f"{verdict.meaning}; retrying in {pause:g} s")
            waiting.append(item)
            return None
        reason = verdict.reason if verdict.state is not FileState.SENT else ""
        if reply.error_comment and verdict.state is not FileState.SENT:
            reason += f" [PACS says: {reply.error_comment}]"
        if verdict.retry:
            reason += f" (after {_attempts(item.attempts)})"
        return self._finish(
            item,
            verdict.state,
            reason,
            status=reply.status,
            route=route,
            seconds=time.monotonic() - started,
            bytes_sent=link.bytes_sent - bytes_before,
        )

    def _tell_breaker(
        self, path: str, state: FileState, refusal: bool, meaning: str
    ) -> Pause | Trip | None:
        """Report a response to the destination's breaker; act on what it says."""
        breaker = self.queue.breaker
        if state in (FileState.SENT, FileState.WARNING):
            breaker.stored()
            return None
        if not refusal:
            breaker.answered()
            return None
        reaction = breaker.refused(path, meaning)
        if isinstance(reaction, Pause):
            self.emit(LogMessage(message=reaction.message, level=logging.WARNING, worker=self.name))
        elif isinstance(reaction, Trip):
            self._give_up(reaction.reason)
        return reaction

    def _give_up(self, reason: str) -> None:
        """Mark the destination dead; the remaining files fail at once with ``reason``."""
        if self.queue.mark_dead(reason):
            self.emit(
                LogMessage(
                    message=f"giving up on {self.target.name}: {reason}",
                    level=logging.ERROR,
                    worker=self.name,
                )
            )

    def _no_route_reason(self, inst: Instance, answers: tuple[ContextResult, ...]) -> str:
        route = choose_route(inst, {}, answers, self.target.decompress)
        return route.reason if isinstance(route, NoRoute) else "no presentation context accepted"

    def _retrying(self, item: _Pending, reason: str) -> None:
        """Say that a file will be sent again, and why."""
        self.emit(
            FileRetrying(
                worker=self.name,
                destination=self.target.name,
                path=item.instance.path,
                attempt=item.attempts + 1,
                reason=reason,
            )
        )

    # -- one C-STORE -----------------------------------------------------------

    def _store(self, link: Association, inst: Instance, route: Route) -> StoreReply:
        progress = self.progress
        progress.state = WorkerState.SENDING
        progress.current_path = inst.path
        progress.current_bytes = inst.dataset_bytes
        progress.current_bytes_done = 0
        if route.conversion is not Conversion.NONE:
            try:
                data = encode_in(inst.path, route.transfer_syntax_uid)
            except ConversionError as exc:
                raise _FileProblem(str(exc)) from exc
            progress.current_bytes = len(data)
            return link.store_bytes(
                route.context_id,
                inst.sop_class_uid,
                inst.sop_instance_uid,
                data,
                progress.add_wire_bytes,
            )
        try:
            fd = os.open(inst.path, os.O_RDONLY)
        except OSError as exc:
            raise _FileProblem(
                f"cannot open the file any more: {exc.strerror or exc} (changed since the scan)"
            ) from exc
        try:
            stat = os.fstat(fd)
            if stat.st_size != inst.size or stat.st_mtime_ns != inst.mtime_ns:
                raise _FileProblem(
                    "the file changed since it was scanned (size or modification time differ); "
                    "scan again and resend"
                )
            return link.store_file(
                route.context_id,
                inst.sop_class_uid,
                inst.sop_instance_uid,
                fd,
                inst.dataset_offset,
                inst.dataset_bytes,
                progress.add_wire_bytes,
            )
        finally:
            os.close(fd)

    def _finish(
        self,
        item: _Pending,
        state: FileState,
        reason: str,
        *,
        status: int | None = None,
        route: Route | None = None,
        seconds: float = 0.0,
        bytes_sent: int = 0,
    ) -> FileOutcome:
        inst = item.instance
        converted = route is not None and route.conversion is not Conversion.NONE
        outcome = FileOutcome(
            path=inst.path,
            destination=self.target.name,
            state=state,
            sop_instance_uid=inst.sop_instance_uid,
            sop_class_uid=inst.sop_class_uid,
            study_uid=inst.study_uid,
            status=status if status is not None else item.last_status,
            reason=reason,
            attempts=item.attempts,
            transfer_syntax=route.transfer_syntax_uid if route is not None else "",
            converted_from=inst.transfer_syntax_uid if converted else "",
            bytes_sent=bytes_sent if state in (FileState.SENT, FileState.WARNING) else 0,
            association_id=self._link_id if route is not None else "",
            file_size=inst.size,
        )
        progress = self.progress
        progress.files_done += 1
        progress.bytes_done += inst.size
        if state is FileState.SENT:
            progress.sent += 1
        elif state is FileState.WARNING:
            progress.warning += 1
        else:
            progress.failed += 1
        if state in (FileState.SENT, FileState.WARNING):
            self._link_files += 1
        self.emit(FileDone(worker=self.name, outcome=outcome, seconds=seconds))
        return outcome

    # -- associations ----------------------------------------------------------

    def _ensure_link(self, batch: Batch) -> Association | None:
        """The current association if it covers the batch, else a new one.

        None when no association can be had: the destination is dead (see
        :attr:`DestinationQueue.dead_reason`) or refused every proposed
        context (see ``_refused``). Raises :class:`_StepAside` when other
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
        self._close_link(release=True)
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
                    self._last_association_error = exc.message
                    self.emit(
                        AssociationFailed(
                            worker=self.name,
                            destination=self.target.name,
                            reason=exc.message,
                            retrying=False,
                            attempt=attempt,
                        )
                    )
                    return None
                if self.cancel.is_set():
                    self._last_association_error = CANCELLED
                    return None
                # A PACS out of association slots (or congested) while other
                # workers of ours still run: fewer associations, not failed
                # files. Workers that asked at the same moment may all be
                # refused; all but the last step aside, and it retries alone.
                others = self.queue.others_running(self.name)
                crowded = exc.kind is FailureKind.REJECTED_TRANSIENT and others
                retrying = exc.retryable and not crowded and attempt < retry.association_attempts
                self._last_association_error = exc.message
                self.emit(
                    AssociationFailed(
                        worker=self.name,
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
                    raise _StepAside(exc.message) from exc
                else:
                    self._give_up(f"{exc.message} (gave up after {_attempts(attempt)})")
                return None
            self._forget_socket()
            self._set_link(link)
            self._link_contexts = frozenset(
                (c.sop_class_uid, c.transfer_syntax_uid) for c in batch.contexts
            )
            with Worker._ids_lock:
                self._link_id = f"A{next(Worker._ids)}"
            self._link_opened = time.monotonic()
            self._link_files = 0
            self.progress.association_id = self._link_id
            self.progress.associations += 1
            self._announce(link.contexts, started, self._link_id, link.peer_max_pdu)
            return link
        self._last_association_error = self.queue.dead_reason or CANCELLED
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
                worker=self.name,
                association_id=association_id or "-",
                destination=self.target.name,
                peer=self.target.link.peer,
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
                    worker=self.name,
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

    def _drop_link(self, note: str) -> None:
        """The association broke: record it closed (aborted)."""
        link = self._link
        if link is None:
            return
        link.abort()
        self._emit_closed(link, released=False, note=note)
        self._set_link(None)

    def _close_link(self, release: bool) -> None:
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
                worker=self.name,
                association_id=self._link_id,
                destination=self.target.name,
                released=released,
                files=link.stores,
                bytes=link.bytes_sent,
                seconds=time.monotonic() - self._link_opened,
                note=note,
            )
        )


def _attempts(n: int) -> str:
    return "1 attempt" if n == 1 else f"{n} attempts"


def _not_resent(item: _Pending, reason: str) -> str:
    """Why a file ends without another attempt, and whether an earlier one left it in doubt."""
    if item.last_reason:
        return (
            f"{reason}; an earlier attempt's outcome is unknown ({item.last_reason}): the "
            "PACS may hold it"
        )
    return reason


class _FileProblem(Exception):
    """The file itself cannot be sent (changed, vanished, conversion failed)."""


class _StepAside(Exception):
    """This worker cannot associate while others can: it hands its files to them."""
