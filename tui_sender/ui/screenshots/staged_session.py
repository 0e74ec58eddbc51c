"""A :class:`~tui_sender.core.engine.session.Session` that opens no association.

It is what the dashboard and summary pictures run on: the events up to a
pause mid-transfer are queued when it is built and its workers' counters hold
their values at that pause, so the dashboard draws a fixed frame; :meth:`run`
(in the dashboard's thread worker) waits for :meth:`StagedSession.release`
and then plays the rest, and the summary is built by the real
``build_summary`` from fixed start and end times. The script itself comes
from :mod:`.staged_script`.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from textual.worker import NoActiveWorker, Worker, get_current_worker

from tui_sender.core.dicom.negotiation import Batch, plan_batches
from tui_sender.core.engine.session import (
    EXIT_FAILED,
    EXIT_OK,
    Session,
    SessionOptions,
    SessionResult,
    describe_target,
)
from tui_sender.core.engine.targets import TransferTarget
from tui_sender.core.model.catalog import Catalog, Instance
from tui_sender.core.model.events import (
    AssociationClosed,
    Event,
    FileDone,
    SessionFinished,
    SessionStarted,
)
from tui_sender.core.model.outcomes import FileState
from tui_sender.core.model.progress import WorkerProgress, WorkerState
from tui_sender.core.record.session_log import SessionFiles
from tui_sender.core.record.summary import SummaryContext, build_summary
from tui_sender.ui.screenshots.staged_script import (
    STAGED_STATUSES,
    association_opened,
    peer_answer,
    play_study,
    staged_seconds,
)

SESSION_ID = "20250314-093012-5c7a1e"
SESSION_START = dt.datetime(2025, 3, 14, 9, 30, 12, tzinfo=dt.UTC).timestamp()
PAUSED_FRACTION = 0.6
"""How far into its first study each worker is at the pause."""
STAGE_LIMIT = 120.0
"""A staged session never waits longer than this for its release (seconds)."""


@dataclass
class _Lane:
    """One staged worker: its counters, its association and its studies."""

    progress: WorkerProgress
    association_id: str
    batches: list[Batch]


class StagedSession(Session):
    """A session that sends nothing: it plays a script of engine events.

    ``inputs`` only goes into the summary's configuration, as the app's does.
    """

    def __init__(
        self,
        catalog: Catalog,
        targets: Sequence[TransferTarget],
        instances: Sequence[Instance],
        inputs: Sequence[str] = (),
    ) -> None:
        options = SessionOptions(
            logs_dir=Path("logs"),
            session_id=SESSION_ID,
            configuration={"inputs": list(inputs), "via": "tui"},
        )
        super().__init__(catalog, targets, instances=instances, options=options)
        self.files = SessionFiles(options.logs_dir, self.session_id)
        self.paused_after = 0.0
        """Seconds into the session at the pause (what the dashboard's clock should say)."""
        self.finished_after = 0.0
        """Seconds the whole session takes."""
        self._released = threading.Event()
        self._lanes = self._plan_lanes()
        self.progress = [lane.progress for lane in self._lanes]
        self._rest: list[Event] = []
        self._stage()

    def release(self) -> None:
        """Let the session finish (from any thread)."""
        self._released.set()

    # -- the script up to the pause --------------------------------------------------

    def _plan_lanes(self) -> list[_Lane]:
        """Split each destination's batches (largest first) over its workers."""
        studies: dict[str, list[Instance]] = {}
        for inst in self._files:
            studies.setdefault(inst.study_uid, []).append(inst)
        batches = plan_batches(studies)
        lanes: list[_Lane] = []
        for target in self.targets:
            count = min(target.workers, len(batches))
            for n in range(count):
                name = f"{target.name}/w{n + 1}" if len(self.targets) > 1 else f"w{n + 1}"
                progress = WorkerProgress(name=name, destination=target.name)
                lanes.append(_Lane(progress, f"A{len(lanes) + 1}", batches[n::count]))
        return lanes

    def _stage(self) -> None:
        """Queue the events up to the pause; keep the rest for :meth:`run`."""
        assert self.files is not None
        self.ledger.skip_all(self.catalog.skipped, [t.name for t in self.targets])
        before: list[Event] = [
            SessionStarted(
                session_id=self.session_id,
                destinations=tuple(t.name for t in self.targets),
                files=self.file_count,
                bytes=self.byte_count,
                studies=len({i.study_uid for i in self._files}),
                skipped=len(self.catalog.skipped),
                workers=len(self._lanes),
                log_path=str(self.files.log),
                summary_path=str(self.files.summary),
            )
        ]
        for number, lane in enumerate(self._lanes):
            before += self._stage_lane(lane, staged=number == 0)
        for k, event in enumerate(before):
            self.emit(replace(event, at=SESSION_START + self.paused_after * k / len(before)))

    def _stage_lane(self, lane: _Lane, *, staged: bool) -> list[Event]:
        """One worker's events before the pause; its later ones go to the rest."""
        worker, association_id = lane.progress.name, lane.association_id
        target = next(t for t in self.targets if t.name == lane.progress.destination)
        contexts = peer_answer(lane.batches[0])
        before = association_opened(worker, association_id, target, contexts)
        for index, batch in enumerate(lane.batches):
            statuses = STAGED_STATUSES if staged and index == 0 else {}
            study = play_study(worker, association_id, target, contexts, batch, statuses)
            if index > 0:
                self._rest += study.events()
                continue
            done = min(round(PAUSED_FRACTION * len(batch.instances)), len(batch.instances) - 1)
            before += study.head + [e for file in study.files[:done] for e in file]
            self._rest += [e for file in study.files[done:] for e in file] + study.tail
            _freeze(lane, batch, done, [file[-1] for file in study.files[:done]])
        files = sum(len(b.instances) for b in lane.batches)
        size = sum(b.bytes for b in lane.batches)
        seconds = staged_seconds(files, size)
        p = lane.progress
        self.paused_after = max(self.paused_after, staged_seconds(p.files_done, p.bytes_done))
        self.finished_after = max(self.finished_after, seconds)
        self._rest.append(
            AssociationClosed(
                worker=worker,
                association_id=association_id,
                destination=target.name,
                released=True,
                files=files,
                bytes=size,
                seconds=seconds,
            )
        )
        return before

    # -- the run -----------------------------------------------------------------

    def run(self) -> SessionResult:
        """Wait for the release (or a cancel, or the app's exit), play the rest, return."""
        worker = _current_worker()
        deadline = time.monotonic() + STAGE_LIMIT
        while not self._released.wait(0.02):
            app_exiting = worker is not None and worker.is_cancelled
            if self.cancelled or app_exiting or time.monotonic() > deadline:
                break
        if not self.cancelled:
            span = self.finished_after - self.paused_after
            for k, event in enumerate(self._rest):
                at = SESSION_START + self.paused_after + span * k / len(self._rest)
                self.emit(replace(event, at=at))
            for lane in self._lanes:
                lane.progress.state = WorkerState.DONE
        self._account_for_the_rest()
        return self._finish()

    def _finish(self) -> SessionResult:
        """The summary from fixed times, SessionFinished, the result."""
        assert self.files is not None
        counts = self.ledger.counts()
        exit_code = EXIT_FAILED if counts["failed"] else EXIT_OK
        summary = build_summary(
            self.ledger,
            self.catalog,
            SummaryContext(
                session_id=self.session_id,
                started_at=SESSION_START,
                ended_at=SESSION_START + self.finished_after,
                destinations=[describe_target(t) for t in self.targets],
                configuration=dict(self.options.configuration),
                cancelled=self.cancelled,
                exit_code=exit_code,
                log_path=str(self.files.log),
            ),
        )
        self.emit(
            SessionFinished(
                at=SESSION_START + self.finished_after,
                session_id=self.session_id,
                exit_code=exit_code,
                cancelled=self.cancelled,
                totals={**counts, **summary["totals"]},
                summary_path=str(self.files.summary),
                log_path=str(self.files.log),
            )
        )
        return SessionResult(
            session_id=self.session_id,
            exit_code=exit_code,
            cancelled=self.cancelled,
            counts=counts,
            summary_path=self.files.summary,
            log_path=self.files.log,
            summary=summary,
        )


def _freeze(lane: _Lane, batch: Batch, done: int, finished: Sequence[Event]) -> None:
    """Set the worker's counters to the pause: ``done`` files of ``batch`` have an outcome
    (``finished``: their FileDone events) and the next one is half sent."""
    p = lane.progress
    current = batch.instances[done]
    p.state = WorkerState.SENDING
    p.association_id = lane.association_id
    p.associations = 1
    p.started_at = SESSION_START
    p.study_uid = batch.study_uid
    p.study_files = len(batch.instances)
    p.study_files_done = done
    p.current_path = current.path
    p.current_bytes = current.size
    p.current_bytes_done = current.size // 2
    p.files_done = done
    p.bytes_done = sum(i.size for i in batch.instances[:done])
    p.last_status = "0x0000"
    states = [e.outcome.state for e in finished if isinstance(e, FileDone)]
    p.sent = states.count(FileState.SENT)
    p.warning = states.count(FileState.WARNING)
    p.failed = states.count(FileState.FAILED)


def _current_worker() -> Worker[Any] | None:
    """The Textual worker running this thread, if any (its cancel means the app is exiting)."""
    try:
        return get_current_worker()
    except NoActiveWorker:
        return None
