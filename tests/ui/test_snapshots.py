"""Snapshot tests of the main screens at 80x24 (an SSH session) and 120x40.

Each test drives :class:`~tui_sender.ui.screenshots.showcase.ShowcaseApp` (the real app
on generated sample studies, scanning before its first frame and sending to a
staged session that opens no association) with the keys a user presses, then
compares the screen with the SVG in ``tests/ui/__snapshots__/``. The dashboard's
clock is frozen, so elapsed time, rates and ETA are fixed numbers. The same
scenes make the README screenshots (``python -m tui_sender.ui.screenshots``).

After a deliberate UI change: ``pytest tests/ui/test_snapshots.py --snapshot-update``,
then read ``snapshot_report.html`` (or the SVGs) against each docstring before
committing the new baselines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Log

from tui_sender.core.config.remembered import remembered_path, save_chosen
from tui_sender.core.model.events import LogMessage
from tui_sender.demo.samples.data import generate_samples
from tui_sender.ui.screens.summary import SummaryScreen
from tui_sender.ui.screenshots.clock import frozen_dashboard_clock
from tui_sender.ui.screenshots.scenes import (
    browse_scene,
    confirm_scene,
    dashboard_scene,
    destinations_scene,
    help_scene,
    negotiation_scene,
    summary_scene,
)
from tui_sender.ui.screenshots.showcase import SAMPLES, SEED, ShowcaseApp

SnapCompare = Callable[..., bool]
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


@pytest.fixture(scope="module")
def showcase_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory holding ``samples/`` (tiny profile, fixed seed)."""
    work = tmp_path_factory.mktemp("showcase")
    generate_samples(work / SAMPLES, profile="tiny", seed=SEED)
    return work


@pytest.fixture
def app(showcase_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ShowcaseApp]:
    """The staged app, run from ``showcase_dir`` (only relative paths show) on a frozen clock."""
    monkeypatch.chdir(showcase_dir)
    with frozen_dashboard_clock() as clock:
        yield ShowcaseApp(clock)


@pytest.mark.parametrize("size", SIZES)
def test_browser(snap_compare: SnapCompare, app: ShowcaseApp, size: tuple[int, int]) -> None:
    """The study browser after a scan of 16 studies (8 patients, 532 files).

    The first patient, ROSSI EVA, is open with [x] before it and before both
    of its studies (CT THORAX 2020-07-30, 67 img; US ABDOMEN 2019-03-02, 5 img);
    the other seven patients are closed with [ ]. The cursor is on the CT study
    and the details pane shows it: description, "ROSSI EVA 2020-07-30 acc.
    A111960917 67 files, 625.6 kB", the Study UID, then (at 120x40, beside the
    tree) its series #1, #2 CT, #90 KO, #91 PR, #99 SR and the SOP classes and
    transfer syntaxes with counts. At 80x24 the details are under the tree and
    only reach "Series" (the rest scrolls). Status line: "16 studies, 532 files,
    0 skipped │ selected 2 studies, 72 files, 667.4 kB │ to: none (press d)";
    at 80 columns it stops after "667.4 kB │". At 120 columns the tree pane is
    narrower than a study line, so the size column is cut ("67 img 625").
    """
    assert snap_compare(app, terminal_size=size, run_before=browse_scene)


@pytest.mark.parametrize("size", SIZES)
def test_destinations(snap_compare: SnapCompare, app: ShowcaseApp, size: tuple[int, int]) -> None:
    """The address book with three destinations, PACS-MAIN chosen.

    Title "Destinations — 3 in the address book, 1 chosen". Columns: Name, Kind, "AE@host:
    port or URL", Calling AE, Workers, TLS, Description. Row 1: [x] PACS-MAIN, DIMSE,
    MAINPACS@10.20.0.15:104, TUI_SENDER, 2 workers, TLS no; row 2: [ ] ARCHIVE-VNA,
    DIMSE, VNA_ARCHIVE@vna.hospital.exampl… (cut with an ellipsis), 4 workers, TLS yes;
    row 3: [ ] CLOUD-WEB, "web" in bold, dicomweb.example.net/dicom-web (the URL without
    its scheme), "–" for the calling AE, 4 workers, TLS yes.
    The cursor is on PACS-MAIN; the line under the table describes it in full
    ("… as TUI_SENDER · 2 workers · plain TCP · decompress lossless"), then
    "Chosen for the next send: PACS-MAIN" and "Will be saved in config.toml".
    At 120 columns the Description column and the description line show; at 80
    the TLS and Description columns and the description line are cut off.
    """
    assert snap_compare(app, terminal_size=size, run_before=destinations_scene)


@pytest.mark.parametrize("size", SIZES)
def test_confirm(snap_compare: SnapCompare, app: ShowcaseApp, size: tuple[int, int]) -> None:
    """The confirmation over the browser, after choosing PACS-MAIN and pressing s.

    A dialog "Confirm send" with the engine's plan: "Send 72 files in 2 studies
    (667.4 kB)", then "→ PACS-MAIN: MAINPACS@10.20.0.15:104 as TUI_SENDER, 2
    associations", and the
    buttons "Send (enter)" and "Back (esc)" whole, inside the dialog. Behind it
    the browser, dimmed, with both studies still marked [x].
    """
    assert snap_compare(app, terminal_size=size, run_before=confirm_scene)


@pytest.mark.parametrize("size", SIZES)
def test_dashboard(snap_compare: SnapCompare, app: ShowcaseApp, size: tuple[int, int]) -> None:
    """The dashboard mid-transfer: 2 workers, files sent, one failed, one warning.

    Subtitle "sending to PACS-MAIN". The overall bar at 63%, then "✓41 !1 ✗1 ·
    43/72 files · 422.9 kB of 667.4 kB · 2.5 MB/s · ETA 0 s · 0 s elapsed" (cut
    with "…" at 80 columns). Two workers, two lines each behind a bar in the
    primary colour: w1 sending on A1, 40/67 of the CT study, 2.3 MB/s, ✓38 !1
    ✗1, IMG0009.dcm; w2 sending on A2, 3/5 of the US study, 191.5 kB/s, ✓3 !0
    ✗0, IMG0002.dcm. The Log tab is active: the session line, each association
    with its 11 contexts (2 rejected), "A1: 2 of 11 contexts rejected: Grayscale
    Softcopy Presentation State Storage", two W retries of IMG0003.dcm, its E
    failure with 0xA700 and a W "Warning: coercion of data elements", and w2's
    "study 2019-03-02 US ABDOMEN COMPLETE: 5 files" as the last line. Lines
    longer than the pane are cut, not wrapped. Footer: Cancel, Negotiation,
    Log, Help.
    """
    assert snap_compare(app, terminal_size=size, run_before=dashboard_scene)


def test_dashboard_negotiation_tab(snap_compare: SnapCompare, app: ShowcaseApp) -> None:
    """The dashboard's Negotiation tab (n) at 120x40, same moment as test_dashboard.

    Per association (A1 w1, then A2 w2) a head line "→ MAINPACS@10.20.0.15:104
    max PDU 16384 9 accepted, 2 rejected", then one line per context: ✗ for the
    two Grayscale Softcopy Presentation State contexts with "(Abstract Syntax Not
    Supported)", ✓ for CT Image Storage, Ultrasound Multi-frame (RLE Lossless,
    Explicit, Implicit), Basic Text SR and Key Object Selection.
    """
    assert snap_compare(app, terminal_size=(120, 40), run_before=negotiation_scene)


@pytest.mark.parametrize("size", SIZES)
def test_summary(snap_compare: SnapCompare, app: ShowcaseApp, size: tuple[int, int]) -> None:
    """The summary once the staged session finished: 69 sent, 1 warning, 2 failed.

    Subtitle "session 20250314-093012-5c7a1e". Headline "Finished: 69 sent ·
    1 warning · 2 failed · 0 skipped of 72 628.8 kB in 0.3 s (2.2 MB/s,
    247 img/s)". Studies table: the CT study 67 files, 64 sent, 1 warn, 2 failed;
    the US study 5 files, 5 sent. "Failed, warnings and skipped (3)": IMG0003.dcm
    failed 0xA700 ("Refused: out of resources …"), IMG0006.dcm warning 0xB000,
    SE091_PR/IMG0001.dcm failed "-" ("the destination rejected Grayscale
    Softcopy …"). Then "Record: logs/dicom_sender_summary_….json · log
    logs/dicom_sender_….log". At 80 columns the failed/skip columns and the
    reason column are off to the right.
    """
    assert snap_compare(app, terminal_size=size, run_before=summary_adding_up)


async def summary_adding_up(pilot: Pilot[Any]) -> None:
    """The summary scene, checking that the staged numbers add up (a baseline must not
    bless a wrong sum)."""
    await summary_scene(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, SummaryScreen)
    totals = screen.summary["totals"]
    assert totals["found"] == 72
    assert totals["sent"] + totals["warning"] + totals["failed"] + totals["skipped"] == 72
    failed = {f["path"].split("/")[-2] for f in screen.summary["files"] if f["state"] == "failed"}
    assert failed == {"SE001_CT", "SE091_PR"}


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare: SnapCompare, app: ShowcaseApp, size: tuple[int, int]) -> None:
    """The help (?) over the browser: a bordered box, title "tui-sender", the one-
    paragraph description (sent, warning, failed, skipped), then "Browser" and the
    start of its key table (↑ ↓ or j k: move; → ← or l h: open / close …). The box
    fits inside the terminal at both sizes, with a scrollbar for the rest.
    """
    assert snap_compare(app, terminal_size=size, run_before=help_scene)


async def test_dashboard_log_follows_the_end(app: ShowcaseApp) -> None:
    """After the first burst of events, new log lines are still scrolled into view."""
    async with app.run_test(size=(80, 24)) as pilot:
        await dashboard_scene(pilot)
        assert app.staged is not None
        app.staged.events.put(LogMessage(message="a line after the first burst"))
        await pilot.pause(0.3)
        log = app.screen.query_one("#log-view", Log)
        at_end = log.scroll_y == log.max_scroll_y
        app.staged.release()
    assert at_end, f"log at line {log.scroll_y} of {log.max_scroll_y}"


async def test_lines_logged_behind_the_negotiation_tab_show_when_the_log_is_back(
    app: ShowcaseApp,
) -> None:
    """n, then events arrive, then g: the log shows them, scrolled to its end."""
    async with app.run_test(size=(80, 24)) as pilot:
        await dashboard_scene(pilot)
        assert app.staged is not None
        await pilot.press("n")
        for n in range(30):
            app.staged.events.put(LogMessage(message=f"logged behind the tab {n}"))
        await pilot.pause(0.3)
        await pilot.press("g")
        await pilot.pause(0.2)
        log = app.screen.query_one("#log-view", Log)
        at_end = log.scroll_y == log.max_scroll_y
        shown = [
            "".join(s.text for s in log.render_line(y))
            for y in range(log.scrollable_content_region.height)
        ]
        app.staged.release()
    assert at_end, f"log at line {log.scroll_y} of {log.max_scroll_y}"
    assert any("logged behind the tab 29" in line for line in shown), shown


async def test_the_log_has_the_keyboard_on_the_dashboard(app: ShowcaseApp) -> None:
    """Home and End scroll the log without tabbing to it first."""
    async with app.run_test(size=(80, 12)) as pilot:
        await dashboard_scene(pilot)
        assert app.staged is not None
        for n in range(30):
            app.staged.events.put(LogMessage(message=f"line {n}"))
        await pilot.pause(0.3)
        log = app.screen.query_one("#log-view", Log)
        focused = app.focused
        await pilot.press("home")
        at_home = log.scroll_y
        await pilot.press("end")
        at_end = log.scroll_y
        app.staged.release()
    assert focused is log
    assert at_home == 0
    assert at_end == log.max_scroll_y > 0


def test_the_pictures_do_not_depend_on_the_users_last_choice(tmp_path: Path) -> None:
    """The staged app neither reads nor keeps the chosen destinations: a choice remembered
    from a real session would otherwise toggle the scenes' own choice off."""
    save_chosen(["PACS-MAIN"])
    before = remembered_path().read_text()
    app = ShowcaseApp()
    assert app.chosen_destinations == []
    app.remember_chosen()
    assert remembered_path().read_text() == before
