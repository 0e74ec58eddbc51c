"""Exporting a session record as a CSV table and a self-contained HTML report.

The session already wrote its JSON summary and text log to ``logs/``; these
exports are for people: the CSV for a spreadsheet or a script (one row per
file record), the HTML for a PACS administrator who wants to see at a glance
what arrived, what did not and why, and to print or mail it.

Both are built only from the summary document (:func:`build_summary`), so
they carry no patient data unless the summary does (``--include-phi``).

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
The HTML shows paths escaped, on one line, for people.

**The HTML** has inline CSS, no script, no external resource (a
Content-Security-Policy in the page forbids them, should escaping ever miss),
and every value from the summary goes through :func:`html.escape`. Long
lists are capped (all sent files would make a 100,000-file session's page
unusable); the page says so and points at the CSV, which has every row.

Exports are written owner-only (0600), atomically: a temporary file in the
same folder, then :func:`os.replace`, so a reader never sees half a report.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import json
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui_sender.core.base.private_files import atomic_private, write_private_json
from tui_sender.core.dicom import registry
from tui_sender.core.model.recorded_path import PATH_BYTES_KEY, display_path, path_from_record
from tui_sender.core.record.session_log import SessionFiles

Record = Mapping[str, Any]

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
)
"""The CSV header: the summary's per-file keys, plus the names of the two UIDs.

``path_bytes_b64`` is empty unless the path is not valid UTF-8 (see the module notes).
"""

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet evaluate a cell."""

MAX_SENT_ROWS = 2_000
"""Sent files listed in the HTML; the CSV has all of them."""
MAX_PROBLEM_ROWS = 10_000
"""Failed files, and warnings, listed in the HTML (each)."""
MAX_SKIPPED_ROWS = 2_000
"""Skipped paths listed in the HTML, over all reasons."""
MAX_TABLE_ROWS = 5_000
"""Studies, and associations, listed in the HTML (each)."""

STATES = ("sent", "warning", "failed", "skipped")
_SYMBOLS = {"sent": "✓", "warning": "!", "failed": "✗", "skipped": "–"}


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


# -- writing files ---------------------------------------------------------------------


# -- CSV -----------------------------------------------------------------------------


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
    sop_name = _memo(registry.sop_class_name)
    syntax_name = _memo(registry.transfer_syntax_name)
    with atomic_private(path, newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(CSV_COLUMNS)
        for record in _files(summary):
            row = dict(record)
            sop = str(record.get("sop_class_uid") or "")
            syntax = str(record.get("transfer_syntax") or "")
            row["sop_class_name"] = sop_name(sop) if sop else ""
            row["transfer_syntax_name"] = syntax_name(syntax) if syntax else ""
            writer.writerow([spreadsheet_safe(row.get(column)) for column in CSV_COLUMNS])
    return path


def _memo(lookup: Callable[[str], str]) -> Callable[[str], str]:
    """Registry names per UID, looked up once: a session has few distinct UIDs."""
    cache: dict[str, str] = {}

    def name(uid: str) -> str:
        found = cache.get(uid)
        if found is None:
            found = cache[uid] = lookup(uid)
        return found

    return name


def _files(summary: Record) -> list[Record]:
    files = summary.get("files")
    return [f for f in files if isinstance(f, Mapping)] if isinstance(files, list) else []


# -- HTML: formatting --------------------------------------------------------------------


def _e(value: object) -> str:
    """Escaped text; None and empty show as a dash so empty cells read as "none"."""
    if value is None or value == "":
        return "—"
    return html.escape(str(value), quote=True)


def _int(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return 0


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _n(value: object) -> str:
    return f"{_int(value):,}"


def _size(value: object) -> str:
    """Decimal units, like the summary's MB/s."""
    amount = float(_int(value))
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if amount < 1000 or unit == "TB":
            return f"{amount:,.0f} {unit}" if unit == "bytes" else f"{amount:,.2f} {unit}"
        amount /= 1000
    raise AssertionError("unreachable")


def _duration(value: object) -> str:
    seconds = _float(value)
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min {secs:02d} s" if hours else f"{minutes} min {secs:02d} s"


def _time(value: object) -> str:
    text = str(value or "")
    return text.replace("T", " ") if text else ""


def _date(value: object) -> str:
    text = str(value or "")
    if len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text


def _files_count(count: int) -> str:
    return f"{count:,} file" if count == 1 else f"{count:,} files"


def _heading(state: str, text: str, count: int) -> str:
    """A section heading whose symbol and words say the state without its colour."""
    return f'<h2 class="state {state}">{_SYMBOLS[state]} {_e(text)}: {_files_count(count)}</h2>'


def _section(anchor: str, heading: str, *parts: str) -> str:
    body = "\n".join(part for part in parts if part)
    return f'<section id="{anchor}">\n{heading}\n{body}\n</section>'


def _path_td(f: Record) -> str:
    """A file's path for people: escaped, one line (the CSV has it exact)."""
    return _td(display_path(path_from_record(f)), "path")


def _td(value: object, css: str = "") -> str:
    klass = f' class="{css}"' if css else ""
    return f"<td{klass}>{_e(value)}</td>"


def _num(value: object) -> str:
    return f'<td class="num">{_n(value)}</td>'


def _state_num(value: object, state: str) -> str:
    """A count in a state's column, coloured when not zero (the header names the state)."""
    css = f"num {state}" if _int(value) else "num"
    return f'<td class="{css}">{_n(value)}</td>'


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], css: str = "") -> str:
    """A table whose cells are already HTML; a header ending in '#' is right-aligned."""
    head = "".join(
        f'<th class="num">{_e(h[:-1])}</th>' if h.endswith("#") else f"<th>{_e(h)}</th>"
        for h in headers
    )
    body = "\n".join("<tr>" + "".join(cells) + "</tr>" for cells in rows)
    klass = f' class="{css}"' if css else ""
    return f"<table{klass}><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"


def _capped(items: Sequence[Any], limit: int, what: str, where: str) -> tuple[Sequence[Any], str]:
    """The first ``limit`` items, and a note saying how many more are in ``where``."""
    if len(items) <= limit:
        return items, ""
    more = len(items) - limit
    if limit == 0:
        return items[
            :0
        ], f'<p class="note">These {more:,} {_e(what)} are listed in {_e(where)}.</p>'
    note = (
        f'<p class="note">Showing the first {limit:,} of {len(items):,} {_e(what)}; '
        f"the other {more:,} are in {_e(where)}.</p>"
    )
    return items[:limit], note


# -- HTML: the report ---------------------------------------------------------------------


def export_html(summary: Record, path: Path, *, csv_name: str = "the CSV export") -> Path:
    """A single self-contained HTML report of ``summary``; returns ``path``.

    ``csv_name`` is what the page tells readers to open for the rows it leaves out.
    """
    report = _Report(summary, csv_name)
    with atomic_private(path) as stream:
        stream.write(report.render())
    return path


class _Report:
    """Renders one summary; the files are bucketed by state once, up front."""

    def __init__(self, summary: Record, csv_name: str) -> None:
        self.summary = summary
        self.csv_name = csv_name
        self.files = _files(summary)
        self.by_state: dict[str, list[Record]] = defaultdict(list)
        for record in self.files:
            self.by_state[str(record.get("state", ""))].append(record)
        destinations = summary.get("destinations")
        self.destinations: list[Record] = (
            [d for d in destinations if isinstance(d, Mapping)]
            if isinstance(destinations, list)
            else []
        )
        self.many_destinations = (
            len({str(f.get("destination", "")) for f in self.files}) > 1
            or len(self.destinations) > 1
        )
        self.sop_name = _memo(registry.sop_class_name)
        self.syntax_name = _memo(registry.transfer_syntax_name)

    def render(self) -> str:
        session = str(self.summary.get("session_id", ""))
        sections = [
            self.header(),
            self.totals(),
            self.destinations_section(),
            self.studies(),
            self.associations(),
            self.failed(),
            self.warnings(),
            self.skipped(),
            self.sent(),
        ]
        tool = self.summary.get("tool")
        version = tool.get("version", "") if isinstance(tool, Mapping) else ""
        made = dt.datetime.now().astimezone().isoformat(timespec="seconds").replace("T", " ")
        return "\n".join(
            [
                "<!DOCTYPE html>",
                '<html lang="en">',
                "<head>",
                '<meta charset="utf-8">',
                '<meta name="viewport" content="width=device-width, initial-scale=1">',
                '<meta http-equiv="Content-Security-Policy" '
                "content=\"default-src 'none'; style-src 'unsafe-inline'\">",
                f'<meta name="generator" content="tui-sender {_e(version)}">',
                f"<title>DICOM send report: session {_e(session)}</title>",
                f"<style>{_CSS}</style>",
                "</head>",
                "<body>",
                *sections,
                f"<footer>Report made {_e(made)} by tui-sender {_e(version)} from the session "
                "summary. Every file record is in the CSV export and the JSON summary.</footer>",
                "</body>",
                "</html>",
                "",
            ]
        )

    # -- header and totals ---------------------------------------------------------

    def totals_record(self) -> dict[str, Any]:
        totals = self.summary.get("totals")
        if isinstance(totals, Mapping):
            return dict(totals)
        counts = Counter(str(f.get("state", "")) for f in self.files)
        return {**{s: counts[s] for s in STATES}, "found": len(self.files)}

    def header(self) -> str:
        s = self.summary
        totals = self.totals_record()
        facts = [
            ("Session", _e(s.get("session_id"))),
            ("Started", _e(_time(s.get("start_time")))),
            ("Ended", _e(_time(s.get("end_time")))),
            ("Outcome", self.outcome(totals)),
            ("Exit code", _e(s.get("exit_code"))),
        ]
        for dest in self.destinations or [{"name": s.get("destination", "")}]:
            facts.append(("Destination", self.destination_line(dest)))
        config = s.get("configuration")
        if isinstance(config, Mapping):
            for key, value in sorted(config.items()):
                shown = value if isinstance(value, str | int | float | bool) else json.dumps(value)
                facts.append((f"Setting: {key}", _e(shown)))
        if s.get("log_file"):
            facts.append(("Session log", f"<code>{_e(s.get('log_file'))}</code>"))
        items = "\n".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in facts)
        return (
            "<header>\n<h1>DICOM send report</h1>\n"
            f'<p class="verdict {self.verdict_class(totals)}">{self.verdict(totals)}</p>\n'
            f'<dl class="facts">\n{items}\n</dl>\n{self.contents()}\n</header>'
        )

    def verdict(self, totals: Mapping[str, Any]) -> str:
        found, failed = _int(totals.get("found")), _int(totals.get("failed"))
        stored = _int(totals.get("sent")) + _int(totals.get("warning"))
        head = "Cancelled. " if self.summary.get("cancelled") else ""
        if failed:
            return f"✗ {head}{failed:,} of {found:,} files failed; {stored:,} stored."
        if _int(totals.get("warning")):
            return f"! {head}Every file stored, {_int(totals.get('warning')):,} with warnings."
        return f"✓ {head}Every file stored ({stored:,}); nothing failed."

    def verdict_class(self, totals: Mapping[str, Any]) -> str:
        if _int(totals.get("failed")):
            return "failed"
        return "warning" if _int(totals.get("warning")) else "sent"

    def outcome(self, totals: Mapping[str, Any]) -> str:
        how = "cancelled" if self.summary.get("cancelled") else "finished"
        return f"{how}, {_n(totals.get('failed'))} failed"

    def destination_line(self, dest: Record) -> str:
        name = _e(dest.get("name"))
        if "host" not in dest:
            return name
        address = f"{dest.get('called_ae', '')} at {dest.get('host', '')}:{dest.get('port', '')}"
        calling = f", calling AE {dest.get('calling_ae', '')}" if dest.get("calling_ae") else ""
        tls = ", TLS" if dest.get("tls") else ""
        return f"{name} ({_e(address)}{_e(calling)}{tls})"

    def contents(self) -> str:
        links = [
            ("totals", "Totals"),
            ("destinations", "Destinations"),
            ("studies", "Studies"),
            ("associations", "Associations"),
            ("failed", f"Failed ({len(self.by_state['failed']):,})"),
            ("warnings", f"Warnings ({len(self.by_state['warning']):,})"),
            ("skipped", f"Skipped ({len(self.by_state['skipped']):,})"),
            ("sent", f"Sent ({len(self.by_state['sent']):,})"),
        ]
        return "<nav>" + " · ".join(f'<a href="#{a}">{_e(t)}</a>' for a, t in links) + "</nav>"

    def totals(self) -> str:
        t = self.totals_record()
        figures = [
            ("found", "Found", _n(t.get("found"))),
            ("sent", "Sent", _n(t.get("sent"))),
            ("warning", "Warning", _n(t.get("warning"))),
            ("failed", "Failed", _n(t.get("failed"))),
            ("skipped", "Skipped", _n(t.get("skipped"))),
            ("bytes_sent", "Size stored", _e(_size(t.get("bytes_sent")))),
            ("duration_s", "Duration", _e(_duration(t.get("duration_s")))),
            ("mb_per_s", "MB/s", _e(f"{_float(t.get('mb_per_s')):,.2f}")),
            ("images_per_s", "Images/s", _e(f"{_float(t.get('images_per_s')):,.1f}")),
            ("converted", "Converted", _n(t.get("converted"))),
        ]
        cells = "\n".join(
            f'<div class="figure {key}"><dt>{_e(label)}</dt><dd id="total-{key}">{value}</dd></div>'
            for key, label, value in figures
        )
        parts = sum(_int(t.get(s)) for s in STATES)
        adds_up = parts == _int(t.get("found"))
        check = (
            f"{_n(t.get('found'))} found = {_n(t.get('sent'))} sent + {_n(t.get('warning'))} "
            f"warning + {_n(t.get('failed'))} failed + {_n(t.get('skipped'))} skipped"
        )
        check += " ✓" if adds_up else f" ✗ does not add up (the states sum to {parts:,})"
        per = " Files are counted once per destination." if self.many_destinations else ""
        explanation = (
            f'<p class="check">{check}.{per} Size is the data set bytes the destination '
            f"confirmed ({_n(t.get('bytes_sent'))} bytes).</p>"
        )
        return _section(
            "totals", "<h2>Totals</h2>", f'<dl class="figures">\n{cells}\n</dl>', explanation
        )

    # -- destinations, studies, associations ----------------------------------------

    def destinations_section(self) -> str:
        stored_bytes: Counter[str] = Counter()
        for f in self.files:
            if f.get("state") in ("sent", "warning"):
                stored_bytes[str(f.get("destination", ""))] += _int(f.get("bytes"))
        rows = []
        for d in self.destinations:
            t = _mapping(d.get("totals"))
            rows.append(
                [
                    _td(d.get("name")),
                    _td(d.get("called_ae")),
                    _td(f"{d.get('host', '')}:{d.get('port', '')}"),
                    _td(d.get("calling_ae")),
                    _td("yes" if d.get("tls") else "no"),
                    _num(d.get("workers")),
                    _num(t.get("found")),
                    *(_state_num(t.get(k), k) for k in STATES),
                    _td(_size(stored_bytes[str(d.get("name", ""))]), "num"),
                ]
            )
        headers = ["Name", "Called AE", "Address", "Calling AE", "TLS", "Workers#"]
        headers += ["Found#", "Sent#", "Warning#", "Failed#", "Skipped#", "Stored#"]
        table = _table(headers, rows) if rows else "<p>No destination details recorded.</p>"
        return _section("destinations", "<h2>Destinations</h2>", table)

    def studies(self) -> str:
        raw = self.summary.get("studies")
        entries = [s for s in raw if isinstance(s, Mapping)] if isinstance(raw, list) else []
        entries.sort(
            key=lambda s: (str(s.get("destination", "")), str(s.get("study_date", ""))),
        )
        phi = any("patient_name" in s or "patient_id" in s for s in entries)
        shown, note = _capped(entries, MAX_TABLE_ROWS, "studies", "the JSON summary")
        rows = []
        for s in shown:
            modalities = s.get("modalities")
            mods = ", ".join(map(str, modalities)) if isinstance(modalities, list) else modalities
            cells = [_td(_date(s.get("study_date"))), _td(mods), _td(s.get("description"))]
            if phi:
                cells += [_td(s.get("patient_name")), _td(s.get("patient_id"))]
            if self.many_destinations:
                cells.append(_td(s.get("destination")))
            cells += [_num(s.get("files")), *(_state_num(s.get(k), k) for k in STATES)]
            cells += [_td(_size(s.get("bytes")), "num"), _td(s.get("study_uid"), "uid")]
            rows.append(cells)
        headers = ["Date", "Modalities", "Description"]
        headers += ["Patient name", "Patient ID"] if phi else []
        headers += ["Destination"] if self.many_destinations else []
        headers += ["Files#", "Sent#", "Warning#", "Failed#", "Skipped#", "Size#", "Study UID"]
        body = _table(headers, rows) if rows else "<p>No study was sent.</p>"
        return _section("studies", "<h2>Studies</h2>", note, body)

    def associations(self) -> str:
        raw = self.summary.get("associations")
        entries = [a for a in raw if isinstance(a, Mapping)] if isinstance(raw, list) else []
        shown, note = _capped(entries, MAX_TABLE_ROWS, "associations", "the JSON summary")
        rows = []
        for a in shown:
            released = a.get("released")
            how = "released" if released else ("aborted" if released is False else "unknown")
            if a.get("note"):
                how += f": {a.get('note')}"
            rows.append(
                [
                    _td(a.get("id")),
                    _td(a.get("worker")),
                    _td(a.get("peer")),
                    _td(_time(a.get("opened_at"))),
                    f"<td>{self.contexts(a.get('accepted'), accepted=True)}</td>",
                    f"<td>{self.contexts(a.get('rejected'), accepted=False)}</td>",
                    _num(a.get("files")),
                    _td(_size(a.get("bytes")), "num"),
                    _td(_duration(a.get("duration_s")), "num"),
                    _td(how, "released" if released else "aborted"),
                ]
            )
        headers = ["ID", "Worker", "Peer", "Opened", "Accepted contexts", "Rejected contexts"]
        headers += ["Files#", "Bytes#", "Duration#", "Ended"]
        body = _table(headers, rows) if rows else "<p>No association was established.</p>"
        return _section("associations", "<h2>Associations</h2>", note, body)

    def contexts(self, raw: object, *, accepted: bool) -> str:
        """Contexts grouped by SOP class: 'CT Image Storage: Explicit VR LE, Implicit VR LE'."""
        if not isinstance(raw, list) or not raw:
            return "—"
        grouped: dict[str, list[str]] = {}
        for c in raw:
            if not isinstance(c, Mapping):
                continue
            sop = c.get("sop_class") or self.sop_name(str(c.get("sop_class_uid", "")))
            syntax = c.get("transfer_syntax") or self.syntax_name(
                str(c.get("transfer_syntax_uid", ""))
            )
            result = f" ({c['result']})" if not accepted and c.get("result") else ""
            grouped.setdefault(str(sop), []).append(f"{syntax}{result}")
        lines = "".join(
            f"<li><b>{_e(sop)}</b>: {_e(', '.join(syntaxes))}</li>"
            for sop, syntaxes in grouped.items()
        )
        listing = f'<ul class="contexts">{lines}</ul>'
        if not accepted:
            return listing
        return f"<details><summary>{len(raw)} accepted</summary>{listing}</details>"

    # -- file lists ------------------------------------------------------------------

    def ts_cell(self, f: Record) -> str:
        syntax = str(f.get("transfer_syntax") or "")
        text = self.syntax_name(syntax) if syntax else ""
        if f.get("converted_from"):
            text += f" (converted from {self.syntax_name(str(f['converted_from']))})"
        return _td(text)

    def sop_cell(self, f: Record) -> str:
        sop = str(f.get("sop_class_uid") or "")
        return _td(self.sop_name(sop) if sop else "")

    def dest_cells(self, f: Record) -> list[str]:
        return [_td(f.get("destination"))] if self.many_destinations else []

    def dest_header(self) -> list[str]:
        return ["Destination"] if self.many_destinations else []

    def sorted_state(self, state: str) -> list[Record]:
        return sorted(
            self.by_state[state],
            key=lambda f: (str(f.get("destination", "")), str(f.get("path", ""))),
        )

    def by_reason(self, records: Sequence[Record], caption: str) -> str:
        counts = Counter(str(f.get("reason") or "") for f in records)
        rows = [[_td(reason, "reason"), _num(n)] for reason, n in counts.most_common()]
        return _table([caption, "Files#"], rows, "by-reason")

    def failed(self) -> str:
        records = self.sorted_state("failed")
        if not records:
            return _section("failed", "<h2>Failed</h2>", "<p>No file failed.</p>")
        shown, note = _capped(records, MAX_PROBLEM_ROWS, "failed files", self.csv_name)
        rows = [
            [
                _path_td(f),
                _td(f.get("reason"), "reason"),
                _td(f.get("status"), "code"),
                _num(f.get("attempts")),
                self.sop_cell(f),
                *self.dest_cells(f),
            ]
            for f in shown
        ]
        headers = ["Path", "Reason", "Status", "Attempts#", "SOP class", *self.dest_header()]
        return _section(
            "failed",
            _heading("failed", "Failed", len(records)),
            self.by_reason(records, "Reason"),
            note + _table(headers, rows, "files"),
        )

    def warnings(self) -> str:
        records = self.sorted_state("warning")
        if not records:
            return _section(
                "warnings", "<h2>Warnings</h2>", "<p>No file was stored with a warning.</p>"
            )
        shown, note = _capped(records, MAX_PROBLEM_ROWS, "warnings", self.csv_name)
        rows = [
            [
                _path_td(f),
                _td(f.get("status"), "code"),
                _td(f.get("reason"), "reason"),
                self.sop_cell(f),
                self.ts_cell(f),
                _td(f.get("association")),
                *self.dest_cells(f),
            ]
            for f in shown
        ]
        headers = ["Path", "Status", "Meaning", "SOP class", "Transfer syntax", "Association"]
        return _section(
            "warnings",
            _heading("warning", "Stored with a warning", len(records)),
            self.by_reason(records, "Meaning"),
            note + _table([*headers, *self.dest_header()], rows, "files"),
        )

    def skipped(self) -> str:
        """Grouped by reason: 'not DICOM' for 3,000 files is one fact, not 3,000."""
        records = self.sorted_state("skipped")
        if not records:
            return _section("skipped", "<h2>Skipped</h2>", "<p>No file was skipped.</p>")
        groups: dict[str, list[Record]] = defaultdict(list)
        for f in records:
            groups[str(f.get("reason") or "")].append(f)
        budget = MAX_SKIPPED_ROWS
        parts = []
        for reason, members in sorted(groups.items(), key=lambda g: -len(g[1])):
            shown, note = _capped(members, budget, "paths", self.csv_name)
            budget -= len(shown)
            rows = [[_path_td(f), *self.dest_cells(f)] for f in shown]
            table = _table(["Path", *self.dest_header()], rows, "files") if rows else ""
            parts.append(f"<h3>{_e(reason)}: {_files_count(len(members))}</h3>\n{note}{table}")
        return _section(
            "skipped", _heading("skipped", "Skipped, never offered", len(records)), *parts
        )

    def sent(self) -> str:
        records = self.sorted_state("sent")
        if not records:
            return _section("sent", "<h2>Sent</h2>", "<p>No file was sent.</p>")
        shown, note = _capped(records, MAX_SENT_ROWS, "sent files", self.csv_name)
        rows = [
            [
                _path_td(f),
                self.sop_cell(f),
                self.ts_cell(f),
                _num(f.get("bytes")),
                _num(f.get("attempts")),
                _td(f.get("association")),
                *self.dest_cells(f),
            ]
            for f in shown
        ]
        headers = ["Path", "SOP class", "Transfer syntax", "Bytes#", "Attempts#", "Association"]
        table = _table([*headers, *self.dest_header()], rows, "files")
        return _section(
            "sent",
            _heading("sent", "Sent", len(records)),
            f"<details><summary>Show the sent files</summary>\n{note}{table}\n</details>",
        )


_CSS = """
:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0;
  --sent: #116329; --sent-bg: #dafbe1; --warning: #7d4e00; --warning-bg: #fff8c5;
  --failed: #a40e26; --failed-bg: #ffebe9; --skipped: #59636e; --skipped-bg: #eff2f5; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: #fff; margin: 0 auto; padding: 24px; max-width: 1400px; }
h1 { font-size: 24px; margin: 0 0 8px; }
h2 { font-size: 18px; margin: 32px 0 8px; padding-bottom: 4px;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 16px 0 6px; }
code, .path, .uid, .code { font-family: ui-monospace, "SF Mono", Menlo, Consolas, monospace;
  font-size: 12px; }
.path, .reason, .uid { overflow-wrap: anywhere; }
.reason { white-space: pre-wrap; }
.uid { color: var(--muted); }
.verdict { font-size: 16px; font-weight: 600; padding: 8px 12px; border-radius: 6px;
  border-left: 6px solid; }
.verdict.sent { color: var(--sent); background: var(--sent-bg); }
.verdict.warning { color: var(--warning); background: var(--warning-bg); }
.verdict.failed { color: var(--failed); background: var(--failed-bg); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 12px 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
nav { margin: 12px 0; color: var(--muted); }
nav a { color: #0550ae; }
dl.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(130px, 1fr));
  gap: 8px; margin: 0; }
.figure { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; }
.figure dt { color: var(--muted); font-size: 12px; }
.figure dd { margin: 0; font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
.figure.sent dd { color: var(--sent); } .figure.warning dd { color: var(--warning); }
.figure.failed dd { color: var(--failed); } .figure.skipped dd { color: var(--skipped); }
.check { color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px;
  border-bottom: 1px solid var(--line); }
th { background: #f6f8fa; font-weight: 600; }
tbody tr:nth-child(even) { background: #fafbfc; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.by-reason { width: auto; }
ul.contexts { margin: 4px 0 0; padding-left: 18px; }
h2.state { padding: 4px 8px; border-radius: 4px; border-bottom: 0; border-left: 6px solid; }
h2.sent { color: var(--sent); background: var(--sent-bg); }
h2.warning { color: var(--warning); background: var(--warning-bg); }
h2.failed { color: var(--failed); background: var(--failed-bg); }
h2.skipped { color: var(--skipped); background: var(--skipped-bg); }
td.sent { color: var(--sent); }
td.warning { color: var(--warning); font-weight: 600; }
td.failed { color: var(--failed); font-weight: 600; }
td.aborted { color: var(--failed); }
.note { color: var(--warning); }
details > summary { cursor: pointer; color: #0550ae; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
@media print {
  body { padding: 0; font-size: 10pt; max-width: none; }
  nav { display: none; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  tr, .figure { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  @page { margin: 1.5cm; }
}
"""
