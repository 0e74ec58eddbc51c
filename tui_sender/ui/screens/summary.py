"""After a send: what happened, per study and destination, and the failures.

Built from the session's summary document (the same one written to
``logs/``), so the screen and the record cannot disagree. ``x`` exports the
record (JSON summary, log, per-file CSV, HTML report) and says where; ``r``
sends the failed files again to the same destinations.
"""

from __future__ import annotations

import os
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from tui_sender.core.base import wording
from tui_sender.core.engine.session import RunningSession, SessionResult
from tui_sender.core.model.catalog import Instance
from tui_sender.core.model.recorded_path import display_path, path_from_record
from tui_sender.ui.host import SenderHost, host_of
from tui_sender.ui.palette import palette
from tui_sender.ui.widgets.key_footer import KeyFooter
from tui_sender.ui.widgets.study_tree import format_date

FAILED_SHOWN = 1000


class SummaryScreen(Screen[None]):
    """The end of a session."""

    BINDINGS = [
        Binding("x", "export", "Export", tooltip="Write the CSV and HTML report next to the log"),
        Binding("r", "resend_failed", "Resend failed", tooltip="Send the failed files again"),
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

    @property
    def sender(self) -> SenderHost:
        """The app, as screens see it (no import of the app: no circle)."""
        return host_of(self.app)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self._headline(), id="summary-headline")
        with Vertical(id="summary-body"):
            yield Static("Studies", classes="section-title")
            yield DataTable(id="summary-studies", cursor_type="row", zebra_stripes=True)
            yield Static(self._failed_title(), classes="section-title", id="failed-title")
            yield DataTable(id="summary-failed", cursor_type="row")
            yield Static(id="summary-detail")
        yield Static(self._where(), id="summary-where")
        yield KeyFooter()

    def on_mount(self) -> None:
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
        (failed if self._problems else studies).focus()
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
        return f"Record: {self.result.summary_path}  ·  log {self.result.log_path}"

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
