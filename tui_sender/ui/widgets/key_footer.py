"""Textual's Footer, rebuilt only when the keys it shows change.

``Footer`` rebuilds every key widget whenever the screen's bindings *may*
have changed: each focus change publishes that twice, and showing a screen
once more. Each rebuild lays the screen out twice (the new keys size
themselves). On the dashboard that was three rebuilds in the transfer's
first tenth of a second, all drawing the same five keys. This footer draws
the keys when it is composed and rebuilds only when they differ.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

Keys = tuple[tuple[str, str, str, bool, str], ...]


class KeyFooter(Footer):
    """A footer that skips a rebuild when the keys it would draw are those it has."""

    def __init__(self, *, compact: bool = False) -> None:
        super().__init__(compact=compact)
        self._drawn: Keys | None = None
        # Footer draws nothing until the screen first says its bindings changed,
        # then rebuilds; the screen's keys are known at compose, so draw them then.
        self._bindings_ready = True

    def compose(self) -> ComposeResult:
        """Footer's keys, remembered so the same keys are not drawn again."""
        self._drawn = self._keys(self.screen)
        yield from super().compose()

    def _keys(self, screen: Screen[object]) -> Keys:
        """What the footer draws: the shown bindings (and the palette key's state)."""
        palette = self.app.COMMAND_PALETTE_BINDING
        return tuple(
            (binding.key, binding.description, binding.action, enabled, tooltip)
            for (_, binding, enabled, tooltip) in screen.active_bindings.values()
            if binding.show or binding.key == palette
        )

    def bindings_changed(self, screen: Screen[object]) -> None:
        """Rebuild (as Footer does) unless the same keys are already drawn."""
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            keys = self._keys(screen)
            if self._bindings_ready and keys == self._drawn:
                return
            self._drawn = keys
        super().bindings_changed(screen)
