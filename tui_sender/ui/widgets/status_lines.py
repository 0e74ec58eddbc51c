"""Live status lines drawn straight from styled text runs (Textual's line API).

The dashboard redraws its progress lines ten times a second on the thread
the transfer workers share a GIL with. A ``Static`` turns every update into
Textual ``Content``, wraps it and converts it back to strips: half the cost
of a frame. This widget keeps its lines as plain ``(text, style)`` runs,
repaints only when a line changed, and builds each line's ``Strip`` when
Textual paints it.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

Run = tuple[str, Style | None]
"""A piece of text and its style (None: the widget's own)."""
Line = tuple[Run, ...]

ELLIPSIS = "…"


class StatusLines(Widget):
    """A few lines of live status, as tall as its lines, cut with an ellipsis."""

    DEFAULT_CSS = """
    StatusLines {
        height: auto;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._lines: tuple[Line, ...] = ()
        self._base: Style | None = None

    @property
    def lines(self) -> tuple[Line, ...]:
        """What is shown, as runs of text."""
        return self._lines

    @property
    def text(self) -> str:
        """What is shown, as plain text (one string per line, newline-separated)."""
        return "\n".join("".join(text for text, _ in line) for line in self._lines)

    def show(self, lines: Sequence[Line]) -> None:
        """Show these lines: a repaint if any changed, a layout if their number did."""
        new = tuple(lines)
        if new == self._lines:
            return
        relayout = len(new) != len(self._lines)
        self._lines = new
        self.refresh(layout=relayout)

    def notify_style_update(self) -> None:
        """The theme or CSS changed: take the widget's colours again."""
        super().notify_style_update()
        self._base = None

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """One row per line."""
        return len(self._lines)

    def render_line(self, y: int) -> Strip:
        """A line's runs on the widget's colours, cut to the width with an ellipsis."""
        if self._base is None:
            self._base = self.rich_style
        base = self._base
        width = self.content_size.width
        if y >= len(self._lines) or width <= 0:
            return Strip.blank(max(width, 0), base)
        strip = Strip(
            [Segment(text, base + style if style else base) for text, style in self._lines[y]]
        )
        if strip.cell_length > width:
            strip = Strip.join([strip.crop(0, width - 1), Strip([Segment(ELLIPSIS, base)])])
        return strip
