"""The HTML report's charts: what they draw is what the summary says, escaped, and small.

Summaries are built as dicts with test_export's helpers (the keys of
``summary.py``): :func:`realistic_summary` is a two-destination session with
several associations, one aborted, retries, failures, a file carried over
from a resumed session, and verification answers.
"""

from __future__ import annotations

import collections
import datetime as dt
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.core.record.test_export import _file, _large_summary, _section, _summary
from tui_sender.core.record.export import export_html
from tui_sender.core.record.report_charts import (
    MAX_TICKS_PER_ROW,
    MAX_TIMELINE_ROWS,
    MAX_VERIFIED_ROWS,
    STORED,
    Timing,
    rate_panels,
    session_charts,
    timeline_rows,
    verified_rows,
)
from tui_sender.core.record.report_page import Chart

START = dt.datetime(2026, 1, 1, 8, 0, tzinfo=dt.UTC)
ABORT_NOTE = "peer aborted: <script>alert(1)</script> & gone"
HOSTILE_STUDY = "<script>x</script> & HEAD"
SVG_BUDGET = 400_000
"""Bytes all the charts of a 100,000-file session may take (they take about 310 kB)."""


REASONS = {
    "commit-failed": "0x0110 processing failure",
    "missing": "C-FIND found no instance",
    "unconfirmed": "no N-EVENT-REPORT within 60 s",
}


def _at(seconds: float) -> str:
    return (START + dt.timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


def _association(
    aid: str, destination: str, worker: str, opened: float, seconds: float, **fields: Any
) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": aid, "destination": destination, "worker": worker}
    entry["opened_at"] = _at(opened)
    entry |= {"duration_s": seconds, "files": 0, "bytes": 0, "released": True, "note": ""}
    return entry | fields


def realistic_summary() -> dict[str, Any]:
    """Two destinations over two minutes: PACS (storage commitment) on three associations, one
    aborted; ARCHIVE (C-FIND) on one; retries, failures, a carried-over file, a skipped one.
    Every study but PACS's MR study has files that were not verified."""
    files: list[dict[str, Any]] = []
    plan = [
        ("PACS", "A1", 0.0, 50.0, "1.2.1"),
        ("PACS", "A2", 2.0, 40.0, "1.2.2"),
        ("PACS", "A3", 60.0, 30.0, "1.2.3"),
        ("ARCHIVE", "A4", 1.0, 100.0, "1.2.1"),
    ]
    for destination, aid, opened, seconds, study in plan:
        for n in range(40):
            state = "failed" if n % 17 == 5 else "sent"
            answer = "committed" if destination == "PACS" else "found"
            if state == "sent" and n == 7 and aid != "A3":
                answer = {"PACS": "commit-failed", "ARCHIVE": "missing"}[destination]
            elif state == "sent" and n == 9 and aid != "A3":
                answer = "unconfirmed"
            files.append(
                _file(
                    f"/data/{aid}/IMG{n:04d}.dcm",
                    state,
                    destination=destination,
                    association=aid,
                    study_uid=study,
                    sop_instance_uid=f"2.25.{aid[1:]}{n:04d}",
                    bytes=0 if state == "failed" else 500_000 + n * 1_000,
                    attempts=3 if n % 11 == 3 else 1,
                    reason="0xA700 out of resources" if state == "failed" else "",
                    finished_at=_at(opened + seconds * (n + 1) / 41),
                    verified=answer if state == "sent" else "not-asked",
                    verified_reason=REASONS.get(answer, ""),
                    verified_at=_at(130.0) if state == "sent" else None,
                )
            )  # fmt: skip
    files.append(_file("/data/old/IMG9999.dcm", study_uid="1.2.1", finished_at=None))
    files.append(_file("/data/notes.txt", "skipped", bytes=0, reason="not DICOM"))
    summary = _summary(files, end_time=_at(135.0))
    summary["start_time"] = _at(0.0)
    summary["associations"] = [
        _association(aid, dest, "w1" if aid != "A2" else "w2", opened, seconds)
        for dest, aid, opened, seconds, _ in plan
    ]
    summary["associations"][1] |= {"released": False, "note": ABORT_NOTE}
    summary["studies"] = [
        {"study_uid": uid, "destination": dest, "study_date": "20240101", "description": words}
        for dest in ("PACS", "ARCHIVE")
        for uid, words in (("1.2.1", "CT CHEST"), ("1.2.2", HOSTILE_STUDY), ("1.2.3", "MR"))
    ]
    summary["destinations"].append({**summary["destinations"][0], "name": "ARCHIVE"})
    summary["destinations"][0] |= {"verify": "commitment"}
    summary["destinations"][1] |= {"verify": "find"}
    for destination in summary["destinations"]:
        mine = [f for f in files if f["destination"] == destination["name"]]
        destination["verified"] = _counts(f.get("verified") for f in mine if f["state"] in STORED)
    stored = [f for f in files if f["state"] in STORED]
    summary["totals"]["verified"] = _counts(f.get("verified") for f in stored)
    return summary


def _counts(values: Any) -> dict[str, int]:
    found = collections.Counter(v or "not-asked" for v in values)
    names = ("committed", "found", "commit-failed", "missing", "unconfirmed", "not-asked")
    return {name: found[name] for name in names}


def _charts(summary: dict[str, Any]) -> dict[str, Chart]:
    return {chart.key: chart for chart in session_charts(summary)}


def _drawing(chart: Chart) -> ET.Element:
    """The chart's SVG, parsed as XML: it must be well-formed on its own."""
    assert chart.svg is not None, chart.empty
    return ET.fromstring(chart.svg)


def _shown(element: ET.Element) -> str:
    """An element's own text, as a reader sees it: without its tooltip."""
    return (element.text or "") + "".join(child.tail or "" for child in element)


def _with_class(root: ET.Element, tag: str, css: str) -> list[ET.Element]:
    return [e for e in root.iter(tag) if css in (e.get("class") or "").split()]


# -- every chart ---------------------------------------------------------------------------------


def test_every_chart_is_well_formed_svg_with_a_title_a_description_and_axis_units() -> None:
    charts = _charts(realistic_summary())
    assert list(charts) == ["rate", "timeline", "verified"]
    for key, chart in charts.items():
        root = _drawing(chart)
        assert root.tag == "svg" and root.get("role") == "img"
        assert root.get("aria-labelledby") == f"chart-{key}-title chart-{key}-desc"
        assert root.findtext("title") == chart.title
        assert root.findtext("desc")
        assert chart.caption
        labels = {e.text for e in _with_class(root, "text", "axis-label")}
        assert any(label and "(" in label for label in labels), labels
    rate_labels = {e.text for e in _with_class(_drawing(charts["rate"]), "text", "axis-label")}
    assert {"MB/s", "images/s", "Time since the start (s)"} <= rate_labels


def test_charts_draw_no_script_no_link_and_no_inline_style() -> None:
    for chart in session_charts(realistic_summary()):
        text = str(chart.svg).lower()
        for forbidden in ("<script", "href", "style=", "url(", "http", "<foreignobject"):
            assert forbidden not in text, (chart.key, forbidden)


# -- the rate over time --------------------------------------------------------------------------


def test_rate_bins_add_up_to_the_stored_bytes_and_files_with_a_finish_time() -> None:
    summary = realistic_summary()
    panels = rate_panels(Timing.of(summary))
    timed = [f for f in summary["files"] if f["state"] in STORED and f.get("finished_at")]
    assert sum(sum(p.total.bytes) for p in panels) == sum(f["bytes"] for f in timed)
    assert sum(sum(p.total.images) for p in panels) == len(timed)
    for panel in panels:
        mine = [f for f in timed if f["destination"] == panel.destination]
        assert sum(panel.total.bytes) == sum(f["bytes"] for f in mine)
        lines = panel.associations
        for index in range(len(panel.total.bytes)):
            if lines:
                assert sum(s.bytes[index] for s in lines) == panel.total.bytes[index]
    pacs = next(p for p in panels if p.destination == "PACS")
    assert [s.label for s in pacs.associations] == ["A1", "A2", "A3"]
    archive = next(p for p in panels if p.destination == "ARCHIVE")
    assert archive.associations == () and archive.association_count == 1


def test_rate_bins_suit_the_session_length() -> None:
    axis = Timing.of(realistic_summary()).axis
    assert axis is not None
    assert axis.bin_s == 5 and axis.bins == 27
    assert "1 stored file without a finish time" in _charts(realistic_summary())["rate"].caption


def test_rate_chart_draws_a_thick_total_and_a_thin_line_per_association() -> None:
    root = _drawing(_charts(realistic_summary())["rate"])
    totals = _with_class(root, "polyline", "total")
    assert sorted(t.findtext("title") or "" for t in totals) == ["ARCHIVE"] * 2 + ["PACS"] * 2
    lines = _with_class(root, "polyline", "association")
    assert sorted(line.findtext("title") or "" for line in lines) == sorted(["A1", "A2", "A3"] * 2)


def test_a_summary_without_finish_times_says_there_is_no_timing_data(tmp_path: Path) -> None:
    summary = _summary([_file("a.dcm"), _file("b.dcm", "failed")])
    charts = _charts(summary)
    assert list(charts) == ["rate"]
    assert charts["rate"].svg is None and "No timing data" in charts["rate"].empty
    document = export_html(summary, tmp_path / "r.html").read_text(encoding="utf-8")
    section = _section(document, "charts")
    assert "No timing data" in section and "<svg" not in section
    assert '<a href="#charts">Charts</a>' in document


# -- the timeline --------------------------------------------------------------------------------


def test_the_timeline_has_one_row_per_association() -> None:
    summary = realistic_summary()
    root = _drawing(_charts(summary)["timeline"])
    bars = _with_class(root, "rect", "bar")
    assert len(bars) == len(summary["associations"]) == 4
    labels = [_shown(e) for e in _with_class(root, "text", "row-label")]
    assert labels == ["ARCHIVE A4 · w1", "PACS A1 · w1", "PACS A3 · w1", "PACS A2 · w2"]


def test_an_aborted_association_has_its_abort_mark_with_its_note_escaped() -> None:
    chart = _charts(realistic_summary())["timeline"]
    root = _drawing(chart)
    marks = _with_class(root, "g", "abort")
    assert [m.findtext("title") for m in marks] == [f"A2 aborted: {ABORT_NOTE}"]
    assert _with_class(root, "rect", "failed")[0].findtext("title", "").startswith("A2 (PACS")
    assert "<script" not in str(chart.svg)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; gone" in str(chart.svg)


def test_the_timeline_ticks_each_store_and_marks_retries_and_failures() -> None:
    summary = realistic_summary()
    rows = {row.span.id: row for row in timeline_rows(Timing.of(summary))}
    a1 = [f for f in summary["files"] if f["association"] == "A1"]
    assert len(rows["A1"].failed) == sum(f["state"] == "failed" for f in a1)
    retried = [f for f in a1 if f["state"] == "sent" and f["attempts"] > 1]
    assert len(rows["A1"].retried) == len(retried) > 0
    root = _drawing(_charts(summary)["timeline"])
    ticks: collections.Counter[str] = collections.Counter()
    for path in root.iter("path"):
        css = path.get("class") or ""
        ticks[css] += (path.get("d") or "").count("M")
    stored = [f for f in summary["files"] if f["state"] in STORED and f.get("finished_at")]
    assert ticks["tick retried warning"] == sum(f["attempts"] > 1 for f in stored)
    assert ticks["tick sent"] == sum(f["attempts"] == 1 for f in stored)
    assert ticks["tick failed"] == sum(f["state"] == "failed" for f in summary["files"])


def test_timeline_ticks_are_grouped_past_the_cap_and_the_caption_says_so() -> None:
    files = [
        _file(f"{n}.dcm", finished_at=_at(n * 0.01), sop_instance_uid=f"2.25.{n}")
        for n in range(1_000)
    ]
    summary = _summary(files, start_time=_at(0.0), end_time=_at(10.0))
    summary["associations"] = [_association("A1", "PACS", "w1", 0.0, 10.0)]
    chart = _charts(summary)["timeline"]
    (ticks,) = _with_class(_drawing(chart), "path", "tick")
    assert 1 < (ticks.get("d") or "").count("M") <= MAX_TICKS_PER_ROW
    assert "grouped" in chart.caption


def test_timeline_rows_are_capped_and_the_caption_points_at_the_table() -> None:
    summary = _summary([], start_time=_at(0.0), end_time=_at(600.0))
    summary["associations"] = [
        _association(f"A{n}", "PACS", "w1", n * 2.0, 1.0) for n in range(MAX_TIMELINE_ROWS + 50)
    ]
    chart = _charts(summary)["timeline"]
    assert len(_with_class(_drawing(chart), "rect", "bar")) == MAX_TIMELINE_ROWS
    assert f"first {MAX_TIMELINE_ROWS} of {MAX_TIMELINE_ROWS + 50}" in chart.caption


# -- verification per study ------------------------------------------------------------------------


def test_verified_segments_add_up_to_the_stored_files_of_each_study() -> None:
    summary = realistic_summary()
    stored = collections.Counter(
        (f["destination"], f["study_uid"]) for f in summary["files"] if f["state"] in STORED
    )
    root = _drawing(_charts(summary)["verified"])
    drawn: collections.Counter[tuple[str, str]] = collections.Counter()
    answers: collections.Counter[str] = collections.Counter()
    for study in _with_class(root, "g", "study"):
        key = (study.get("data-destination") or "", study.get("data-study") or "")
        for segment in _with_class(study, "rect", "seg"):
            drawn[key] += int(segment.get("data-count") or 0)
            answers[segment.get("data-verified") or ""] += int(segment.get("data-count") or 0)
    assert drawn == stored
    assert answers == {k: v for k, v in summary["totals"]["verified"].items() if v}


def test_verified_rows_put_the_unverified_studies_first_and_label_them() -> None:
    rows = verified_rows(realistic_summary())
    unverified = [row.unverified for row in rows]
    assert unverified == sorted(unverified, reverse=True) and unverified[-1] == 0 < unverified[0]
    assert (rows[-1].destination, rows[-1].study_uid) == ("PACS", "1.2.3")
    labels = {row.label for row in rows}
    assert f"PACS: 2024-01-01 {HOSTILE_STUDY}" in labels
    svg = str(_charts(realistic_summary())["verified"].svg)
    assert "<script" not in svg and "&lt;script&gt;x&lt;/script&gt; &amp; HEAD" in svg


def test_no_verified_chart_when_no_file_was_verified() -> None:
    summary = realistic_summary()
    for f in summary["files"]:
        f.pop("verified", None)
    assert "verified" not in _charts(summary)
    for f in summary["files"]:
        f["verified"] = "not-asked"
    assert "verified" not in _charts(summary)


def test_verified_rows_are_capped_most_unverified_first() -> None:
    files = [
        _file(f"{n}.dcm", study_uid=f"2.25.{n % 80}", verified="missing" if n < 3 else "found")
        for n in range(400)
    ]
    chart = _charts(_summary(files))["verified"]
    studies = _with_class(_drawing(chart), "g", "study")
    assert len(studies) == MAX_VERIFIED_ROWS
    assert [s.get("data-study") for s in studies[:3]] == ["2.25.0", "2.25.1", "2.25.2"]
    assert f"{MAX_VERIFIED_ROWS} of 80 studies" in chart.caption


# -- a huge session ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def huge() -> dict[str, Any]:
    """100,000 files over 200 associations in 60 s, each file timed, every 97th missing."""
    summary = _large_summary(100_000)
    summary["start_time"], summary["end_time"] = _at(0.0), _at(60.0)
    for n, f in enumerate(summary["files"]):
        if f["state"] != "skipped":
            f["finished_at"] = _at(n * 0.0006)
        f["attempts"] = 2 if n % 13 == 0 else 1
        f["verified"] = "missing" if n % 97 == 0 else "committed"
    summary["associations"] = [
        _association(f"A{i + 1}", "PACS", f"w{i % 4}", i * 0.3, 0.3, released=i % 50 != 7)
        for i in range(200)
    ]
    return summary


def test_a_100000_file_session_draws_quickly_into_small_svg(huge: dict[str, Any]) -> None:
    started = time.perf_counter()
    charts = session_charts(huge)
    elapsed = time.perf_counter() - started
    assert elapsed < 3.0, f"the charts took {elapsed:.2f} s"
    size = sum(len(str(chart.svg)) for chart in charts)
    assert size < SVG_BUDGET, size
    assert [c.key for c in charts] == ["rate", "timeline", "verified"]
    for chart in charts:
        _drawing(chart)
    assert len(_with_class(_drawing(charts[1]), "g", "abort")) == 4


def test_a_100000_file_report_with_charts_is_written_in_seconds(
    huge: dict[str, Any], tmp_path: Path
) -> None:
    started = time.perf_counter()
    document = export_html(huge, tmp_path / "r.html").read_text(encoding="utf-8")
    assert time.perf_counter() - started < 5.0
    charts = _section(document, "charts")
    assert charts.count("<svg ") == 3


# -- older and odd summaries ---------------------------------------------------------------------


def test_odd_values_do_not_stop_the_charts() -> None:
    files = [
        _file("a.dcm", finished_at="not a time"),
        _file("b.dcm", finished_at="2026-01-01T00:00:01", verified="perhaps"),
        _file("c.dcm", finished_at=12),
    ]
    summary = _summary(files, start_time=None, end_time="")
    files[0]["bytes"], files[1]["bytes"] = "many", None
    summary["associations"] = [{"id": "A1", "opened_at": "never"}, "not a mapping"]
    charts = _charts(summary)
    assert charts["rate"].svg is not None
    assert charts["timeline"].svg is None and "records when it opened" in charts["timeline"].empty
    assert "verified" not in charts
