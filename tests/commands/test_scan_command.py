"""``tui-sender scan``: the report a person reads and the JSON a script reads."""

from __future__ import annotations

import argparse
import io
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    UID,
    ComprehensiveSRStorage,
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
    generate_uid,
)

from tui_sender.commands import scan

STUDY_CT = "1.2.826.0.1.3680043.8.498.1"
STUDY_SR = "1.2.826.0.1.3680043.8.498.2"


def write(
    path: Path | bytes,
    *,
    study: str,
    series: str,
    modality: str = "CT",
    sop_class: str = CTImageStorage,
    syntax: str = ExplicitVRLittleEndian,
    name: str = "DOE^JANE",
) -> None:
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.Modality = modality
    ds.PatientName = name
    ds.PatientID = "PID-42"
    ds.PatientBirthDate = "19700101"
    ds.AccessionNumber = "ACC-7"
    ds.StudyDate = "20240131"
    ds.StudyDescription = "Chest" if modality != "SR" else "Report"
    ds.SeriesNumber = 1
    if sop_class == CTImageStorage:
        ds.Rows = ds.Columns = 4
        ds.BitsAllocated = ds.BitsStored = 8
        ds.HighBit = 7
        ds.SamplesPerPixel = 1
        ds.PixelRepresentation = 0
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.PixelData = bytes(16)
        if syntax == RLELossless:
            ds.PixelData = encapsulate([bytes(16)])
            ds["PixelData"].VR = "OB"
            ds["PixelData"].is_undefined_length = True
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = UID(syntax)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    with open(path, "wb") as out:
        out.write(buffer.getvalue())


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """Two studies (CT in two series and two syntaxes, an SR), plus junk."""
    root = tmp_path / "archive"
    (root / "ct" / "s2").mkdir(parents=True)
    (root / "sr").mkdir()
    for n in range(3):
        write(root / "ct" / f"a{n}.dcm", study=STUDY_CT, series=STUDY_CT + ".1")
    for n in range(2):
        write(
            root / "ct" / "s2" / f"b{n}.dcm",
            study=STUDY_CT,
            series=STUDY_CT + ".2",
            syntax=RLELossless,
        )
    write(
        root / "sr" / "report.dcm",
        study=STUDY_SR,
        series=STUDY_SR + ".1",
        modality="SR",
        sop_class=ComprehensiveSRStorage,
        syntax=ImplicitVRLittleEndian,
    )
    (root / "empty.dcm").write_bytes(b"")
    for n in range(25):
        (root / f"notes{n:02d}.txt").write_text("not DICOM\n")
    return root


def run_scan(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog=scan.PROG)
    scan.configure(parser)
    code = scan.run(parser.parse_args(list(argv)))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_report(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_scan(capsys, str(archive), "-r", "--json")
    assert code == 0
    document = json.loads(out)
    assert document["kind"] == "scan"
    assert document["totals"] == {
        "files": 32,
        "instances": 6,
        "skipped": 26,
        "patients": 1,
        "studies": 2,
        "series": 3,
        "bytes": sum(p.stat().st_size for p in archive.rglob("*.dcm") if p.stat().st_size),
    }
    studies = {s["study_instance_uid"]: s for s in document["studies"]}
    ct = studies[STUDY_CT]
    assert (ct["series_count"], ct["instance_count"], ct["modalities"]) == (2, 5, ["CT"])
    assert ct["date"] == "20240131"
    assert ct["description"] == "Chest"
    assert ct["sop_classes"] == [{"uid": CTImageStorage, "name": "CT Image Storage", "count": 5}]
    assert {(t["name"], t["count"]) for t in ct["transfer_syntaxes"]} == {
        ("Explicit VR Little Endian", 3),
        ("RLE Lossless", 2),
    }
    assert [s["instance_count"] for s in ct["series"]] == [3, 2]
    assert studies[STUDY_SR]["sop_classes"][0]["name"] == "Comprehensive SR Storage"
    skipped = {group["reason"]: group for group in document["skipped"]}
    assert skipped["not_dicom"]["count"] == 25
    assert len(skipped["not_dicom"]["files"]) == 25  # JSON lists them all
    assert skipped["empty"]["files"] == [{"path": str(archive / "empty.dcm"), "detail": ""}]
    # no PHI unless asked
    assert "patient" not in ct and "accession_number" not in ct
    assert "DOE" not in out and "PID-42" not in out and "ACC-7" not in out


def test_json_with_phi(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_scan(capsys, str(archive), "-r", "--json", "--include-phi")
    ct = next(s for s in json.loads(out)["studies"] if s["study_instance_uid"] == STUDY_CT)
    assert ct["patient"] == {
        "name": "DOE^JANE",
        "id": "PID-42",
        "birth_date": "19700101",
        "sex": "",
    }
    assert ct["accession_number"] == "ACC-7"


def test_plain_report_when_piped(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_scan(capsys, str(archive), "--recursive")
    assert code == 0
    assert err == ""
    assert "\x1b[" not in out  # no colour codes
    assert "│" not in out and "┃" not in out  # no box drawing
    lines = out.splitlines()
    assert "DOE^JANE  2024-01-31  CT  Chest" in lines
    assert "  2 series, 5 images, " in out
    assert "  SOP classes: CT Image Storage (5)" in lines
    assert "  transfer syntaxes: Explicit VR Little Endian (3), RLE Lossless (2)" in lines
    total = next(line for line in lines if line.startswith("Total:"))
    assert total.startswith("Total: 2 studies, 3 series, 6 images, ")
    assert total.endswith("1 patient; 26 files skipped of 32 found")
    assert "Skipped, not a DICOM file (no 'DICM' marker at byte 128): 25" in lines
    listed = [line for line in lines if "notes" in line and line.endswith(".txt")]
    assert len(listed) == scan.PATHS_PER_REASON
    assert "  ... and 5 more" in lines
    assert f"  {archive / 'empty.dcm'}" in lines


def test_not_recursive_without_r(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_scan(capsys, str(archive), "--json")
    totals = json.loads(out)["totals"]
    assert (totals["instances"], totals["skipped"]) == (0, 26)


def test_missing_path_exits_2(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = archive / "no such folder"
    code, out, err = run_scan(capsys, str(archive), str(missing), "--json")
    assert code == 2
    assert out == ""
    assert err == f"{scan.PROG}: error: {missing}: no such file or directory\n"


def test_broken_link_argument_is_scanned_not_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.symlink(tmp_path / "gone", tmp_path / "dangling")
    code, out, _ = run_scan(capsys, str(tmp_path / "dangling"), "--json")
    assert code == 0
    assert json.loads(out)["skipped"][0]["reason"] == "broken_link"


def test_odd_file_names_are_escaped_for_people_and_exact_in_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    newline = tmp_path / "two\nlines.txt"
    newline.write_text("x")
    raw = os.fsencode(tmp_path) + b"/caf\xe9 [bold]x.txt"
    with open(raw, "wb") as out_file:
        out_file.write(b"x")
    _, out, _ = run_scan(capsys, str(tmp_path))
    assert f"  {tmp_path}/two\\nlines.txt" in out.splitlines()
    assert f"  {tmp_path}/caf\\xe9 [bold]x.txt" in out.splitlines()
    _, out, _ = run_scan(capsys, str(tmp_path), "--json")
    paths = {f["path"] for group in json.loads(out)["skipped"] for f in group["files"]}
    assert paths == {str(newline), os.fsdecode(raw)}


def test_no_dicom_at_all(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.txt").write_text("x")
    code, out, _ = run_scan(capsys, str(tmp_path))
    assert code == 0
    assert out.splitlines()[0] == "No DICOM instances to send."


# --------------------------------------------------------------------------
# on a terminal: Rich table, unless NO_COLOR
# --------------------------------------------------------------------------

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

_RUN_COMMAND = """
import argparse, sys
from tui_sender.commands import scan
parser = argparse.ArgumentParser()
scan.configure(parser)
sys.exit(scan.run(parser.parse_args(sys.argv[1:])))
"""


def run_on_terminal(argv: list[str], **env: str) -> tuple[int, str]:
    """Run the command with stdout and stderr on a pseudo-terminal; return (code, output)."""
    master, slave = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    environment.update({"COLUMNS": "220", "LINES": "50", "TERM": "xterm-256color", **env})
    process = subprocess.Popen(
        [sys.executable, "-c", _RUN_COMMAND, *argv],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env=environment,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_rich_table_on_a_terminal(archive: Path) -> None:
    code, coloured = run_on_terminal([str(archive), "-r"])
    assert code == 0
    assert "\x1b[" in coloured
    out = ANSI.sub("", coloured)
    assert "Studies found" in out
    assert "┃ Patient" in out
    assert "DOE^JANE" in out
    assert "CT Image Storage (5)" in out
    assert "... and 5 more" in out


def test_no_color_on_a_terminal_gives_plain_text(archive: Path) -> None:
    code, out = run_on_terminal([str(archive), "-r"], NO_COLOR="1")
    assert code == 0
    report = out[out.index("DOE^JANE") :]  # after the (stderr) progress line
    assert "\x1b[" not in report
    assert "┃" not in report and "│" not in report
    assert "DOE^JANE  2024-01-31  CT  Chest" in report
