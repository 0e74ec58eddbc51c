"""``tui-sender send`` against real peers on loopback: issue 2's "done when".

Each test runs the real command in a subprocess against DCMTK storescp,
Orthanc or a scripted pynetdicom SCP, then checks what the peer holds
against the original files and the summary against the peer.
"""

from __future__ import annotations

import collections
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.uid import ImplicitVRLittleEndian, RLELossless
from pynetdicom.dsutils import decode

from peers.pynetdicom_scp import ScriptedSCP
from tests.dicom_builders import Zoo
from tests.sending import (
    assert_same_elements,
    check_counts_add_up,
    datasets_by_uid,
    read_dataset,
    run_cli,
)
from tui_sender.core.model.recorded_path import path_from_record
from tui_sender.demo.samples.data import SampleSet, generate_samples, write_context_zoo

MR = "1.2.840.10008.5.1.4.1.1.4"


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> SampleSet:
    """The tiny profile: 532 files, 10 SOP classes, Explicit/Implicit/RLE."""
    return generate_samples(tmp_path_factory.mktemp("samples"), profile="tiny", seed=7)


@pytest.fixture(scope="module")
def originals(samples: SampleSet) -> dict[str, Any]:
    return datasets_by_uid(list(samples.files))


def test_sample_set_is_what_the_issue_asks_for(samples: SampleSet) -> None:
    assert len(samples.files) >= 500
    assert len(samples.sop_classes) >= 5
    assert len(samples.transfer_syntaxes) >= 3
    assert str(RLELossless) in samples.transfer_syntaxes


def _send(samples: SampleSet, cwd: Path, port: int, ae: str, *extra: str) -> Any:
    return run_cli(
        ["send", "-i", str(samples.root), "-r", "-a", ae, "-H", "127.0.0.1", "-p", str(port),
         *extra],
        cwd,
    )  # fmt: skip


def test_four_workers_to_dcmtk_storescp_arrive_complete_and_equal(
    samples: SampleSet, originals: dict[str, Any], storescp: Any, tmp_path: Path
) -> None:
    scp = storescp(fork=True, accept_all=True)
    run = _send(samples, tmp_path, scp.port, scp.ae_title, "--threads", "4")
    assert run.exit_code == 0, run.stderr + run.stdout
    received = datasets_by_uid(scp.wait_for_files(len(samples.files)))
    assert set(received) == set(originals)
    for uid, ds in originals.items():
        assert_same_elements(ds, received[uid], uid)
    check_counts_add_up(run.summary)
    assert run.summary["totals"]["sent"] == len(samples.files)
    assert run.summary["threads_used"] == 4
    assert len({f["association"] for f in run.files("sent")}) >= 4
    sent_as = collections.Counter(f["transfer_syntax"] for f in run.files("sent"))
    assert sent_as == collections.Counter(samples.transfer_syntaxes), "sent in their own syntax"


def test_four_workers_to_orthanc_arrive_complete_and_equal(
    samples: SampleSet, originals: dict[str, Any], orthanc: Any, tmp_path: Path
) -> None:
    run = _send(samples, tmp_path, orthanc.dicom_port, orthanc.ae_title, "-t", "4")
    assert run.exit_code == 0, run.stderr + run.stdout
    assert run.summary["totals"]["sent"] == len(samples.files)
    check_counts_add_up(run.summary)
    for uid, original in originals.items():
        instance_id = orthanc.find_instance(uid)
        assert instance_id is not None, f"Orthanc does not hold {uid}"
        stored = tmp_path / "stored.dcm"
        stored.write_bytes(orthanc.instance_file(instance_id))
        assert_same_elements(original, read_dataset(stored), uid)


def test_implicit_only_scp_receives_compressed_files_decompressed(
    samples: SampleSet, scp_factory: Any, tmp_path: Path
) -> None:
    scp: ScriptedSCP = scp_factory(transfer_syntaxes=[str(ImplicitVRLittleEndian)])
    run = _send(samples, tmp_path, scp.port, scp.ae_title, "-t", "2")
    assert run.exit_code == 0, run.stderr + run.stdout
    assert len(scp.stored()) == len(samples.files)
    assert {r.transfer_syntax_uid for r in scp.stored().values()} == {str(ImplicitVRLittleEndian)}
    converted = [f for f in run.files() if f["converted_from"]]
    rle_files = samples.transfer_syntaxes[str(RLELossless)]
    assert sum(1 for f in converted if f["converted_from"] == str(RLELossless)) == rle_files
    assert run.summary["totals"]["converted"] == len(converted)
    # The decompressed pixels are the original pixels.
    checked = 0
    for record in converted:
        if record["converted_from"] != str(RLELossless):
            continue
        original = dcmread(record["path"])
        original.decompress(generate_instance_uid=False)
        raw = scp.stored()[record["sop_instance_uid"]].dataset
        assert raw is not None
        received = decode(io.BytesIO(raw), True, True)
        assert received.PixelData == original.PixelData
        assert received.SOPInstanceUID == record["sop_instance_uid"], "same instance, same UID"
        checked += 1
    assert checked == rle_files


def test_scp_rejecting_mr_fails_only_mr_files_with_a_reason(
    samples: SampleSet, scp_factory: Any, tmp_path: Path
) -> None:
    scp: ScriptedSCP = scp_factory(rejected_sop_classes=[MR])
    run = _send(samples, tmp_path, scp.port, scp.ae_title)
    assert run.exit_code == 1
    failed = run.files("failed")
    assert failed, "some MR files must fail"
    assert {f["sop_class_uid"] for f in failed} == {MR}
    assert all("MR Image Storage" in f["reason"] for f in failed)
    assert len(run.files("sent")) + len(failed) == len(samples.files)
    assert len(scp.stored()) == len(run.files("sent"))
    check_counts_add_up(run.summary)


def test_scp_aborting_after_every_n_stores_still_gets_every_file(
    samples: SampleSet, scp_factory: Any, tmp_path: Path
) -> None:
    scp: ScriptedSCP = scp_factory(abort_after=25)
    run = _send(samples, tmp_path, scp.port, scp.ae_title, "-t", "2")
    assert run.exit_code == 0, run.stderr + run.stdout
    assert run.summary["totals"]["sent"] == len(samples.files)
    assert set(scp.stored()) == {f["sop_instance_uid"] for f in run.files("sent")}
    # An association also ends, released, between batches whose contexts differ, so a few
    # carry fewer than 25 stores and are never aborted: allow one such per study share or so.
    assert scp.aborts_sent >= len(samples.files) // 25 - 4
    assert any(f["attempts"] == 2 for f in run.files("sent")), "in-flight files were resent"


def test_send_scans_while_it_sends_and_says_what_the_scan_found(
    samples: SampleSet, scp_factory: Any, tmp_path: Path
) -> None:
    scp: ScriptedSCP = scp_factory()
    run = _send(samples, tmp_path, scp.port, scp.ae_title, "-t", "2")
    assert run.exit_code == 0, run.stderr + run.stdout
    out = run.stdout + run.stderr
    starting = out.index("as the scan finds files")
    found = out.index(f"scanned {len(samples.files)} files in ")
    totals = out.index(f"found {len(samples.files)}: {len(samples.files)} sent")
    assert starting < found < totals, out
    assert f"{len(samples.files)} DICOM instances" in out
    assert run.summary["configuration"]["scan_while_sending"] is True
    assert len(set(scp.stored())) == len(samples.files)
    check_counts_add_up(run.summary)


def test_more_than_128_context_pairs_are_split_across_associations(
    scp_factory: Any, tmp_path: Path
) -> None:
    zoo = write_context_zoo(tmp_path / "zoo", pairs=200)
    scp: ScriptedSCP = scp_factory()
    run = _send(zoo, tmp_path, scp.port, scp.ae_title, "-t", "1")
    assert run.exit_code == 0, run.stderr + run.stdout
    assert len(scp.stored()) == len(zoo.files)
    associations = run.summary["associations"]
    assert len(associations) >= 2
    assert all(len(a["accepted"]) + len(a["rejected"]) <= 128 for a in associations)


def test_nothing_listening_exits_3_with_a_clear_reason(samples: SampleSet, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = run_cli(
        ["send", "-i", str(next(iter(samples.files))), "-a", "X", "-H", "127.0.0.1", "-p",
         str(port)],
        tmp_path,
    )  # fmt: skip
    assert run.exit_code == 3
    assert "connection refused" in run.files("failed")[0]["reason"]


def test_dicom_sender_entry_point_uses_the_rust_defaults(
    samples: SampleSet, scp_factory: Any, tmp_path: Path
) -> None:
    scp: ScriptedSCP = scp_factory()
    one = next(iter(samples.files))
    run = run_cli(
        ["-i", str(one), "-a", scp.ae_title, "-H", "127.0.0.1", "-p", str(scp.port)],
        tmp_path,
        program="dicom-sender",
    )
    assert run.exit_code == 0, run.stderr
    assert run.summary["calling_ae"] == "RUST_SCU"
    assert run.summary["threads_used"] == 1
    assert run.summary["destination"] == f"{scp.ae_title}:{scp.port}@127.0.0.1"


def _sigint_as_at_a_terminal() -> None:
    """Ctrl-C as a foreground job gets it, even when pytest runs as a background job.

    A non-interactive shell starts ``cmd &`` with SIGINT ignored, children inherit
    that, and Python then leaves it ignored: the send would not see the signal.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_cleanly_and_records_cancelled_files(
    samples: SampleSet, scp_factory: Any, tmp_path: Path
) -> None:
    scp: ScriptedSCP = scp_factory(sleep=0.05)
    code = "import sys; from tui_sender.cli import main; sys.exit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "send", "-i", str(samples.root), "-r", "-a", scp.ae_title,
         "-H", "127.0.0.1", "-p", str(scp.port), "-t", "2"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        preexec_fn=_sigint_as_at_a_terminal,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while len(scp.stored()) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        sent_at = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
        stopped_in = time.monotonic() - sent_at
    finally:
        proc.kill()
    assert proc.returncode == 1, err
    assert stopped_in < 3.0
    assert "Traceback" not in err, err[-3000:]
    summary = json.loads(next((tmp_path / "logs").glob("dicom_sender_summary_*.json")).read_text())
    assert summary["cancelled"] is True
    check_counts_add_up(summary)
    states = collections.Counter(f["state"] for f in summary["files"])
    assert states["sent"] >= 20
    assert states["failed"] > 0
    assert all(
        f["reason"].startswith("cancelled") for f in summary["files"] if f["state"] == "failed"
    )
    assert all(a["released"] for a in summary["associations"]), "associations released"
    assert len(scp.stored()) == states["sent"]


def test_bad_inputs_are_skipped_with_reasons_and_good_files_sent(
    scp_factory: Any, tmp_path: Path
) -> None:
    zoo = Zoo(tmp_path / "zoo").build()
    scp: ScriptedSCP = scp_factory()
    run = run_cli(
        ["send", "-i", str(zoo.root), "-r", "-a", scp.ae_title, "-H", "127.0.0.1", "-p",
         str(scp.port)],
        tmp_path,
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    check_counts_add_up(run.summary)
    by_path = {path_from_record(f): f for f in run.files()}
    for path, reason in zoo.expected:
        record = by_path[path]
        if reason is None:
            assert record["state"] == "sent", path
        else:
            assert record["state"] == "skipped", path
            assert record["reason"].startswith(reason.explanation), (path, record["reason"])
    assert len(by_path) == len(zoo.expected)
    good = sum(1 for _, reason in zoo.expected if reason is None)
    assert len(scp.stored()) == good


def test_max_per_association_releases_and_reopens(
    samples: SampleSet, scp_factory: Any, tmp_path: Path
) -> None:
    scp: ScriptedSCP = scp_factory()
    run = _send(samples, tmp_path, scp.port, scp.ae_title, "-t", "1", "--max-per-association", "50")
    assert run.exit_code == 0, run.stderr
    associations = run.summary["associations"]
    assert len(associations) >= len(samples.files) // 50
    assert all(a["files"] <= 50 and a["released"] for a in associations)
    assert len(scp.stored()) == len(samples.files)
