"""Opening the terminal app from the command line."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def run_app(paths: Sequence[str], *, config: str | None = None) -> int:
    """Open the app on ``paths``; return the exit code."""
    print(
        "tui-sender: the terminal app is not built yet; use 'tui-sender send' or "
        "'tui-sender scan' (see --help)",
        file=sys.stderr,
    )
    return 2
