"""A real terminal for tests: a detached tmux session on a private server.

The app runs in it as a user would run it; tests press keys by tmux name and
read the screen with ``capture-pane``. Every wait is bounded. Skipped when
tmux is missing, except with ``CI=true``, where it fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from peers.availability import in_ci

STEP_TIMEOUT = 15.0
"""Seconds any one screen may take to appear (start-up, a key's effect)."""
FINISHED = re.compile(
    r"Finished: (?P<sent>\d+) sent\W+(?P<warning>\d+) warning\W+(?P<failed>\d+) failed"
    r"\W+(?P<skipped>\d+) skipped of (?P<found>\d+)"
)
"""The summary screen's headline, with the four counts and the total."""


def tmux_or_skip() -> str:
    found = shutil.which("tmux")
    if found:
        return found
    message = "tmux is not installed (apt-get install tmux)"
    if in_ci():
        pytest.fail(f"{message}; CI=true, so this is an error, not a skip", pytrace=False)
    pytest.skip(message)


class TmuxTerminal:
    """One detached tmux session on a private server; every wait is bounded."""

    def __init__(self, tmux: str, *, columns: int = 100, rows: int = 30) -> None:
        self.tmux = tmux
        self.columns = columns
        self.rows = rows
        self.socket = f"tui-sender-test-{uuid.uuid4().hex[:8]}"
        self.session = "app"

    def _run(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            [self.tmux, "-u", "-L", self.socket, "-f", os.devnull, *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
            env=env,
        )
        return done.stdout

    def start(self, command: str, *, cwd: Path, env: dict[str, str]) -> None:
        """Start ``command`` (a shell command line) in a ``columns`` x ``rows`` window."""
        self._run(
            "new-session",
            "-d",
            "-s",
            self.session,
            "-x",
            str(self.columns),
            "-y",
            str(self.rows),
            "-c",
            str(cwd),
            command,
            env=env,
        )
        # tmux waits 500 ms after an escape for a key sequence; the app has its own wait.
        self._run("set-option", "-s", "escape-time", "10")

    def press(self, *keys: str) -> None:
        """Send keys by tmux name (``Space``, ``Escape``, ``Right``, ``Enter``, ``d``)."""
        self._run("send-keys", "-t", self.session, *keys)

    def screen(self) -> str:
        """The visible screen as text."""
        return self._run("capture-pane", "-p", "-t", self.session)

    def wait_for(
        self, pattern: str | re.Pattern[str], timeout: float = STEP_TIMEOUT
    ) -> re.Match[str]:
        """Poll the screen until ``pattern`` appears; fail with the screen if it does not."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            found = re.search(pattern, screen)
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{pattern!r} not on the screen after {timeout:g} s; the screen:\n{screen}"
                )
            time.sleep(0.1)

    def kill(self) -> None:
        """Stop the private server and with it the session's processes."""
        subprocess.run(
            [self.tmux, "-L", self.socket, "kill-server"],
            capture_output=True,
            timeout=10,
            check=False,
        )
