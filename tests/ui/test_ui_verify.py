"""Proof of delivery in the app: the destination form, the dashboard, the summary.

A real session, driven by keys, sends to the scripted archive
(``peers/commitment_scp.py``) on 127.0.0.1, which holds what it receives and
reports storage commitment on a new association to our listener. One
instance is "lost" by the archive (it answers the C-STORE but never holds
the instance), so the summary lists it as commit-failed; once the archive
holds it again, ``v`` (verify again) turns it committed, and ``u`` sends it
again in a session of its own.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from pydicom import dcmread
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, Static

from peers.commitment_scp import ArchiveSCP
from peers.processes import free_port
from tests.ui.test_ui_flow import wait_until
from tui_sender.core.config.destinations import AddressBook, Destination
from tui_sender.core.engine.session import RunningSession, SessionResult
from tui_sender.core.model.events import VerificationFinished
from tui_sender.core.model.verification import Verified, VerifyMethod
from tui_sender.core.record.earlier import verified_path
from tui_sender.demo.samples.data import SampleSet, generate_tiny_files
from tui_sender.ui.app import SenderApp
from tui_sender.ui.screens.browse import BrowseScreen
from tui_sender.ui.screens.destination_form import DestinationForm
from tui_sender.ui.screens.destinations import DestinationsScreen
from tui_sender.ui.screens.summary import SummaryScreen
from tui_sender.ui.screens.transfer import TransferScreen
from tui_sender.ui.widgets.status_lines import StatusLines
from tui_sender.ui.widgets.verification_board import VerificationBoard, VerificationPhase
from tui_sender.ui.widgets.verification_report import VerificationReport

US = "TUI_SENDER"
FILES = 6
NOT_HELD = "no such object instance (the archive does not hold it) (0x0112)"


class ForgetfulArchive(ArchiveSCP):
    """The archive, answering every C-STORE with success but not keeping the instances in
    ``loses`` (as one whose storage dropped them)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.loses: set[str] = set()

    def hold(
        self,
        sop_instance_uid: str,
        sop_class_uid: str,
        study_uid: str,
        series_uid: str,
        data: bytes = b"",
    ) -> None:
        if sop_instance_uid not in self.loses:
            super().hold(sop_instance_uid, sop_class_uid, study_uid, series_uid, data)


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> SampleSet:
    return generate_tiny_files(tmp_path_factory.mktemp("verify-samples"), FILES)


@pytest.fixture
def listener_port() -> int:
    """Where our storage commitment listener takes the archive's reports."""
    return free_port()


@pytest.fixture
def archive(listener_port: int) -> Iterator[ForgetfulArchive]:
    """The archive, reporting to our listener on a new association, a little late: the
    dashboard's verification phase lasts long enough to be read."""
    scp = ForgetfulArchive(report_to=("127.0.0.1", listener_port, US), report_delay=1.0)
    scp.start()
    yield scp
    scp.stop()


def verified_destination(scp: ArchiveSCP, listener_port: int, **options: Any) -> Destination:
    options.setdefault("verify", VerifyMethod.COMMITMENT)
    return Destination(
        name="ARCHIVE",
        ae_title=scp.ae_title,
        host="127.0.0.1",
        port=scp.port,
        calling_ae=US,
        workers=2,
        commit_port=listener_port,
        commit_host="127.0.0.1",
        commit_timeout=options.pop("commit_timeout", 10.0),
        **options,
    )


def make_app(samples: SampleSet, tmp_path: Path, destination: Destination) -> SenderApp:
    return SenderApp(
        [str(samples.root)],
        book=AddressBook(tmp_path / "config.toml", [destination]),
        logs_dir=tmp_path / "logs",
        chosen=[destination.name],
        remember_choice=False,
    )


def instance_of(path: Path) -> tuple[str, str, str, str]:
    ds = dcmread(path, stop_before_pixels=True)
    return (
        str(ds.SOPInstanceUID),
        str(ds.SOPClassUID),
        str(ds.StudyInstanceUID),
        str(ds.SeriesInstanceUID),
    )


async def send_everything(app: SenderApp, pilot: Pilot[Any]) -> TransferScreen:
    """Select every study, s, enter: the dashboard."""
    await wait_until(lambda: not app.scanning and bool(app.catalog.studies), pilot)
    await pilot.pause(0.2)
    await pilot.press("a", "s")
    await pilot.pause(0.2)
    await pilot.press("enter")
    await wait_until(lambda: isinstance(app.screen, TransferScreen | SummaryScreen), pilot)
    screen = app.screen
    assert isinstance(screen, TransferScreen), "the session ended before its dashboard showed"
    return screen


def log_text(screen: TransferScreen) -> str:
    from tui_sender.ui.widgets.tabbed_log import TabbedLog

    return "\n".join(screen.query_one(TabbedLog).lines)


async def summary_shown(app: SenderApp, pilot: Pilot[Any], old: object = None) -> SummaryScreen:
    """Wait for a summary screen (not ``old``) with its verification section drawn."""

    def drawn() -> bool:
        screen = app.screen
        if not isinstance(screen, SummaryScreen) or screen is old:
            return False
        lines = screen.query("#verify-lines")  # empty while the screen composes
        return bool(lines) and bool(str(lines.first(Static).content))

    await wait_until(drawn, pilot, timeout=30)
    await pilot.pause(0.1)
    screen = app.screen
    assert isinstance(screen, SummaryScreen)
    return screen


def rows(table: DataTable[Any]) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(n)] for n in range(table.row_count)]


async def test_a_lost_instance_shows_not_verified_and_verify_again_commits_it(
    samples: SampleSet, archive: ForgetfulArchive, listener_port: int, tmp_path: Path
) -> None:
    lost = samples.files[2]
    uid, sop_class, study, series = instance_of(lost)
    archive.loses.add(uid)
    app = make_app(samples, tmp_path, verified_destination(archive, listener_port))
    async with app.run_test(size=(100, 30)) as pilot:
        dashboard = await send_everything(app, pilot)
        board = dashboard.query_one(VerificationBoard)
        # The archive reports a second after the request: the phase is on screen meanwhile.
        await wait_until(lambda: "verifying" in board.text, pilot, timeout=30)
        await wait_until(lambda: "1/1 asked, 0/1 answered" in board.text, pilot, timeout=5)
        assert "ARCHIVE verifying  commitment: 1/1 asked, 0/1 answered · waiting" in board.text
        assert board.text.endswith(" of 10 s"), "how long it may wait: the commit timeout"
        assert "verifying…" in dashboard.query_one("#overall", StatusLines).text
        await wait_until(
            lambda: (
                f"verifying {FILES} stored instances by storage commitment" in log_text(dashboard)
            ),
            pilot,
            timeout=5,
        )

        summary = await summary_shown(app, pilot)
        # The dashboard's last frame had the result (it was drawn before the switch).
        assert "not proven" in board.text
        assert f"{FILES - 1} of {FILES} committed, 1 commit-failed" in board.text
        assert summary.result.exit_code == 4
        report = summary.query_one(VerificationReport)
        assert report.display
        lines = str(summary.query_one("#verify-lines", Static).content)
        assert (
            f"ARCHIVE · storage commitment: {FILES - 1} of {FILES} committed, 1 commit-failed"
            in lines
        )
        assert "Not verified (1)" in str(summary.query_one("#unverified-title", Static).content)
        (row,) = rows(report.table)
        assert row == ["commit-failed", lost.name, NOT_HELD]
        detail = str(summary.query_one("#unverified-detail", Static).content)
        assert str(lost) in detail and NOT_HELD in detail
        await wait_until(lambda: app.focused is report.table, pilot, timeout=5)  # nothing failed
        keys = [b.key for _, b, enabled, _ in summary.active_bindings.values() if enabled]
        assert "v" in keys and "u" in keys

        # The archive holds it now (restored from a backup): v asks again, about it alone.
        archive.loses.clear()
        archive.hold(uid, sop_class, study, series)
        asked_before = len(archive.n_actions)
        await pilot.press("v")
        await wait_until(lambda: bool(summary.verifying), pilot, timeout=5)
        await wait_until(lambda: not summary.verifying, pilot, timeout=30)
        assert [a.sop_instance_uids for a in archive.n_actions[asked_before:]] == [[uid]]
        lines = str(summary.query_one("#verify-lines", Static).content)
        assert f"ARCHIVE · storage commitment: {FILES} of {FILES} committed" in lines
        assert not report.table.display
        assert not summary.query_one("#unverified-title").display
        written = verified_path(summary.result.summary_path, summary.result.session_id)
        assert str(written) in str(summary.query_one("#summary-where", Static).content)
        on_disk = json.loads(written.read_text())
        assert on_disk["exit_code"] == 0
        assert on_disk["totals"]["verified"]["committed"] == FILES
        assert {f["verified"] for f in on_disk["files"]} == {"committed"}
        keys = [b.key for _, b, _, _ in summary.active_bindings.values()]
        assert "v" not in keys and "u" not in keys, "nothing left to verify: the keys go"
        # A later send that skips it as already stored carries "committed", as after `verify`.
        index = app.stored_index()
        assert index is not None
        (target,) = summary.session.targets
        remembered = index.lookup(target.link.peer, [uid])[uid].verification
        assert remembered is not None and remembered.verified is Verified.COMMITTED


async def test_resend_unverified_sends_the_lost_instance_again_and_it_is_committed(
    samples: SampleSet, archive: ForgetfulArchive, listener_port: int, tmp_path: Path
) -> None:
    lost = samples.files[4]
    uid, *_ = instance_of(lost)
    archive.loses.add(uid)
    app = make_app(samples, tmp_path, verified_destination(archive, listener_port))
    async with app.run_test(size=(100, 30)) as pilot:
        await send_everything(app, pilot)
        first = await summary_shown(app, pilot)
        assert [f["path"] for f in first.query_one(VerificationReport).unverified] == [str(lost)]

        archive.loses.clear()  # the archive keeps what it gets from now on
        stored_before = len(archive.held)
        await pilot.press("u")
        second = await summary_shown(app, pilot, old=first)
        result: SessionResult = second.result
        # Stored by the first session (the index says so), sent again all the same.
        assert result.summary["totals"]["sent"] == 1
        assert result.summary["totals"]["skipped"] == 0
        assert [f["path"] for f in result.summary["files"]] == [str(lost)]
        assert result.summary["files"][0]["verified"] == "committed"
        assert len(archive.held) == stored_before + 1
        assert result.exit_code == 0
        lines = str(second.query_one("#verify-lines", Static).content)
        assert "ARCHIVE · storage commitment: 1 of 1 committed" in lines


async def test_reports_that_never_come_leave_everything_unconfirmed(
    samples: SampleSet, listener_port: int, tmp_path: Path
) -> None:
    """The dashboard says it waits for the reports, and for how long; the summary says why
    each instance is unconfirmed."""
    scp = ArchiveSCP(commitment="never", report_to=("127.0.0.1", listener_port, US)).start()
    try:
        destination = verified_destination(scp, listener_port, commit_timeout=2.0)
        app = make_app(samples, tmp_path, destination)
        async with app.run_test(size=(100, 30)) as pilot:
            dashboard = await send_everything(app, pilot)
            board = dashboard.query_one(VerificationBoard)
            await wait_until(lambda: "waiting" in board.text, pilot, timeout=30)
            assert board.text.endswith(" of 2 s")
            summary = await summary_shown(app, pilot)
            report = summary.query_one(VerificationReport)
            assert {tuple(r[::2]) for r in rows(report.table)} == {
                ("unconfirmed", "no storage commitment report within 2 s")
            }
            assert len(report.unverified) == FILES
            lines = str(summary.query_one("#verify-lines", Static).content)
            assert f"0 of {FILES} committed, {FILES} unconfirmed" in lines
            await pilot.pause(0.2)
    finally:
        scp.stop()


async def test_verified_by_c_find_a_lost_instance_is_missing(
    samples: SampleSet, archive: ForgetfulArchive, listener_port: int, tmp_path: Path
) -> None:
    lost = samples.files[0]
    uid, *_ = instance_of(lost)
    archive.loses.add(uid)
    archive.find_delay = 1.0  # each query answers a second late: the phase can be read
    destination = verified_destination(archive, listener_port, verify=VerifyMethod.FIND)
    app = make_app(samples, tmp_path, destination)
    async with app.run_test(size=(100, 30)) as pilot:
        dashboard = await send_everything(app, pilot)
        board = dashboard.query_one(VerificationBoard)
        await wait_until(lambda: "verifying  C-FIND: " in board.text, pilot, timeout=30)
        assert board.text.endswith(f" · {FILES} instances")
        summary = await summary_shown(app, pilot)
        assert f"not proven C-FIND: {FILES - 1} of {FILES} found, 1 missing" in board.text
        report = summary.query_one(VerificationReport)
        assert rows(report.table) == [
            ["missing", lost.name, "a C-FIND of its series did not return it"]
        ]
        lines = str(summary.query_one("#verify-lines", Static).content)
        assert f"ARCHIVE · C-FIND: {FILES - 1} of {FILES} found, 1 missing" in lines


async def test_the_form_edits_verification_and_hides_what_does_not_apply(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.toml"
    app = SenderApp(
        [], book=AddressBook(config, [Destination("SITE", "SITE_AE", "127.0.0.1", 104)])
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d")
        assert isinstance(app.screen, DestinationsScreen)
        await pilot.press("enter")
        form = app.screen
        assert isinstance(form, DestinationForm)
        commitment_rows = [
            "commit_ae",
            "commit_port",
            "commit_host",
            "commit_timeout",
            "commit_batch",
        ]
        assert not any(form.query_one(f"#row-{key}").display for key in commitment_rows)

        verify = form.query_one("#field-verify", Select)
        verify.focus()
        await pilot.pause()
        assert "prove it holds every stored instance" in str(
            form.query_one("#form-hint", Static).content
        )
        await pilot.press("enter", "down", "enter")  # none -> commitment
        assert verify.value == VerifyMethod.COMMITMENT
        assert all(form.query_one(f"#row-{key}").display for key in commitment_rows)

        await pilot.press("tab")
        assert app.focused is form.query_one("#field-commit_ae")
        await pilot.press(*"SENDER_SCP", "tab")
        port = form.query_one("#field-commit_port", Input)
        assert app.focused is port
        port.value = "70000"
        await pilot.pause()
        problem = str(form.query_one("#problem-commit_port", Static).content)
        assert "commit_port must be 0 (none) or 1 to 65535, got 70000" in problem
        await pilot.press("ctrl+s")
        assert app.screen is form, "saved with a port past 65535"
        port.value = "11113"
        form.query_one("#field-commit_timeout", Input).value = "90"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, DestinationsScreen)
        saved = tomllib.loads(config.read_text())["destinations"][0]
        assert saved["verify"] == "commitment"
        assert saved["commit_ae"] == "SENDER_SCP"
        assert saved["commit_port"] == 11113
        assert saved["commit_timeout"] == 90.0
        detail = str(app.screen.query_one("#dest-detail", Static).content)
        assert "verify by storage commitment (reports to port 11113)" in detail

        # Back to find: the commitment fields are hidden again, their values kept.
        await pilot.press("enter")
        form = app.screen
        assert isinstance(form, DestinationForm)
        form.query_one("#field-verify", Select).value = VerifyMethod.FIND
        await pilot.pause()
        assert not any(form.query_one(f"#row-{key}").display for key in commitment_rows)
        await pilot.press("ctrl+s")
        saved = tomllib.loads(config.read_text())["destinations"][0]
        assert saved["verify"] == "find" and saved["commit_port"] == 11113
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, BrowseScreen)


def test_a_phase_before_and_without_its_start_says_why() -> None:
    """The line is there from the dashboard's start, and says why it never ran."""
    phase = VerificationPhase("ARCHIVE", "commitment", 60.0)
    assert phase.state() == "after send"
    assert phase.detail(0) == "storage commitment after the last file"
    phase.not_run = "cancelled: not verified"
    assert (phase.state(), phase.detail(0)) == ("not run", "cancelled: not verified")
    find = VerificationPhase("VNA", "find", 60.0, instances=10, total=3, answered=1, asked=1)
    find.started_at = 100.0
    assert find.detail(104.2) == "C-FIND: series 1/3 queried · 4 s · 10 instances"
    find.take(
        VerificationFinished(
            destination="VNA", method="find", counts={}, seconds=2.0, error="could not associate"
        ),
        106.0,
    )
    assert (find.state(), find.detail(0)) == ("failed", "C-FIND: could not associate")


# -- the picture ------------------------------------------------------------------------------

SESSION_ID = "20250314-093012-5c7a1e"
STUDY_UID = "2.25.1001"
SERIES_UID = "2.25.1002"


def _file(n: int, verified: str, reason: str = "") -> dict[str, Any]:
    return {
        "path": f"samples/ROSSI^EVA/CT_THORAX/SE001_CT/IMG{n:04d}.dcm",
        "destination": "PACS-MAIN",
        "state": "sent",
        "status": "0x0000",
        "reason": "",
        "sop_instance_uid": f"{SERIES_UID}.{n}",
        "sop_class_uid": "1.2.840.10008.5.1.4.1.1.2",
        "study_uid": STUDY_UID,
        "series_uid": SERIES_UID,
        "verified": verified,
        "verified_reason": reason,
        "verified_at": None,
    }


def staged_result() -> SessionResult:
    """A finished, verified session: 6 files sent, 4 committed, 1 commit-failed, 1 unconfirmed."""
    files = [_file(n, "committed") for n in range(1, 5)]
    files.append(_file(5, "commit-failed", NOT_HELD))
    files.append(_file(6, "unconfirmed", "no storage commitment report within 60 s"))
    verified = {
        "committed": 4,
        "found": 0,
        "commit-failed": 1,
        "missing": 0,
        "unconfirmed": 1,
        "not-asked": 0,
    }
    summary = {
        "session_id": SESSION_ID,
        "exit_code": 4,
        "cancelled": False,
        "totals": {
            "sent": 6,
            "warning": 0,
            "failed": 0,
            "skipped": 0,
            "found": 6,
            "bytes_sent": 18_852,
            "duration_s": 1.2,
            "mb_per_s": 0.016,
            "images_per_s": 5.0,
            "converted": 0,
            "verified": verified,
        },
        "studies": [
            {
                "study_uid": STUDY_UID,
                "study_date": "20200730",
                "modalities": ["CT"],
                "files": 6,
                "sent": 6,
                "warning": 0,
                "failed": 0,
                "skipped": 0,
                "destination": "PACS-MAIN",
                "description": "CT THORAX",
            }
        ],
        "destinations": [{"name": "PACS-MAIN", "verify": "commitment", "verified": verified}],
        "files": files,
    }
    return SessionResult(
        session_id=SESSION_ID,
        exit_code=4,
        cancelled=False,
        counts={"sent": 6, "warning": 0, "failed": 0, "skipped": 0, "found": 6},
        summary_path=Path(f"logs/dicom_sender_summary_{SESSION_ID}.json"),
        log_path=Path(f"logs/dicom_sender_{SESSION_ID}.log"),
        summary=summary,
    )


class SummaryApp(SenderApp):
    """The app with an empty address book, no scan and a staged summary on top."""

    def __init__(self) -> None:
        super().__init__([], book=AddressBook(Path("config.toml")), remember_choice=False)

    def show_summary(self) -> None:
        session = cast(RunningSession, SimpleNamespace(targets=[]))
        self.push_screen(SummaryScreen(staged_result(), session))


async def summary_scene(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, SummaryApp)
    app.show_summary()
    await wait_until(lambda: isinstance(app.screen, SummaryScreen), pilot, timeout=10)
    await pilot.pause(0.2)


def test_summary_of_a_verified_session(snap_compare: Any) -> None:
    """The summary at 80x24 after a send verified by storage commitment: 6 sent, 2 unproven.

    Headline "Finished: 6 sent · 0 warning · 0 failed · 0 skipped of 6 18.9 kB in
    1.2 s". Studies: 2020-07-30 CT, 6 files, 6 sent, to PACS-MAIN, CT THORAX; then "No
    failures". Then "Verification" and, in the warning colour on two lines, "✗ PACS-MAIN ·
    storage commitment: 4 of 6 committed, 1 commit-failed, 1 unconfirmed". Then "Not
    verified (2) · v: verify again · u: send again" and its table: commit-failed (error
    colour) IMG0005.dcm "no such object instance (the archive does not hold …" (cut at 80
    columns), unconfirmed (warning colour) IMG0006.dcm "no storage commitment report within
    60 s". The cursor is on the first row, and the box under the table gives it in full:
    "commit-failed at PACS-MAIN samples/ROSSI^EVA/CT_THORAX/SE001_CT/IMG0005.dcm" and its
    reason. Then "Record: logs/dicom_sender_summary_….json · log …". The footer is
    compact: "xExport vReverify uResend unverified escBack to studies ?Help" (nothing
    failed: no "Resend failed"; Quit is cut off at 80 columns).
    """
    assert snap_compare(SummaryApp(), terminal_size=(80, 24), run_before=summary_scene)
