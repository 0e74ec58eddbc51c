"""Resume: pick an earlier session and send what it did not get stored.

Lists the journals in the logs folder (newest first) with whether each
session ended or was interrupted and what it stored. Choosing one scans its
inputs again (in a thread) and starts a session to its destinations; the
stored-instance index makes that session skip what is already there, so
only failed, cancelled, unknown-outcome and never-reached files travel.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from tui_sender.core.config.settings import ConfigError
from tui_sender.core.model.catalog import Catalog
from tui_sender.core.record.journal import list_journals, read_journal
from tui_sender.core.record.resume import ResumePlan, load_resume
from tui_sender.core.scan.scanner import scan_paths
from tui_sender.ui.host import SenderHost, host_of

SHOWN = 50


class ResumeScreen(ModalScreen[None]):
    """Choose a session to resume (enter), or go back (escape)."""

    BINDINGS = [
        Binding("enter", "resume", "Resume", priority=True),
        Binding("escape", "dismiss", "Back"),
    ]

    @property
    def sender(self) -> SenderHost:
        """The app, as screens may use it."""
        return host_of(self.app)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="resume-dialog"):
            yield Static("Resume a session", classes="dialog-title")
            yield DataTable(id="resume-table", cursor_type="row")
            yield Static(id="resume-note")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("session", "state", "stored", "failed/other", "to")
        journals = list_journals(self.sender.logs_dir)[:SHOWN]
        for path in journals:
            journal = read_journal(path)
            stored = sum(1 for _ in journal.stored())
            other = len(journal.files) - stored
            names = ", ".join(
                str(d.get("name", "?")) for d in journal.header.get("destinations", []) or []
            )
            table.add_row(
                journal.session_id,
                "ended" if journal.complete else "INTERRUPTED",
                str(stored),
                str(other),
                names[:30],
                key=journal.session_id,
            )
        note = self.query_one("#resume-note", Static)
        if not journals:
            note.update(f"No sessions in {self.sender.logs_dir} yet.")
        else:
            note.update("enter: send what that session did not store · escape: back")
        table.focus()

    def action_resume(self) -> None:
        """Load the highlighted session's request and start it again."""
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return
        session_id = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        try:
            plan = load_resume(self.sender.logs_dir, session_id, self.sender.book)
        except ConfigError as exc:
            self.notify(str(exc), severity="error")
            return
        self.query_one("#resume-note", Static).update(
            f"Scanning {len(plan.inputs)} input(s) of {plan.session_id} …"
        )
        self._scan_then_send(plan)

    @work(thread=True, exclusive=True, group="resume")
    def _scan_then_send(self, plan: ResumePlan) -> None:
        catalog = scan_paths(list(plan.inputs), recursive=plan.recursive)
        self.app.call_from_thread(self._start, plan, catalog)

    def _start(self, plan: ResumePlan, catalog: Catalog) -> None:
        instances = plan.select(catalog)
        if not instances:
            self.notify("None of that session's files are there any more.", severity="warning")
            return
        self.dismiss()
        self.sender.start_session(
            list(plan.destinations),
            instances,
            catalog=catalog,
            inputs=list(plan.inputs),
            resumed_from=plan.session_id,
        )
