"""Opening the terminal app from the command line, and what is left when it ends.

When the app dies on an exception, Textual prints the traceback after leaving
the alternate screen and sets ``return_code`` to 1. ``run_app`` then writes
the traceback to ``<logs>/tui-sender-crash-<time>.txt`` (owner-only), says
where on stderr, and returns non-zero, so scripts and users can tell a crash
from a normal quit.

A session still sending when the app ends (a crash, or ctrl+q mid-send) is
stopped as if cancelled: files in flight finish (the session's grace
period), the rest are recorded as cancelled, and its summary and the end of
its journal are written; ``tui-sender send --resume JOURNAL`` then sends what
the destination does not hold. Every outcome is in the journal as it happens
(flushed line by line), so even a session that does not stop in time loses
nothing written: the process leaves after :data:`STOP_WITHIN` seconds
whatever its threads are doing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import platform
import shlex
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_sender import __version__
from tui_sender.core.config.destinations import AddressBook, Destination
from tui_sender.core.config.settings import ConfigError

if TYPE_CHECKING:
    from textual.app import App
    from textual.screen import Screen

    from tui_sender.core.engine.session import Session
    from tui_sender.ui.screens.transfer import TransferScreen

STOP_WITHIN = 10.0
"""Seconds the app's threads (a session stopping, a scan) get to end after the app has."""
CRASH_PREFIX = "tui-sender-crash-"


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
    from tui_sender.ui.app import SenderApp

    app = SenderApp(
        paths,
        book=book,
        demo_destination=demo_destination,
        chosen=chosen,
        logs_dir=Path(logs_dir) if logs_dir else None,
    )
    before = set(threading.enumerate())
    sessions = _Dashboards(app)
    result: object = None
    raised: BaseException | None = None
    try:
        result = _run(app)
    except Exception as exc:  # the app could not even run its loop
        raised = exc
    error = raised or app_exception(app)
    code = app.return_code or (1 if error is not None else 0)

    stopping = sessions.stop_unfinished()
    crash_file: Path | str | None = None
    if code:
        crash_file = _write_crash_report(app.logs_dir, code, error, stopping)
    left_running = _wait_for_threads(before, time.monotonic() + STOP_WITHIN)

    if code:
        where = (
            f"traceback written to {crash_file}"
            if isinstance(crash_file, Path)
            else f"the traceback could not be written ({crash_file})"
        )
        print(f"tui-sender: the app stopped on an error; {where}", file=sys.stderr)
    for session in stopping:
        line = _resume_line(session, config, demo=demo_destination is not None, crashed=bool(code))
        if line:
            print(line, file=sys.stderr)
    if not code:
        code = result if isinstance(result, int) else 0
    if left_running:
        # Threads Python would wait for at exit (a session that did not stop):
        # leave without them, so a crash never hangs the terminal.
        names = ", ".join(t.name for t in left_running)
        print(
            f"tui-sender: leaving {names} behind after {STOP_WITHIN:g} s; "
            "the journal holds every outcome written so far",
            file=sys.stderr,
        )
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code or 1)
    return code


def _run(app: App[Any]) -> object:
    """Run the app on a loop of our own and close it without waiting for worker threads.

    ``asyncio.run`` (what ``App.run`` uses without a loop) joins the default
    executor on the way out, with no time limit: a session still sending in a
    thread worker would keep the app from returning until it had sent
    everything. Closing the loop shuts the executor down without waiting;
    :func:`_wait_for_threads` then waits, bounded.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return app.run(loop=loop)
    finally:
        try:
            pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def app_exception(app: App[Any]) -> BaseException | None:
    """The exception the app died on, if any.

    Textual keeps it in the private ``App._exception`` (it re-raises it under
    ``run_test``); no public attribute holds it, and ``return_code`` says only
    that there was one. This is the one place that reads it.
    """
    error = getattr(app, "_exception", None)
    return error if isinstance(error, BaseException) else None


def format_error(error: BaseException | None) -> str:
    """The full traceback, with the worker's own for a failed worker."""
    if error is None:
        return "No exception was recorded (the app ended with a non-zero return code).\n"
    from textual.worker import WorkerFailed

    text = "".join(traceback.format_exception(error))
    if isinstance(error, WorkerFailed) and isinstance(error.error, BaseException):
        # Textual builds WorkerFailed without raising it: the traceback that
        # matters is the worker's.
        text = "".join(traceback.format_exception(error.error)) + "\nReported as: " + text
    return text


@dataclass(frozen=True)
class Stopped:
    """A session that was still sending when the app ended."""

    session_id: str
    journal: Path | None
    """None when the session had not started writing its record."""


class _Dashboards:
    """The transfer screens the app opens, to stop their sessions when it ends.

    Subscribed to Textual's public ``screen_change_signal`` once the app runs
    (a signal takes only running subscribers); weak, so a finished session's
    screen is freed when the app lets it go.
    """

    def __init__(self, app: App[Any]) -> None:
        self._screens: weakref.WeakSet[TransferScreen] = weakref.WeakSet()
        app.call_later(self._subscribe, app)

    def _subscribe(self, app: App[Any]) -> None:
        app.screen_change_signal.subscribe(app, self._changed, immediate=True)

    def _changed(self, screen: Screen[Any]) -> None:
        from tui_sender.ui.screens.transfer import TransferScreen

        if isinstance(screen, TransferScreen):
            self._screens.add(screen)

    def stop_unfinished(self) -> list[Session]:
        """Cancel every session whose screen did not see it finish; return them."""
        from tui_sender.core.engine.session import Session

        stopping = []
        for screen in list(self._screens):
            session = screen.session
            if screen.result is None and isinstance(session, Session):
                session.cancel()  # before it started, too: it then sends nothing
                stopping.append(session)
        return stopping


def _interrupted_journal(session: Session) -> Path | None:
    """The session's journal, if it shows the session did not finish on its own."""
    from tui_sender.core.record.journal import read_journal

    if session.files is None or not session.files.journal.exists():
        return None
    path = session.files.journal
    end = read_journal(path).end
    if end is not None and not end.get("cancelled"):
        return None  # it had finished; the screen had not heard yet
    return path


def resume_command(journal: Path, config: str | None) -> str:
    """The command that sends what a session did not get stored, from this folder."""
    parts = ["tui-sender", "send", "--resume", str(journal)]
    if journal.parent.resolve() != Path("logs").resolve():
        parts += ["--logs-dir", str(journal.parent)]
    if config:
        parts += ["--config", config]
    return shlex.join(parts)


def _resume_line(session: Session, config: str | None, *, demo: bool, crashed: bool) -> str:
    journal = _interrupted_journal(session)
    if journal is None:
        return ""
    said = f"tui-sender: session {session.session_id} was sending when the app " + (
        "stopped" if crashed else "quit"
    )
    if demo:  # the demo's PACS ends with the demo: nothing to resume to
        return f"{said}; its journal: {journal}"
    return f"{said}; resume with: {resume_command(journal, config)}"


def _wait_for_threads(before: set[threading.Thread], deadline: float) -> list[threading.Thread]:
    """Wait until the threads started while the app ran that Python would wait for have ended.

    Only non-daemon threads keep the process from exiting: Textual's thread
    workers (a session's own thread, the scan); a session's workers and
    associations are daemon threads it joins itself. Returns those still
    running at ``deadline``.
    """
    me = threading.current_thread()
    waiting = [t for t in threading.enumerate() if t not in before and t is not me and not t.daemon]
    for thread in waiting:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [t for t in waiting if t.is_alive()]


def _write_crash_report(
    logs_dir: Path, code: int, error: BaseException | None, stopping: list[Session]
) -> Path | str:
    """Write the crash file; its path, or why it could not be written."""
    from tui_sender.core.base.private_files import atomic_private, prepare_logs_dir

    now = dt.datetime.now().astimezone()
    try:
        folder = prepare_logs_dir(logs_dir)
        stem = f"{CRASH_PREFIX}{now:%Y%m%d-%H%M%S}"
        path = folder / f"{stem}.txt"
        n = 1
        while path.exists():
            n += 1
            path = folder / f"{stem}-{n}.txt"
        with atomic_private(path) as f:
            f.write(crash_report(now, code, error, stopping))
    except OSError as exc:
        return str(exc)
    return path


def crash_report(
    when: dt.datetime, code: int, error: BaseException | None, stopping: Sequence[Session]
) -> str:
    """The crash file's text: what ran, where, then the traceback."""
    import textual

    lines = [
        "tui-sender crash report",
        f"time: {when.isoformat(timespec='seconds')}",
        f"version: tui-sender {__version__}",
        f"python: {platform.python_implementation()} {platform.python_version()} "
        f"on {platform.platform()}",
        f"textual: {getattr(textual, '__version__', 'unknown')}",
        f"argv: {shlex.join(sys.argv)}",
        f"cwd: {os.getcwd()}",
        f"return code: {code}",
    ]
    for session in stopping:
        journal = session.files.journal if session.files is not None else None
        lines.append(
            f"session sending: {session.session_id}"
            + (f" (journal {journal})" if journal is not None else " (not started)")
        )
    return "\n".join(lines) + "\n\n" + format_error(error)
