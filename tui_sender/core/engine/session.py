"""A send session: run the plan's workers, keep the record, say how it went.

The session is the one place that knows every file it was given, so it is
where "every file ends in exactly one state" is enforced: the scan's skipped
paths are recorded as skipped, instances a destination already holds (by
the stored-instance index) are recorded as skipped with the session that
stored them, workers report every file they took, and whatever no worker
reached (cancelled, destination dead) is recorded as failed with the reason
before the summary is written.

A session given a :class:`~tui_sender.core.engine.scan_feed.ScanFeed` scans
its inputs itself while its workers send what the scan has found so far
(``tui-sender send``); otherwise it sends a catalog scanned before.

Callers (the CLI, the TUI) run :meth:`Session.run` in a thread of their own,
read :attr:`Session.events` and poll :attr:`Session.progress` on a timer, and
call :meth:`Session.cancel` from any thread.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tui_sender.core.base.private_files import prepare_logs_dir, write_private_json
from tui_sender.core.base.times import utc_iso
from tui_sender.core.dicom.negotiation import Batch
from tui_sender.core.engine.association_keeper import CANCELLED
from tui_sender.core.engine.destination_queue import DestinationQueue
from tui_sender.core.engine.plan import SendPlan, make_plan
from tui_sender.core.engine.scan_feed import ScanFeed
from tui_sender.core.engine.targets import TransferTarget
from tui_sender.core.engine.transfer import Worker
from tui_sender.core.engine.worker_process import DestinationProcesses
from tui_sender.core.model.catalog import Catalog, Instance
from tui_sender.core.model.events import (
    Event,
    FileDone,
    LogMessage,
    ScanFinished,
    SessionFinished,
    SessionStarted,
)
from tui_sender.core.model.outcomes import FileOutcome, FileState
from tui_sender.core.model.progress import WorkerProgress
from tui_sender.core.model.recorded_path import display_path, path_from_record
from tui_sender.core.model.verification import Verification, VerifyMethod
from tui_sender.core.record.session_log import SessionFiles, SessionLog, new_session_id
from tui_sender.core.record.stored_index import PendingStores, StoredIndex, verdict_rows
from tui_sender.core.record.summary import Ledger, SummaryContext, build_summary
from tui_sender.core.scan.scanner import add_results
from tui_sender.core.verify.stage import (
    VerifyJob,
    apply_to_summary,
    run_verification,
    stored_instances,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NO_ASSOCIATION = 3

GC_YOUNG_THRESHOLD = 10_000
"""Allocations between the collector's young passes while workers run (Python's
default: 700). Every pass holds the GIL the workers and the screen share; with
thousands of small files a second, the default made 16 generation-1 passes and a
full one (50 ms in all) inside a 5 s session of the app. Objects a session
allocates are freed by reference counting; the collector is there for cycles,
which can wait."""


@contextmanager
def _collector_eased() -> Iterator[None]:
    """While files are sent and the record is written, the collector stays out of the way.

    The catalog, the plan and (in the app) every widget outlive the session's
    work: frozen, the collector's full passes, which hold the GIL the workers
    and the screen need, scan only what the session allocates (in the app, one
    full pass over the widgets stopped every worker and the screen for about
    70 ms; with a 100,000-file catalog it would be far longer), and its young
    passes come GC_YOUNG_THRESHOLD allocations apart. Both are put back after.
    """
    gc.freeze()
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], GC_YOUNG_THRESHOLD), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """How a session records itself and what it may skip."""

    logs_dir: Path = Path("logs")
    include_phi: bool = False
    session_id: str | None = None
    cancel_grace: float = 1.0
    """Seconds a cancelled worker may take to finish its C-STORE before its socket is shut."""
    configuration: Mapping[str, Any] = field(default_factory=dict)
    """Settings to copy into the summary (never secrets)."""
    request: Mapping[str, Any] = field(default_factory=dict)
    """What was asked (inputs, recursion, selection, destinations), for the journal header:
    ``--resume`` asks it again."""
    index: StoredIndex | None = None
    """The stored-instance index; None: neither consulted nor updated."""
    skip_stored: bool = True
    """Skip instances the index says the destination already holds (off: ``--force``)."""
    resumed_from: str = ""
    """The session this one resumes, if any."""
    processes: int = 1
    """Worker processes per destination (1: its workers are threads of this process).
    More use more cores: one process sends about 3,000 small files/s at most."""


Lane = DestinationQueue | DestinationProcesses
"""Where a destination's batches go: its worker threads' queue, or its worker processes."""


class RunningSession(Protocol):
    """What a screen needs of a running session (a :class:`Session`, or a staged one)."""

    catalog: Catalog
    targets: list[TransferTarget]
    events: queue.SimpleQueue[Event]
    progress: list[WorkerProgress]

    @property
    def file_count(self) -> int: ...

    @property
    def byte_count(self) -> int: ...

    @property
    def cancelled(self) -> bool: ...

    @property
    def expected_workers(self) -> int: ...

    def cancel(self) -> None: ...

    def cancel_now(self) -> None: ...

    def run(self) -> SessionResult: ...


@dataclass(frozen=True, slots=True)
class SessionResult:
    """How the session ended and where its record is."""

    session_id: str
    exit_code: int
    cancelled: bool
    counts: dict[str, int]
    summary_path: Path
    log_path: Path
    summary: dict[str, Any]


class Session:
    """Sends studies of a catalog to one or more destinations.

    What to send: the ``plan`` (:func:`~tui_sender.core.engine.prepare.prepare_send` makes
    one for ``send``, the app and ``--resume``); without one, ``instances`` (e.g. from a
    :class:`~tui_sender.core.scan.selection.Selection`), else the studies named by
    ``study_uids``, else the whole catalog, planned when the session runs. With a ``feed``,
    the catalog starts empty and the session fills it from the scan while it sends.
    """

    def __init__(
        self,
        catalog: Catalog,
        targets: Sequence[TransferTarget],
        *,
        study_uids: Sequence[str] | None = None,
        instances: Sequence[Instance] | None = None,
        options: SessionOptions | None = None,
        plan: SendPlan | None = None,
        feed: ScanFeed | None = None,
    ) -> None:
        if not targets:
            raise ValueError("a session needs at least one destination")
        names = [t.name for t in targets]
        if len(set(names)) != len(names):
            raise ValueError("destination names must be unique within a session")
        self.catalog = catalog
        self.targets = list(targets)
        self.options = options or SessionOptions()
        self.session_id = self.options.session_id or new_session_id()
        self.events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self.progress: list[WorkerProgress] = []
        self.ledger = Ledger()
        self.plan = plan
        self.feed = feed
        if feed is not None:
            if plan is not None or instances is not None or study_uids is not None:
                raise ValueError("a session that scans sends everything it finds")
            instances = ()
        elif plan is not None:
            instances = plan.instances
        elif instances is None:
            chosen = (
                catalog.studies_by_uid(study_uids)
                if study_uids is not None
                else list(catalog.studies.values())
            )
            instances = [i for s in chosen for i in s.instances()]
        self._files: list[Instance] = list(instances)
        self._bytes = sum(i.size for i in self._files)
        self._stop_scan = threading.Event()
        self._scan_done = False
        self._scan_complete = True
        self._cancel = threading.Event()
        self._cancel_at: float | None = None
        self._workers: list[Worker] = []
        self._groups: list[tuple[DestinationProcesses, tuple[Batch, ...]]] = []
        """Worker processes, each with the batches it starts with (none while scanning)."""
        self._lock = threading.Lock()
        self._log: SessionLog | None = None
        self._pending: PendingStores | None = None
        self._dest_keys = {t.name: t.link.peer for t in self.targets}
        self._carried: dict[tuple[str, str], Verification] = {}
        """(destination, path) -> the verdict a file skipped as already stored carries."""
        self.files: SessionFiles | None = None

    # -- control -----------------------------------------------------------------

    def cancel(self) -> None:
        """Stop: workers finish the C-STORE in flight (up to the grace period) and release."""
        if self._cancel_at is None:
            self._cancel_at = time.monotonic()
        self._cancel.set()
        for group, _ in list(self._groups):
            group.cancel()

    def cancel_now(self) -> None:
        """Stop at once: shut every association's socket (files in flight: outcome unknown).

        A scan still running stops too: paths it has not reached are not in the record.
        """
        self.cancel()
        self._stop_scan.set()
        self._interrupt_all()

    @property
    def cancelled(self) -> bool:
        """True once cancel was requested."""
        return self._cancel.is_set()

    @property
    def file_count(self) -> int:
        """Files this session was given (per destination)."""
        return len(self._files)

    @property
    def byte_count(self) -> int:
        """Bytes of those files (per destination)."""
        return self._bytes

    @property
    def scanning(self) -> bool:
        """True while the session's own scan may still find files (the counts above grow)."""
        return self.feed is not None and not self._scan_done

    @property
    def expected_workers(self) -> int:
        """How many workers :meth:`run` will start, judged before it plans.

        One per batch of the plan (a study, or a share of one) up to each
        destination's worker count; a screen sizes its worker panes with it
        before the first worker exists. Without a plan yet, files the index
        will find already stored can make it fewer.
        """
        if self.feed is not None:
            return sum(t.workers for t in self.targets)
        plan = self.plan or make_plan(self._files, (), self.targets)  # index not consulted
        return sum(d.associations for d in plan.destinations)

    # -- the run -----------------------------------------------------------------

    def emit(self, event: Event) -> None:
        """Record an event (log, journal, ledger, index) and pass it to the sinks' queue."""
        with self._lock:
            self.ledger.handle(event)
            if self._log is not None:
                self._log.handle(event)
        if isinstance(event, FileDone) and self._pending is not None and event.outcome.stored:
            o = event.outcome
            key = self._dest_keys[o.destination]
            self._pending.add(key, o.sop_instance_uid, o.file_size, event.at)
        self.events.put(event)

    def run(self) -> SessionResult:
        """Send everything, write the record, return the result. Blocks."""
        logs_dir = prepare_logs_dir(self.options.logs_dir)
        self.files = SessionFiles(logs_dir, self.session_id)
        self._log = SessionLog(self.files, self._journal_header(), self._dest_keys)
        index = self.options.index
        plan = self.plan
        if plan is None and self.feed is None:
            plan = self.plan = make_plan(
                self._files,
                self.catalog.skipped,
                self.targets,
                index=index,
                skip_stored=self.options.skip_stored,
                logs_dir=logs_dir,
            )
        if index is not None:
            self._pending = PendingStores(index, self.session_id)
        started = time.time()
        try:
            if plan is not None:
                self._take_in(plan)
                queues = [
                    self._lane(d.target, max(1, min(d.target.workers, len(d.batches))), d.batches)
                    for d in plan.destinations
                    if d.batches
                ]
            else:
                queues = [self._lane(t, t.workers, ()) for t in self.targets]
            self.emit(
                SessionStarted(
                    session_id=self.session_id,
                    destinations=tuple(t.name for t in self.targets),
                    files=len(self._files),
                    bytes=self.byte_count,
                    studies=len({i.study_uid for i in self._files}),
                    skipped=len(self.catalog.skipped),
                    workers=len(self.progress),
                    log_path=str(self.files.log),
                    summary_path=str(self.files.summary),
                    scanning=self.feed is not None,
                    worker_unit="connection"
                    if all(t.web is not None for t in self.targets)
                    else "association",
                )
            )
            self._log_remarks(self._files)
            with _collector_eased():
                threads = self._start_workers()
                if self.feed is not None:
                    self._scan_and_send(self.feed, queues, logs_dir)
                self._join_workers(threads)
                self._account_for_the_rest()
                if self._pending is not None:
                    self._pending.flush()
                ended = time.time()
                exit_code = self._exit_code(queues)
                summary = build_summary(
                    self.ledger,
                    self.catalog,
                    SummaryContext(
                        session_id=self.session_id,
                        started_at=started,
                        ended_at=ended,
                        destinations=[describe_target(t) for t in self.targets],
                        configuration={
                            **self.options.configuration,
                            "skip_already_stored": self.options.skip_stored,
                            "resumed_from": self.options.resumed_from,
                            "scan_while_sending": self.feed is not None,
                            "scan_complete": self._scan_complete,
                        },
                        cancelled=self.cancelled,
                        exit_code=exit_code,
                        log_path=str(self.files.log),
                        include_phi=self.options.include_phi,
                    ),
                )
                self._verify(summary)
                exit_code = int(summary["exit_code"])
                write_private_json(self.files.summary, summary)
            counts = self.ledger.counts()
            self.emit(
                SessionFinished(
                    session_id=self.session_id,
                    exit_code=exit_code,
                    cancelled=self.cancelled,
                    totals={**counts, **summary["totals"]},
                    summary_path=str(self.files.summary),
                    log_path=str(self.files.log),
                )
            )
        finally:
            if self._pending is not None:
                self._pending.flush()
            self._log.close()
        return SessionResult(
            session_id=self.session_id,
            exit_code=exit_code,
            cancelled=self.cancelled,
            counts=counts,
            summary_path=self.files.summary,
            log_path=self.files.log,
            summary=summary,
        )

    def _verify(self, summary: dict[str, Any]) -> None:
        """Prove what each verified destination stored (``--verify``) and record the answers.

        Files skipped as already stored carry what the archive last said about
        them (:meth:`_carry_verified`), verified or not now; a session
        cancelled before it could verify records no verification at all.
        """
        asked = [t for t in self.targets if t.verify.method is not VerifyMethod.NONE]
        if asked and self.cancelled:
            self.emit(LogMessage(level=logging.WARNING, message="cancelled: not verified"))
            return
        carried = self._carry_verified(summary)
        if not asked:
            if carried:  # the counts, with nothing asked now
                apply_to_summary(summary, ())
            return
        jobs = [
            VerifyJob(
                t.name,
                t.link,
                t.verify,
                tuple(stored_instances(summary["files"], t.name)),
                t.web,
            )
            for t in asked
        ]

        def log(text: str) -> None:
            self.emit(LogMessage(message=text))

        checked = run_verification([j for j in jobs if j.instances], emit=self.emit, log=log)
        apply_to_summary(summary, checked)
        assert self._log is not None
        for check in checked:
            for uid, verdict in check.results.items():
                self._log.journal_verified(check.name, uid, verdict)
        self._remember_verified({c.name: c.results for c in checked})

    def _carry_verified(self, summary: dict[str, Any]) -> bool:
        """Give each file skipped as already stored the verdict the index remembers for it.

        Its summary entry gets ``verified``, ``verified_reason`` and
        ``verified_at`` as the earlier session (or ``tui-sender verify``)
        recorded them, and the journal a ``verified`` line, so the record of a
        resumed session or a re-send still says what was proven; one stored
        but never verified stays ``not-asked``. True when any was carried.

        A carried verdict does not change the exit code, even a ``missing``
        or ``unconfirmed`` one under ``--verify``:
        :func:`~tui_sender.core.verify.stage.not_proven` counts only what
        this session stored and asked about. The earlier verdict was already
        that session's (or that ``verify``'s) exit code, and this session
        neither sent the file nor asked about it; ``tui-sender verify`` on the
        earlier record asks again, ``--force`` sends it again.
        """
        if not self._carried:
            return False
        assert self._log is not None
        for f in summary.get("files") or []:
            if f.get("state") != FileState.SKIPPED.value:
                continue
            destination = str(f.get("destination", ""))
            verdict = self._carried.get((destination, path_from_record(f)))
            if verdict is None:
                continue
            f["verified"] = verdict.verified.value
            f["verified_reason"] = verdict.reason
            f["verified_at"] = utc_iso(verdict.at)
            self._log.journal_verified(destination, str(f.get("sop_instance_uid", "")), verdict)
        return True

    def _remember_verified(self, verdicts: Mapping[str, Mapping[str, Verification]]) -> None:
        """Remember this session's verdicts in the stored-instance index, for the sessions
        that will skip these instances (a write that fails costs a warning, not the record)."""
        index = self.options.index
        if index is None:
            return
        try:
            index.add_verified(verdict_rows(verdicts, self._dest_keys))
        except sqlite3.Error as exc:
            message = f"the stored-instance index does not remember these verdicts: {exc}"
            self.emit(LogMessage(level=logging.WARNING, message=message))

    def _take_in(self, plan: SendPlan) -> None:
        """Record what the plan will not send: the scan's skips, files already stored."""
        with self._lock:
            self.ledger.skip_all(plan.unreadable, [t.name for t in self.targets])
        for share in plan.destinations:
            for stored in share.already_stored:
                self._decide(stored.instance, share.target, FileState.SKIPPED, stored.reason)
                if stored.verification is not None:
                    key = (share.target.name, stored.instance.path)
                    self._carried[key] = stored.verification

    def _lane(self, target: TransferTarget, workers: int, batches: Sequence[Batch]) -> Lane:
        """A destination's workers: threads of this process, or spread over child processes
        (``SessionOptions.processes``). Open to more batches while the session scans."""
        progress = []
        for n in range(1, workers + 1):
            name = f"{target.name}/w{n}" if len(self.targets) > 1 else f"w{n}"
            progress.append(WorkerProgress(name=name, destination=target.name))
        self.progress.extend(progress)
        if self.options.processes > 1 and workers > 1:
            group = DestinationProcesses(target, progress, self.emit, self.options.processes)
            self._groups.append((group, tuple(batches)))
            return group
        queue = DestinationQueue(target, batches, open_ended=self.feed is not None)
        for p in progress:
            self._workers.append(Worker(p.name, queue, self.emit, self._cancel, p))
        return queue

    def _scan_and_send(self, feed: ScanFeed, queues: Sequence[Lane], logs_dir: Path) -> None:
        """Scan the inputs, hand each chunk's batches to the running workers, then close
        their queues (the workers finish what is queued and stop)."""
        by_name = {q.target.name: q for q in queues}
        scan_started = time.monotonic()
        seen = 0
        catch_up: Path | None = logs_dir  # the index takes in the logs folder once, first
        try:
            for chunk in feed.chunks(self._stop_scan.is_set):
                seen += len(chunk.results)
                skips_before = len(self.catalog.skipped)
                found = add_results(self.catalog, chunk.results)
                plan = make_plan(
                    found,
                    self.catalog.skipped[skips_before:],
                    self.targets,
                    index=self.options.index,
                    skip_stored=self.options.skip_stored,
                    logs_dir=catch_up,
                )
                catch_up = None
                self._files.extend(found)
                self._bytes += sum(i.size for i in found)
                self._take_in(plan)
                self._log_remarks(found)
                if self.cancelled:
                    continue  # still scanned: what is found is recorded (failed, cancelled)
                for share in plan.destinations:
                    if share.batches:
                        by_name[share.target.name].add(share.batches)
            self._scan_complete = not self._stop_scan.is_set()
        except Exception as exc:  # a bug in the scan must not cost the record of what was sent
            self._scan_complete = False
            self.emit(LogMessage(level=logging.ERROR, message=f"the scan failed: {exc!r}"))
        finally:
            for q in queues:
                q.close()
            self._scan_done = True
        if not self._scan_complete:
            self.emit(
                LogMessage(
                    level=logging.WARNING,
                    message="the scan stopped early: files it did not reach are not in this record",
                )
            )
        self.emit(
            ScanFinished(
                files_seen=seen,
                instances=self.catalog.instance_count(),
                bytes=self._bytes,
                studies=len(self.catalog.studies),
                skipped=len(self.catalog.skipped),
                seconds=time.monotonic() - scan_started,
                complete=self._scan_complete,
            )
        )

    def _log_remarks(self, instances: Sequence[Instance]) -> None:
        """Say which files are sent despite a remark from the scan (e.g. a UID mismatch)."""
        for inst in instances:
            for note in self.catalog.notes.get(inst.path, ()):
                self.emit(
                    LogMessage(
                        level=logging.WARNING,
                        message=f"{display_path(inst.path)}: {note}",
                    )
                )

    def _journal_header(self) -> dict[str, Any]:
        return {
            "started": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "destination_keys": self._dest_keys,
            "files": len(self._files),
            "scan_while_sending": self.feed is not None,
            "resumed_from": self.options.resumed_from,
            **self.options.request,
        }

    def _start_workers(self) -> list[threading.Thread]:
        # Fork every worker process first, while this process runs no worker threads.
        for group, _ in self._groups:
            group.fork()
        for group, batches in self._groups:
            group.listen()
            if self.cancelled:  # cancelled before the children could be told
                group.cancel()
            if batches:
                group.add(batches)
            if self.feed is None:
                group.close()
        threads = [
            threading.Thread(target=w.run, name=f"tui-sender {w.name}", daemon=True)
            for w in self._workers
        ]
        for t in threads:
            t.start()
        return threads

    def _join_workers(self, threads: Sequence[threading.Thread]) -> None:
        interrupted = False
        groups = [g for g, _ in self._groups]
        while any(t.is_alive() for t in threads) or any(g.alive() for g in groups):
            for t in threads:
                t.join(0.05)
            for g in groups:
                g.join(0.05)
            if (
                not interrupted
                and self._cancel_at is not None
                and time.monotonic() - self._cancel_at > self.options.cancel_grace
            ):
                interrupted = True
                self._interrupt_all()

    def _interrupt_all(self) -> None:
        for w in list(self._workers):
            w.interrupt()
        for g, _ in list(self._groups):
            g.interrupt()

    def _account_for_the_rest(self) -> None:
        """Every file without an outcome yet fails with the reason it was not sent."""
        for target in self.targets:
            for inst in self._files:
                if self.ledger.has(target.name, inst.path):
                    continue
                reason = CANCELLED if self.cancelled else "not attempted"
                self._decide(inst, target, FileState.FAILED, reason)

    def _decide(
        self, inst: Instance, target: TransferTarget, state: FileState, reason: str
    ) -> None:
        """Record an outcome the session decides itself (no worker sent the file)."""
        self.emit(
            FileDone(
                worker="session",
                outcome=FileOutcome(
                    path=inst.path,
                    destination=target.name,
                    state=state,
                    sop_instance_uid=inst.sop_instance_uid,
                    sop_class_uid=inst.sop_class_uid,
                    study_uid=inst.study_uid,
                    series_uid=inst.series_uid,
                    reason=reason,
                    file_size=inst.size,
                ),
            )
        )

    def _exit_code(self, queues: Sequence[Lane]) -> int:
        tried = [q for q in queues if q.attempted]
        if tried and all(q.established == 0 for q in tried):
            return EXIT_NO_ASSOCIATION
        return EXIT_FAILED if self.ledger.counts()["failed"] else EXIT_OK


def describe_target(target: TransferTarget) -> dict[str, Any]:
    """A destination as the summary records it (no secrets: TLS is recorded as on or off)."""
    link = target.link
    web = target.web
    entry: dict[str, Any] = {
        "name": target.name,
        "kind": "dimse" if web is None else "dicomweb",
        "peer": link.peer if web is None else web.url,
        "called_ae": link.called_ae,
        "calling_ae": link.calling_ae,
        "host": link.host,
        "port": link.port,
        "workers": target.workers,
        "tls": link.tls_context is not None,
        "max_pdu": link.max_pdu,
        "timeouts": {
            "connect": link.connect_timeout,
            "acse": link.acse_timeout,
            "dimse": link.dimse_timeout,
            "network": link.network_timeout,
        },
        "decompress": target.decompress.value,
        "max_rate_bytes_per_s": link.pacer.rate if link.pacer is not None else None,
        "verify": target.verify.method.value,
    }
    if web is not None:
        entry |= {
            "url": web.url,
            "tls": web.ssl_context is not None,
            "auth": web.credentials.describe() if web.credentials is not None else None,
            "stow_instances": web.max_instances,
            "stow_bytes": web.max_bytes,
        }
    return entry
