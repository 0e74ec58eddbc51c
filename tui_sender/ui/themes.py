"""Colour themes are data files in ``themes/``; this turns them into Textual themes.

A bad file does not stop the app: every problem is collected and shown in
one notification, and the built-in default stays available.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from textual.theme import Theme

THEMES_DIR = Path(str(files("tui_sender.themes")))
"""Where the TCSS and colour themes are installed: the ``tui_sender.themes``
package, which the build maps onto the repository's top-level ``themes/``
folder (a wheel carries the files; an editable install points at the folder)."""
DEFAULT_THEME = "tui-sender-dark"
_COLOUR_KEYS = (
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)


@dataclass(frozen=True)
class LoadedThemes:
    """Themes that loaded, and what was wrong with the others."""

    themes: tuple[Theme, ...]
    problems: tuple[str, ...]


def theme_from_file(path: Path) -> Theme:
    """One theme from a TOML file; ValueError with the reason if it is not usable."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path.name}: {exc}") from exc
    name = data.get("name")
    if not isinstance(name, str) or not name or not isinstance(data.get("primary"), str):
        raise ValueError(f"{path.name}: needs 'name' and 'primary'")
    unknown = set(data) - {"name", "dark", "variables", *_COLOUR_KEYS}
    if unknown:
        raise ValueError(f"{path.name}: unknown keys {', '.join(sorted(unknown))}")
    colours = {k: str(data[k]) for k in _COLOUR_KEYS if k in data}
    primary = colours["primary"]
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ValueError(f"{path.name}: 'variables' must be a table")
    return Theme(
        name=name,
        primary=primary,
        secondary=colours.get("secondary"),
        accent=colours.get("accent"),
        warning=colours.get("warning"),
        error=colours.get("error"),
        success=colours.get("success"),
        foreground=colours.get("foreground"),
        background=colours.get("background"),
        surface=colours.get("surface"),
        panel=colours.get("panel"),
        boost=colours.get("boost"),
        dark=bool(data.get("dark", True)),
        variables={str(k): str(v) for k, v in variables.items()},
    )


def load_themes(directory: Path = THEMES_DIR) -> LoadedThemes:
    """Every ``*.toml`` theme in ``directory``."""
    themes: list[Theme] = []
    problems: list[str] = []
    for path in sorted(directory.glob("*.toml")):
        try:
            themes.append(theme_from_file(path))
        except ValueError as exc:
            problems.append(str(exc))
    return LoadedThemes(tuple(themes), tuple(problems))
