"""``tui-sender report``: a headless send's summary becomes the CSV table and the HTML report."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pydicom
import pytest

from peers.pynetdicom_scp import ScriptedSCP
from tests.sending import check_counts_add_up, run_cli
from tui_sender.demo.samples.data import SampleSet, generate_samples

FAILING_FOR_GOOD = 0xC000
"""Cannot understand: a failure no retry mends, so the file ends failed."""


@pytest.fixture
def samples(tmp_path_factory: pytest.TempPathFactory) -> SampleSet:
    return generate_samples(tmp_path_factory.mktemp("samples"), profile="tiny", seed=3, patients=1)


def _summary(cwd: Path) -> Path:
    (found,) = (cwd / "logs").glob("dicom_sender_summary_*.json")
    return found


def test_a_headless_send_is_reported_with_every_file_and_its_failures(
    samples: SampleSet, scp_factory: Any, tmp_path: Path
) -> None:
    refused = str(pydicom.dcmread(samples.files[0], stop_before_pixels=True).SOPInstanceUID)
    scp: ScriptedSCP = scp_factory(
        replies=lambda call: FAILING_FOR_GOOD if call.sop_instance_uid == refused else 0x0000
    )
    run = run_cli(
        ["send", "-i", str(samples.root), "-r", "-a", scp.ae_title, "-H", "127.0.0.1",
         "-p", str(scp.port)],
        tmp_path,
    )  # fmt: skip
    assert run.exit_code == 1, run.stderr  # some files failed
    check_counts_add_up(run.summary)
    summary_path = _summary(tmp_path)

    report = run_cli(["report", str(summary_path), "--out", str(tmp_path / "out")], tmp_path)
    assert report.exit_code == 0, report.stderr
    session = run.summary["session_id"]
    html = tmp_path / "out" / f"dicom_sender_report_{session}.html"
    table = tmp_path / "out" / f"dicom_sender_report_{session}.csv"
    assert f"HTML report:   {html}" in report.stdout
    assert f"JSON summary:  {summary_path}" in report.stdout
    with table.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(samples.files) == len(run.summary["files"])
    states = [r["state"] for r in rows]
    assert states.count("failed") == 1 and states.count("sent") == len(rows) - 1
    (failed,) = [r for r in rows if r["state"] == "failed"]
    assert failed["sop_instance_uid"] == refused
    page = html.read_text(encoding="utf-8")
    assert session in page and "<svg" in page  # the rate chart is drawn inline
    assert f">{len(samples.files)}<" in page  # found
    assert "Failed (1)" in page


def test_a_journal_or_a_broken_summary_is_refused_with_what_to_do(tmp_path: Path) -> None:
    journal = tmp_path / "dicom_sender_journal_x.jsonl"
    journal.write_text(json.dumps({"kind": "session"}) + "\n")
    run = run_cli(["report", str(journal)], tmp_path)
    assert run.exit_code == 2
    assert "is a journal" in run.stderr and "tui-sender verify JOURNAL" in run.stderr

    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    run = run_cli(["report", str(broken)], tmp_path)
    assert run.exit_code == 2
    assert "is not a readable summary JSON" in run.stderr
    assert not list(tmp_path.glob("dicom_sender_report_*"))
