"""The headless console sink: what ``tui-sender send`` prints while it works.

On a terminal: a Rich live display (overall bar with bytes/s and ETA, one
line per worker) with important lines scrolling above it. When piped or
under cron: plain lines only, a progress line every few seconds, no escape
codes. ``-v`` adds one line per file and the negotiation of every
association. Reads the session's event queue and polls its
:class:`~tui_sender.core.model.progress.WorkerProgress` at 10 Hz; never per file.
"""

from __future__ import annotations

import queue
import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from tui_sender.core.base import wording
from tui_sender.core.dicom import registry
from tui_sender.core.engine.session import Session, SessionResult
from tui_sender.core.model.events import (
    AssociationFailed,
    AssociationOpened,
    Event,
    FileDone,
    FileRetrying,
    LogMessage,
    ScanFinished,
    SessionFinished,
    SessionStarted,
    VerificationFinished,
    VerificationStarted,
)
from tui_sender.core.model.outcomes import FileState
from tui_sender.core.model.progress import WorkerProgress
from tui_sender.core.model.recorded_path import display_path
from tui_sender.core.record.session_log import describe
from tui_sender.core.record.summary_reading import carried_verdicts

PLAIN_PROGRESS_EVERY = 5.0


class ConsoleSink:
    """Turns session events and counters into console output."""

    def __init__(self, console: Console, session: Session, *, verbose: bool, quiet: bool) -> None:
        self.console = console
        self.session = session
        self.verbose = verbose
        self.quiet = quiet
        self.live = console.is_terminal and not quiet
        self._progress: Progress | None = None
        self._overall: TaskID | None = None
        self._worker_tasks: dict[str, TaskID] = {}
        self._last_plain = time.monotonic()
        self._started = time.monotonic()

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        """Show the live display (terminal only)."""
        if not self.live:
            return
        self._progress = Progress(
            TextColumn("{task.description}", justify="left"),
            BarColumn(bar_width=30),
            TextColumn("{task.fields[files]}"),
            DownloadColumn(binary_units=False),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            refresh_per_second=10,
            transient=False,
        )
        self._progress.start()
        self._overall = self._progress.add_task("[bold]all", total=1, files="")

    def stop(self) -> None:
        """Print what is left, and leave the live display (its last frame stays on screen).

        Polls in plain mode too: a session that ended before the first tick (a destination
        refused at once) still has every event to print."""
        self.poll()
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    # -- the 10 Hz tick --------------------------------------------------------------

    def poll(self) -> None:
        """Print what happened since the last tick and refresh the counters."""
        while True:
            try:
                event = self.session.events.get_nowait()
            except queue.Empty:
                break
            self._on_event(event)
        if self._progress is not None:
            self._refresh_bars()
        elif not self.quiet:
            now = time.monotonic()
            if now - self._last_plain >= PLAIN_PROGRESS_EVERY:
                self._last_plain = now
                self._plain_progress()

    def _print(self, text: str, style: str = "") -> None:
        target = self._progress.console if self._progress is not None else self.console
        target.print(text, style=style or None, markup=False, highlight=False, soft_wrap=True)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, FileDone):
            o = event.outcome
            if o.state is FileState.FAILED and not self.quiet:
                self._print(f"✗ {display_path(o.path)}: {o.reason}", "red")
            elif o.state is FileState.WARNING and not self.quiet:
                self._print(f"! {display_path(o.path)}: {o.reason}", "yellow")
            elif self.verbose and o.state is FileState.SENT:
                self._print(describe(event) or "", "green")
            return
        if isinstance(event, AssociationOpened):
            if self.verbose:
                self._print(describe(event) or "", "cyan")
            elif event.rejected and event.association_id != "-":
                names = sorted({registry.sop_class_name(c.sop_class_uid) for c in event.rejected})
                self._print(
                    f"{event.association_id}: {len(event.rejected)} of {len(event.contexts)} "
                    f"presentation contexts rejected ({', '.join(names[:4])}"
                    f"{', ...' if len(names) > 4 else ''}); -v shows them all",
                    "yellow",
                )
            return
        if isinstance(event, AssociationFailed | FileRetrying):
            if not self.quiet:
                self._print(describe(event) or "", "yellow")
            return
        if isinstance(event, LogMessage):
            if self.verbose or event.level >= 30:
                self._print(describe(event) or "")
            return
        if isinstance(event, SessionStarted):
            if not self.quiet and event.scanning:
                self._print(
                    f"Sending to {', '.join(event.destinations)} with {event.workers} "
                    f"{event.worker_unit}(s) as the scan finds files; session {event.session_id}"
                )
            elif not self.quiet:
                self._print(
                    f"Sending {event.files} files ({wording.size(event.bytes)}) in "
                    f"{event.studies} studies to {', '.join(event.destinations)} with "
                    f"{event.workers} {event.worker_unit}(s); {event.skipped} paths skipped; "
                    f"session {event.session_id}"
                )
            return
        if isinstance(event, ScanFinished):
            if not self.quiet:
                self._print(
                    wording.scan_result(
                        event.files_seen,
                        event.instances,
                        event.bytes,
                        event.studies,
                        event.skipped,
                        event.seconds,
                    )
                    + ("" if event.complete else " (stopped early)")
                )
            return
        if isinstance(event, VerificationStarted | VerificationFinished):
            if not self.quiet or isinstance(event, VerificationFinished):
                doubtful = isinstance(event, VerificationFinished) and (
                    event.error or not _all_proven(event.counts)
                )
                self._print(describe(event) or "", "yellow" if doubtful else "")
            return
        if isinstance(event, SessionFinished):
            return
        if self.verbose:
            text = describe(event)
            if text:
                self._print(text, "dim")

    def _refresh_bars(self) -> None:
        assert self._progress is not None and self._overall is not None
        workers = self.session.progress
        done = sum(w.bytes_done + _in_flight(w) for w in workers)
        files = sum(w.files_done for w in workers)
        total_files = self.session.file_count * len(self.session.targets)
        failed = sum(w.failed for w in workers)
        scanning = " (scanning)" if self.session.scanning else ""
        self._progress.update(
            self._overall,
            total=max(self.session.byte_count * len(self.session.targets), 1),
            completed=done,
            files=f"{files}/{total_files}{scanning} files"
            + (f", {failed} failed" if failed else ""),
        )
        for w in workers:
            task = self._worker_tasks.get(w.name)
            if task is None:
                task = self._progress.add_task(w.name, total=1, files="")
                self._worker_tasks[w.name] = task
            study_total = max(w.study_files, 1)
            self._progress.update(
                task,
                description=f"  {w.name} {w.state.value:<10}",
                total=study_total,
                completed=w.study_files_done,
                files=f"{w.files_done} files {w.association_id}",
            )

    def _plain_progress(self) -> None:
        workers = self.session.progress
        files = sum(w.files_done for w in workers)
        done = sum(w.bytes_done for w in workers)
        elapsed = max(time.monotonic() - self._started, 1e-6)
        total_files = self.session.file_count * len(self.session.targets)
        self._print(
            f"progress: {files}/{total_files} files, {wording.size(done)}, "
            f"{wording.rate(done / elapsed)}"
        )

    # -- the end ---------------------------------------------------------------------

    def report(self, result: SessionResult) -> None:
        """The final totals and where the record is."""
        totals = result.summary["totals"]
        table = Table(title=None, show_header=True, header_style="bold", box=None)
        for column in ("found", "sent", "warning", "failed", "skipped", "size", "time", "rate"):
            table.add_column(column, justify="right")
        table.add_row(
            str(totals["found"]),
            str(totals["sent"]),
            str(totals["warning"]),
            str(totals["failed"]),
            str(totals["skipped"]),
            wording.size(totals["bytes_sent"]),
            wording.duration(totals["duration_s"]),
            wording.throughput(totals["mb_per_s"], totals["images_per_s"]),
        )
        if self.console.is_terminal:
            self.console.print(table)
        else:
            self.console.print(
                f"found {totals['found']}: {totals['sent']} sent, {totals['warning']} warning, "
                f"{totals['failed']} failed, {totals['skipped']} skipped; "
                f"{wording.size(totals['bytes_sent'])} in {wording.duration(totals['duration_s'])} "
                f"({wording.throughput(totals['mb_per_s'], totals['images_per_s'])})",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        if totals.get("converted"):
            self.console.print(
                f"{totals['converted']} files were converted to a transfer syntax the "
                "destination accepted (see the summary)",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        carried = carried_verdicts(result.summary.get("files") or [])
        if carried:
            tally = ", ".join(f"{n:,} {value}" for value, n in carried.most_common())
            self.console.print(
                f"{sum(carried.values()):,} skipped as already stored carry an earlier "
                f"verification: {tally}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        if result.cancelled:
            self.console.print("Cancelled: unsent files are marked failed (cancelled).")
        self.console.print(
            f"Summary: {result.summary_path}\nLog:     {result.log_path}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def _in_flight(w: WorkerProgress) -> int:
    return min(w.current_bytes_done, w.current_bytes) if w.current_path else 0


def _all_proven(counts: dict[str, int]) -> bool:
    """True when a verification's counts hold nothing but committed and found."""
    return not any(counts.get(v) for v in ("commit-failed", "missing", "unconfirmed"))
