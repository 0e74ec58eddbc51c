"""The destinations the user chose last time, kept between runs of the app.

An administrator who sends to the same PACS every day should not have to
choose it every morning: the app chooses again what was chosen last time.
The names live in the user's state folder (beside the stored-instance
index), not in the config file, which stays the address book the user
edits. Unreadable or stale state is ignored: it is a convenience, never a
reason not to start.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from tui_sender.core.base.private_files import write_private_json
from tui_sender.core.config.state import state_dir

FILE_NAME = "chosen-destinations.json"


def remembered_path() -> Path:
    """Where the last choice is kept."""
    return state_dir() / FILE_NAME


def load_chosen(path: Path | None = None) -> list[str]:
    """The names chosen last time (empty if none were kept or the file is unusable)."""
    try:
        document = json.loads((path or remembered_path()).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return []
    names = document.get("chosen") if isinstance(document, dict) else None
    if not isinstance(names, list):
        return []
    return [n for n in names if isinstance(n, str)]


def save_chosen(names: Sequence[str], path: Path | None = None) -> None:
    """Keep ``names`` as the last choice (OSError if the state folder is not writable)."""
    target = path or remembered_path()
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private_json(target, {"chosen": list(names)})


def initial_choice(
    book_names: Sequence[str], asked: Sequence[str], remembered: Sequence[str]
) -> tuple[list[str], str]:
    """What the app chooses at start, and why (for the status line).

    Names asked for on the command line win; otherwise the address book's only
    destination; otherwise what was chosen last time and still exists.
    """
    if asked:
        return [n for n in asked if n in book_names], ""
    if len(book_names) == 1:
        return [book_names[0]], "the only destination"
    still_there = [n for n in remembered if n in book_names]
    return still_there, "chosen last time" if still_there else ""
