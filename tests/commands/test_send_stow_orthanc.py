"""DICOMweb into a real server: Orthanc's DICOMweb plugin takes STOW-RS and answers QIDO-RS.

The plugin comes from the Debian package ``orthanc-dicomweb``. Orthanc keeps
a file received by STOW-RS as it came, so what its REST API returns is
compared byte for byte with the file on disk. Each test starts its own
Orthanc: one with Basic authentication on, one without.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from peers.availability import require_peer
from peers.orthanc import DICOMWEB_PLUGIN, OrthancServer, has_dicomweb_plugin
from tests.sending import run_cli
from tui_sender.core.record.csv_export import export_csv
from tui_sender.core.record.html_report import export_html
from tui_sender.demo.samples.data import SampleSet, generate_samples

PASSWORD = "orthanc-web-secret-7f3a"


@pytest.fixture(scope="module")
def web_orthanc(orthanc_available: str) -> Iterator[OrthancServer]:
    require_peer(_plugin(), "Orthanc's DICOMweb plugin", "orthanc-dicomweb")
    with OrthancServer(executable=orthanc_available, dicomweb=True) as server:
        yield server


@pytest.fixture
def mixed(tmp_path: Path) -> tuple[SampleSet, list[Path]]:
    """Sample studies, plus what a real export folder also holds: not DICOM, or broken."""
    samples = generate_samples(tmp_path / "in", profile="tiny", seed=23)
    junk = [
        tmp_path / "in" / "README.txt",
        tmp_path / "in" / "DICOMDIR.bak",
        tmp_path / "in" / "truncated.dcm",
    ]
    junk[0].write_text("exported by a modality\n")
    junk[1].write_bytes(b"\x00" * 300)
    junk[2].write_bytes(samples.files[0].read_bytes()[:200])
    return samples, junk


def _plugin() -> str | None:
    return DICOMWEB_PLUGIN if has_dicomweb_plugin() else None


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _stored_hashes(orthanc: OrthancServer, uids: set[str]) -> dict[str, str]:
    """SOP Instance UID -> sha256 of the file Orthanc returns, for the UIDs it holds."""
    found = {}
    for uid in uids:
        instance_id = orthanc.find_instance(uid)
        if instance_id is not None:
            found[uid] = _sha(orthanc.instance_file(instance_id))
    return found


def test_every_good_file_of_a_mixed_folder_arrives_byte_for_byte(
    web_orthanc: OrthancServer, mixed: tuple[SampleSet, list[Path]], tmp_path: Path
) -> None:
    samples, junk = mixed
    run = run_cli(
        ["send", "--url", web_orthanc.dicomweb_url, "-i", str(samples.root), "-r", "-t", "2",
         "--verify", "find"],
        tmp_path,
        timeout=180,
    )  # fmt: skip
    files = run.summary["files"]
    by_state: dict[str, list[dict[str, Any]]] = {}
    for f in files:
        by_state.setdefault(f["state"], []).append(f)
    assert len(by_state.get("sent", [])) == len(samples.files), run.stdout + run.stderr
    assert {Path(f["path"]).name for f in by_state.get("skipped", [])} >= {p.name for p in junk}
    assert all(f["http_status"] == 200 for f in by_state["sent"])
    assert all(f["verified"] == "found" for f in by_state["sent"])
    assert run.exit_code == 0, run.stdout + run.stderr
    on_disk = {f["sop_instance_uid"]: _sha(Path(f["path"]).read_bytes()) for f in by_state["sent"]}
    assert _stored_hashes(web_orthanc, set(on_disk)) == on_disk
    dest = run.summary["destinations"][0]
    assert dest["kind"] == "dicomweb" and dest["url"] == web_orthanc.dicomweb_url
    page = export_html(run.summary, tmp_path / "report.html").read_text()
    assert f"DICOMweb STOW-RS to {web_orthanc.dicomweb_url}" in page
    rows = list(csv.DictReader(export_csv(run.summary, tmp_path / "report.csv").open()))
    assert {r["http_status"] for r in rows if r["state"] == "sent"} == {"200"}


def test_a_deleted_instance_is_missing_when_verified_again_by_qido(
    web_orthanc: OrthancServer, tmp_path: Path
) -> None:
    samples = generate_samples(tmp_path / "in", profile="tiny", seed=29)
    run = run_cli(
        ["send", "--url", web_orthanc.dicomweb_url, "-i", str(samples.root), "-r"],
        tmp_path,
        timeout=180,
    )
    assert run.exit_code == 0, run.stdout + run.stderr
    gone = run.summary["files"][3]
    instance_id = web_orthanc.find_instance(gone["sop_instance_uid"])
    assert instance_id is not None
    web_orthanc.delete_instance(instance_id)
    summary_path = next((tmp_path / "logs").glob("dicom_sender_summary_*.json"))
    again = run_cli(["verify", str(summary_path), "--method", "find"], tmp_path, timeout=120)
    assert again.exit_code == 4, again.stdout + again.stderr
    verified = json.loads(summary_path.with_name(summary_path.stem + ".verified.json").read_text())
    states = {f["sop_instance_uid"]: f["verified"] for f in verified["files"]}
    assert states.pop(gone["sop_instance_uid"]) == "missing"
    assert set(states.values()) == {"found"}
    assert len(states) == len(samples.files) - 1


@pytest.fixture(scope="module")
def locked_orthanc(orthanc_available: str) -> Iterator[OrthancServer]:
    require_peer(_plugin(), "Orthanc's DICOMweb plugin", "orthanc-dicomweb")
    with OrthancServer(
        executable=orthanc_available, dicomweb=True, users={"alice": PASSWORD}
    ) as server:
        yield server


def _send_as_alice(orthanc: OrthancServer, root: Path, cwd: Path, password: str) -> Any:
    secret = cwd / "password"
    secret.write_text(password + "\n")
    os.chmod(secret, 0o600)
    return run_cli(
        ["send", "--url", orthanc.dicomweb_url, "-i", str(root), "-r", "--username", "alice",
         "--password-file", str(secret)],
        cwd,
        timeout=180,
    )  # fmt: skip


def test_with_basic_authentication_the_right_password_stores_everything(
    locked_orthanc: OrthancServer, tmp_path: Path
) -> None:
    samples = generate_samples(tmp_path / "in", profile="tiny", seed=31)
    before = locked_orthanc.instance_count()
    run = _send_as_alice(locked_orthanc, samples.root, tmp_path, PASSWORD)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert locked_orthanc.instance_count() - before == len(samples.files)
    assert run.summary["destinations"][0]["auth"] == "Basic as alice"


def test_a_wrong_password_is_a_clear_error_and_nothing_is_marked_sent(
    locked_orthanc: OrthancServer, tmp_path: Path
) -> None:
    samples = generate_samples(tmp_path / "in", profile="tiny", seed=37)
    before = locked_orthanc.instance_count()
    run = _send_as_alice(locked_orthanc, samples.root, tmp_path, "not-the-password")
    assert run.exit_code != 0
    files = run.summary["files"]
    assert files and {f["state"] for f in files} == {"failed"}
    assert all("authentication failed" in f["reason"] and "401" in f["reason"] for f in files)
    assert "authentication failed" in run.stdout + run.stderr
    assert locked_orthanc.instance_count() == before
    written = (
        run.stdout
        + run.stderr
        + "".join(
            p.read_text(errors="replace") for p in (tmp_path / "logs").iterdir() if p.is_file()
        )
    )
    assert "not-the-password" not in written and PASSWORD not in written
