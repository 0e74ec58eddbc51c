"""The header draws a title change at once, and one that leaves the DOM stays quiet."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Header, Static

from tui_sender.ui.widgets.screen_header import ScreenHeader


class Fleeting(Screen[None]):
    """A screen that names itself as its header is taken apart."""

    def __init__(self, header: type[Header]) -> None:
        super().__init__()
        self.header = header

    def compose(self) -> ComposeResult:
        yield self.header()

    async def on_mount(self) -> None:
        # The order of a teardown: the title changes, then the header's
        # children go before the loop turns again.
        self.sub_title = "session 1"
        await self.query_one(Header).remove_children()


class Host(App[None]):
    def __init__(self, header: type[Header]) -> None:
        super().__init__()
        self.header = header

    def compose(self) -> ComposeResult:
        yield self.header()


async def test_the_title_follows_the_screen_sub_title_at_once() -> None:
    app = Host(ScreenHeader)
    app.title = "tui-sender"
    async with app.run_test() as pilot:
        app.screen.sub_title = "3 studies"
        title = app.screen.query_one("HeaderTitle", Static)
        assert "tui-sender" in str(title.content) and "3 studies" in str(title.content)
        await pilot.pause()


async def test_a_title_change_as_the_header_is_taken_apart_does_not_end_the_app() -> None:
    app = Host(ScreenHeader)
    async with app.run_test() as pilot:
        fleeting = Fleeting(ScreenHeader)
        await app.push_screen(fleeting)
        await pilot.pause(0.2)
        assert app.screen is fleeting  # still running: Textual's Header raised NoMatches here
        assert not fleeting.query("HeaderTitle")
