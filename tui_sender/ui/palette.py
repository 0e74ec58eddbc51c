"""Theme colours as Rich styles, for widgets that draw Rich Text.

TCSS uses theme variables directly; Rich Text (tree labels, panes) needs
concrete colours. This reads them from the current theme, so a theme switch
(or NO_COLOR, which Textual applies as a filter) still applies.
"""

from __future__ import annotations

from textual.app import App

_NAMES = ("primary", "secondary", "accent", "warning", "error", "success", "foreground")


def palette(app: App[object]) -> dict[str, str]:
    """Colour name -> Rich colour string; ``text-muted`` maps to ``dim``."""
    theme = app.current_theme
    colours = {name: str(getattr(theme, name, "") or "") for name in _NAMES}
    colours["text-muted"] = "dim"
    return {k: v for k, v in colours.items() if v}
