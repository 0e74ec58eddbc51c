"""The dashboard's live widgets: what they show, and what they cost the screen.

The dashboard redraws ten times a second while the transfer workers share
the GIL with it, so these widgets promise two things beyond showing the right
text: a log pane that grows without laying out the whole screen, and status
lines that repaint only when a line changed.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.strip import Strip
from textual.widgets import Footer, Header, Input
from textual.widgets._footer import FooterKey

from tui_sender.ui.widgets.key_footer import KeyFooter
from tui_sender.ui.widgets.negotiation_view import NegotiationHighlighter
from tui_sender.ui.widgets.session_log import SessionLog
from tui_sender.ui.widgets.status_lines import StatusLines
from tui_sender.ui.widgets.tabbed_log import Document, TabbedLog


class LogApp(App[None]):
    """A header, a ten-row log pane and a footer (like the dashboard's log tab)."""

    CSS = "SessionLog { height: 10; }"

    def compose(self) -> ComposeResult:
        yield Header()
        yield SessionLog(max_lines=1_000)
        yield Footer()


class LinesApp(App[None]):
    """A 30-column status widget."""

    CSS = "StatusLines { width: 30; }"

    def compose(self) -> ComposeResult:
        yield StatusLines()


async def test_the_log_pane_grows_and_follows_its_end_without_screen_layouts() -> None:
    app = LogApp()
    async with app.run_test(size=(60, 20)) as pilot:
        log = app.query_one(SessionLog)
        layouts: list[object] = []
        app.screen.screen_layout_refresh_signal.subscribe(log, layouts.append)
        log.write_lines([f"line {i}" for i in range(20)])
        await pilot.pause(0.1)
        first = len(layouts)

        for batch in range(5):
            log.write_lines([f"batch {batch} line {i}" for i in range(30)])
            await pilot.pause(0.05)
        assert len(layouts) == first, "growing the log laid the screen out again"

        lines = 20 + 5 * 30
        assert log.line_count == lines
        assert log.max_scroll_y == lines - log.scrollable_content_region.height
        assert log.scroll_y == log.max_scroll_y, "the pane stopped following its end"
        assert log.vertical_scrollbar.window_virtual_size == lines
        bottom = log.scrollable_content_region.height - 1
        last = "".join(segment.text for segment in log.render_line(bottom))
        assert last.startswith("batch 4 line 29")


async def test_a_line_wider_than_the_log_pane_can_be_scrolled_to() -> None:
    app = LogApp()
    async with app.run_test(size=(60, 20)) as pilot:
        log = app.query_one(SessionLog)
        log.write_lines(["short", "x" * 200])
        await pilot.pause(0.1)
        assert log.virtual_size.width == 200
        assert log.max_scroll_x == 200 - log.scrollable_content_region.width
        assert log.horizontal_scrollbar.window_virtual_size == 200


class CountingLines(StatusLines):
    """Counts the rows Textual asks it to paint."""

    painted = 0

    def render_line(self, y: int) -> Strip:
        CountingLines.painted += 1
        return super().render_line(y)


class CountingApp(App[None]):
    CSS = "CountingLines { width: 30; }"

    def compose(self) -> ComposeResult:
        yield CountingLines()


async def test_status_lines_cut_long_lines_with_an_ellipsis_and_take_their_height() -> None:
    app = LinesApp()
    async with app.run_test(size=(60, 10)) as pilot:
        lines = app.query_one(StatusLines)
        lines.show(((("short", None),), (("a" * 20, Style(bold=True)), ("b" * 20, None))))
        await pilot.pause(0.05)
        assert lines.size.height == 2
        rows = ["".join(s.text for s in lines.render_line(y)) for y in range(2)]
        assert rows[0].rstrip() == "short"
        assert rows[1] == "a" * 20 + "b" * 9 + "…"
        assert lines.text == "short\n" + "a" * 20 + "b" * 20

        lines.show(((("x", None),),) * 3)
        await pilot.pause(0.05)
        assert lines.size.height == 3


async def test_status_lines_repaint_only_when_a_line_changed() -> None:
    app = CountingApp()
    async with app.run_test(size=(60, 10)) as pilot:
        widget = app.query_one(CountingLines)
        widget.show(((("w1 sending 10/20", None),), (("PACS · IMG1", None),)))
        await pilot.pause(0.05)
        before = CountingLines.painted
        for _ in range(5):
            widget.show(((("w1 sending 10/20", None),), (("PACS · IMG1", None),)))
            await pilot.pause(0.02)
        assert CountingLines.painted == before, "unchanged lines were painted again"
        widget.show(((("w1 sending 11/20", None),), (("PACS · IMG2", None),)))
        await pilot.pause(0.05)
        assert CountingLines.painted > before


class FooterApp(App[None]):
    """Two inputs to move focus between, and a key that can be hidden."""

    BINDINGS = [("f2", "extra", "Extra"), ("f3", "other", "Other")]
    show_extra = True

    def compose(self) -> ComposeResult:
        yield Input(id="one")
        yield Input(id="two")
        yield KeyFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.show_extra if action == "extra" else True


def _footer_keys(app: App[None]) -> list[FooterKey]:
    return list(app.query_one(KeyFooter).query(FooterKey))


async def test_the_footer_draws_its_keys_at_once_and_keeps_them_while_they_stay() -> None:
    app = FooterApp()
    async with app.run_test(size=(80, 10)) as pilot:
        await pilot.pause(0.05)
        first = _footer_keys(app)
        assert {k.description for k in first} >= {"Extra", "Other"}
        for target in ("#two", "#one", "#two"):
            app.query_one(target, Input).focus()
            await pilot.pause(0.05)
        assert _footer_keys(app) == first, "the same keys were rebuilt on a focus change"

        app.show_extra = False
        app.refresh_bindings()
        await pilot.pause(0.1)
        shown = {k.description for k in _footer_keys(app)}
    assert "Other" in shown
    assert "Extra" not in shown, "a key that went away is still drawn"


def test_negotiation_lines_colour_what_was_accepted_and_what_was_refused() -> None:
    good, bad = Style(color="green"), Style(color="red")
    highlighter = NegotiationHighlighter({"success": good, "error": bad})

    def styled(line: str) -> dict[str, Style]:
        text = Text(line)
        highlighter.highlight(text)
        return {line[s.start : s.end]: Style.parse(str(s.style)) for s in text.spans}

    heading = styled("A7 w2 → PACS@127.0.0.1:104  max PDU 16384  9 accepted, 2 rejected")
    assert heading["A7"].bold
    assert heading["9 accepted"] == good and heading["2 rejected"] == bad
    refused = styled("   ✗ MR Image Storage  JPEG Baseline  (Abstract Syntax Not Supported)")
    assert refused["✗"] == bad
    assert refused["  JPEG Baseline"].dim
    assert refused["  (Abstract Syntax Not Supported)"] == bad
    assert styled("   ✓ CT Image Storage  Explicit VR Little Endian")["✓"] == good


class TabbedLogApp(App[None]):
    """A ten-row pane with two documents: a log and a highlighted one."""

    CSS = "TabbedLog { height: 10; }"

    def compose(self) -> ComposeResult:
        yield Header()
        yield TabbedLog({"log": Document(1_000), "other": Document(50)})
        yield Footer()


def _shown(log: SessionLog) -> list[str]:
    rows = log.scrollable_content_region.height
    return ["".join(s.text for s in log.render_line(y)).rstrip() for y in range(rows)]


async def test_a_tabbed_log_switches_documents_without_a_screen_layout() -> None:
    app = TabbedLogApp()
    async with app.run_test(size=(60, 20)) as pilot:
        view = app.query_one(TabbedLog)
        view.write_lines([f"log {i}" for i in range(30)])
        view.write_lines([f"other {i}" for i in range(5)], document="other")
        await pilot.pause(0.1)
        assert _shown(view)[-1] == "log 29"  # the hidden document's lines stay hidden
        layouts: list[object] = []
        app.screen.screen_layout_refresh_signal.subscribe(view, layouts.append)

        view.show("other")
        await pilot.pause(0.05)
        other = _shown(view)
        view.write_lines(["log 30"], document="log")  # written while hidden
        view.show("log")
        await pilot.pause(0.05)
        back = _shown(view)

        assert layouts == [], "a document switch laid the screen out"
        assert other[:5] == [f"other {i}" for i in range(5)]
        assert view.virtual_size.height == 31
        assert back[-1] == "log 30", "the log did not come back at its end"


async def test_each_document_keeps_its_place_its_cap_and_its_highlighter() -> None:
    app = TabbedLogApp()
    async with app.run_test(size=(60, 20)) as pilot:
        view = app.query_one(TabbedLog)
        view.write_lines([f"log {i}" for i in range(30)])
        view.write_lines([f"other {i}" for i in range(80)], document="other")
        await pilot.pause(0.05)
        view.scroll_to(y=3, animate=False, immediate=True)  # the reader scrolls back
        good = Style(color="green")
        view.set_highlighter("other", NegotiationHighlighter({"success": good}))

        view.show("other")
        await pilot.pause(0.05)
        other_lines = list(view.lines)
        view.show("log")
        await pilot.pause(0.05)

        assert other_lines == [f"other {i}" for i in range(30, 80)]  # capped at 50
        assert view.scroll_y == 3, "the log lost the reader's place"
        assert not view.highlight
        view.show("other")
        assert view.highlight and isinstance(view.highlighter, NegotiationHighlighter)


async def test_replacing_a_hidden_document_leaves_the_shown_one_alone() -> None:
    app = TabbedLogApp()
    async with app.run_test(size=(60, 20)) as pilot:
        view = app.query_one(TabbedLog)
        view.write_lines(["a", "b"])
        view.write_lines(["x"], document="other")
        view.replace("other", ["y", "z"])
        view.replace("log", ["c"])
        await pilot.pause(0.05)
        assert list(view.lines) == ["c"]
        view.show("other")
        assert list(view.lines) == ["y", "z"]
