"""Where tui-sender keeps what it remembers between sessions.

The stored index and the last chosen destinations live here: a folder per
user (``$XDG_STATE_HOME/tui-sender``), or ``$TUI_SENDER_STATE_DIR`` for
tests and for gateways that keep state on another volume.
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_ENV = "TUI_SENDER_STATE_DIR"


def state_dir() -> Path:
    """Where tui-sender keeps state between sessions."""
    override = os.environ.get(STATE_ENV)
    if override:
        return Path(override)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "tui-sender"
