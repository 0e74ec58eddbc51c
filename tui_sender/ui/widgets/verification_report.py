"""The summary's verification section: what each verified destination proved, and what not.

Drawn from the summary document alone (the destinations' ``verify``,
``verified`` counts and ``verify_error``; the files' ``verified`` and
``verified_reason``), so it says what the record says, before and after a
second verification. Hidden when no destination was verified.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from tui_sender.core.base import wording
from tui_sender.core.model.recorded_path import display_path, path_from_record
from tui_sender.core.verify.stage import not_proven
from tui_sender.ui.palette import palette
from tui_sender.ui.widgets.verification_board import DOUBTFUL, method_words

UNVERIFIED_SHOWN = 200
"""Rows of the not-verified table; a line says how many more the record holds."""


def verified_destinations(summary: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The summary's destination entries that were to be verified."""
    return [d for d in summary.get("destinations") or [] if d.get("verify", "none") != "none"]


def destination_line(dest: Mapping[str, Any]) -> tuple[str, str]:
    """A verified destination's result in words, and its kind: ok, doubtful, failed, not-run."""
    name = str(dest.get("name", ""))
    method = str(dest.get("verify", ""))
    how = method_words(method, web=dest.get("kind") == "dicomweb")
    if dest.get("verify_error"):
        return f"{name} · {how} could not run: {dest['verify_error']}", "failed"
    counts = dest.get("verified")
    if not isinstance(counts, Mapping):
        return f"{name} · {how}: not verified (the session was cancelled)", "not-run"
    asked = sum(int(n) for value, n in counts.items() if value != "not-asked")
    if not asked:
        return f"{name} · {how}: nothing stored to verify", "not-run"
    doubtful = any(counts.get(v, 0) for v in DOUBTFUL)
    text = f"{name} · {how}: {wording.verification_result(dict(counts), method)}"
    return text, "doubtful" if doubtful else "ok"


class VerificationReport(Vertical):
    """Per destination its verified counts, then the instances not proven held."""

    DEFAULT_CSS = """
    VerificationReport {
        height: auto;
    }
    VerificationReport #verify-lines, VerificationReport #verify-status {
        height: auto;
        padding: 0 1;
    }
    VerificationReport #verify-status {
        color: $text-muted;
        text-style: italic;
    }
    VerificationReport #summary-unverified {
        height: auto;
        max-height: 7;
    }
    VerificationReport #unverified-more {
        color: $text-muted;
        padding: 0 1;
    }
    VerificationReport #unverified-detail {
        height: auto;
        max-height: 3;
        background: $panel;
        padding: 0 1;
    }
    """

    def __init__(self, summary: Mapping[str, Any], record: str, *, id: str | None = None) -> None:
        """``record``: where the summary is on disk (the "and N more" line points there)."""
        super().__init__(id=id)
        self.summary = summary
        self.record = record
        self.unverified: list[Mapping[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Static("Verification", classes="section-title")
        yield Static(id="verify-lines")
        status = Static(id="verify-status", markup=False)
        status.display = False
        yield status
        yield Static(id="unverified-title", classes="section-title")
        yield DataTable(id="summary-unverified", cursor_type="row")
        yield Static(id="unverified-more", markup=False)
        yield Static(id="unverified-detail")

    def on_mount(self) -> None:
        self.show(self.summary, self.record)

    def show(self, summary: Mapping[str, Any], record: str) -> None:
        """Draw (again) from this summary document."""
        self.summary, self.record = summary, record
        dests = verified_destinations(summary)
        self.display = bool(dests)
        colours = palette(self.app)
        styles = {
            "ok": colours.get("success", "green"),
            "doubtful": colours.get("warning", "yellow"),
            "failed": colours.get("error", "red"),
            "not-run": "dim",
        }
        lines = Text()
        for n, dest in enumerate(dests):
            text, kind = destination_line(dest)
            lines.append(("\n" if n else "") + ("✓ " if kind == "ok" else "✗ "), styles[kind])
            lines.append(text, styles[kind] if kind != "ok" else "")
        self.query_one("#verify-lines", Static).update(lines)

        self.unverified = list(not_proven(summary))
        count = len(self.unverified)
        title = self.query_one("#unverified-title", Static)
        title.update(f"Not verified ({count:,})  ·  v: verify again  ·  u: send again")
        title.display = bool(count)
        table = self.query_one("#summary-unverified", DataTable)
        table.clear(columns=True)
        several = len(dests) > 1
        table.add_columns("verified", *(["to"] if several else []), "file", "reason")
        for f in self.unverified[:UNVERIFIED_SHOWN]:
            value = str(f.get("verified"))
            style = styles["doubtful"] if value == "unconfirmed" else styles["failed"]
            name = os.path.basename(display_path(path_from_record(f)))
            where = [str(f.get("destination", ""))[:14]] if several else []
            table.add_row(Text(value, style=style), *where, name, str(f.get("verified_reason")))
        table.display = bool(count)
        more = self.query_one("#unverified-more", Static)
        more.update(
            f"… and {count - UNVERIFIED_SHOWN:,} more (all in {record})"
            if count > UNVERIFIED_SHOWN
            else ""
        )
        more.display = count > UNVERIFIED_SHOWN
        self._show_detail(0)

    def status(self, text: str) -> None:
        """A line under the counts (a second verification's progress); empty: none."""
        box = self.query_one("#verify-status", Static)
        box.update(text)
        box.display = bool(text)

    @property
    def table(self) -> DataTable[Any]:
        """The not-verified table."""
        return self.query_one("#summary-unverified", DataTable)

    def highlighted(self) -> Mapping[str, Any] | None:
        """The not-verified file entry under the cursor (None: the table is empty)."""
        row = self.table.cursor_row
        return self.unverified[row] if 0 <= row < len(self.unverified) else None

    @on(DataTable.RowHighlighted, "#summary-unverified")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.cursor_row)

    def _show_detail(self, row: int) -> None:
        """The highlighted entry in full: value, destination, path, reason, wrapped."""
        detail = self.query_one("#unverified-detail", Static)
        if row >= min(len(self.unverified), UNVERIFIED_SHOWN):
            detail.display = False
            return
        f = self.unverified[row]
        detail.display = True
        detail.update(
            Text.assemble(
                (f"{f.get('verified')} at {f.get('destination')} ", "bold"),
                display_path(path_from_record(f)),
                "\n",
                str(f.get("verified_reason") or "no reason given"),
            )
        )
