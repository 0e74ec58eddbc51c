"""Textual's Header, with a title that is drawn when it changes, not later.

``Header`` watches the app's and the screen's title and sub-title with a
coroutine, so each change (and each of its four watches at mount) queues a
title update to run on a later turn of the loop. When the header leaves the
DOM before that turn (the app quits, a screen is dismissed just after it
set its sub-title) the queued update finds no title widget and raises
``NoMatches``, which ends the app with a traceback. CI met it once as the
summary screen closed. This header updates the title in the watcher itself,
so nothing is queued, and a header that has lost its title widget draws
nothing.
"""

from __future__ import annotations

import contextlib

from textual.css.query import NoMatches
from textual.dom import NoScreen
from textual.events import Mount
from textual.widgets import Header, Static


class ScreenHeader(Header):
    """A header whose title follows the app and screen titles at once."""

    def _on_mount(self, event: Mount) -> None:
        # Replaces Header's own mount handler (which queues the updates);
        # Widget's, the only other one, acts on scroll bars a header has not.
        event.prevent_default()
        for node, attribute in (
            (self.app, "title"),
            (self.app, "sub_title"),
            (self.screen, "title"),
            (self.screen, "sub_title"),
        ):
            self.watch(node, attribute, self._draw_title)

    def _draw_title(self) -> None:
        """Draw the title now; a header being torn down has none to draw."""
        with contextlib.suppress(NoMatches, NoScreen):
            self.query_one("HeaderTitle", Static).update(self.format_title())
