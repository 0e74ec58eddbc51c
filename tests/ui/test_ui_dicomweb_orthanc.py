"""From the app into a real DICOMweb server: Orthanc with its DICOMweb plugin.

A mixed folder (studies plus a text file, a DICOMDIR backup and a truncated
file) is browsed, every study chosen and sent to a DICOMweb destination by
keys; the summary screen says what happened, and Orthanc's REST API returns
every good file byte for byte. With Basic authentication on and a wrong
password, the summary screen says the sign-in failed, nothing is marked
sent and Orthanc gains nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable

from peers.availability import require_peer
from peers.orthanc import DICOMWEB_PLUGIN, OrthancServer, has_dicomweb_plugin
from tests.ui.test_ui_flow import wait_until
from tui_sender.core.config.destinations import AddressBook, Destination
from tui_sender.demo.samples.data import SampleSet, generate_samples
from tui_sender.ui.app import SenderApp
from tui_sender.ui.screens.summary import SummaryScreen

PASSWORD = "orthanc-app-secret-51c2"
WRONG = "not-the-password-0d7e"
PASSWORD_VAR = "TUI_TEST_ORTHANC_PW"


@pytest.fixture(scope="module")
def locked_orthanc(orthanc_available: str) -> Iterator[OrthancServer]:
    require_peer(
        DICOMWEB_PLUGIN if has_dicomweb_plugin() else None,
        "Orthanc's DICOMweb plugin",
        "orthanc-dicomweb",
    )
    with OrthancServer(
        executable=orthanc_available, dicomweb=True, users={"alice": PASSWORD}
    ) as server:
        yield server


@pytest.fixture
def mixed(tmp_path: Path) -> tuple[SampleSet, list[Path]]:
    samples = generate_samples(tmp_path / "in", profile="tiny", seed=41, patients=2)
    junk = [tmp_path / "in" / "README.txt", tmp_path / "in" / "DICOMDIR.bak"]
    junk[0].write_text("exported by a modality\n")
    junk[1].write_bytes(b"\x00" * 300)
    truncated = tmp_path / "in" / "truncated.dcm"
    truncated.write_bytes(samples.files[0].read_bytes()[:200])
    return samples, [*junk, truncated]


def _app(root: Path, orthanc: OrthancServer, tmp_path: Path) -> SenderApp:
    destination = replace(
        Destination.for_url(
            orthanc.dicomweb_url, username="alice", password_env=PASSWORD_VAR, workers=2
        ),
        name="WEBPACS",
    )
    return SenderApp(
        [str(root)],
        book=AddressBook(tmp_path / "config.toml", [destination]),
        logs_dir=tmp_path / "logs",
        chosen=[destination.name],
        remember_choice=False,
    )


async def _summary(app: SenderApp, pilot: Any) -> SummaryScreen:
    """Every study chosen, s, enter; the summary screen once the session ended."""
    await wait_until(lambda: not app.scanning and bool(app.catalog.studies), pilot)
    await pilot.pause(0.2)
    await pilot.press("a", "s")
    await pilot.pause(0.2)
    await pilot.press("enter")
    await wait_until(lambda: isinstance(app.screen, SummaryScreen), pilot, timeout=120)
    screen = app.screen
    assert isinstance(screen, SummaryScreen)
    await pilot.pause(0.2)
    return screen


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_every_good_file_of_a_mixed_folder_arrives_from_the_app_byte_for_byte(
    locked_orthanc: OrthancServer,
    mixed: tuple[SampleSet, list[Path]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    samples, junk = mixed
    monkeypatch.setenv(PASSWORD_VAR, PASSWORD)
    app = _app(samples.root, locked_orthanc, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        summary = await _summary(app, pilot)
        record = summary.result.summary
        headline = str(summary.query_one("#summary-headline").render())
    files = record["files"]
    sent = [f for f in files if f["state"] == "sent"]
    skipped = {Path(f["path"]).name for f in files if f["state"] == "skipped"}
    assert len(sent) == len(samples.files), [(f["path"], f["state"], f["reason"]) for f in files]
    assert skipped == {p.name for p in junk}
    assert record["exit_code"] == 0
    assert f"{len(samples.files)} sent" in headline
    stored = {}
    for f in sent:
        instance_id = locked_orthanc.find_instance(f["sop_instance_uid"])
        assert instance_id is not None, f"{f['path']} is not in Orthanc"
        stored[f["sop_instance_uid"]] = _sha(locked_orthanc.instance_file(instance_id))
    assert stored == {f["sop_instance_uid"]: _sha(Path(f["path"]).read_bytes()) for f in sent}
    assert {f["http_status"] for f in sent} == {200}


async def test_a_wrong_password_is_said_on_screen_and_nothing_is_marked_sent(
    locked_orthanc: OrthancServer,
    mixed: tuple[SampleSet, list[Path]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    samples, _ = mixed
    monkeypatch.setenv(PASSWORD_VAR, WRONG)
    before = locked_orthanc.instance_count()
    app = _app(samples.root, locked_orthanc, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        summary = await _summary(app, pilot)
        record = summary.result.summary
        failed = summary.query_one("#summary-failed", DataTable)
        shown = [" ".join(str(c) for c in failed.get_row_at(i)) for i in range(failed.row_count)]
        detail = str(summary.query_one("#summary-detail").render())
        await pilot.press("q")
    assert app.return_value == 3, "the app exits with its last session's exit code"
    assert record["exit_code"] == 3, "no connection could be established at all"
    assert {f["state"] for f in record["files"] if f["state"] != "skipped"} == {"failed"}
    assert not [f for f in record["files"] if f["state"] == "sent"]
    refused = [row for row in shown if row.startswith("failed")]
    assert refused and all("authentication failed" in row for row in refused), shown
    assert "HTTP 401 Unauthorized" in " ".join(refused) + detail
    assert locked_orthanc.instance_count() == before
    written = "".join(p.read_text(errors="replace") for p in (tmp_path / "logs").iterdir())
    assert WRONG not in written and PASSWORD not in written
