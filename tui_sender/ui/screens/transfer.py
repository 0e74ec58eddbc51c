"""The dashboard while a session runs.

The session runs in a thread worker; this screen drains its event queue and
polls its per-worker counters on one timer (10 Hz), so the screen costs the
same whether files are 2 KB or 2 GB, and a burst of events never becomes a
burst of redraws. Panes: overall progress, one pane per worker, one line
per verified destination (its proof of delivery after the last file), the
negotiation of every association, and the session log filtered by level.
"""

from __future__ import annotations

import logging
import os
import queue
import time
from collections import deque
from collections.abc import Mapping

from rich.style import Style
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Tab, Tabs
from textual.worker import Worker, WorkerState

from tui_sender.core.base import wording
from tui_sender.core.engine.session import RunningSession, SessionResult
from tui_sender.core.model.catalog import Study
from tui_sender.core.model.events import (
    AssociationClosed,
    AssociationFailed,
    AssociationOpened,
    Event,
    FileDone,
    FileRetrying,
    LogMessage,
    SessionFinished,
    StudyFinished,
    StudyStarted,
)
from tui_sender.core.model.outcomes import FileState
from tui_sender.core.model.recorded_path import display_path
from tui_sender.core.record.session_log import describe
from tui_sender.ui.palette import palette
from tui_sender.ui.screens.confirm import YesNoScreen
from tui_sender.ui.widgets.key_footer import KeyFooter
from tui_sender.ui.widgets.negotiation_view import NegotiationHighlighter, negotiation_lines
from tui_sender.ui.widgets.screen_header import ScreenHeader
from tui_sender.ui.widgets.status_lines import Line, StatusLines
from tui_sender.ui.widgets.study_tree import format_date
from tui_sender.ui.widgets.tabbed_log import Document, TabbedLog
from tui_sender.ui.widgets.verification_board import (
    VERIFICATION_EVENTS,
    VerificationBoard,
    verification_level,
)
from tui_sender.ui.widgets.worker_board import RateMeter, WorkerBoard

TICK = 1 / 10
LOG_EVERY = 1.0
"""Seconds between writes to the log pane: each write scrolls and repaints the whole
pane (in a send of small files, as much drawing as all the progress lines' frames
between two writes); log lines can wait a second, progress cannot."""
SETTLE = 0.05
SETTLE_MAX = 0.3
"""The transfer starts after SETTLE s without a layout, or SETTLE_MAX s after the screen."""
MAX_EVENTS_PER_TICK = 20_000
LOG_LINES = 5_000
NEGOTIATION_LINES = 2_000
LEVELS = {"1": logging.ERROR, "2": logging.WARNING, "3": logging.INFO, "4": logging.DEBUG}


FILE_LEVELS = {FileState.FAILED: logging.ERROR, FileState.WARNING: logging.WARNING}
"""The log level of a file's line by its state (others: DEBUG)."""


def _level_of(event: Event) -> int:
    if isinstance(event, LogMessage):
        return event.level
    if isinstance(event, FileDone):
        return FILE_LEVELS.get(event.outcome.state, logging.DEBUG)
    if isinstance(event, AssociationFailed | FileRetrying):
        return logging.WARNING
    if isinstance(event, VERIFICATION_EVENTS):
        return verification_level(event)
    return logging.INFO


def web_connection_line(event: Event, url: str) -> str | None:
    """A DICOMweb worker's connection event in HTTP words (None: not such an event).

    The engine calls a worker's kept-alive HTTP connection its "association";
    nothing is negotiated on it, so the pane says "connection" and no contexts.
    """
    if isinstance(event, AssociationOpened):
        return (
            f"[{event.worker}] connection {event.association_id} to {url} open, "
            f"{event.seconds * 1000:.1f} ms"
        )
    if isinstance(event, AssociationFailed):
        retry = " (will retry)" if event.retrying else ""
        return f"[{event.worker}] connection attempt {event.attempt} failed{retry}: {event.reason}"
    if isinstance(event, AssociationClosed):
        how = "closed" if event.released else "dropped"
        note = f": {event.note}" if event.note else ""
        return (
            f"[{event.worker}] connection {event.association_id} {how} after {event.files} "
            f"files, {event.bytes} bytes, {event.seconds:.2f} s{note}"
        )
    return None


def pane_line(
    event: Event,
    studies: Mapping[str, Study] | None = None,
    web: Mapping[str, str] | None = None,
) -> str | None:
    """The log pane's line: like the session log, but what matters first.

    File lines name the file by its base name, then the status and the
    reason, so a failure still reads on an 80-column terminal (the session
    log and the summary keep the full path). ``web`` maps the DICOMweb
    destinations' names to their URLs: their connections are worded as such.
    """
    if web and isinstance(event, AssociationOpened | AssociationFailed | AssociationClosed):
        url = web.get(event.destination)
        if url is not None:
            return web_connection_line(event, url)
    if isinstance(event, FileDone):
        o = event.outcome
        symbol = {"sent": "✓", "warning": "!", "failed": "✗"}.get(o.state.value, "-")
        status = f" 0x{o.status:04X}" if o.status is not None else ""
        reason = f": {o.reason}" if o.reason else ""
        name = os.path.basename(display_path(o.path))
        return f"[{event.worker}] {symbol}{status} {name}{reason}"
    if isinstance(event, FileRetrying):
        name = os.path.basename(display_path(event.path))
        return f"[{event.worker}] retry {event.attempt} {name}: {event.reason}"
    if isinstance(event, StudyStarted | StudyFinished) and studies is not None:
        study = studies.get(event.study_uid)
        if study is not None:
            what = f"{format_date(study.date)} {study.description or '(no description)'}"
            if isinstance(event, StudyStarted):
                return f"[{event.worker}] study {what}: {event.files} files"
            return (
                f"[{event.worker}] study {what} done: {event.sent} sent, {event.warning} "
                f"warning, {event.failed} failed"
            )
    text = describe(event)
    if isinstance(event, AssociationOpened) and text:
        # The contexts themselves are in the negotiation tab.
        return text.splitlines()[0] + " (n: negotiation)"
    return text


def _format_line(
    level: int,
    event: Event,
    studies: Mapping[str, Study] | None = None,
    web: Mapping[str, str] | None = None,
) -> str | None:
    """A log pane line with its level letter, or None for events without one."""
    text = pane_line(event, studies, web)
    return None if text is None else f"{logging.getLevelName(level)[0]} {text}"


class TransferScreen(Screen[None]):
    """Live view of one session."""

    AUTO_FOCUS = "#log-view"
    """Arrows, Page Up/Down, Home and End scroll the log from the start."""

    BINDINGS = [
        Binding("c", "cancel", "Cancel", tooltip="Stop the transfer (asks first)"),
        Binding("q", "cancel", "Cancel", show=False),
        Binding("n", "show_tab('negotiation')", "Negotiation"),
        Binding("g", "show_tab('log')", "Log"),
        Binding("1", "level('1')", "Errors", show=False),
        Binding("2", "level('2')", "Warnings", show=False),
        Binding("3", "level('3')", "Info", show=False),
        Binding("4", "level('4')", "All", show=False),
        Binding("enter", "summary", "Summary", show=False),
    ]

    def __init__(self, session: RunningSession) -> None:
        super().__init__()
        self.session = session
        self.result: SessionResult | None = None
        self.files_total = session.file_count * len(session.targets)
        self.bytes_total = session.byte_count * len(session.targets)
        self.counts = {state: 0 for state in FileState}
        self._log_lines: deque[tuple[int, Event]] = deque(maxlen=LOG_LINES)
        self._log_level = logging.INFO
        self._pending_lines: list[str] = []
        self._log_written = 0.0
        self._meter = RateMeter()
        self._started = time.monotonic()
        self._workers_shown = 0
        self._session_started = False
        self._finished_event: SessionFinished | None = None
        self._styles: dict[str, Style] = {}
        self.sub_title = "sending to " + ", ".join(t.name for t in session.targets)
        self._studies: Mapping[str, Study] = session.catalog.studies
        self._web: dict[str, str] = {
            t.name: t.web.url for t in session.targets if t.web is not None
        }
        """The DICOMweb destinations' URLs by name: their workers hold HTTP connections."""

    def compose(self) -> ComposeResult:
        yield ScreenHeader()
        # Two widgets carry everything that changes ten times a second: each
        # repaint is one region, drawn from prepared runs of text.
        yield StatusLines(id="overall")
        with VerticalScroll(id="workers"):
            yield WorkerBoard(expected=self.session.expected_workers, id="worker-lines")
        # One line per verified destination, there from the start so that the
        # verification phase after the last file repaints it, never lays out.
        yield VerificationBoard(self.session.targets, id="verification")
        # The log and the negotiation are two documents of one pane: a tab
        # switch repaints it instead of laying the screen out. In their own
        # container, they are not drawn again with each progress frame (Textual
        # renders every child of the screen for any change on it; a container's
        # children only for changes inside the container).
        with Vertical(id="panes"):
            yield Tabs(Tab("Log", id="log"), Tab("Negotiation", id="negotiation"))
            yield TabbedLog(
                {"log": Document(LOG_LINES), "negotiation": Document(NEGOTIATION_LINES)},
                id="log-view",
            )
        yield KeyFooter()

    def on_mount(self) -> None:
        self._styles = {name: Style.parse(colour) for name, colour in palette(self.app).items()}
        self.query_one(TabbedLog).set_highlighter(
            "negotiation", NegotiationHighlighter(self._styles)
        )
        # The transfer starts once the dashboard is drawn and its layout has
        # settled (no layout for SETTLE s; SETTLE_MAX at the latest): the few
        # layout passes a new screen takes would otherwise compete with the
        # first second of the transfer for the GIL.
        self._settled = self.set_timer(SETTLE, self._start_session)
        self.set_timer(SETTLE_MAX, self._start_session)
        self.screen_layout_refresh_signal.subscribe(self, self._laid_out)
        self.set_interval(TICK, self._tick)

    def _laid_out(self, _screen: Screen[object]) -> None:
        if not self._session_started:
            self._settled.reset()

    def _start_session(self) -> None:
        if self._session_started:
            return
        self._session_started = True
        self.screen_layout_refresh_signal.unsubscribe(self)
        self._run_session()

    @work(thread=True, group="send", exit_on_error=False, name="session")
    def _run_session(self) -> SessionResult:
        return self.session.run()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name != "session":
            return
        if event.state is WorkerState.SUCCESS and isinstance(event.worker.result, SessionResult):
            self.result = event.worker.result
            self._tick()
            self.action_summary()
        elif event.state is WorkerState.ERROR:
            self.notify(f"The session stopped: {event.worker.error}", severity="error")

    # -- the timer -----------------------------------------------------------------

    def _tick(self) -> None:
        new_lines = self._pending_lines
        for _ in range(MAX_EVENTS_PER_TICK):
            try:
                event = self.session.events.get_nowait()
            except queue.Empty:
                break
            self._on_event(event, new_lines)
        self._flush_log()
        self._draw_workers()
        self.query_one(VerificationBoard).tick(time.monotonic(), self._styles)
        self._draw_overall()

    def _flush_log(self, force: bool = False) -> None:
        """Write the buffered lines to the log document every LOG_EVERY s (``force``: now)."""
        now = time.monotonic()
        if not self._pending_lines or (not force and now - self._log_written < LOG_EVERY):
            return
        self.query_one(TabbedLog).write_lines(self._pending_lines, document="log")
        self._pending_lines = []
        self._log_written = now

    def _on_event(self, event: Event, new_lines: list[str]) -> None:
        if type(event) is FileDone:
            # Most events, thousands a second with small files: the short way.
            state = event.outcome.state
            self.counts[state] += 1
            level = FILE_LEVELS.get(state, logging.DEBUG)
        else:
            if isinstance(event, AssociationOpened):
                self.query_one(TabbedLog).write_lines(
                    negotiation_lines(event, self._web.get(event.destination)),
                    document="negotiation",
                )
            elif isinstance(event, VERIFICATION_EVENTS):
                self.query_one(VerificationBoard).take(event, time.monotonic())
            elif isinstance(event, SessionFinished):
                self._finished_event = event
                self.query_one(VerificationBoard).session_ended(event.cancelled)
            level = _level_of(event)
        # Kept as events and formatted only when shown: most are per-file lines
        # below the level on screen, and formatting them all cost the senders.
        self._log_lines.append((level, event))
        if level >= self._log_level:
            line = _format_line(level, event, self._studies, self._web)
            if line is not None:
                new_lines.append(line)

    def _draw_workers(self) -> None:
        workers = self.session.progress
        self.query_one(WorkerBoard).tick(workers, self._styles)
        if len(workers) != self._workers_shown:
            # New workers shrink the log; keep it following its end.
            self._workers_shown = len(workers)
            log = self.query_one(TabbedLog)
            self.call_after_refresh(log.scroll_end, animate=False)

    def _draw_overall(self) -> None:
        workers = self.session.progress
        done_bytes = sum(
            w.bytes_done + (min(w.current_bytes_done, w.current_bytes) if w.current_path else 0)
            for w in workers
        )
        rate = self._meter.add(done_bytes)
        done_files = sum(
            self.counts[s] for s in (FileState.SENT, FileState.WARNING, FileState.FAILED)
        )
        remaining = max(self.bytes_total - done_bytes, 0)
        eta = f"{remaining / rate:,.0f} s" if rate > 0 and self.result is None else "--"
        elapsed = time.monotonic() - self._started
        styles = self._styles
        overall = self.query_one("#overall", StatusLines)
        counts: Line = (
            (f"✓{self.counts[FileState.SENT]} ", styles.get("success")),
            (f"!{self.counts[FileState.WARNING]} ", styles.get("warning")),
            (f"✗{self.counts[FileState.FAILED]}", styles.get("error")),
        )
        files = (
            f" · {done_files}/{self.files_total} files"
            f" · {wording.size(done_bytes)} of {wording.size(self.bytes_total)}"
        )
        text: Line
        if self.result is None and self.query_one(VerificationBoard).running:
            # Every file is done: the rate and ETA say nothing now, the phase does.
            text = (
                *counts,
                (f"{files} · ", None),
                ("verifying…", Style(bold=True) + styles.get("accent", Style())),
                (f" · {elapsed:.0f} s elapsed", None),
            )
        else:
            pace = f" · {wording.size(int(rate))}/s · ETA {eta} · {elapsed:.0f} s elapsed"
            text = (*counts, (files + pace, None))
        if self.session.cancelled and self.result is None:
            text += (("  cancelling…", Style(bold=True) + styles.get("warning", Style())),)
        overall.show((self._bar_line(done_bytes, overall.content_size.width), text))

    def _bar_line(self, done_bytes: int, width: int) -> Line:
        """The overall bar, drawn as text (Textual's ProgressBar lays the screen out
        again on every update, which cost the senders a third of their speed)."""
        width = max(10, width - 5)
        fraction = min(1.0, done_bytes / self.bytes_total) if self.bytes_total else 1.0
        filled = int(width * fraction)
        return (
            ("━" * filled, self._styles.get("primary")),
            ("━" * (width - filled), Style(dim=True)),
            (f" {fraction:4.0%}", None),
        )

    # -- actions -------------------------------------------------------------------

    def action_show_tab(self, tab: str) -> None:
        """Switch between the log and negotiation panes."""
        if tab == "log":
            self._flush_log(force=True)  # the log is current when it shows
        self.query_one(Tabs).active = tab

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        """A tab chosen by key or by mouse: its document in the pane."""
        if event.tab.id is not None:
            self.query_one(TabbedLog).show(event.tab.id)

    def action_level(self, key: str) -> None:
        """Show log lines at this level and above (1 errors ... 4 everything)."""
        self._log_level = LEVELS[key]
        self._pending_lines = []
        lines = (
            _format_line(level, e, self._studies, self._web)
            for level, e in self._log_lines
            if level >= self._log_level
        )
        self.query_one(TabbedLog).replace("log", [line for line in lines if line is not None])
        self.notify(f"Log shows {logging.getLevelName(self._log_level).lower()} and above")

    def action_cancel(self) -> None:
        """Ask, then stop the session (it finishes within about a second)."""
        if self.result is not None:
            self.action_summary()
            return
        if self.session.cancelled:
            self.session.cancel_now()
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.session.cancel()

        held = (
            "connections are closed"
            if self._web and len(self._web) == len(self.session.targets)
            else "associations are released"
        )
        self.app.push_screen(
            YesNoScreen(
                f"Stop sending? Files in flight finish, {held}, "
                "and unsent files are recorded as failed (cancelled).",
                "Cancel the transfer",
            ),
            answer,
        )

    def action_summary(self) -> None:
        """When the session has ended: its summary."""
        if self.result is None:
            return
        from tui_sender.ui.screens.summary import SummaryScreen

        self.app.switch_screen(SummaryScreen(self.result, self.session))
