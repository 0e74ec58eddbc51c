"""The HTML report of a session: a page for a PACS administrator, from a Jinja2 template.

The page says at a glance what arrived, what did not and why, and prints or
mails well. It has inline CSS, no script, no external resource (a
Content-Security-Policy in the page forbids them, should escaping ever miss).
The template (``templates/report.html.j2``, shipped as package data) escapes
every value it shows: this module only words the summary into plain data
(:mod:`tui_sender.core.record.report_page`) and writes no HTML. Paths are
shown escaped, on one line, for people; the CSV has them exact.

Long lists are capped (all sent files would make a 100,000-file session's
page unusable); the page says so and points at the CSV, which has every row.

The Charts section is drawn by :mod:`~tui_sender.core.record.report_charts`
as inline SVG. When the destinations were asked to confirm what they hold
(storage commitment, or a C-FIND), the page says how many stored instances
were verified, under the verdict and per destination, and lists the ones that
were not; a summary from before verification existed shows none of that.

Jinja2 is imported when a report is written, not when this module is: a
headless send that writes no report does not pay for it.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_sender.core.base import wording
from tui_sender.core.base.private_files import atomic_private
from tui_sender.core.dicom import registry
from tui_sender.core.model.recorded_path import display_path, path_from_record
from tui_sender.core.record.report_charts import (
    NOT_VERIFIED,
    VERIFIED,
    VERIFIED_WORDS,
    session_charts,
    verification_asked,
    verified_value,
)
from tui_sender.core.record.report_page import (
    Cell,
    Column,
    ContextGroup,
    Fact,
    Figure,
    Group,
    Link,
    Listing,
    ReportPage,
    Section,
    Table,
)
from tui_sender.core.record.report_wording import (
    DASH,
    decimal,
    duration,
    integer,
    number,
    or_dash,
    size,
    study_date,
    timestamp,
)
from tui_sender.core.record.summary_reading import (
    Record,
    carried_verdicts,
    file_records,
    mapping,
    memoized,
    records,
)

if TYPE_CHECKING:
    import jinja2

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
_METHODS = {"commitment": "storage commitment", "find": "C-FIND query", "none": "none"}
"""A destination's ``verify``: how it was asked to confirm what it holds."""
_LOST = ("commit-failed", "missing")
"""Answers that say the destination does not hold the instance (not merely unconfirmed)."""
_TEMPLATE = "report.html.j2"


def export_html(summary: Record, path: Path, *, csv_name: str = "the CSV export") -> Path:
    """A single self-contained HTML report of ``summary``; returns ``path``.

    ``csv_name`` is what the page tells readers to open for the rows it leaves out.
    """
    page = _PageBuilder(summary, csv_name).page()
    document = _template().render(page=page)
    with atomic_private(path) as stream:
        stream.write(document)
    return path


@functools.cache
def _template() -> jinja2.Template:
    """The report's template, compiled once per process."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("tui_sender.core.record", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return environment.get_template(_TEMPLATE)


# -- headings, cells and tables ----------------------------------------------------------


def _state_title(state: str, text: str, count: int) -> str:
    """A section heading whose symbol and words say the state without its colour."""
    return f"{_SYMBOLS[state]} {text}: {wording.count(count, 'file')}"


def _cell(value: object, css: str = "") -> Cell:
    return Cell(or_dash(value), css)


def _num(value: object) -> Cell:
    return Cell(number(value), "num")


def _state_num(value: object, state: str) -> Cell:
    """A count in a state's column, coloured when not zero (the header names the state)."""
    return Cell(number(value), f"num {state}" if integer(value) else "num")


def _path_cell(f: Record) -> Cell:
    """A file's path for people: one line (the CSV has it exact)."""
    return _cell(display_path(path_from_record(f)), "path")


def _table(headers: Sequence[str], rows: Iterable[Sequence[Cell]], css: str = "") -> Table:
    """A table; a header ending in '#' is right-aligned."""
    columns = tuple(Column(h[:-1], numeric=True) if h.endswith("#") else Column(h) for h in headers)
    return Table(columns, tuple(tuple(cells) for cells in rows), css)


def _capped(items: Sequence[Any], limit: int, what: str, where: str) -> tuple[Sequence[Any], str]:
    """The first ``limit`` items, and a note saying how many more are in ``where``."""
    if len(items) <= limit:
        return items, ""
    more = len(items) - limit
    if limit == 0:
        return items[:0], f"These {more:,} {what} are listed in {where}."
    note = (
        f"Showing the first {limit:,} of {len(items):,} {what}; the other {more:,} are in {where}."
    )
    return items[:limit], note


def _listing(
    note: str, headers: Sequence[str], rows: Sequence[Sequence[Cell]], css: str = ""
) -> Listing:
    """A capped table; no table when every row was left out."""
    return Listing(note, _table(headers, rows, css) if rows else None)


# -- verification --------------------------------------------------------------------------


def _method(destination: Record) -> str:
    """How a destination was asked to verify; absent (an older summary) means not at all."""
    value = destination.get("verify")
    return value if isinstance(value, str) and value in _METHODS else "none"


def _tally(counts: Mapping[str, Any], values: Iterable[str]) -> str:
    """'98 committed, 2 missing': the answers that were given, in the usual order."""
    return ", ".join(
        f"{integer(counts.get(v)):,} {VERIFIED_WORDS[v]}" for v in values if integer(counts.get(v))
    )


def _reason(f: Record) -> str:
    return str(f.get("reason") or "")


def _verification_reason(f: Record) -> str:
    """'missing: not found by C-FIND': the answer, then the destination's words if any."""
    answer = VERIFIED_WORDS[verified_value(f)]
    why = str(f.get("verified_reason") or "")
    return f"{answer}: {why}" if why else answer


# -- the page ------------------------------------------------------------------------------


class _PageBuilder:
    """Words one summary into a :class:`ReportPage`; the files are bucketed by state once."""

    def __init__(self, summary: Record, csv_name: str) -> None:
        self.summary = summary
        self.csv_name = csv_name
        self.files = file_records(summary)
        self.by_state: dict[str, list[Record]] = defaultdict(list)
        for record in self.files:
            self.by_state[str(record.get("state", ""))].append(record)
        self.destinations = records(summary.get("destinations"))
        self.many_destinations = (
            len({str(f.get("destination", "")) for f in self.files}) > 1
            or len(self.destinations) > 1
        )
        self.sop_name = memoized(registry.sop_class_name)
        self.syntax_name = memoized(registry.transfer_syntax_name)
        self.stored = self.by_state["sent"] + self.by_state["warning"]
        self.verifying = any(_method(d) != "none" for d in self.destinations)
        self.verification_asked = self.verifying or verification_asked(self.files)
        self.unverified = [f for f in self.stored if verified_value(f) in NOT_VERIFIED]

    def page(self) -> ReportPage:
        tool = self.summary.get("tool")
        version = tool.get("version", "") if isinstance(tool, Mapping) else ""
        made = dt.datetime.now().astimezone().isoformat(timespec="seconds").replace("T", " ")
        totals = self.totals_record()
        proof, proof_state = self.proof(totals)
        return ReportPage(
            session=or_dash(str(self.summary.get("session_id", ""))),
            version=or_dash(version),
            made=made,
            verdict=self.verdict(totals),
            verdict_state=self.verdict_state(totals),
            proof=proof,
            proof_state=proof_state,
            facts=self.facts(totals),
            contents=self.contents(),
            figures=self.figures(totals),
            check=self.check(totals),
            sections=(
                Section("charts", "Charts", charts=session_charts(self.summary)),
                self.destinations_section(),
                self.studies(),
                self.associations(),
                self.failed(),
                *((self.not_verified(),) if self.verification_asked else ()),
                self.warnings(),
                self.skipped(),
                self.sent(),
            ),
        )

    # -- header and totals ---------------------------------------------------------

    def totals_record(self) -> dict[str, Any]:
        totals = self.summary.get("totals")
        if isinstance(totals, Mapping):
            return dict(totals)
        counts = Counter(str(f.get("state", "")) for f in self.files)
        return {**{s: counts[s] for s in STATES}, "found": len(self.files)}

    def facts(self, totals: Mapping[str, Any]) -> tuple[Fact, ...]:
        s = self.summary
        facts = [
            Fact("Session", or_dash(s.get("session_id"))),
            Fact("Started", or_dash(timestamp(s.get("start_time")))),
            Fact("Ended", or_dash(timestamp(s.get("end_time")))),
            Fact("Outcome", self.outcome(totals)),
            Fact("Exit code", or_dash(s.get("exit_code"))),
        ]
        for dest in self.destinations or [{"name": s.get("destination", "")}]:
            facts.append(Fact("Destination", self.destination_line(dest)))
        config = s.get("configuration")
        if isinstance(config, Mapping):
            for key, value in sorted(config.items()):
                shown = value if isinstance(value, str | int | float | bool) else json.dumps(value)
                facts.append(Fact(f"Setting: {key}", or_dash(shown)))
        if s.get("log_file"):
            facts.append(Fact("Session log", or_dash(s.get("log_file")), code=True))
        return tuple(facts)

    def verdict(self, totals: Mapping[str, Any]) -> str:
        found, failed = integer(totals.get("found")), integer(totals.get("failed"))
        stored = integer(totals.get("sent")) + integer(totals.get("warning"))
        head = "Cancelled. " if self.summary.get("cancelled") else ""
        if failed:
            return f"✗ {head}{failed:,} of {found:,} files failed; {stored:,} stored."
        if integer(totals.get("warning")):
            return f"! {head}Every file stored, {integer(totals.get('warning')):,} with warnings."
        return f"✓ {head}Every file stored ({stored:,}); nothing failed."

    def proof(self, totals: Mapping[str, Any]) -> tuple[str, str]:
        """'✓ 10,000 of 10,000 stored instances verified (committed).', and its state.

        Counted from the stored files, not from ``totals["verified"]``: those
        totals count every file, so failed and skipped ones would read as
        stored instances nobody asked about. Empty when no destination was
        asked to verify: then the verdict says it all.
        """
        if not self.verification_asked:
            return "", ""
        counts = Counter(verified_value(f) for f in self.stored)
        stored = len(self.stored)
        if not stored:
            return self._carried_proof()
        verified = sum(counts[v] for v in VERIFIED)
        kinds = [v for v in VERIFIED if counts[v]]
        how = VERIFIED_WORDS[kinds[0]] if len(kinds) == 1 else _tally(counts, VERIFIED)
        line = f"{verified:,} of {stored:,} stored instances verified"
        line += f" ({how})" if how else ""
        rest = _tally(counts, (*NOT_VERIFIED, "not-asked"))
        line += f"; not verified: {rest}." if rest else "."
        if any(counts[v] for v in _LOST):
            return f"✗ {line}", "failed"
        return (f"✓ {line}", "sent") if verified >= stored else (f"! {line}", "warning")

    def _carried_proof(self) -> tuple[str, str]:
        """Nothing stored this session: what the skipped, already stored instances carry
        from an earlier verification (a re-send or a resume of what was sent)."""
        carried = carried_verdicts(self.by_state["skipped"])
        if not carried:
            return "! No stored instance to verify.", "warning"
        total, proven = sum(carried.values()), sum(carried[v] for v in VERIFIED)
        line = (
            f"Nothing new stored; {proven:,} of {total:,} instances already stored were "
            f"verified earlier ({_tally(carried, (*VERIFIED, *NOT_VERIFIED))})."
        )
        if any(carried[v] for v in _LOST):
            return f"✗ {line}", "failed"
        return (f"✓ {line}", "sent") if proven >= total else (f"! {line}", "warning")

    def verdict_state(self, totals: Mapping[str, Any]) -> str:
        if integer(totals.get("failed")):
            return "failed"
        return "warning" if integer(totals.get("warning")) else "sent"

    def outcome(self, totals: Mapping[str, Any]) -> str:
        how = "cancelled" if self.summary.get("cancelled") else "finished"
        return f"{how}, {number(totals.get('failed'))} failed"

    def destination_line(self, dest: Record) -> str:
        name = or_dash(dest.get("name"))
        if "host" not in dest:
            return name
        if dest.get("url"):
            auth = f", {dest['auth']}" if dest.get("auth") else ""
            return f"{name} (DICOMweb STOW-RS to {dest['url']}{auth})"
        address = f"{dest.get('called_ae', '')} at {dest.get('host', '')}:{dest.get('port', '')}"
        calling = f", calling AE {dest.get('calling_ae', '')}" if dest.get("calling_ae") else ""
        tls = ", TLS" if dest.get("tls") else ""
        return f"{name} ({address}{calling}{tls})"

    def contents(self) -> tuple[Link, ...]:
        unverified = (Link("not-verified", f"Not verified ({len(self.unverified):,})"),)
        return (
            Link("totals", "Totals"),
            Link("charts", "Charts"),
            Link("destinations", "Destinations"),
            Link("studies", "Studies"),
            Link("associations", "Associations"),
            Link("failed", f"Failed ({len(self.by_state['failed']):,})"),
            *(unverified if self.verification_asked else ()),
            Link("warnings", f"Warnings ({len(self.by_state['warning']):,})"),
            Link("skipped", f"Skipped ({len(self.by_state['skipped']):,})"),
            Link("sent", f"Sent ({len(self.by_state['sent']):,})"),
        )

    def figures(self, t: Mapping[str, Any]) -> tuple[Figure, ...]:
        return (
            Figure("found", "Found", number(t.get("found"))),
            Figure("sent", "Sent", number(t.get("sent"))),
            Figure("warning", "Warning", number(t.get("warning"))),
            Figure("failed", "Failed", number(t.get("failed"))),
            Figure("skipped", "Skipped", number(t.get("skipped"))),
            Figure("bytes_sent", "Size stored", size(t.get("bytes_sent"))),
            Figure("duration_s", "Duration", duration(t.get("duration_s"))),
            Figure("mb_per_s", "MB/s", f"{decimal(t.get('mb_per_s')):,.2f}"),
            Figure("images_per_s", "Images/s", f"{decimal(t.get('images_per_s')):,.1f}"),
            Figure("converted", "Converted", number(t.get("converted"))),
        )

    def check(self, t: Mapping[str, Any]) -> str:
        """'12 found = 9 sent + ... ✓.': the reader can see that no file went missing."""
        parts = sum(integer(t.get(s)) for s in STATES)
        adds_up = parts == integer(t.get("found"))
        found, sent, warning, failed, skipped = (
            number(t.get(key)) for key in ("found", "sent", "warning", "failed", "skipped")
        )
        check = (
            f"{found} found = {sent} sent + {warning} warning + {failed} failed + {skipped} skipped"
        )
        check += " ✓" if adds_up else f" ✗ does not add up (the states sum to {parts:,})"
        per = " Files are counted once per destination." if self.many_destinations else ""
        return (
            f"{check}.{per} Size is the data set bytes the destination "
            f"confirmed ({number(t.get('bytes_sent'))} bytes)."
        )

    # -- destinations, studies, associations ----------------------------------------

    def destinations_section(self) -> Section:
        stored_bytes: Counter[str] = Counter()
        for f in self.files:
            if f.get("state") in ("sent", "warning"):
                stored_bytes[str(f.get("destination", ""))] += integer(f.get("bytes"))
        rows = []
        for d in self.destinations:
            t = mapping(d.get("totals"))
            rows.append(
                [
                    _cell(d.get("name")),
                    _cell(d.get("called_ae") or ("STOW-RS" if d.get("url") else "")),
                    _cell(d.get("url") or f"{d.get('host', '')}:{d.get('port', '')}"),
                    _cell(d.get("calling_ae")),
                    _cell("yes" if d.get("tls") else "no"),
                    _num(d.get("workers")),
                    _num(t.get("found")),
                    *(_state_num(t.get(k), k) for k in STATES),
                    _cell(size(stored_bytes[str(d.get("name", ""))]), "num"),
                    *(self.verification_cells(d) if self.verifying else ()),
                ]
            )
        headers = ["Name", "Called AE", "Address", "Calling AE", "TLS", "Workers#"]
        headers += ["Found#", "Sent#", "Warning#", "Failed#", "Skipped#", "Stored#"]
        headers += ["Verification", "Verified"] if self.verifying else []
        listing = _listing("", headers, rows)
        return self.table_section(
            "destinations", "Destinations", listing, "No destination details recorded."
        )

    def verification_cells(self, d: Record) -> tuple[Cell, Cell]:
        """How a destination was asked to verify, and what it answered, in the console's words:
        '98 of 100 committed, 2 missing'."""
        method = _method(d)
        if method == "none":
            return _cell(_METHODS[method]), _cell("")
        given = mapping(d.get("verified"))
        counts = {value: integer(given.get(value)) for value in VERIFIED_WORDS}
        return _cell(_METHODS[method]), _cell(wording.verification_result(counts, method))

    def table_section(self, anchor: str, title: str, listing: Listing, empty: str) -> Section:
        """A section that is one table, or the sentence saying there is nothing to list."""
        if listing.table is None:
            return Section(anchor, title, empty=empty)
        return Section(anchor, title, listing=listing)

    def studies(self) -> Section:
        entries = records(self.summary.get("studies"))
        entries.sort(
            key=lambda s: (str(s.get("destination", "")), str(s.get("study_date", ""))),
        )
        phi = any("patient_name" in s or "patient_id" in s for s in entries)
        shown, note = _capped(entries, MAX_TABLE_ROWS, "studies", "the JSON summary")
        rows = []
        for s in shown:
            modalities = s.get("modalities")
            mods = ", ".join(map(str, modalities)) if isinstance(modalities, list) else modalities
            cells = [_cell(study_date(s.get("study_date"))), _cell(mods)]
            cells.append(_cell(s.get("description")))
            if phi:
                cells += [_cell(s.get("patient_name")), _cell(s.get("patient_id"))]
            if self.many_destinations:
                cells.append(_cell(s.get("destination")))
            cells += [_num(s.get("files")), *(_state_num(s.get(k), k) for k in STATES)]
            cells += [_cell(size(s.get("bytes")), "num"), _cell(s.get("study_uid"), "uid")]
            rows.append(cells)
        headers = ["Date", "Modalities", "Description"]
        headers += ["Patient name", "Patient ID"] if phi else []
        headers += ["Destination"] if self.many_destinations else []
        headers += ["Files#", "Sent#", "Warning#", "Failed#", "Skipped#", "Size#", "Study UID"]
        listing = _listing(note, headers, rows)
        return self.table_section("studies", "Studies", listing, "No study was sent.")

    def associations(self) -> Section:
        entries = records(self.summary.get("associations"))
        shown, note = _capped(entries, MAX_TABLE_ROWS, "associations", "the JSON summary")
        rows = []
        for a in shown:
            released = a.get("released")
            how = "released" if released else ("aborted" if released is False else "unknown")
            if a.get("note"):
                how += f": {a.get('note')}"
            rows.append(
                [
                    _cell(a.get("id")),
                    _cell(a.get("worker")),
                    _cell(a.get("peer")),
                    _cell(timestamp(a.get("opened_at"))),
                    self.contexts(a.get("accepted"), accepted=True),
                    self.contexts(a.get("rejected"), accepted=False),
                    _num(a.get("files")),
                    _cell(size(a.get("bytes")), "num"),
                    _cell(duration(a.get("duration_s")), "num"),
                    _cell(how, "released" if released else "aborted"),
                ]
            )
        headers = ["ID", "Worker", "Peer", "Opened", "Accepted contexts", "Rejected contexts"]
        headers += ["Files#", "Bytes#", "Duration#", "Ended"]
        listing = _listing(note, headers, rows)
        return self.table_section(
            "associations", "Associations", listing, "No association was established."
        )

    def contexts(self, raw: object, *, accepted: bool) -> Cell:
        """Contexts grouped by SOP class: 'CT Image Storage: Explicit VR LE, Implicit VR LE'."""
        if not isinstance(raw, list) or not raw:
            return Cell(DASH)
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
        groups = tuple(
            ContextGroup(or_dash(sop), or_dash(", ".join(syntaxes)))
            for sop, syntaxes in grouped.items()
        )
        return Cell("", contexts=groups, folded=f"{len(raw)} accepted" if accepted else "")

    # -- file lists ------------------------------------------------------------------

    def ts_cell(self, f: Record) -> Cell:
        syntax = str(f.get("transfer_syntax") or "")
        text = self.syntax_name(syntax) if syntax else ""
        if f.get("converted_from"):
            text += f" (converted from {self.syntax_name(str(f['converted_from']))})"
        return _cell(text)

    def sop_cell(self, f: Record) -> Cell:
        sop = str(f.get("sop_class_uid") or "")
        return _cell(self.sop_name(sop) if sop else "")

    def dest_cells(self, f: Record) -> list[Cell]:
        return [_cell(f.get("destination"))] if self.many_destinations else []

    def dest_header(self) -> list[str]:
        return ["Destination"] if self.many_destinations else []

    def sorted_state(self, state: str) -> list[Record]:
        return sorted(
            self.by_state[state],
            key=lambda f: (str(f.get("destination", "")), str(f.get("path", ""))),
        )

    def by_reason(
        self, files: Sequence[Record], caption: str, reason: Callable[[Record], str] = _reason
    ) -> Table:
        counts = Counter(map(reason, files))
        rows = [[_cell(reason, "reason"), _num(n)] for reason, n in counts.most_common()]
        return _table([caption, "Files#"], rows, "by-reason")

    def failed(self) -> Section:
        files = self.sorted_state("failed")
        if not files:
            return Section("failed", "Failed", empty="No file failed.")
        shown, note = _capped(files, MAX_PROBLEM_ROWS, "failed files", self.csv_name)
        rows = [
            [
                _path_cell(f),
                _cell(f.get("reason"), "reason"),
                _cell(f.get("status"), "code"),
                _num(f.get("attempts")),
                self.sop_cell(f),
                *self.dest_cells(f),
            ]
            for f in shown
        ]
        headers = ["Path", "Reason", "Status", "Attempts#", "SOP class", *self.dest_header()]
        return Section(
            "failed",
            _state_title("failed", "Failed", len(files)),
            state="failed",
            by_reason=self.by_reason(files, "Reason"),
            listing=_listing(note, headers, rows, "files"),
        )

    def not_verified(self) -> Section:
        """Stored files the destination did not confirm holding, with its answer and why."""
        files = sorted(
            self.unverified,
            key=lambda f: (str(f.get("destination", "")), str(f.get("path", ""))),
        )
        if not files:
            empty = (
                "No stored file is unverified: none failed its commitment, went missing "
                "or stayed unconfirmed."
            )
            return Section("not-verified", "Not verified", empty=empty)
        shown, note = _capped(files, MAX_PROBLEM_ROWS, "unverified files", self.csv_name)
        rows = [
            [
                _path_cell(f),
                self.answer_cell(f),
                _cell(f.get("verified_reason"), "reason"),
                _cell(timestamp(f.get("verified_at"))),
                _cell(f.get("sop_instance_uid"), "uid"),
                _cell(f.get("association")),
                *self.dest_cells(f),
            ]
            for f in shown
        ]
        headers = ["Path", "Answer", "Reason", "Checked", "SOP instance UID", "Association"]
        state = "failed" if any(verified_value(f) in _LOST for f in files) else "warning"
        return Section(
            "not-verified",
            _state_title(state, "Stored but not verified", len(files)),
            state=state,
            by_reason=self.by_reason(files, "Answer", _verification_reason),
            listing=_listing(note, [*headers, *self.dest_header()], rows, "files"),
        )

    def answer_cell(self, f: Record) -> Cell:
        value = verified_value(f)
        return _cell(VERIFIED_WORDS[value], "failed" if value in _LOST else "warning")

    def warnings(self) -> Section:
        files = self.sorted_state("warning")
        if not files:
            return Section("warnings", "Warnings", empty="No file was stored with a warning.")
        shown, note = _capped(files, MAX_PROBLEM_ROWS, "warnings", self.csv_name)
        rows = [
            [
                _path_cell(f),
                _cell(f.get("status"), "code"),
                _cell(f.get("reason"), "reason"),
                self.sop_cell(f),
                self.ts_cell(f),
                _cell(f.get("association")),
                *self.dest_cells(f),
            ]
            for f in shown
        ]
        headers = ["Path", "Status", "Meaning", "SOP class", "Transfer syntax", "Association"]
        return Section(
            "warnings",
            _state_title("warning", "Stored with a warning", len(files)),
            state="warning",
            by_reason=self.by_reason(files, "Meaning"),
            listing=_listing(note, [*headers, *self.dest_header()], rows, "files"),
        )

    def skipped(self) -> Section:
        """Grouped by reason: 'not DICOM' for 3,000 files is one fact, not 3,000."""
        files = self.sorted_state("skipped")
        if not files:
            return Section("skipped", "Skipped", empty="No file was skipped.")
        by_reason: dict[str, list[Record]] = defaultdict(list)
        for f in files:
            by_reason[str(f.get("reason") or "")].append(f)
        budget = MAX_SKIPPED_ROWS
        groups = []
        for reason, members in sorted(by_reason.items(), key=lambda g: -len(g[1])):
            shown, note = _capped(members, budget, "paths", self.csv_name)
            budget -= len(shown)
            rows = [[_path_cell(f), *self.dest_cells(f)] for f in shown]
            title = f"{or_dash(reason)}: {wording.count(len(members), 'file')}"
            listing = _listing(note, ["Path", *self.dest_header()], rows, "files")
            groups.append(Group(title, listing))
        return Section(
            "skipped",
            _state_title("skipped", "Skipped, never offered", len(files)),
            state="skipped",
            groups=tuple(groups),
        )

    def sent(self) -> Section:
        files = self.sorted_state("sent")
        if not files:
            return Section("sent", "Sent", empty="No file was sent.")
        shown, note = _capped(files, MAX_SENT_ROWS, "sent files", self.csv_name)
        rows = [
            [
                _path_cell(f),
                self.sop_cell(f),
                self.ts_cell(f),
                _num(f.get("bytes")),
                _num(f.get("attempts")),
                _cell(f.get("association")),
                *self.dest_cells(f),
            ]
            for f in shown
        ]
        headers = ["Path", "SOP class", "Transfer syntax", "Bytes#", "Attempts#", "Association"]
        return Section(
            "sent",
            _state_title("sent", "Sent", len(files)),
            state="sent",
            listing=_listing(note, [*headers, *self.dest_header()], rows, "files"),
            folded="Show the sent files",
        )
