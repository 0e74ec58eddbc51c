"""One log pane that shows one of several documents: a tab switch without a layout.

The dashboard's log and negotiation tabs were two panes in a
``TabbedContent``; switching hid one and showed the other, and a change of
``display`` lays the whole screen out again (about 13 ms on the dashboard,
with the transfer workers waiting for the GIL, on every ``n`` and ``g``). Both
tabs are text lines in a :class:`SessionLog`, so one pane can hold both: a
switch puts the other document's lines, width and highlighter in place and
repaints. The pane keeps its size, and its scrollbars are always shown
(``overflow: scroll``), so nothing needs a layout.

A document not shown still takes lines (``write_lines(..., document=...)``),
capped at its own ``max_lines``; each remembers where its reader was and
whether it was following the end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from rich.highlighter import Highlighter
from textual.geometry import Size

from tui_sender.ui.widgets.session_log import SessionLog


@dataclass
class Document:
    """A document's lines and view state while another one is shown."""

    max_lines: int
    highlighter: Highlighter | None = None
    lines: list[str] = field(default_factory=list)
    width: int = 0
    scroll_y: float = 0
    at_end: bool = True


class TabbedLog(SessionLog):
    """A :class:`SessionLog` showing one of its named documents at a time."""

    def __init__(self, documents: dict[str, Document], *, id: str | None = None) -> None:
        if not documents:
            raise ValueError("a TabbedLog needs at least one document")
        self.documents = documents
        self.shown = next(iter(documents))
        first = documents[self.shown]
        super().__init__(max_lines=first.max_lines, id=id, auto_scroll=True)
        self._lines = first.lines
        self._use_highlighter(first.highlighter)

    def _use_highlighter(self, highlighter: Highlighter | None) -> None:
        self.highlight = highlighter is not None
        if highlighter is not None:
            self.highlighter = highlighter

    def set_highlighter(self, document: str, highlighter: Highlighter | None) -> None:
        """Colour ``document``'s lines with ``highlighter`` when they are drawn."""
        self.documents[document].highlighter = highlighter
        if document == self.shown:
            self._use_highlighter(highlighter)
            self._render_line_cache.clear()
            self.refresh()

    def write_lines(
        self, lines: Iterable[str], scroll_end: bool | None = None, *, document: str | None = None
    ) -> TabbedLog:
        """Add lines to ``document`` (the shown one by default); only the shown one repaints."""
        if document is None or document == self.shown:
            super().write_lines(lines, scroll_end)
            return self
        doc = self.documents[document]
        new = [part for line in lines for part in line.splitlines()]
        if not new:
            return self
        doc.lines.extend(new)
        del doc.lines[: max(0, len(doc.lines) - doc.max_lines)]
        doc.width = max(doc.width, self.widest(new))
        return self

    def replace(self, document: str, lines: Iterable[str]) -> None:
        """Put ``lines`` in place of what ``document`` holds."""
        if document == self.shown:
            self.clear()
            self.write_lines(lines)
            return
        doc = self.documents[document]
        doc.lines.clear()
        doc.width = 0
        self.write_lines(lines, document=document)

    def show(self, document: str) -> None:
        """Show ``document`` where the reader left it (at its end if they were following it)."""
        if document == self.shown:
            return
        current, doc = self.documents[self.shown], self.documents[document]
        current.width = self._width
        current.scroll_y = self.scroll_y
        current.at_end = self.is_vertical_scroll_end
        self.shown = document
        self._lines = doc.lines
        self._width = doc.width
        self.max_lines = doc.max_lines
        self._use_highlighter(doc.highlighter)
        self._render_line_cache.clear()
        self.virtual_size = Size(self._width, self.line_count)
        if doc.at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        else:
            self.scroll_to(y=doc.scroll_y, animate=False, immediate=True)
        self.refresh()
