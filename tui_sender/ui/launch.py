"""Opening the terminal app from the command line."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from tui_sender.core.destinations import AddressBook, Destination
from tui_sender.core.settings import ConfigError


def run_app(
    paths: Sequence[str],
    *,
    config: str | None = None,
    demo_destination: Destination | None = None,
) -> int:
    """Open the app on ``paths``; return the exit code."""
    try:
        book = AddressBook.load(config)
    except ConfigError as exc:
        print(f"tui-sender: {exc}", file=sys.stderr)
        return 2
    from tui_sender.ui.app import SenderApp

    app = SenderApp(paths, book=book, demo_destination=demo_destination)
    result = app.run()
    return result if isinstance(result, int) else 0
