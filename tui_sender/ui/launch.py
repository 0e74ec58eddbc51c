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
    chosen: Sequence[str] = (),
    logs_dir: str | None = None,
) -> int:
    """Open the app on ``paths`` with ``chosen`` destinations; return the exit code."""
    try:
        book = AddressBook.load(config)
        for name in chosen:
            book.get(name)  # a clear error for an unknown name, before the screen opens
    except ConfigError as exc:
        print(f"tui-sender: {exc}", file=sys.stderr)
        return 2
    from pathlib import Path

    from tui_sender.ui.app import SenderApp

    app = SenderApp(
        paths,
        book=book,
        demo_destination=demo_destination,
        chosen=chosen,
        logs_dir=Path(logs_dir) if logs_dir else None,
    )
    result = app.run()
    return result if isinstance(result, int) else 0
