"""The CSV export of a session record: one row per file record, for a spreadsheet or a script.

**Spreadsheet safety.** A CSV cell that begins with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return is treated as a formula by Excel,
LibreOffice and Google Sheets, and file names or peer messages are not ours
to trust. Such a cell gets a leading apostrophe (``=cmd|...`` is written
``'=cmd|...``), which spreadsheets show as text and hide. So that a script
gets every value back exactly, a value that begins with apostrophes followed
by one of those characters gets one more apostrophe too; the rule back
(:func:`cell_value`) is: drop the first apostrophe of a cell when what
follows it, past any further apostrophes, begins with one of those
characters. The CSV is UTF-8 without a byte-order mark.

**Paths are exact** (the record's rule, :mod:`tui_sender.core.model.recorded_path`):
the ``path`` cell holds the file's real path, newlines and tabs included
(the CSV quotes them); a path that is not valid UTF-8 has its escaped form
there and its raw bytes, base64, in ``path_bytes_b64`` (empty otherwise).
"""

from __future__ import annotations

import csv
from pathlib import Path

from tui_sender.core.base.private_files import atomic_private
from tui_sender.core.dicom import registry
from tui_sender.core.model.recorded_path import PATH_BYTES_KEY
from tui_sender.core.record.summary_reading import Record, file_records, memoized

CSV_COLUMNS = (
    "path",
    PATH_BYTES_KEY,
    "destination",
    "state",
    "status",
    "reason",
    "attempts",
    "sop_instance_uid",
    "sop_class_uid",
    "sop_class_name",
    "study_uid",
    "transfer_syntax",
    "transfer_syntax_name",
    "converted_from",
    "bytes",
    "association",
    "verified",
    "verified_reason",
    "verified_at",
    "http_status",
)
"""The CSV header: the summary's per-file keys, plus the names of the two UIDs.

``path_bytes_b64`` is empty unless the path is not valid UTF-8 (see the module notes).
The verification columns come last, so scripts that read columns by position keep
working; they are empty for a summary from before verification was recorded. ``http_status``
(DICOMweb) comes after them for the same reason.
"""

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet evaluate a cell."""


def spreadsheet_safe(value: object) -> str:
    """``value`` as CSV cell text a spreadsheet will not run as a formula.

    Reversible: :func:`cell_value` gives ``value``'s text back exactly.
    """
    text = "" if value is None else str(value)
    return "'" + text if text.lstrip("'").startswith(FORMULA_TRIGGERS) else text


def cell_value(cell: str) -> str:
    """The value a CSV cell written by :func:`spreadsheet_safe` stands for."""
    if cell.startswith("'") and cell[1:].lstrip("'").startswith(FORMULA_TRIGGERS):
        return cell[1:]
    return cell


def export_csv(summary: Record, path: Path) -> Path:
    """One row per file record of ``summary`` (see :data:`CSV_COLUMNS`); returns ``path``."""
    sop_name = memoized(registry.sop_class_name)
    syntax_name = memoized(registry.transfer_syntax_name)
    with atomic_private(path, newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(CSV_COLUMNS)
        for record in file_records(summary):
            row = dict(record)
            sop = str(record.get("sop_class_uid") or "")
            syntax = str(record.get("transfer_syntax") or "")
            row["sop_class_name"] = sop_name(sop) if sop else ""
            row["transfer_syntax_name"] = syntax_name(syntax) if syntax else ""
            writer.writerow([spreadsheet_safe(row.get(column)) for column in CSV_COLUMNS])
    return path
