"""The whole flow driven by keyboard in a headless app, against a real SCP.

Scan a generated folder, select two studies with the keys a user presses,
send to the chosen destination, then check what the SCP received and what
the summary screen says.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread

from peers.pynetdicom_scp import ScriptedSCP
from tui_sender.core.config.destinations import AddressBook, Destination
from tui_sender.core.engine.transfer import CANCELLED_IN_FLIGHT
from tui_sender.demo.samples.data import SampleSet, generate_samples, generate_tiny_files
from tui_sender.ui.app import SenderApp
from tui_sender.ui.screens.browse import BrowseScreen
from tui_sender.ui.screens.summary import SummaryScreen
from tui_sender.ui.screens.transfer import TransferScreen
from tui_sender.ui.widgets.study_tree import PatientRef, StudyRef, StudyTree

MR = "1.2.840.10008.5.1.4.1.1.4"


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> SampleSet:
    return generate_samples(tmp_path_factory.mktemp("ui-samples"), profile="tiny", seed=3)


async def wait_until(check: Callable[[], bool], pilot: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.05)


def make_app(samples: SampleSet, tmp_path: Path, scp: ScriptedSCP) -> SenderApp:
    destination = Destination.from_cli(scp.ae_title, "127.0.0.1", scp.port, workers=2)
    return SenderApp(
        [str(samples.root)],
        book=AddressBook(tmp_path / "config.toml"),
        logs_dir=tmp_path / "logs",
        demo_destination=destination,
    )


async def test_select_two_studies_by_keyboard_send_and_read_the_summary(
    samples: SampleSet, scp_factory: Any, tmp_path: Path
) -> None:
    scp: ScriptedSCP = scp_factory(rejected_sop_classes=[MR])
    app = make_app(samples, tmp_path, scp)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(lambda: not app.scanning and app.catalog.studies, pilot)
        await pilot.pause(0.3)
        tree = app.screen.query_one(StudyTree)
        assert isinstance(app.screen, BrowseScreen)
        # Open the first patient and select its two studies, one by one.
        await pilot.press("right", "down", "space", "down", "space")
        chosen = app.selection.study_uids
        assert len(chosen) == 2
        patient = tree.cursor_node.parent  # type: ignore[union-attr]
        assert patient is not None
        assert {c.data.uid for c in patient.children if isinstance(c.data, StudyRef)} == set(chosen)
        expected = {i.sop_instance_uid for i in app.selection.instances()}
        mr_files = {i.sop_instance_uid for i in app.selection.instances() if i.sop_class_uid == MR}

        await pilot.press("s")
        await pilot.pause(0.2)
        await pilot.press("enter")
        await wait_until(lambda: isinstance(app.screen, TransferScreen | SummaryScreen), pilot)
        await wait_until(lambda: isinstance(app.screen, SummaryScreen), pilot, timeout=60)
        summary_screen = app.screen
        assert isinstance(summary_screen, SummaryScreen)

        received = set(scp.stored())
        assert received == expected - mr_files
        totals = summary_screen.summary["totals"]
        assert totals["sent"] == len(received)
        assert totals["failed"] == len(mr_files)
        headline = str(summary_screen.query_one("#summary-headline").render())
        assert f"{len(received)} sent" in headline
        assert f"{len(mr_files)} failed" in headline
        failed_table = summary_screen.query_one("#summary-failed")
        assert failed_table.row_count == len(mr_files)  # type: ignore[attr-defined]

        # x exports the record and says where.
        await pilot.press("x")
        await pilot.pause(0.3)
        where = str(summary_screen.query_one("#summary-where").render())
        assert "HTML report" in where and ".csv" in where
        assert list((tmp_path / "logs").glob("*.html"))

        await pilot.press("escape")
        await pilot.pause(0.1)
        assert isinstance(app.screen, BrowseScreen)


async def test_cancel_does_not_wait_for_a_slow_scp(
    samples: SampleSet, scp_factory: Any, tmp_path: Path
) -> None:
    """The SCP takes 5 s to answer each C-STORE; a cancel ends the session without those
    answers: the stores in flight are cut after the grace period and recorded as such."""
    scp: ScriptedSCP = scp_factory(sleep=5.0)
    app = make_app(samples, tmp_path, scp)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(lambda: not app.scanning and app.catalog.studies, pilot)
        await pilot.press("a", "s")
        await pilot.pause(0.2)
        await pilot.press("enter")
        await wait_until(lambda: isinstance(app.screen, TransferScreen), pilot)
        await wait_until(lambda: len(scp.received) >= 1, pilot)
        await pilot.press("c")
        await pilot.pause(0.1)
        await pilot.press("y")
        await wait_until(lambda: isinstance(app.screen, SummaryScreen), pilot, timeout=10)
        summary = app.screen.summary  # type: ignore[attr-defined]
        assert summary["cancelled"] is True
        in_flight = [f for f in summary["files"] if f["reason"] == CANCELLED_IN_FLIGHT]
        assert summary["totals"]["sent"] == 0
        assert len(in_flight) == len(scp.received) >= 1
        assert summary["totals"]["failed"] == summary["totals"]["found"] - summary["totals"]["sent"]
        # Let the new screen finish mounting before the app is torn down
        # (Textual's Header updates its title in a deferred callback).
        await pilot.pause(0.2)


async def test_resume_screen_sends_what_an_interrupted_session_did_not_store(
    samples: SampleSet, scp_factory: Any, tmp_path: Path
) -> None:
    from tui_sender.ui.screens.resume import ResumeScreen

    slow = scp_factory(sleep=0.05)
    app = make_app(samples, tmp_path, slow)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(lambda: not app.scanning and app.catalog.studies, pilot)
        await pilot.press("a", "s")
        await pilot.pause(0.2)
        await pilot.press("enter")
        await wait_until(lambda: len(slow.stored()) >= 10, pilot)
        await pilot.press("c")
        await pilot.pause(0.1)
        await pilot.press("y")
        await wait_until(lambda: isinstance(app.screen, SummaryScreen), pilot, timeout=10)
        first = app.screen.summary  # type: ignore[attr-defined]
        stored_first = first["totals"]["sent"]
        assert 0 < stored_first < len(samples.files)
        await pilot.press("escape")
        await pilot.pause(0.1)
        await pilot.press("R")
        await wait_until(lambda: isinstance(app.screen, ResumeScreen), pilot)
        await pilot.pause(0.2)
        await pilot.press("enter")
        await wait_until(lambda: isinstance(app.screen, SummaryScreen), pilot, timeout=60)
        second = app.screen.summary  # type: ignore[attr-defined]
        assert second["configuration"]["resumed_from"] == first["session_id"]
        assert second["totals"]["skipped"] == stored_first
        assert second["totals"]["sent"] == len(samples.files) - stored_first
        assert len(slow.stored()) == len(samples.files)
        await pilot.pause(0.2)


def ten_thousand_studies(root: Path) -> Path:
    """10,000 one-image studies, five per patient: copies of one generated image."""
    template = generate_tiny_files(root / "template", 1).files[0]
    ds = dcmread(template)
    out = root / "studies"
    out.mkdir()
    for n in range(10_000):
        ds.PatientID = f"MANY{n // 5:05d}"
        ds.StudyInstanceUID = f"2.25.1{n:05d}"
        ds.SeriesInstanceUID = f"2.25.2{n:05d}"
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"2.25.3{n:05d}"
        ds.save_as(out / f"{n:05d}.dcm", enforce_file_format=True)
    return out


async def test_a_folder_of_10000_studies_opens_lazily_and_answers_keys(tmp_path: Path) -> None:
    """Studies become tree nodes only when their patient opens, so 10,000 cost 2,000 rows."""
    many = ten_thousand_studies(tmp_path / "many")
    app = SenderApp(
        [str(many)], book=AddressBook(tmp_path / "config.toml"), logs_dir=tmp_path / "logs"
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(lambda: not app.scanning, pilot, timeout=120)
        await pilot.pause(0.3)
        assert len(app.catalog.studies) == 10_000
        tree = app.screen.query_one(StudyTree)
        patients = [n for n in tree.root.children if isinstance(n.data, PatientRef)]
        assert len(patients) == len(app.catalog.patients) == 2_000
        assert sum(len(p.children) for p in patients) == 0  # no study node yet

        await pilot.press("right", "down")
        opened = patients[0]
        assert opened.is_expanded and len(opened.children) == 5
        assert sum(len(p.children) for p in patients) == 5
        assert tree.cursor_node is opened.children[0]  # the typed-ahead Down landed on a study

        await pilot.press("a")
        await pilot.pause(0.1)
        assert len(app.selection.study_uids) == 10_000
        status = str(app.screen.query_one("#status-line").render())
        assert "selected 10000 studies, 10000 files" in status
