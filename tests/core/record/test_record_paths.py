"""The record keeps exact paths: a script opens every file again from it (issue 12, item 4).

Hostile names (a newline, a tab, a leading dash, bytes that are not UTF-8)
go through a real ``tui-sender send`` to an in-process SCP; the paths are
then read back from the summary JSON, the journal and the CSV export with the
documented rule, and every file is opened and compared with what was written.
The log and the console keep showing the escaped form.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from peers.pynetdicom_scp import ScriptedSCP, StoreCall
from tests.dicom_builders import image, save
from tests.sending import SendRun, check_counts_add_up, run_cli
from tui_sender.core.model.recorded_path import (
    PATH_BYTES_KEY,
    display_path,
    path_from_record,
    record_path,
)
from tui_sender.core.record.export import CSV_COLUMNS, cell_value, export_csv, spreadsheet_safe
from tui_sender.core.record.journal import list_journals, read_journal
from tui_sender.core.record.resume import load_resume, request_header

HOSTILE = {
    "dash-newline": b"-rf\nevil name.dcm",
    "tab": b"tab\there.dcm",
    "raw-bytes": b"\xff\xfe.dcm",
    "raw-and-newline": b"caf\xe9\r\nx.dcm",
}
NORMAL = {"normal": b"normal.dcm"}
SKIPPED = {"skipped-hostile": b"notes\n\xff.txt"}


def _build(root: bytes) -> dict[bytes, bytes]:
    """Write the files under the folder ``root``; return {full path bytes: content}."""
    os.mkdir(root)
    written: dict[bytes, bytes] = {}
    for n, (label, name) in enumerate({**HOSTILE, **NORMAL}.items()):
        path = root + b"/" + name
        save(path, image(sop_uid=f"1.2.826.0.1.9.{n}", patient_name=label))
        with open(path, "rb") as f:
            written[path] = f.read()
    for name in SKIPPED.values():
        path = root + b"/" + name
        with open(path, "wb") as f:
            f.write(b"not DICOM\n")
        written[path] = b"not DICOM\n"
    return written


def _documented_path(entry: dict[str, Any]) -> bytes:
    """The README / module rule, applied by hand as a script would."""
    raw = entry.get(PATH_BYTES_KEY)
    if raw:
        return base64.b64decode(raw)
    path = entry["path"]
    assert isinstance(path, str)
    return path.encode("utf-8")


def _open(path: bytes) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _send(root: bytes, scp: ScriptedSCP, cwd: Path) -> SendRun:
    return run_cli(
        ["send", "-i", os.fsdecode(root), "-r", "-a", scp.ae_title, "-H", "127.0.0.1",
         "-p", str(scp.port)],
        cwd,
    )  # fmt: skip


def _check_entries(entries: list[dict[str, Any]], written: dict[bytes, bytes]) -> None:
    """Every written file is in ``entries`` once, by its exact path, and opens to its bytes."""
    by_path = {_documented_path(e): e for e in entries}
    assert set(by_path) == set(written)
    for path, entry in by_path.items():
        assert _open(path) == written[path], path
        assert os.fsencode(path_from_record(entry)) == path
        try:
            text = path.decode("utf-8")
        except UnicodeDecodeError:
            assert entry["path"] == display_path(os.fsdecode(path)), "escaped, for people"
            assert "\n" not in entry["path"] and "\\x" in entry["path"]
        else:
            assert entry["path"] == text, "valid UTF-8 is kept exactly"
            assert not entry.get(PATH_BYTES_KEY)


def test_hostile_names_are_recorded_exactly_and_open_again(
    scp_factory: Any, tmp_path: Path
) -> None:
    root = os.fsencode(tmp_path) + b"/in"
    written = _build(root)
    scp: ScriptedSCP = scp_factory()
    run = _send(root, scp, tmp_path)
    assert run.exit_code == 0, run.stderr
    check_counts_add_up(run.summary)
    assert run.summary["totals"]["sent"] == len(HOSTILE) + len(NORMAL)
    assert run.summary["totals"]["skipped"] == len(SKIPPED)

    # The summary JSON: strict UTF-8, no lone surrogates, exact paths.
    summary_file = next((tmp_path / "logs").glob("dicom_sender_summary_*.json"))
    text = summary_file.read_bytes().decode("utf-8")
    assert "\\udc" not in text
    summary = json.loads(text)
    _check_entries(summary["files"], written)
    newline = next(
        f for f in summary["files"] if f["path"].endswith(HOSTILE["dash-newline"].decode())
    )
    assert newline["path"].endswith("/-rf\nevil name.dcm")
    assert "-rf\\nevil" not in newline["path"]

    # The journal: the same rule, and the reader gives the exact paths back.
    journal_file = list_journals(tmp_path / "logs")[0]
    lines = [json.loads(line) for line in journal_file.read_bytes().decode("utf-8").splitlines()]
    offered = {p: b for p, b in written.items() if not p.endswith(SKIPPED["skipped-hostile"])}
    _check_entries([e for e in lines if e["kind"] == "file"], offered)  # skips are not journaled
    assert {os.fsencode(f.path) for f in read_journal(journal_file).files} == set(offered)

    # The CSV export: one more column, the spreadsheet apostrophe undone by its rule.
    csv_path = export_csv(summary, tmp_path / "record.csv")
    with csv_path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        rows = [{k: cell_value(v) for k, v in row.items()} for row in reader]
    _check_entries(rows, written)

    # Display stays escaped: the log has one line per entry, the console no raw newline.
    log = next((tmp_path / "logs").glob("dicom_sender_2*.log")).read_text(encoding="utf-8")
    lines = log.splitlines()
    assert all(re.match(r"\d{4}-\d\d-\d\dT| {4}context ", line) for line in lines), log
    for shown in (
        "/-rf\\nevil name.dcm (",
        "/tab\\there.dcm (",
        "/\\xff\\xfe.dcm (",
        "/caf\\xe9\\r\\nx.dcm (",
    ):
        assert sum(shown in line and "✓ Sent /" in line for line in lines) == 1, shown
    assert "\nevil name.dcm" not in log
    assert "\nevil name" not in run.stdout + run.stderr


def _fail_hostile_first(call: StoreCall) -> int:
    """0xA900 (not retried) the first time a hostile file arrives, success after."""
    hostile = int(call.sop_instance_uid.rsplit(".", 1)[1]) < len(HOSTILE)
    return 0xA900 if hostile and call.attempt == 1 else 0x0000


def test_resume_finds_hostile_names_in_a_folder_whose_name_is_not_utf8(
    scp_factory: Any, tmp_path: Path
) -> None:
    root = os.fsencode(tmp_path) + b"/in\xff\nput"
    written = _build(root)
    scp: ScriptedSCP = scp_factory(replies=_fail_hostile_first)
    first = _send(root, scp, tmp_path)
    assert first.exit_code == 1, first.stderr
    assert first.summary["totals"]["failed"] == len(HOSTILE)
    _check_entries(first.summary["files"], written)

    journal = read_journal(list_journals(tmp_path / "logs")[0])
    failed = {os.fsencode(f.path) for f in journal.files if f.state == "failed"}
    assert failed == {root + b"/" + name for name in HOSTILE.values()}
    assert all(_open(path) == written[path] for path in failed)
    assert journal.header["inputs_bytes_b64"] == [base64.b64encode(root).decode()]
    plan = load_resume(tmp_path / "logs", journal.session_id)
    assert [os.fsencode(i) for i in plan.inputs] == [root]

    resumed = run_cli(["send", "--resume", journal.session_id], tmp_path)
    assert resumed.exit_code == 0, resumed.stderr + resumed.stdout
    check_counts_add_up(resumed.summary)
    sent = {_documented_path(f) for f in resumed.files("sent")}
    assert sent == failed, "the failed hostile files, found again and sent"
    assert len(set(scp.stored())) == len(HOSTILE) + len(NORMAL)


# -- the helpers and the CSV rule, directly ---------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/data/plain.dcm",
        "/data/-rf\nevil name.dcm",
        "/data/tab\there\r.dcm",
        "/data/\x1b[31mred.dcm",
        os.fsdecode(b"/data/\xff\xfe.dcm"),
        os.fsdecode(b"/data/caf\xe9\n.dcm"),
    ],
)
def test_record_path_round_trips_through_json(path: str) -> None:
    entry = json.loads(json.dumps(record_path(path), ensure_ascii=False).encode().decode("utf-8"))
    assert path_from_record(entry) == path
    exact = PATH_BYTES_KEY not in entry
    assert exact == (entry["path"] == path)
    if not exact:
        assert entry["path"] == display_path(path)


def test_a_lone_surrogate_no_file_system_made_is_still_recorded() -> None:
    entry = record_path("/data/\ud800lone.dcm")  # os.fsencode refuses it: no file has it
    json.dumps(entry, ensure_ascii=False).encode("utf-8")
    assert entry["path"] == "/data/\\ud800lone.dcm"


def test_path_from_record_falls_back_to_the_text() -> None:
    assert path_from_record({"path": "/a\nb"}) == "/a\nb"
    assert path_from_record({"path": "/a", PATH_BYTES_KEY: ""}) == "/a"
    assert path_from_record({"path": "/a", PATH_BYTES_KEY: "not base64!"}) == "/a"
    assert path_from_record({}) == ""


@pytest.mark.parametrize(
    "value",
    ["=x", "'=x", "''+y", "-rf\nevil", "'plain", "''", "'", "", "+", "a=b", "\tcmd", "/x'-"],
)
def test_spreadsheet_apostrophe_is_undone_exactly(value: str) -> None:
    assert cell_value(spreadsheet_safe(value)) == value


def test_request_header_keeps_inputs_exact(tmp_path: Path) -> None:
    plain = request_header([str(tmp_path / "a\nb")], True, [])
    assert plain["inputs"] == [str(tmp_path / "a\nb")]
    assert "inputs_bytes_b64" not in plain
    raw = os.fsdecode(os.fsencode(tmp_path) + b"/\xff")
    mixed = request_header([str(tmp_path), raw], True, [])
    assert mixed["inputs"] == [str(tmp_path), display_path(raw)]
    assert mixed["inputs_bytes_b64"] == ["", base64.b64encode(os.fsencode(raw)).decode()]
