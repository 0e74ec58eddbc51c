"""No patient data in logs, journals, summaries, indexes or exports unless asked.

A canary patient name and ID are planted in every file sent; sends run with
every log level (-q, default, -v), with failures and warnings, and every
export format is written. The canary must appear in none of the files
written, and every file must be readable by its owner only. With
``--include-phi`` the summary does carry it (so this test can fail).
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread

from tests.sending import run_cli
from tui_sender.core.record.export import export_session
from tui_sender.demo.samples.data import SampleSet, generate_samples

CANARY_NAME = "ZZCANARYNAME^PHI"
CANARY_ID = "ZZCANARYID77"
CANARY_BIRTH = "19010203"
CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"


@pytest.fixture(scope="module")
def canary_samples(tmp_path_factory: pytest.TempPathFactory) -> SampleSet:
    samples = generate_samples(tmp_path_factory.mktemp("phi"), profile="tiny", seed=21)
    for path in samples.files:
        ds = dcmread(path)
        ds.PatientName = CANARY_NAME
        ds.PatientID = CANARY_ID
        ds.PatientBirthDate = CANARY_BIRTH
        ds.save_as(path)
    return samples


def _leaks(root: Path) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for canary in (CANARY_NAME, CANARY_ID, "ZZCANARYNAME", CANARY_BIRTH):
                if canary.encode() in data:
                    found.append(f"{path.name}: {canary}")
    return found


def test_no_patient_data_anywhere_without_include_phi(
    canary_samples: SampleSet, scp_factory: Any, tmp_path: Path
) -> None:
    scp = scp_factory(rejected_sop_classes=[MR], replies_by_sop_class={CT: 0xB000})
    outputs = []
    for level in ("-q", "", "-v"):
        args = [
            "send", "-i", str(canary_samples.root), "-r", "-a", scp.ae_title, "-H", "127.0.0.1",
            "-p", str(scp.port), "--force",
        ]  # fmt: skip
        if level:
            args.append(level)
        run = run_cli(args, tmp_path)
        assert run.exit_code == 1  # MR failed
        assert run.summary["totals"]["warning"] > 0
        outputs.append(run.stdout + run.stderr)
        export_session(run.summary, tmp_path / "exports", f"report{level or '-default'}")
    scan = run_cli(["scan", str(canary_samples.root), "-r", "--json"], tmp_path)
    outputs.append(scan.stdout)

    assert _leaks(tmp_path / "logs") == []
    assert _leaks(tmp_path / "exports") == []
    assert _leaks(tmp_path / "state") == []
    for text in outputs:
        assert CANARY_NAME not in text and CANARY_ID not in text and CANARY_BIRTH not in text
    # Every file written is its owner's alone.
    for folder in ("logs", "exports", "state"):
        for path in (tmp_path / folder).rglob("*"):
            if path.is_file():
                mode = stat.S_IMODE(path.stat().st_mode)
                assert mode & 0o077 == 0, f"{path.name} is {oct(mode)}"


def test_include_phi_puts_patients_in_the_summary_only(
    canary_samples: SampleSet, scp_factory: Any, tmp_path: Path
) -> None:
    scp = scp_factory()
    run = run_cli(
        ["send", "-i", str(canary_samples.root), "-r", "-a", scp.ae_title, "-H", "127.0.0.1",
         "-p", str(scp.port), "--include-phi"],
        tmp_path,
    )  # fmt: skip
    assert run.exit_code == 0
    summary_text = json.dumps(run.summary)
    assert CANARY_ID in summary_text
    logs = [p for p in (tmp_path / "logs").iterdir() if "summary" not in p.name]
    assert all(CANARY_ID.encode() not in p.read_bytes() for p in logs)
