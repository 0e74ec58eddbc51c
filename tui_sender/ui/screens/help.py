"""``?``: the keys and concepts, from ``help.md``."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP_FILE = Path(__file__).resolve().parents[1] / "help.md"


class HelpScreen(ModalScreen[None]):
    """Scrollable help; escape or ? closes it."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Close"),
        Binding("question_mark", "app.pop_screen", "Close", show=False),
        Binding("q", "app.pop_screen", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-scroll", classes="dialog"):
            yield Markdown(HELP_FILE.read_text(encoding="utf-8"))
