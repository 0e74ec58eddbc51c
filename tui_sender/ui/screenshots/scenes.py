"""Scenes: the keys a user presses from start-up to the screen to picture.

Each scene takes the pilot of a running
:class:`~tui_sender.ui.screenshots.showcase.ShowcaseApp` and returns when its
screen is drawn; the snapshot tests pass them as ``run_before`` and the
screenshot script runs them before exporting. Each builds on the previous
one, as a user would get there.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from textual.pilot import Pilot

from tui_sender.ui.screens.browse import BrowseScreen
from tui_sender.ui.screens.confirm import ConfirmScreen
from tui_sender.ui.screens.destinations import DestinationsScreen
from tui_sender.ui.screens.help import HelpScreen
from tui_sender.ui.screens.summary import SummaryScreen
from tui_sender.ui.screens.transfer import TransferScreen
from tui_sender.ui.screenshots.showcase import ShowcaseApp
from tui_sender.ui.widgets.study_tree import StudyTree
from tui_sender.ui.widgets.worker_board import WorkerBoard

Scene = Callable[[Pilot[Any]], Awaitable[None]]
WAIT_LIMIT = 10.0
"""Seconds a scene may wait for a screen before it gives up."""


def _showcase(pilot: Pilot[Any]) -> ShowcaseApp:
    app = pilot.app
    assert isinstance(app, ShowcaseApp)
    return app


async def until(pilot: Pilot[Any], check: Callable[[], bool], what: str) -> None:
    """Let the app run until ``check()`` holds (bounded), then let it settle.

    The settling pause lets a screen that just appeared finish mounting (the
    Header sets its title in a deferred callback).
    """
    deadline = time.monotonic() + WAIT_LIMIT
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the app did not get to: {what}")
        await pilot.pause(0.02)
    await pilot.pause()


async def browse_scene(pilot: Pilot[Any]) -> None:
    """The first patient opened and selected (both its studies), the cursor on the first."""
    app = _showcase(pilot)

    def tree_filled() -> bool:
        screen = app.screen
        return isinstance(screen, BrowseScreen) and bool(screen.query_one(StudyTree).root.children)

    await until(pilot, tree_filled, "the study tree")
    await pilot.press("right", "space", "down")


async def destinations_scene(pilot: Pilot[Any]) -> None:
    """From the browser, d: the address book, with PACS-MAIN chosen (space)."""
    app = _showcase(pilot)
    await browse_scene(pilot)
    await pilot.press("d")
    await until(pilot, lambda: isinstance(app.screen, DestinationsScreen), "the destinations")
    await pilot.press("space")


async def confirm_scene(pilot: Pilot[Any]) -> None:
    """Back to the browser (escape), s: the confirmation."""
    app = _showcase(pilot)
    await destinations_scene(pilot)
    await pilot.press("escape")
    await until(pilot, lambda: isinstance(app.screen, BrowseScreen), "the browser")
    await pilot.press("s")
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")


async def dashboard_scene(pilot: Pilot[Any]) -> None:
    """Enter: the dashboard, paused mid-transfer, every queued event drawn."""
    app = _showcase(pilot)
    await confirm_scene(pilot)
    await pilot.press("enter")

    def drawn() -> bool:
        screen = app.screen
        return (
            isinstance(screen, TransferScreen)
            and screen.session.events.empty()
            and bool(screen.session.progress)
            and len(screen.query_one(WorkerBoard).lines) == 2 * len(screen.session.progress)
            and "starting…" not in screen.query_one(WorkerBoard).text
        )

    await until(pilot, drawn, "the dashboard")
    await pilot.pause(0.1)


async def negotiation_scene(pilot: Pilot[Any]) -> None:
    """The dashboard's negotiation tab (n)."""
    await dashboard_scene(pilot)
    await pilot.press("n")


async def summary_scene(pilot: Pilot[Any]) -> None:
    """The staged session released: the summary."""
    app = _showcase(pilot)
    await dashboard_scene(pilot)
    assert app.staged is not None
    app.staged.release()
    await until(pilot, lambda: isinstance(app.screen, SummaryScreen), "the summary")


async def help_scene(pilot: Pilot[Any]) -> None:
    """The help (?) over the browser."""
    app = _showcase(pilot)
    await browse_scene(pilot)
    await pilot.press("question_mark")
    await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
