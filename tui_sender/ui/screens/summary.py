"""After a send: what happened, per study and destination, and the failures.

Built from the session's summary document (the same one written to
``logs/``), so the screen and the record cannot disagree. ``x`` exports the
record (JSON summary, log, per-file CSV, HTML report) and says where; ``r``
sends the failed files again to the same destinations.

When a destination was verified (storage commitment or C-FIND), a section
gives its verified counts and lists the instances not proven held. ``v``
asks the archive about those again (in a thread worker, through the core's
verification stage) and writes the updated summary beside the record, as
``tui-sender verify`` does; ``u`` sends them again in a new session.
"""

from __future__ import annotations

import os
import time
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from tui_sender.core.base import wording
from tui_sender.core.base.private_files import write_private_json
from tui_sender.core.engine.session import RunningSession, SessionResult
from tui_sender.core.model.catalog import Instance
from tui_sender.core.model.events import (
    VerificationFinished,
    VerificationProgress,
    VerificationStarted,
)
from tui_sender.core.model.recorded_path import display_path, path_from_record
from tui_sender.core.record.earlier import verified_path
from tui_sender.core.record.stored_index import StoredIndex
from tui_sender.core.verify.stage import VerifyJob, not_proven, run_verification
from tui_sender.ui.host import SenderHost, host_of
from tui_sender.ui.messages import VerificationReported
from tui_sender.ui.palette import palette
from tui_sender.ui.screens.reverify import (
    Reverified,
    remember_reverified,
    reverified_summary,
    reverify_jobs,
)
from tui_sender.ui.widgets.key_footer import KeyFooter
from tui_sender.ui.widgets.screen_header import ScreenHeader
from tui_sender.ui.widgets.study_tree import format_date
from tui_sender.ui.widgets.verification_board import VerificationPhase
from tui_sender.ui.widgets.verification_report import VerificationReport

FAILED_SHOWN = 1000


class SummaryScreen(Screen[None]):
    """The end of a session."""

    BINDINGS = [
        Binding("x", "export", "Export", tooltip="Write the CSV and HTML report next to the log"),
        Binding("r", "resend_failed", "Resend failed", tooltip="Send the failed files again"),
        Binding(
            "v",
            "verify_again",
            "Reverify",
            id="summary.verify-again",
            tooltip="Ask the archive again about the instances it did not prove it holds",
        ),
        Binding(
            "u",
            "resend_unverified",
            "Resend unverified",
            id="summary.resend-unverified",
            tooltip="Send the instances not proven held again, in a new session",
        ),
        Binding("escape", "back", "Back to studies"),
        Binding("b", "back", "Back", show=False),
    ]

    def __init__(self, result: SessionResult, session: RunningSession) -> None:
        super().__init__()
        self.result = result
        self.session = session
        self.summary: dict[str, Any] = result.summary
        self._problems: list[dict[str, Any]] = []
        self.sub_title = f"session {result.session_id}"
        self.record_path = result.summary_path
        """Where the summary shown is on disk (the ``.verified.json`` once verified again)."""
        self.verifying: dict[str, VerificationPhase] = {}
        """The destinations being verified again, by name (empty: no verification running)."""
        self._verify_clock: Timer | None = None

    @property
    def sender(self) -> SenderHost:
        """The app, as screens see it (no import of the app: no circle)."""
        return host_of(self.app)

    def compose(self) -> ComposeResult:
        yield ScreenHeader()
        yield Static(self._headline(), id="summary-headline")
        with Vertical(id="summary-body"):
            yield Static("Studies", classes="section-title")
            yield DataTable(id="summary-studies", cursor_type="row", zebra_stripes=True)
            yield Static(self._failed_title(), classes="section-title", id="failed-title")
            yield DataTable(id="summary-failed", cursor_type="row")
            yield Static(id="summary-detail")
            yield VerificationReport(self.summary, str(self.record_path), id="summary-verification")
        yield Static(self._where(), id="summary-where")
        # Compact when the verification keys are there too: room for all of them at 80 columns.
        yield KeyFooter(compact=bool(not_proven(self.summary)))

    def on_mount(self) -> None:
        self.sender.last_exit_code = int(self.summary.get("exit_code") or 0)
        studies = self.query_one("#summary-studies", DataTable)
        studies.add_columns(
            "date", "mod", "files", "sent", "warn", "failed", "skip", "to", "description"
        )
        for s in self.summary["studies"]:
            studies.add_row(
                format_date(s.get("study_date", "")),
                "/".join(s.get("modalities", []))[:11],
                str(s["files"]),
                str(s["sent"]),
                str(s["warning"]),
                Text(str(s["failed"]), style="bold red") if s["failed"] else "0",
                str(s["skipped"]),
                s["destination"][:18],
                (s.get("description") or "")[:40],
            )
        failed = self.query_one("#summary-failed", DataTable)
        failed.add_columns("state", "status", "file", "reason")
        self._problems = [f for f in self.summary["files"] if f["state"] in ("failed", "warning")]
        skipped = [f for f in self.summary["files"] if f["state"] == "skipped"]
        self._problems += skipped[: max(0, FAILED_SHOWN - len(self._problems))]
        for f in self._problems[:FAILED_SHOWN]:
            name = os.path.basename(display_path(path_from_record(f)))
            failed.add_row(f["state"], f["status"] or "-", name, f["reason"])
        if not self._problems:
            failed.display = False
        report = self.query_one(VerificationReport)
        if self._problems:
            failed.focus()
        elif not_proven(self.summary):
            report.table.focus()
        else:
            studies.focus()
        self._show_detail(0)

    @on(DataTable.RowHighlighted, "#summary-failed")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.cursor_row)

    def _show_detail(self, row: int) -> None:
        """The highlighted failure in full: path, status and reason, wrapped."""
        detail = self.query_one("#summary-detail", Static)
        if not self._problems or row >= len(self._problems):
            detail.display = False
            return
        f = self._problems[row]
        detail.display = True
        detail.update(
            Text.assemble(
                (f"{f['state']} {f['status'] or ''} ", "bold"),
                display_path(path_from_record(f)),
                "\n",
                f["reason"],
            )
        )

    def _headline(self) -> Text:
        t = self.summary["totals"]
        c = palette(self.app)
        text = Text()
        state = "Cancelled" if self.result.cancelled else "Finished"
        text.append(f"{state}: ", style="bold")
        text.append(f"{t['sent']} sent", style="bold " + c.get("success", "green"))
        text.append(" · ")
        text.append(f"{t['warning']} warning", style=c.get("warning", "yellow"))
        text.append(" · ")
        text.append(f"{t['failed']} failed", style="bold " + c.get("error", "red"))
        text.append(f" · {t['skipped']} skipped of {t['found']}  ")
        text.append(
            f"{wording.size(t['bytes_sent'])} in {t['duration_s']:.1f} s "
            f"({wording.throughput(t['mb_per_s'], t['images_per_s'])})"
        )
        if t.get("converted"):
            text.append(f" · {t['converted']} converted")
        return text

    def _failed_title(self) -> str:
        t = self.summary["totals"]
        n = t["failed"] + t["warning"] + t["skipped"]
        return f"Failed, warnings and skipped ({n})" if n else "No failures"

    def _where(self) -> str:
        return f"Record: {self.record_path}  ·  log {self.result.log_path}"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The verification keys show only when some instance is not proven held, and are
        greyed out while a second verification runs; "resend failed" only when a file failed
        (the footer of an 80-column terminal has no room for keys that do nothing)."""
        if action == "resend_failed":
            return any(f["state"] == "failed" for f in self.summary["files"])
        if action in ("verify_again", "resend_unverified"):
            if not not_proven(self.summary):
                return False
            return None if self.verifying else True
        return True

    # -- actions -------------------------------------------------------------------

    def action_back(self) -> None:
        """Back to the study browser."""
        self.app.pop_screen()

    def action_export(self) -> None:
        """Write the per-file CSV and the HTML report beside the JSON summary."""
        from tui_sender.core.record.export import export_session

        directory = self.result.summary_path.parent
        try:
            exported = export_session(
                self.summary, directory, f"dicom_sender_report_{self.result.session_id}"
            )
        except OSError as exc:
            self.notify(f"Export failed: {exc}", severity="error")
            return
        lines = "\n".join(f"{label}: {path}" for label, path in exported.labelled())
        self.query_one("#summary-where", Static).update(f"Exported:\n{lines}")
        self.notify(lines, title="Record exported", timeout=10)

    def action_resend_failed(self) -> None:
        """Send the failed files again to the same destinations."""
        failed_paths = {
            path_from_record(f) for f in self.summary["files"] if f["state"] == "failed"
        }
        if not failed_paths:
            self.notify("Nothing failed.")
            return
        instances: list[Instance] = [
            i for i in self.sender.catalog.instances() if i.path in failed_paths
        ]
        if not instances:
            self.notify("The failed files are not in the catalog any more.", severity="warning")
            return
        names = [t.name for t in self.session.targets]
        destinations = [self.sender.book.get(n) for n in names if n in self.sender.book]
        if not destinations:
            self.notify("Those destinations are not in the address book.", severity="warning")
            return
        self.app.pop_screen()
        self.sender.start_session(destinations, instances)

    def _unverified_for(self) -> tuple[str, list[dict[str, Any]]]:
        """The destination to re-send to, and its not-proven file entries.

        A session goes to every destination it names with the same instances, so a
        re-send of unverified instances goes to one destination: the only one with
        any, else the one of the highlighted row.
        """
        doubtful = list(not_proven(self.summary))
        names = list(dict.fromkeys(str(f.get("destination", "")) for f in doubtful))
        if not names:
            return "", []
        name = names[0]
        if len(names) > 1:
            row = self.query_one(VerificationReport).highlighted()
            if row is not None:
                name = str(row.get("destination", name))
        return name, [dict(f) for f in doubtful if f.get("destination") == name]

    def action_resend_unverified(self) -> None:
        """Send the instances a destination did not prove it holds again, to it alone.

        The stored-instance index says they were stored, so this send does not
        skip them (``force``); the new session verifies them as this one did.
        """
        if self.verifying:
            self.notify("Wait for the verification to end.", severity="warning")
            return
        name, entries = self._unverified_for()
        if not entries:
            self.notify("Every stored instance was proven held.")
            return
        paths = {path_from_record(f) for f in entries}
        instances = [i for i in self.sender.catalog.instances() if i.path in paths]
        if not instances:
            self.notify("Those files are not in the catalog any more.", severity="warning")
            return
        if name not in self.sender.book:
            self.notify(f"{name} is not in the address book.", severity="warning")
            return
        others = {str(f.get("destination")) for f in not_proven(self.summary)} - {name}
        if others:
            self.notify(
                f"Sending to {name} only; {', '.join(sorted(others))} also has unverified "
                "instances (highlight one of its rows, then u).",
                severity="warning",
                timeout=8,
            )
        destination = self.sender.book.get(name)
        self.app.pop_screen()
        self.sender.start_session([destination], instances, force=True)

    def action_verify_again(self) -> None:
        """Ask each archive again about the instances it did not prove it holds."""
        if self.verifying:
            return
        jobs = reverify_jobs(self.summary, self.session.targets)
        if not jobs:
            self.notify("Nothing to verify again.")
            return
        self.verifying = {
            job.name: VerificationPhase(
                job.name,
                job.settings.method.value,
                job.settings.timeout,
                not_run="queued",
                web=job.web is not None,
            )
            for job in jobs
        }
        self._show_verifying()
        # The waits for reports send no event: the seconds waited tick on a timer.
        self._verify_clock = self.set_interval(1.0, self._show_verifying)
        self.refresh_bindings()
        self._verify_again(jobs, self.sender.stored_index())

    @work(thread=True, exclusive=True, group="verify", name="verify-again", exit_on_error=False)
    def _verify_again(self, jobs: list[VerifyJob], index: StoredIndex | None) -> Reverified:
        """Run the core's verification stage, then record its answers beside the summary."""

        def report(event: object) -> None:
            if isinstance(event, VerificationStarted | VerificationProgress | VerificationFinished):
                self.post_message(VerificationReported(event))

        checked = run_verification(jobs, emit=report)
        summary = reverified_summary(self.summary, checked)
        out = verified_path(self.result.summary_path, str(summary.get("session_id", "")))
        write_private_json(out, summary)
        warning = remember_reverified(checked, self.session.targets, index)
        return Reverified(summary, checked, out, warning)

    def on_verification_reported(self, message: VerificationReported) -> None:
        """A step of the second verification: shown under the counts."""
        event = message.event
        phase = self.verifying.get(event.destination)
        if phase is None:
            return
        phase.take(event, time.monotonic())
        self._show_verifying()

    def _show_verifying(self) -> None:
        now = time.monotonic()
        lines = [
            f"Verifying again: {p.destination} {p.detail(now)}"
            for p in self.verifying.values()
            if p.finished is None
        ]
        self.query_one(VerificationReport).status("\n".join(lines))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The second verification ended: show the new counts, or why it could not run."""
        if event.worker.name != "verify-again":
            return
        if event.state is WorkerState.SUCCESS and isinstance(event.worker.result, Reverified):
            done = event.worker.result
            self.summary = done.summary
            self.sender.last_exit_code = int(self.summary.get("exit_code") or 0)
            self.record_path = done.written_to
            report = self.query_one(VerificationReport)
            report.status("")
            report.show(self.summary, str(self.record_path))
            self.query_one("#summary-where", Static).update(self._where())
            lines = [
                f"{c.name}: "
                + (
                    f"could not run: {c.error}"
                    if c.error
                    else wording.verification_result(c.counts(), c.method.value)
                )
                for c in done.checked
            ]
            lines.append(f"Written to {done.written_to}")
            if done.warning:
                lines.append(done.warning)
            doubtful = bool(not_proven(self.summary)) or bool(done.warning)
            self.notify(
                "\n".join(lines),
                title="Verified again",
                severity="warning" if doubtful else "information",
                timeout=10,
            )
        elif event.state is WorkerState.ERROR:
            self.query_one(VerificationReport).status("")
            self.notify(f"Verifying again failed: {event.worker.error}", severity="error")
        else:
            return
        self.verifying = {}
        if self._verify_clock is not None:
            self._verify_clock.stop()
            self._verify_clock = None
        self.refresh_bindings()
