"""Proof of delivery against Orthanc: ``send --verify commitment``, then ``tui-sender verify``.

Orthanc is a real storage commitment SCP: it answers the N-ACTION, then
reports on a new association to the modality its configuration names for
our calling AE title, so each test declares our listener there (through
its REST API). It is also the C-FIND SCP of ``--method find``. Each test
sends its own freshly generated studies (unique UIDs) to the shared
Orthanc and checks only those.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from peers.orthanc import OrthancServer
from peers.processes import free_port
from tests.sending import run_cli
from tui_sender.demo.samples.data import SampleSet, generate_samples

LISTENER_AE = "TUI_SENDER"


@pytest.fixture
def samples(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> SampleSet:
    """Studies of this test's own: the seed is the test's name, so UIDs never repeat across
    the tests sharing one Orthanc (one test deletes an instance another would send)."""
    seed = zlib.crc32(request.node.name.encode())
    return generate_samples(tmp_path_factory.mktemp("samples"), profile="tiny", seed=seed)


@pytest.fixture
def listener_port(orthanc: OrthancServer) -> int:
    port = free_port()
    orthanc.declare_modality("tui", LISTENER_AE, port)
    return port


def _commit_flags(port: int) -> list[str]:
    return ["--commit-port", str(port), "--commit-host", "127.0.0.1", "--commit-timeout", "20"]


def _send(samples: SampleSet, cwd: Path, orthanc: OrthancServer, *extra: str) -> Any:
    return run_cli(
        ["send", "-i", str(samples.root), "-r", "-a", orthanc.ae_title, "-H", "127.0.0.1",
         "-p", str(orthanc.dicom_port), "-c", LISTENER_AE, "-t", "2", *extra],
        cwd,
        timeout=180,
    )  # fmt: skip


def _summary_path(cwd: Path, suffix: str = ".json") -> Path:
    found = [p for p in (cwd / "logs").glob("dicom_sender_summary_*.json")]
    chosen = [p for p in found if p.name.endswith(".verified.json") == (suffix != ".json")]
    assert len(chosen) == 1, found
    return chosen[0]


def _verified(summary: dict[str, Any]) -> dict[str, str]:
    return {f["sop_instance_uid"]: f["verified"] for f in summary["files"]}


def test_send_verify_commitment_then_a_deleted_instance_is_reported(
    samples: SampleSet, orthanc: OrthancServer, listener_port: int, tmp_path: Path
) -> None:
    run = _send(samples, tmp_path, orthanc, "--verify", "commitment", *_commit_flags(listener_port))
    assert run.exit_code == 0, run.stderr + run.stdout
    files = len(samples.files)
    assert run.summary["totals"]["sent"] == files
    assert run.summary["totals"]["verified"]["committed"] == files
    dest = run.summary["destinations"][0]
    assert dest["verify"] == "commitment"
    assert dest["verified"]["committed"] == files
    assert all(f["verified_at"] for f in run.summary["files"])
    assert "committed" in run.stdout + run.stderr
    journal = next((tmp_path / "logs").glob("dicom_sender_journal_*.jsonl"))
    kinds = [json.loads(line)["kind"] for line in journal.read_text().splitlines()]
    assert kinds.count("verified") == files

    # The archive loses one instance: the next morning's verify says so, with a non-zero exit.
    gone = run.summary["files"][5]["sop_instance_uid"]
    instance_id = orthanc.find_instance(gone)
    assert instance_id is not None
    orthanc.delete_instance(instance_id)
    summary_path = _summary_path(tmp_path)
    again = run_cli(["verify", str(summary_path), *_commit_flags(listener_port)], tmp_path)
    assert again.exit_code == 4, again.stderr + again.stdout
    assert gone in again.stderr and "no such object instance" in again.stderr
    verified = json.loads(_summary_path(tmp_path, ".verified.json").read_text())
    states = _verified(verified)
    assert states.pop(gone) == "commit-failed"
    assert set(states.values()) == {"committed"}
    assert len(states) == files - 1
    assert verified["totals"]["verified"]["commit-failed"] == 1
    assert summary_path.read_text() == summary_path.read_text()  # the original is kept

    by_find = run_cli(["verify", str(summary_path), "--method", "find"], tmp_path)
    assert by_find.exit_code == 4, by_find.stderr + by_find.stdout
    states = _verified(json.loads(_summary_path(tmp_path, ".verified.json").read_text()))
    assert states.pop(gone) == "missing"
    assert set(states.values()) == {"found"}


def test_verify_by_find_from_the_journal(
    samples: SampleSet, orthanc: OrthancServer, listener_port: int, tmp_path: Path
) -> None:
    """Orthanc answers C-FIND only from a known modality: ``listener_port`` declares ours."""
    run = _send(samples, tmp_path, orthanc, "--verify", "find")
    assert run.exit_code == 0, run.stderr + run.stdout
    assert run.summary["totals"]["verified"]["found"] == len(samples.files)
    journal = next((tmp_path / "logs").glob("dicom_sender_journal_*.jsonl"))
    again = run_cli(
        ["verify", str(journal), "--method", "find", "-a", orthanc.ae_title, "-H", "127.0.0.1",
         "-p", str(orthanc.dicom_port)],
        tmp_path,
    )  # fmt: skip
    assert again.exit_code == 0, again.stderr + again.stdout
    verified = json.loads(_summary_path(tmp_path, ".verified.json").read_text())
    assert set(_verified(verified).values()) == {"found"}
    assert len(verified["files"]) == len(samples.files)


def test_commitment_without_a_listener_the_archive_knows_is_unconfirmed(
    samples: SampleSet, orthanc: OrthancServer, tmp_path: Path
) -> None:
    """Orthanc does not know the calling AE as a modality: it drops the request; exit 4."""
    run = _send(
        samples, tmp_path, orthanc, "-c", "UNKNOWN_AE", "--verify", "commitment",
        "--commit-port", str(free_port()), "--commit-host", "127.0.0.1", "--commit-timeout", "2",
    )  # fmt: skip
    assert run.exit_code == 4, run.stderr + run.stdout
    assert run.summary["totals"]["sent"] == len(samples.files)
    assert set(_verified(run.summary).values()) == {"unconfirmed"}
    reasons = {f["verified_reason"] for f in run.summary["files"]}
    assert len(reasons) == 1 and "does it know our AE title" in reasons.pop()
