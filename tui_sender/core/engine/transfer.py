"""One worker's loop: take a batch, send each file, classify the answer, retry.

A worker owns at most one association at a time (an
:class:`~tui_sender.core.engine.transport.Association`, opened through its
destination's transport and kept by its
:class:`~tui_sender.core.engine.association_keeper.AssociationKeeper`) and
never shares it. Workers of one destination
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
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from tui_sender.core.base import wording
from tui_sender.core.base.deferred_imports import IMPORT_LOCK
from tui_sender.core.dicom.negotiation import (
    Batch,
    Conversion,
    NoRoute,
    Route,
    choose_route,
)
from tui_sender.core.dicom.status import classify
from tui_sender.core.engine.association_keeper import (
    CANCELLED,
    AssociationKeeper,
    StepAside,
)
from tui_sender.core.engine.destination_queue import DestinationQueue, Pending, Work
from tui_sender.core.engine.transport import Association
from tui_sender.core.model.catalog import Instance
from tui_sender.core.model.events import (
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
from tui_sender.core.net.breaker import Pause, Trip
from tui_sender.core.net.failures import LinkBroken
from tui_sender.core.net.link import StoreReply

CANCELLED_IN_FLIGHT = (
    "cancelled while in flight: the destination may or may not have stored it; resend to be sure"
)


class Worker:
    """Sends batches for one destination on one association at a time."""

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
        self.association = AssociationKeeper(name, queue, emit, cancel, progress, self._give_up)
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
            self.association.close(release=True)
            self.queue.leave(self.name)
            self.progress.state = WorkerState.DONE
            self.progress.current_path = ""

    def interrupt(self) -> None:
        """From another thread: break a blocked network wait now (hard cancel)."""
        self.association.interrupt()

    # -- batches ---------------------------------------------------------------

    def _send_batch(self, work: Work) -> bool:
        """Send one batch; False when this worker stepped aside and handed the rest back."""
        batch = work.batch
        items = work.items if work.items is not None else tuple(Pending(i) for i in batch.instances)
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
        in_flight: deque[_InFlight] = deque()
        while pending or waiting or in_flight:
            outcomes: list[FileOutcome | None] = []
            if pending and (not in_flight or self._may_add_to(in_flight)):
                item = pending.popleft()
                try:
                    outcomes.append(self._attempt(batch, item, pending, waiting, in_flight))
                except StepAside as step:
                    rest = (item, *pending, *waiting)
                    if self.queue.give_back(self.name, Work(batch, rest)):
                        self.emit(
                            LogMessage(
                                message=f"{self.name} steps aside: {step}; the other workers "
                                f"take its {len(rest)} remaining files",
                                level=logging.WARNING,
                                worker=self.name,
                            )
                        )
                        return False
                    pending.appendleft(item)  # the others have just finished: carry on alone
                    continue
            elif in_flight:
                outcomes = self._collect(in_flight, pending, waiting)
            else:
                self._wait_for(waiting, pending)
                continue
            for outcome in outcomes:
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

    def _wait_for(self, waiting: list[Pending], pending: deque[Pending]) -> None:
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
        item: Pending,
        pending: deque[Pending],
        waiting: list[Pending],
        in_flight: deque[_InFlight],
    ) -> FileOutcome | None:
        """Try one file once; its outcome when final, None when requeued or in flight.

        With C-STOREs already in flight (a peer that granted an operations window) the file
        goes out on the same association after them; the checks that may close or reopen an
        association run only when nothing is in flight (see :meth:`_may_add_to`).
        """
        inst = item.instance
        link = self.association.current if in_flight else None
        if link is None:
            if self.cancel.is_set():
                return self._finish(item, FileState.FAILED, _not_resent(item, CANCELLED))
            dead = self.queue.dead_reason
            if dead is not None:
                return self._finish(item, FileState.FAILED, _not_resent(item, dead))
            refused = self.association.refused(batch.contexts)
            if refused is not None:
                return self._finish(item, FileState.FAILED, self._no_route_reason(inst, refused))
            pause = self.queue.breaker.pause_left()
            if pause > 0:
                # The destination is paused (out of resources): an idle
                # association would only time out meanwhile.
                self.association.close(release=True)
                self.progress.state = WorkerState.WAITING
                self.cancel.wait(pause)
                pending.appendleft(item)
                return None
            link = self.association.ensure(batch)
            if link is None:
                refused = self.association.refused(batch.contexts)
                if refused is not None:
                    reason = self._no_route_reason(inst, refused)
                    return self._finish(item, FileState.FAILED, reason)
                reason = self.queue.dead_reason or self.association.last_error
                return self._finish(item, FileState.FAILED, _not_resent(item, reason))
        route = choose_route(inst, link.accepted, link.contexts, self.target.decompress)
        if isinstance(route, NoRoute):
            return self._finish(item, FileState.FAILED, route.reason)
        item.attempts += 1
        started = time.monotonic()
        bytes_before = link.bytes_sent
        try:
            message_id = self._submit(link, inst, route)
            if link.window > 1:
                sent = link.bytes_sent - bytes_before
                in_flight.append(_InFlight(item, route, started, sent, message_id))
                return None
            reply = link.collect()[1]
        except _FileProblem as problem:
            return self._finish(item, FileState.FAILED, str(problem), route=route)
        except LinkBroken as broken:
            return self._link_broke(broken, [(item, route), *_held(in_flight)], pending)[0]
        return self._settle(item, reply, route, started, link.bytes_sent - bytes_before, waiting)

    def _may_add_to(self, in_flight: deque[_InFlight]) -> bool:
        """True when one more C-STORE may join those in flight on the current association."""
        link = self.association.current
        if link is None or link.closed or len(in_flight) >= link.window:
            return False
        limit = self.target.max_per_association
        if limit > 0 and link.stores + len(in_flight) >= limit:
            return False
        return (
            not self.cancel.is_set()
            and self.queue.dead_reason is None
            and self.queue.breaker.pause_left() <= 0
        )

    def _collect(
        self, in_flight: deque[_InFlight], pending: deque[Pending], waiting: list[Pending]
    ) -> list[FileOutcome | None]:
        """Wait for the next response on the association; settle the file it answers."""
        link = self.association.current
        assert link is not None, "C-STOREs in flight without an association"
        self.progress.state = WorkerState.SENDING
        try:
            message_id, reply = link.collect()
        except LinkBroken as broken:
            held = _held(in_flight)
            in_flight.clear()
            return self._link_broke(broken, held, pending)
        entry = next(e for e in in_flight if e.message_id == message_id)
        in_flight.remove(entry)
        return [self._settle(entry.item, reply, entry.route, entry.started, entry.bytes, waiting)]

    def _link_broke(
        self, broken: LinkBroken, held: list[tuple[Pending, Route]], pending: deque[Pending]
    ) -> list[FileOutcome | None]:
        """The association broke with these files' outcomes unknown: resend or give up each."""
        self.association.drop(str(broken))
        outcomes: list[FileOutcome | None] = []
        for item, route in reversed(held):  # requeued in their order, at the front
            item.last_reason = str(broken)
            item.last_http_status = broken.http_status
            if self.cancel.is_set():
                outcomes.append(
                    self._finish(item, FileState.FAILED, CANCELLED_IN_FLIGHT, route=route)
                )
            elif item.attempts >= self.target.retry.max_attempts:
                outcomes.append(
                    self._finish(
                        item,
                        FileState.FAILED,
                        f"outcome unknown after {item.attempts} attempts: {broken}; the "
                        "association broke every time this file was sent",
                        route=route,
                    )
                )
                trip = self.queue.breaker.unknown(str(broken))
                if trip is not None:
                    self._give_up(trip.reason)
            else:
                self._retrying(item, f"outcome unknown ({broken}); resending on a new association")
                pending.appendleft(item)
                outcomes.append(None)
        return outcomes[::-1]

    def _settle(
        self,
        item: Pending,
        reply: StoreReply,
        route: Route,
        started: float,
        bytes_sent: int,
        waiting: list[Pending],
    ) -> FileOutcome | None:
        """The peer answered this file: its outcome, or None when it will be retried."""
        inst = item.instance
        verdict = classify(reply.status)
        item.last_status = reply.status
        item.last_reason = ""  # a response: no longer in doubt
        self.progress.last_status = f"0x{reply.status:04X}"
        # One refused STOW-RS request of many instances is one refusal, not many.
        refused = reply.request or inst.path
        reaction = self._tell_breaker(refused, verdict.state, verdict.retry, verdict.meaning)
        if isinstance(reaction, Trip):
            return self._finish(
                item,
                FileState.FAILED,
                reaction.reason,
                status=reply.status,
                route=route,
                seconds=time.monotonic() - started,
            )
        item.last_http_status = reply.http_status
        if verdict.retry and item.status_retries < self.target.retry.max_attempts - 1:
            item.status_retries += 1
            pause = self.target.retry.status_pause(item.status_retries)
            if reply.retry_after is not None:
                pause = reply.retry_after  # the server said when (HTTP Retry-After)
            item.not_before = time.monotonic() + pause
            self._retrying(item, f"{verdict.meaning}; retrying in {pause:g} s")
            waiting.append(item)
            return None
        reason = verdict.reason if verdict.state is not FileState.SENT else ""
        if reply.explanation and verdict.state is not FileState.SENT:
            # The HTTP story replaces the DIMSE advice, which would contradict it.
            reason = f"{reply.explanation} ({verdict.meaning})"
        if reply.error_comment and verdict.state is not FileState.SENT:
            reason += f" [PACS says: {reply.error_comment}]"
        if verdict.retry:
            reason += f" (after {wording.count(item.attempts, 'attempt')})"
        return self._finish(
            item,
            verdict.state,
            reason,
            status=reply.status,
            route=route,
            seconds=time.monotonic() - started,
            bytes_sent=bytes_sent,
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

    def _retrying(self, item: Pending, reason: str) -> None:
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

    def _submit(self, link: Association, inst: Instance, route: Route) -> int:
        """Send one file; its Message ID (the answer comes from ``link.collect()``)."""
        data = self._prepare(inst, route)
        if data is not None:
            return link.submit_bytes(
                route.context_id,
                inst.sop_class_uid,
                inst.sop_instance_uid,
                data,
                self.progress.add_wire_bytes,
            )
        with _opened(inst) as fd:
            return link.submit_file(
                route.context_id,
                inst.sop_class_uid,
                inst.sop_instance_uid,
                fd,
                inst.dataset_offset,
                inst.dataset_bytes,
                self.progress.add_wire_bytes,
            )

    def _prepare(self, inst: Instance, route: Route) -> bytes | None:
        """Show the file as the one being sent; its data set re-encoded when the route says so."""
        progress = self.progress
        progress.state = WorkerState.SENDING
        progress.current_path = inst.path
        progress.current_bytes = inst.dataset_bytes
        progress.current_bytes_done = 0
        if route.conversion is Conversion.NONE:
            return None
        # Here, not at the top: converting needs pydicom, which sending as-is does not.
        with IMPORT_LOCK:
            from tui_sender.core.dicom.convert import ConversionError, encode_in

        try:
            data = encode_in(inst.path, route.transfer_syntax_uid)
        except ConversionError as exc:
            raise _FileProblem(str(exc)) from exc
        progress.current_bytes = len(data)
        return data

    def _finish(
        self,
        item: Pending,
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
            series_uid=inst.series_uid,
            status=status if status is not None else item.last_status,
            http_status=item.last_http_status,
            reason=reason,
            attempts=item.attempts,
            transfer_syntax=route.transfer_syntax_uid if route is not None else "",
            converted_from=inst.transfer_syntax_uid if converted else "",
            bytes_sent=bytes_sent if state in (FileState.SENT, FileState.WARNING) else 0,
            association_id=self.association.association_id if route is not None else "",
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
        self.emit(FileDone(worker=self.name, outcome=outcome, seconds=seconds))
        return outcome


@dataclass(frozen=True, slots=True)
class _InFlight:
    """A C-STORE sent and not answered yet (only with an operations window above 1)."""

    item: Pending
    route: Route
    started: float
    bytes: int
    message_id: int


def _held(in_flight: deque[_InFlight]) -> list[tuple[Pending, Route]]:
    return [(e.item, e.route) for e in in_flight]


@contextlib.contextmanager
def _opened(inst: Instance) -> Iterator[int]:
    """The file, open for reading, as it was scanned: else a :class:`_FileProblem`."""
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
        yield fd
    finally:
        os.close(fd)


def _not_resent(item: Pending, reason: str) -> str:
    """Why a file ends without another attempt, and whether an earlier one left it in doubt."""
    if item.last_reason:
        return (
            f"{reason}; an earlier attempt's outcome is unknown ({item.last_reason}): the "
            "PACS may hold it"
        )
    return reason


class _FileProblem(Exception):
    """The file itself cannot be sent (changed, vanished, conversion failed)."""
