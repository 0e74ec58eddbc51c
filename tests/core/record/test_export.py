"""CSV and HTML exports of a session record.

The shapes come from a real session: the tiny sample set sent to a scripted
SCP that rejects MR (so those files fail), answers CT with warning 0xB000,
and with one MR file renamed to a hostile name and one non-DICOM file
(skipped). Spreadsheet injection, escaping and the 100,000-file case use
synthetic summaries built with the same keys.
"""

from __future__ import annotations

import collections
import csv
import os
import re
import stat
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from peers.pynetdicom_scp import ScriptedSCP
from tui_sender.core.config.destinations import Destination
from tui_sender.core.dicom import registry
from tui_sender.core.engine.session import Session, SessionOptions, SessionResult
from tui_sender.core.engine.targets import transfer_target
from tui_sender.core.record.export import (
    CSV_COLUMNS,
    MAX_SENT_ROWS,
    export_csv,
    export_html,
    export_session,
    spreadsheet_safe,
)
from tui_sender.core.scan.scanner import scan_paths
from tui_sender.demo.samples.data import generate_samples

MR = "1.2.840.10008.5.1.4.1.1.4"
CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
HOSTILE_NAME = "<script>alert(\"x\") & &lt; 'q'.dcm"
"""A file name cannot hold '/', so no closing tag: an opening one is enough to run."""
STATES = ("sent", "warning", "failed", "skipped")


@dataclass(frozen=True)
class RealSession:
    result: SessionResult
    patient_names: list[str]

    @property
    def summary(self) -> dict[str, Any]:
        return self.result.summary


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> RealSession:
    """A real send: MR rejected (failed), CT answered 0xB000 (warning), one non-DICOM file."""
    root = tmp_path_factory.mktemp("export")
    samples = generate_samples(root / "samples", profile="tiny", seed=3)
    mr_file = next(p for p in samples.files if "_MR" in p.parent.name)
    mr_file.rename(mr_file.with_name(HOSTILE_NAME))
    (root / "samples" / "notes.txt").write_text("not DICOM")
    catalog = scan_paths([str(root / "samples")], recursive=True)
    with ScriptedSCP(rejected_sop_classes=[MR], replies_by_sop_class={CT: 0xB000}) as scp:
        target = transfer_target(Destination.from_cli(scp.ae_title, "127.0.0.1", scp.port))
        options = SessionOptions(logs_dir=root / "logs", configuration={"threads": 2})
        result = Session(catalog, [target], options=options).run()
    names = [p.name for p in catalog.patients.values() if p.name]
    return RealSession(result, names)


def test_the_real_session_has_every_state_and_a_hostile_failure(real: RealSession) -> None:
    totals = real.summary["totals"]
    assert all(totals[state] > 0 for state in STATES), totals
    failed_paths = [f["path"] for f in real.summary["files"] if f["state"] == "failed"]
    assert any(path.endswith(HOSTILE_NAME) for path in failed_paths)


# -- CSV ---------------------------------------------------------------------------------


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        return list(reader)


def test_csv_has_one_row_per_file_record_and_counts_match_the_totals(
    real: RealSession, tmp_path: Path
) -> None:
    rows = _read_csv(export_csv(real.summary, tmp_path / "record.csv"))
    files = real.summary["files"]
    assert len(rows) == len(files)
    counts = collections.Counter(row["state"] for row in rows)
    assert {s: counts[s] for s in STATES} == {s: real.summary["totals"][s] for s in STATES}
    for row, record in zip(rows, files, strict=True):
        for key in ("path", "destination", "state", "reason", "sop_instance_uid", "study_uid"):
            assert row[key] == (record[key] or ""), key
        assert row["bytes"] == str(record["bytes"])
        assert row["status"] == (record["status"] or "")


def test_csv_names_sop_classes_and_transfer_syntaxes(real: RealSession, tmp_path: Path) -> None:
    rows = _read_csv(export_csv(real.summary, tmp_path / "record.csv"))
    failed = [r for r in rows if r["state"] == "failed"]
    assert {r["sop_class_name"] for r in failed} == {"MR Image Storage"}
    assert any(HOSTILE_NAME in r["path"] for r in failed)
    for row in rows:
        if row["state"] in ("sent", "warning"):
            assert row["transfer_syntax_name"] == registry.transfer_syntax_name(
                row["transfer_syntax"]
            )
            assert row["sop_class_name"] == registry.sop_class_name(row["sop_class_uid"])
        if row["state"] == "skipped":
            assert row["sop_class_name"] == row["transfer_syntax_name"] == ""


OLD_CSV_COLUMNS = (
    "path", "path_bytes_b64", "destination", "state", "status", "reason", "attempts",
    "sop_instance_uid", "sop_class_uid", "sop_class_name", "study_uid", "transfer_syntax",
    "transfer_syntax_name", "converted_from", "bytes", "association",
)  # fmt: skip
"""The columns before verification was recorded: scripts may read them by position."""


def test_csv_appends_the_verification_columns_and_keeps_the_others_in_order() -> None:
    assert CSV_COLUMNS[: len(OLD_CSV_COLUMNS)] == OLD_CSV_COLUMNS
    assert CSV_COLUMNS[len(OLD_CSV_COLUMNS) :] == (
        "verified",
        "verified_reason",
        "verified_at",
        "http_status",
    )


def test_csv_has_each_file_verification(tmp_path: Path) -> None:
    files = [
        _file("a.dcm", verified="committed", verified_at="2026-01-01T00:02:00.000+00:00"),
        _file("b.dcm", verified="missing", verified_reason="=C-FIND found none", verified_at=None),
    ]
    rows = _read_csv(export_csv(_summary(files), tmp_path / "v.csv"))
    assert [(r["verified"], r["verified_reason"], r["verified_at"]) for r in rows] == [
        ("committed", "", "2026-01-01T00:02:00.000+00:00"),
        ("missing", "'=C-FIND found none", ""),
    ]


def test_csv_of_a_summary_from_before_verification_has_empty_verification_cells(
    tmp_path: Path,
) -> None:
    rows = _read_csv(export_csv(_summary([_file("a.dcm")]), tmp_path / "old.csv"))
    assert [(r["verified"], r["verified_reason"], r["verified_at"]) for r in rows] == [("", "", "")]
    assert rows[0]["path"] == "a.dcm" and rows[0]["association"] == "A1"


def _file(path: str, state: str = "sent", **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "path": path,
        "destination": "PACS",
        "state": state,
        "status": "0x0000" if state == "sent" else None,
        "reason": "",
        "attempts": 1,
        "sop_instance_uid": "1.2.3",
        "sop_class_uid": CT,
        "study_uid": "1.2",
        "transfer_syntax": EXPLICIT,
        "converted_from": "",
        "bytes": 100,
        "association": "A1",
    }
    record.update(fields)
    return record


def _summary(files: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    counts = collections.Counter(f["state"] for f in files)
    totals = {s: counts[s] for s in STATES}
    stored = sum(f["bytes"] for f in files if f["state"] in ("sent", "warning"))
    return {
        "session_id": "20260101-000000-abcdef",
        "start_time": "2026-01-01T00:00:00.000+00:00",
        "end_time": "2026-01-01T00:01:00.000+00:00",
        "cancelled": False,
        "exit_code": 1 if totals["failed"] else 0,
        "log_file": "",
        "configuration": {},
        "totals": {
            **totals,
            "found": len(files),
            "bytes_sent": stored,
            "duration_s": 60.0,
            "mb_per_s": round(stored / 60 / 1e6, 3),
            "images_per_s": round((totals["sent"] + totals["warning"]) / 60, 2),
            "converted": 0,
        },
        "destinations": [
            {
                "name": "PACS",
                "called_ae": "PACS",
                "host": "10.0.0.1",
                "port": 104,
                "calling_ae": "TUI_SENDER",
                "workers": 1,
                "tls": False,
                "totals": {**totals, "found": len(files)},
            },
        ],
        "associations": [],
        "studies": [],
        "files": files,
        **extra,
    }


FORMULAS = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]


def test_csv_cells_that_a_spreadsheet_would_run_get_an_apostrophe(tmp_path: Path) -> None:
    files = [
        _file(f"{formula}.dcm", "failed", reason=formula, destination=formula)
        for formula in FORMULAS
    ]
    files.append(_file("a=b+c@d-e.dcm", reason="1-2=3"))
    rows = _read_csv(export_csv(_summary(files), tmp_path / "x.csv"))
    for row, formula in zip(rows, FORMULAS, strict=False):
        for key in ("path", "reason", "destination"):
            assert row[key].startswith("'"), (key, row[key])
            assert row[key][1:] == (formula + ".dcm" if key == "path" else formula)
    harmless = rows[-1]
    assert (harmless["path"], harmless["reason"]) == ("a=b+c@d-e.dcm", "1-2=3")


def test_spreadsheet_safe_leaves_ordinary_values_alone() -> None:
    assert spreadsheet_safe("/data/study/IMG0001") == "/data/study/IMG0001"
    assert spreadsheet_safe(None) == ""
    assert spreadsheet_safe(12) == "12"
    assert spreadsheet_safe("-") == "'-"


# -- files on disk ------------------------------------------------------------------------


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A permissive umask, so 0600 cannot come from the environment."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("open_umask")
def test_exports_are_owner_only_even_over_a_readable_file(
    real: RealSession, tmp_path: Path
) -> None:
    csv_path, html_path = tmp_path / "r.csv", tmp_path / "r.html"
    for path in (csv_path, html_path):
        path.write_text("old")
        path.chmod(0o644)
    export_csv(real.summary, csv_path)
    export_html(real.summary, html_path)
    for path in (csv_path, html_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv", "r.html"]


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("cannot be shown")


def test_a_failed_export_leaves_the_previous_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "r.csv"
    target.write_text("previous")
    with pytest.raises(RuntimeError):
        export_csv(_summary([_file("a.dcm", reason=_Unprintable())]), target)
    assert target.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]


@pytest.mark.usefixtures("open_umask")
def test_export_session_writes_both_and_points_at_the_session_files(
    real: RealSession, tmp_path: Path
) -> None:
    out = tmp_path / "exports"
    result = export_session(real.summary, out, "report")
    assert (result.csv, result.html) == (out / "report.csv", out / "report.html")
    assert result.summary_json == real.result.summary_path
    assert result.log == real.result.log_path
    assert [label for label, _ in result.labelled()] == [
        "HTML report",
        "CSV table",
        "JSON summary",
        "Session log",
    ]
    assert all(path.is_file() for _, path in result.labelled())
    assert sorted(p.name for p in out.iterdir()) == ["report.csv", "report.html"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


@pytest.mark.usefixtures("open_umask")
def test_export_session_writes_the_summary_when_no_session_file_exists(tmp_path: Path) -> None:
    result = export_session(_summary([_file("a.dcm")]), tmp_path, "report")
    assert result.summary_json == tmp_path / "report.json"
    assert stat.S_IMODE(result.summary_json.stat().st_mode) == 0o600
    assert result.log is None
    assert len(result.labelled()) == 3


@pytest.mark.parametrize("stem", ["", "..", "a/b", "x\x00"])
def test_export_session_refuses_a_stem_that_is_not_a_file_name(stem: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="stem"):
        export_session(_summary([]), tmp_path, stem)


# -- HTML ---------------------------------------------------------------------------------


VOID = {"meta", "br", "hr", "img", "input", "link", "wbr"}


class _Structure(HTMLParser):
    """Checks that every element is closed in order; collects ids, texts and table cells.

    Texts are what a browser shows, entities decoded: tests compare them with
    the summary's values, whichever entity the escaping chose for a quote.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.ids: list[str] = []
        self.tags: collections.Counter[str] = collections.Counter()
        self.texts: list[str] = []
        self.rows: list[list[tuple[str, str]]] = []
        """Each table row's cells as (class, text)."""
        self._cell: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.ids += [v for k, v in attrs if k == "id" and v]
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag == "td":
            self._cell = (dict(attrs).get("class") or "", [])

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
        if self._cell is not None:
            self._cell[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()
        if tag == "td" and self._cell is not None:
            self.rows[-1].append((self._cell[0], "".join(self._cell[1])))
            self._cell = None


def _parse(document: str) -> _Structure:
    parser = _Structure()
    parser.feed(document)
    parser.close()
    assert parser.errors == [] and parser.stack == [], (parser.errors, parser.stack)
    return parser


def _section(document: str, anchor: str) -> str:
    start = document.index(f'<section id="{anchor}">')
    return document[start : document.index("</section>", start)]


def _rows(document: str, anchor: str) -> list[list[tuple[str, str]]]:
    """The table rows of a section, each cell as (class, the text a reader sees)."""
    return _parse(_section(document, anchor) + "</section>").rows


@pytest.fixture(scope="module")
def report(real: RealSession, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = export_html(real.summary, tmp_path_factory.mktemp("html") / "report.html")
    return path.read_text(encoding="utf-8")


def test_html_is_well_formed_and_self_contained(report: str) -> None:
    parser = _parse(report)
    assert parser.tags["script"] == 0
    lowered = report.lower()
    for external in ("http://", "https://", "src=", "<link", "@import", "url(", "<iframe"):
        assert external not in lowered, external
    assert "Content-Security-Policy" in report
    assert parser.ids.count("failed") == 1


def test_html_totals_are_the_summary_totals_and_add_up(real: RealSession, report: str) -> None:
    shown = {
        key: value
        for key, value in re.findall(r'id="total-(\w+)">([^<]*)<', report)
        if key in (*STATES, "found", "converted")
    }
    totals = real.summary["totals"]
    assert {k: int(v.replace(",", "")) for k, v in shown.items()} == {
        k: totals[k] for k in (*STATES, "found", "converted")
    }
    assert "skipped ✓." in _section(report, "totals")


def test_html_lists_every_failed_file_with_its_reason(real: RealSession, report: str) -> None:
    rows = [row[:2] for row in _rows(report, "failed")]
    failed = [f for f in real.summary["files"] if f["state"] == "failed"]
    for record in failed:
        assert [("path", record["path"]), ("reason", record["reason"])] in rows, record["path"]
    order = [report.index(f'<section id="{a}">') for a in ("failed", "warnings", "skipped")]
    assert order == sorted(order)
    assert report.index('<section id="sent">') > order[-1]


def test_html_escapes_a_hostile_file_name(report: str) -> None:
    assert "<script" not in report
    paths = [text for row in _rows(report, "failed") for css, text in row if css == "path"]
    assert any(path.endswith("/" + HOSTILE_NAME) for path in paths)


def test_html_escapes_newlines_quotes_and_markup_in_reasons(tmp_path: Path) -> None:
    reason = 'peer said:\n</td></tr><img src=x onerror="alert(1)"> & more'
    files = [_file("<b>bold</b>.dcm", "failed", reason=reason, status="0xC000")]
    document = export_html(_summary(files), tmp_path / "r.html").read_text()
    parser = _parse(document)
    assert parser.tags["img"] == 0 and parser.tags["b"] == 0
    rows = [row[:2] for row in _rows(document, "failed")]
    assert [("path", "<b>bold</b>.dcm"), ("reason", reason)] in rows
    assert "&lt;b&gt;bold&lt;/b&gt;.dcm" in document


def test_html_shows_studies_and_associations_of_the_real_session(
    real: RealSession, report: str
) -> None:
    studies = _section(report, "studies")
    assert studies.count("<tr>") == len(real.summary["studies"]) + 1
    for study in real.summary["studies"]:
        assert study["study_uid"] in studies
    associations = _section(report, "associations")
    for association in real.summary["associations"]:
        assert f"<td>{association['id']}</td>" in associations
    assert "<b>MR Image Storage</b>: " in associations
    assert "Abstract Syntax Not Supported" in associations


def test_no_patient_data_unless_the_summary_has_it(
    real: RealSession, report: str, tmp_path: Path
) -> None:
    assert real.patient_names
    exported = report + export_csv(real.summary, tmp_path / "r.csv").read_text()
    for name in real.patient_names:
        assert name not in exported
    assert "Patient" not in report
    study = {"study_uid": "1.2", "destination": "PACS", "files": 1, "bytes": 100, "sent": 1,
             "warning": 0, "failed": 0, "skipped": 0, "study_date": "20240101",
             "modalities": ["CT"], "description": "HEAD", "patient_name": "DOE^JANE",
             "patient_id": "P-42"}  # fmt: skip
    with_phi = export_html(_summary([_file("a.dcm")], studies=[study]), tmp_path / "phi.html")
    studies = _section(with_phi.read_text(), "studies")
    assert "<th>Patient name</th>" in studies
    assert "<td>DOE^JANE</td>" in studies and "<td>P-42</td>" in studies


def test_two_destinations_get_a_destination_column(tmp_path: Path) -> None:
    files = [_file("a.dcm", "failed", reason="refused", destination=d) for d in ("ONE", "TWO")]
    document = export_html(_summary(files), tmp_path / "r.html").read_text()
    failed = _section(document, "failed")
    assert "<th>Destination</th>" in failed
    assert "<td>ONE</td>" in failed and "<td>TWO</td>" in failed


# -- a large session ---------------------------------------------------------------------


def _large_summary(count: int) -> dict[str, Any]:
    """``count`` files over 1,000 studies: mostly sent, some warnings, failures, skips."""
    files = []
    for n in range(count):
        state = "sent"
        if n % 50 == 1:
            state = "warning"
        elif n % 100 == 2:
            state = "failed"
        elif n % 200 == 3:
            state = "skipped"
        files.append(
            _file(
                f"/archive/P{n % 300:04d}/S{n % 1000:04d}/IMG{n:06d}.dcm",
                state,
                sop_instance_uid=f"2.25.{n}",
                study_uid=f"2.25.1000{n % 1000}",
                reason={"failed": "0xA700 out of resources", "warning": "0xB000 coercion",
                        "skipped": "not a DICOM file"}.get(state, ""),
                association=f"A{n // 500 + 1}",
            )
        )  # fmt: skip
    return _summary(files)


def test_a_100000_file_session_exports_in_seconds_with_a_capped_sent_list(
    tmp_path: Path,
) -> None:
    summary = _large_summary(100_000)
    started = time.perf_counter()
    result = export_session(summary, tmp_path, "big")
    elapsed = time.perf_counter() - started
    assert elapsed < 5.0, f"export took {elapsed:.2f} s"
    assert len(_read_csv(result.csv)) == 100_000
    document = result.html.read_text()
    sent = _section(document, "sent")
    assert sent.count('<td class="path">') == MAX_SENT_ROWS
    assert "big.csv" in sent
    failed = _section(document, "failed")
    assert failed.count('<td class="path">') == summary["totals"]["failed"]
    assert result.html.stat().st_size < 10_000_000


# -- hostile values and the template ------------------------------------------------------


HOSTILE_PATH = "/data/<script>alert(1)</script>.dcm"
"""A summary's path is text from anywhere (a summary can be edited): a closing tag is possible."""
HOSTILE_COMMENT = "&\"'<"
"""An Error Comment a PACS might send: every character HTML gives a meaning."""
REPORT_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "p", "dl",
    "dt", "dd", "nav", "a", "section", "div", "table", "thead", "tbody", "tr", "th", "td",
    "details", "summary", "ul", "li", "b", "code", "footer", "figure", "figcaption",
    "svg", "desc", "g", "rect", "line", "path", "polyline", "text",
}  # fmt: skip
"""Every element the report template writes; anything else came from the data."""


def test_hostile_summary_values_are_escaped_text_and_never_markup(tmp_path: Path) -> None:
    reason = f"0xA700 out of resources [PACS says: {HOSTILE_COMMENT}]"
    timed = {"finished_at": "2026-01-01T00:00:30.000+00:00", "association": "A1"}
    files = [
        _file(HOSTILE_PATH, "failed", reason=reason, status="0xA700", **timed),
        _file(HOSTILE_PATH, "warning", reason=reason, status="0xB000", **timed),
        _file(HOSTILE_PATH, "skipped", reason=reason),
        _file(HOSTILE_PATH, verified="missing", verified_reason=reason, **timed),
    ]
    association = {
        "id": "A1",
        "destination": HOSTILE_COMMENT,
        "opened_at": "2026-01-01T00:00:10.000+00:00",
        "worker": 1,
        "peer": HOSTILE_COMMENT,
        "files": 1,
        "bytes": 100,
        "duration_s": 1.0,
        "released": False,
        "note": reason,
        "accepted": [{"sop_class": HOSTILE_PATH, "transfer_syntax": HOSTILE_COMMENT}],
        "rejected": [{"sop_class": "MR", "transfer_syntax": "x", "result": reason}],
    }
    summary = _summary(
        files,
        session_id=f"<script>{HOSTILE_COMMENT}",
        log_file=HOSTILE_PATH,
        configuration={HOSTILE_COMMENT: reason},
        associations=[association],
        tool={"version": HOSTILE_COMMENT},
    )
    summary["destinations"][0] |= {"calling_ae": HOSTILE_COMMENT, "verify": "find"}
    summary["studies"] = [{"study_uid": "1.2", "destination": "PACS", "description": reason}]
    document = export_html(summary, tmp_path / "r.html").read_text(encoding="utf-8")
    assert _section(document, "charts").count("<svg ") == 3

    parser = _parse(document)
    assert set(parser.tags) <= REPORT_TAGS, set(parser.tags) - REPORT_TAGS
    assert "<script" not in document.lower() and HOSTILE_COMMENT not in document
    assert re.findall(r"&(?!(?:[a-z]+|#[0-9]+|#x[0-9a-f]+);)", document, flags=re.I) == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.dcm" in document
    assert "&amp;&#34;&#39;&lt;" in document
    for anchor in ("failed", "warnings"):
        cells = {cell for row in _rows(document, anchor) for cell in row}
        assert {("path", HOSTILE_PATH), ("reason", reason)} <= cells, anchor
    shown = "".join(parser.texts)
    for text in (
        f"{reason}: 1 file",
        f"DICOM send report: session <script>{HOSTILE_COMMENT}",
        f"calling AE {HOSTILE_COMMENT}",
        f"aborted: {reason}",
        f"{HOSTILE_PATH}: {HOSTILE_COMMENT}",
        f"x ({reason})",
        f"A1 aborted: {reason}",
        f"missing: {reason}",
    ):
        assert text in shown, text


def test_importing_the_exports_leaves_jinja2_unloaded_until_a_report_is_written(
    tmp_path: Path,
) -> None:
    """A headless send's start-up does not pay for the template engine it may never use."""
    code = (
        "import sys\n"
        "import tui_sender.cli, tui_sender.commands.send, tui_sender.core.record.export as export\n"
        "print('jinja2' in sys.modules)\n"
        "from pathlib import Path\n"
        f"export.export_html({{}}, Path({str(tmp_path / 'r.html')!r}))\n"
        "print('jinja2' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["False", "True"]
    assert "No file was sent." in (tmp_path / "r.html").read_text(encoding="utf-8")


# -- charts and verification in the page -------------------------------------------------


def test_the_real_session_report_has_its_charts_after_the_totals(
    real: RealSession, report: str
) -> None:
    order = [report.index(f'<section id="{a}">') for a in ("totals", "charts", "destinations")]
    assert order == sorted(order)
    assert '<a href="#totals">Totals</a> · <a href="#charts">Charts</a>' in report
    charts = _section(report, "charts")
    svgs = re.findall(r"<svg .*?</svg>", charts, flags=re.S)
    assert len(svgs) == 2, "rate and timeline; nothing was verified"
    timeline = ET.fromstring(svgs[1])
    bars = [r for r in timeline.iter("rect") if "bar" in (r.get("class") or "").split()]
    assert len(bars) == len(real.summary["associations"]) > 0


def _verified_summary(answers: list[tuple[str, str]], method: str = "commitment") -> dict[str, Any]:
    """Stored files with these (verified, reason) answers, at a destination asked by ``method``."""
    files = [
        _file(f"/data/IMG{n:05d}.dcm", verified=answer, verified_reason=why,
              verified_at="2026-01-01T00:02:00.000+00:00", sop_instance_uid=f"2.25.{n}")
        for n, (answer, why) in enumerate(answers)
    ]  # fmt: skip
    summary = _summary(files)
    counts = collections.Counter(answer for answer, _ in answers)
    names = ("committed", "found", "commit-failed", "missing", "unconfirmed", "not-asked")
    verified = {name: counts[name] for name in names}
    summary["totals"]["verified"] = verified
    summary["destinations"][0] |= {"verify": method, "verified": verified}
    return summary


def test_the_verdict_says_how_many_stored_instances_were_verified(tmp_path: Path) -> None:
    summary = _verified_summary([("committed", "")] * 9_999 + [("missing", "not found")])
    document = export_html(summary, tmp_path / "r.html").read_text(encoding="utf-8")
    assert (
        '<p class="verdict proof failed" id="proof">✗ 9,999 of 10,000 stored instances '
        "verified (committed); not verified: 1 missing.</p>"
    ) in document
    every = _verified_summary([("committed", ""), ("found", "")], method="find")
    document = export_html(every, tmp_path / "all.html").read_text(encoding="utf-8")
    assert "✓ 2 of 2 stored instances verified (1 committed, 1 found by query).</p>" in document
    assert '<p class="verdict proof sent"' in document


def test_failed_files_counted_as_not_asked_do_not_count_as_stored(tmp_path: Path) -> None:
    """The summary's verified counts cover every file; the page speaks of stored ones."""
    summary = _verified_summary([("committed", "")] * 2)
    summary["files"].append(_file("/data/bad.dcm", "failed", verified="not-asked", bytes=0))
    summary["totals"] |= {"failed": 1, "found": 3}
    for counts in (summary["totals"]["verified"], summary["destinations"][0]["verified"]):
        counts["not-asked"] = 1
    document = export_html(summary, tmp_path / "r.html").read_text()
    assert "✓ 2 of 2 stored instances verified (committed).</p>" in document
    assert _rows(document, "destinations")[1][-1] == ("", "2 of 2 committed")


def test_destinations_show_how_they_verified_and_what_they_answered(tmp_path: Path) -> None:
    answers = [("committed", "")] * 3 + [("commit-failed", "0x0110"), ("unconfirmed", "late")]
    document = export_html(_verified_summary(answers), tmp_path / "r.html").read_text()
    section = _section(document, "destinations")
    assert "<th>Verification</th><th>Verified</th>" in section
    (row,) = _rows(document, "destinations")[1:]
    assert row[-2:] == [
        ("", "storage commitment"),
        ("", "3 of 5 committed, 1 commit-failed, 1 unconfirmed"),
    ]


def test_not_verified_lists_the_stored_files_that_were_not_confirmed(tmp_path: Path) -> None:
    answers = [("committed", ""), ("commit-failed", "0x0110 processing failure")]
    answers += [("missing", "C-FIND found no instance <&>"), ("unconfirmed", "no reply in 60 s")]
    answers += [("not-asked", "")]
    document = export_html(_verified_summary(answers), tmp_path / "r.html").read_text()
    assert '<a href="#not-verified">Not verified (3)</a>' in document
    order = [document.index(f'<section id="{a}">') for a in ("failed", "not-verified", "warnings")]
    assert order == sorted(order)
    section = _section(document, "not-verified")
    assert "✗ Stored but not verified: 3 files" in section
    rows = [row[:3] for row in _rows(document, "not-verified") if row and row[0][0] == "path"]
    assert [[text for _, text in row] for row in rows] == [
        ["/data/IMG00001.dcm", "commitment failed", "0x0110 processing failure"],
        ["/data/IMG00002.dcm", "missing", "C-FIND found no instance <&>"],
        ["/data/IMG00003.dcm", "unconfirmed", "no reply in 60 s"],
    ]
    assert [row[1][0] for row in rows] == ["failed", "failed", "warning"]
    assert "missing: C-FIND found no instance &lt;&amp;&gt;" in section


def test_a_summary_from_before_verification_shows_nothing_of_it(tmp_path: Path) -> None:
    document = export_html(_summary([_file("a.dcm")]), tmp_path / "r.html").read_text()
    assert 'id="proof"' not in document and 'id="not-verified"' not in document
    assert "Verification" not in document and "verified" not in _section(document, "charts")
    assert "Not verified" not in document


def test_a_session_that_stored_nothing_new_shows_what_the_skipped_instances_carry(
    tmp_path: Path,
) -> None:
    """A re-send where the index says everything is stored: the proof is the earlier one."""
    summary = _verified_summary([])
    summary["files"] = [
        _file(f"/data/IMG{n}.dcm", "skipped", status=None, reason="already stored",
              sop_instance_uid=f"2.25.{n}", verified=answer)
        for n, answer in enumerate(["committed"] * 3 + ["missing"])
    ]  # fmt: skip
    summary["totals"] |= {"sent": 0, "skipped": 4, "found": 4}
    document = export_html(summary, tmp_path / "r.html").read_text(encoding="utf-8")
    assert (
        '<p class="verdict proof failed" id="proof">✗ Nothing new stored; 3 of 4 instances '
        "already stored were verified earlier (3 committed, 1 missing).</p>"
    ) in document
    for f in summary["files"]:
        f["verified"] = "committed"
    document = export_html(summary, tmp_path / "all.html").read_text(encoding="utf-8")
    assert "✓ Nothing new stored; 4 of 4 instances already stored were verified earlier" in document
    for f in summary["files"]:
        f["verified"] = "not-asked"
    document = export_html(summary, tmp_path / "none.html").read_text(encoding="utf-8")
    assert "! No stored instance to verify." in document
