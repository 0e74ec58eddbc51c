"""Exporting a session record as a CSV table and a self-contained HTML report.

The session already wrote its JSON summary and text log to ``logs/``; these
exports are for people: the CSV for a spreadsheet or a script (one row per
file record, :mod:`~tui_sender.core.record.csv_export`, which says how cells
are kept safe from spreadsheet formulas and paths kept exact), the HTML for a
PACS administrator who wants to see at a glance what arrived, what did not
and why, and to print or mail it (:mod:`~tui_sender.core.record.html_report`,
rendered from an autoescaping Jinja2 template).

Both are built only from the summary document (:func:`build_summary`), so
they carry no patient data unless the summary does (``--include-phi``).

Exports are written owner-only (0600), atomically: a temporary file in the
same folder, then :func:`os.replace`, so a reader never sees half a report.

This module is the entry point (:func:`export_session`) and keeps the names
importers use; the CSV and the HTML each live in their own module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tui_sender.core.base.private_files import write_private_json
from tui_sender.core.record.csv_export import (
    CSV_COLUMNS,
    FORMULA_TRIGGERS,
    cell_value,
    export_csv,
    spreadsheet_safe,
)
from tui_sender.core.record.html_report import (
    MAX_PROBLEM_ROWS,
    MAX_SENT_ROWS,
    MAX_SKIPPED_ROWS,
    MAX_TABLE_ROWS,
    STATES,
    export_html,
)
from tui_sender.core.record.session_log import SessionFiles
from tui_sender.core.record.summary_reading import Record

__all__ = [
    "CSV_COLUMNS",
    "FORMULA_TRIGGERS",
    "MAX_PROBLEM_ROWS",
    "MAX_SENT_ROWS",
    "MAX_SKIPPED_ROWS",
    "MAX_TABLE_ROWS",
    "STATES",
    "ExportResult",
    "Record",
    "cell_value",
    "default_stem",
    "export_csv",
    "export_html",
    "export_session",
    "spreadsheet_safe",
]


@dataclass(frozen=True, slots=True)
class ExportResult:
    """Where a session's record is: the two exports and the files the session wrote."""

    csv: Path
    html: Path
    summary_json: Path
    log: Path | None
    """The session's text log; None when the summary names none or it is gone."""

    def labelled(self) -> list[tuple[str, Path]]:
        """(label, path) pairs for a UI to list, in the order a person wants them."""
        pairs = [
            ("HTML report", self.html),
            ("CSV table", self.csv),
            ("JSON summary", self.summary_json),
        ]
        if self.log is not None:
            pairs.append(("Session log", self.log))
        return pairs


def default_stem(summary: Record) -> str:
    """``dicom_sender_report_<session id>``: next to the session's other files."""
    return f"dicom_sender_report_{summary.get('session_id', 'session')}"


def export_session(
    summary: Record, directory: Path, stem: str, *, summary_path: Path | None = None
) -> ExportResult:
    """Write ``<stem>.csv`` and ``<stem>.html`` into ``directory``; say where everything is.

    The JSON summary and the log were written by the session: they are
    pointed to, not copied (one copy of the record is easier to keep private).
    The summary's own path is ``summary_path`` or, by the session's naming
    rule, next to its log; if no such file exists (a summary that came from
    elsewhere), it is written as ``<stem>.json`` so the result always names one.
    """
    if not stem or stem in (".", "..") or "/" in stem or os.sep in stem or "\x00" in stem:
        raise ValueError(f"not a file name stem: {stem!r}")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    csv_path = export_csv(summary, directory / f"{stem}.csv")
    html_path = export_html(summary, directory / f"{stem}.html", csv_name=csv_path.name)
    log_path = _existing(summary.get("log_file"))
    json_path = summary_path or _session_summary_path(summary, log_path)
    if json_path is None or not json_path.is_file():
        json_path = directory / f"{stem}.json"
        write_private_json(json_path, dict(summary))
    return ExportResult(csv=csv_path, html=html_path, summary_json=json_path, log=log_path)


def _existing(path: object) -> Path | None:
    if not isinstance(path, str) or not path:
        return None
    candidate = Path(path)
    return candidate if candidate.is_file() else None


def _session_summary_path(summary: Record, log_path: Path | None) -> Path | None:
    session_id = summary.get("session_id")
    if log_path is None or not isinstance(session_id, str):
        return None
    return SessionFiles(log_path.parent, session_id).summary
