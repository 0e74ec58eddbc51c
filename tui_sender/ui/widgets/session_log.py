"""The dashboard's log pane: Textual's ``Log`` without a screen layout per write.

``Widget.virtual_size`` is a layout reactive, so every write that adds lines
to a ``Log`` lays out the whole screen again (about 10 to 20 ms on the
dashboard, twice a second, on the same GIL the transfer workers need). A log
pane's own size never changes when lines are added: only its scroll area
does. This subclass keeps the scroll area up to date itself and asks for a
layout only when a scrollbar appears or disappears (which changes the room
the lines have), so a long session costs a repaint per write, not a layout.

It also measures line widths on the spot: ``Log`` starts a thread worker per
write to do that, a thread that costs more to start than measuring a
batch of short lines does.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import Log


class SessionLog(Log):
    """A capped log pane whose growth repaints it without laying out the screen."""

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    def watch_virtual_size(self, old: Size, new: Size) -> None:
        """Update the scroll area in place (a layout follows only if a scrollbar toggles)."""
        if old == new or not self.container_size:
            return  # not laid out yet: the first layout sizes everything
        # Sets the scrollbars' extent; changing their visibility is itself a
        # layout reactive, so that rare case still lays the screen out.
        self._scroll_update(new)
        self.refresh()

    def _update_size(self, updates: int, lines: list[str]) -> None:  # type: ignore[override]
        """Widen the scroll area to the longest new line (inline: the batch is small)."""
        if lines:
            self._update_maximum_width(updates, self.widest(lines))

    @classmethod
    def widest(cls, lines: list[str]) -> int:
        """The width in cells of the widest of ``lines``, as the pane draws them."""
        return max((cell_len(cls._process_line(line)) for line in lines), default=0)
