"""The Textual app: owns the catalog, the selection and the address book.

It scans the input paths in a background thread worker (batches arrive as
messages, so only the UI thread touches the catalog), and runs send sessions
through :class:`~tui_sender.ui.screens.transfer.TransferScreen`. The app does
no DICOM work itself: it asks the core.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from tui_sender.core.config.destinations import AddressBook, Destination
from tui_sender.core.config.remembered import initial_choice, load_chosen, save_chosen
from tui_sender.core.config.settings import ConfigError
from tui_sender.core.engine.prepare import PreparedSend, SendRequest, prepare_send
from tui_sender.core.engine.targets import (
    CredentialSetupError,
    DestinationSetupError,
    TlsSetupError,
)
from tui_sender.core.engine.worker_process import processes_for_this_machine
from tui_sender.core.model.catalog import Catalog, Instance
from tui_sender.core.record.stored_index import StoredIndex
from tui_sender.core.scan.scanner import ScannedFile, ScanProgress, add_results, iter_scan_batches
from tui_sender.core.scan.selection import Selection
from tui_sender.ui.host import SenderHost
from tui_sender.ui.messages import DestinationsChanged, ScanBatchArrived, ScanFinished
from tui_sender.ui.providers import SenderCommands
from tui_sender.ui.screens.browse import BrowseScreen
from tui_sender.ui.screens.confirm import ConfirmScreen
from tui_sender.ui.screens.help import HelpScreen
from tui_sender.ui.themes import DEFAULT_THEME, THEMES_DIR, load_themes

UI_REFRESH = 0.2
"""Seconds between tree refreshes while a scan streams in."""


class SenderApp(App[int]):
    """tui-sender: browse studies, pick destinations, send, keep the record."""

    TITLE = "tui-sender"
    CSS_PATH = [THEMES_DIR / "app.tcss"]
    COMMANDS = App.COMMANDS | {SenderCommands}
    BINDINGS = [
        Binding("question_mark", "help", "Help", id="help", tooltip="Keys and concepts"),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("ctrl+t", "cycle_theme", "Theme", show=False, id="theme"),
    ]

    def __init__(
        self,
        paths: Sequence[str],
        *,
        book: AddressBook,
        recursive: bool = True,
        logs_dir: Path | None = None,
        demo_destination: Destination | None = None,
        chosen: Sequence[str] = (),
        remember_choice: bool = True,
    ) -> None:
        super().__init__()
        if "TEXTUAL_ANIMATIONS" not in os.environ:
            # Over SSH an animation is bytes and redraws the transfer pays for
            # (a tab switch slid its underline for a third of a second); a user
            # who wants them sets TEXTUAL_ANIMATIONS=full.
            self.animation_level = "none"
        self.paths = list(paths)
        self.recursive = recursive
        self.book = book
        self.settings = book.settings
        self.logs_dir = logs_dir or Path(self.settings.logs_dir)
        self.catalog = Catalog()
        self.selection = Selection(self.catalog)
        self.remember_choice = remember_choice and demo_destination is None
        """Read and keep the chosen destinations in the user's state; never for the demo (its
        destination lives only as long as the demo) or the staged screenshots."""
        self.chosen_destinations, self.chosen_note = initial_choice(
            book.names(), chosen, load_chosen() if self.remember_choice else ()
        )
        self.scan_progress: ScanProgress | None = None
        self.scanning = False
        self._dirty = False
        self._changed_patients: set[str] = set()
        self._index: StoredIndex | None = None
        self.theme_problems: tuple[str, ...] = ()
        self.last_exit_code = 0
        """The exit code of the last session the user saw end (``send``'s codes: 1 some
        failed, 3 no destination reached, 4 not proven held); the app exits with it, so a
        wrapper script learns what the last send did."""
        if demo_destination is not None:
            if demo_destination.name in self.book:
                self.book.replace(demo_destination)
            else:
                self.book.add(demo_destination)
            self.chosen_destinations, self.chosen_note = [demo_destination.name], ""

    # -- start-up ----------------------------------------------------------------

    def on_mount(self) -> None:
        loaded = load_themes()
        for theme in loaded.themes:
            self.register_theme(theme)
        self.theme_problems = loaded.problems
        wanted = self.settings.theme
        self.theme = wanted if wanted in self.available_themes else DEFAULT_THEME
        if loaded.problems:
            self.notify(
                "\n".join(loaded.problems), title="Theme files not loaded", severity="warning"
            )
        self.push_screen(BrowseScreen())
        self.set_interval(UI_REFRESH, self._flush_catalog)
        if self.paths:
            self.start_scan()

    def start_scan(self) -> None:
        """Scan the input paths in a thread; results arrive as messages."""
        self.scanning = True
        self._scan()

    @work(thread=True, exclusive=True, group="scan", name="scan")
    def _scan(self) -> None:
        worker = self._current_worker()
        cancelled = False
        for batch in iter_scan_batches(
            self.paths,
            recursive=self.recursive,
            interval=0.1,
            should_stop=lambda: worker is not None and worker.is_cancelled,
        ):
            self.post_message(ScanBatchArrived(batch))
        if worker is not None and worker.is_cancelled:
            cancelled = True
        self.post_message(ScanFinished(cancelled))

    @staticmethod
    def _current_worker() -> Worker[None] | None:
        from textual.worker import get_current_worker

        try:
            return get_current_worker()
        except RuntimeError:
            return None

    def on_scan_batch_arrived(self, message: ScanBatchArrived) -> None:
        add_results(self.catalog, message.batch.results)
        for result in message.batch.results:
            if isinstance(result, ScannedFile):
                study = self.catalog.studies.get(result.instance.study_uid)
                if study is not None:
                    self._changed_patients.add(study.patient_key)
        self.scan_progress = message.batch.progress
        self._dirty = True

    def on_scan_finished(self, message: ScanFinished) -> None:
        self.scanning = False
        self._dirty = True
        self._flush_catalog()
        n = self.catalog.instance_count()
        self.notify(
            f"{len(self.catalog.studies)} studies, {n} files, {len(self.catalog.skipped)} skipped",
            title="Scan finished" if not message.cancelled else "Scan stopped",
        )

    def _flush_catalog(self) -> None:
        """Redraw the browser at most every UI_REFRESH seconds while scanning."""
        if not self._dirty:
            return
        self._dirty = False
        changed, self._changed_patients = self._changed_patients, set()
        for screen in self.screen_stack:
            if isinstance(screen, BrowseScreen):
                screen.catalog_grew(changed)

    def scan_status_text(self) -> str:
        """For the status line."""
        files = self.catalog.instance_count()
        skipped = len(self.catalog.skipped)
        if self.scanning:
            seen = self.scan_progress.files_seen if self.scan_progress else 0
            return f"scanning… {seen} files seen, {files} DICOM, {skipped} skipped"
        return f"{len(self.catalog.studies)} studies, {files} files, {skipped} skipped"

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """One place where a worker's crash becomes a message, not a dead app."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.notify(
                f"{event.worker.name}: {event.worker.error}", title="Error", severity="error"
            )

    # -- actions -----------------------------------------------------------------

    async def action_quit(self) -> None:
        """Quit with the last session's exit code (0 when none ended)."""
        self.exit(self.last_exit_code)

    def action_help(self) -> None:
        """Show the help screen."""
        if not self.is_screen_installed("help"):
            # Built once: rendering the help's Markdown takes a good part of a second.
            self.install_screen(HelpScreen(), name="help")
        self.push_screen("help")

    def action_cycle_theme(self) -> None:
        """Next of our themes (the palette lists them all)."""
        ours = sorted(name for name in self.available_themes if name.startswith("tui-sender"))
        if not ours:
            return
        index = (ours.index(self.theme) + 1) % len(ours) if self.theme in ours else 0
        self.theme = ours[index]

    def watch_theme(self, theme: str) -> None:
        """Keep the chosen theme in the config file."""
        if not self.is_running or theme == self.settings.theme:
            return
        from dataclasses import replace

        try:
            self.book.settings = replace(self.book.settings, theme=theme)
            self.settings = self.book.settings
            self.book.save()
        except (ConfigError, OSError) as exc:
            self.notify(f"Theme not saved: {exc}", severity="warning")

    def action_destinations(self) -> None:
        """Open the address book."""
        from tui_sender.ui.screens.destinations import DestinationsScreen

        self.push_screen(DestinationsScreen())

    def on_destinations_changed(self, message: DestinationsChanged) -> None:
        """The user chose differently: keep it for the next run, drop the start-up note."""
        self.chosen_note = ""
        self.remember_chosen()

    def remember_chosen(self) -> None:
        """Keep the chosen destinations in the user's state (not for the demo)."""
        if not self.remember_choice:
            return
        try:
            save_chosen(self.chosen_destinations)
        except OSError as exc:
            self.notify(f"Choice of destinations not kept: {exc}", severity="warning")

    def chosen_text(self) -> str:
        """The chosen destinations for the status line, and why when the app chose them."""
        if not self.chosen_destinations:
            return "none (press d)"
        names = ", ".join(self.chosen_destinations)
        return f"{names} ({self.chosen_note})" if self.chosen_note else names

    def action_send(self) -> None:
        """Confirm, then send the selection to the chosen destinations.

        With none chosen, the address book opens as a picker: enter chooses the
        highlighted destination (or takes those chosen with space) and goes on
        to the confirmation.
        """
        if not self.selection.totals()[1]:
            self.notify("Select studies first (space, or a for all).", severity="warning")
            return
        if not self.chosen_destinations:
            from tui_sender.ui.screens.destinations import DestinationsScreen

            self.push_screen(DestinationsScreen(for_send=True), self._picked)
            return
        destinations = [self.book.get(name) for name in self.chosen_destinations]
        prepared = self.prepare(destinations, self.selection.instances())
        if prepared is not None:
            self.push_screen(ConfirmScreen(prepared.plan), lambda go: self._confirmed(prepared, go))

    def _picked(self, go_on: bool | None) -> None:
        if go_on and self.chosen_destinations:
            self.action_send()

    def _confirmed(self, prepared: PreparedSend, go: bool | None) -> None:
        if go:
            self.remember_chosen()
            self.begin(prepared)

    def start_session(
        self,
        destinations: list[Destination],
        instances: list[Instance],
        *,
        catalog: Catalog | None = None,
        inputs: list[str] | None = None,
        resumed_from: str = "",
        force: bool = False,
    ) -> None:
        """Plan a session and open the dashboard on it (resume, resend: already confirmed).

        ``force`` sends even what the stored-instance index says a destination holds (as
        ``send --force``): the summary's re-send of unverified instances needs it.
        """
        prepared = self.prepare(
            destinations,
            instances,
            catalog=catalog,
            inputs=inputs,
            resumed_from=resumed_from,
            force=force,
        )
        if prepared is not None:
            self.begin(prepared)

    def prepare(
        self,
        destinations: list[Destination],
        instances: list[Instance],
        *,
        catalog: Catalog | None = None,
        inputs: list[str] | None = None,
        resumed_from: str = "",
        force: bool = False,
    ) -> PreparedSend | None:
        """The plan and session for sending ``instances``, as ``tui-sender send`` makes them.

        Instances a destination already holds (by the stored-instance index)
        are skipped, unless ``force``; the journal header makes the session resumable. None,
        with a notification, when a destination's TLS files cannot be read.
        """
        paths = inputs if inputs is not None else self.paths
        request = SendRequest(
            inputs=tuple(paths),
            recursive=self.recursive,
            destinations=tuple(destinations),
            from_book=frozenset(d.name for d in destinations if d.name in self.book),
            instances=instances,
            study_uids=sorted({i.study_uid for i in instances}),
            series_uids=sorted({i.series_uid for i in instances}),
            logs_dir=self.logs_dir,
            include_phi=self.settings.include_phi,
            resumed_from=resumed_from,
            skip_stored=not force,
            processes=processes_for_this_machine(),
            configuration={"inputs": list(paths), "via": "tui"},
        )
        try:
            return prepare_send(request, catalog or self.catalog, self.stored_index())
        except DestinationSetupError as exc:  # TLS files and secrets are read before anything
            title = {TlsSetupError: "TLS", CredentialSetupError: "Sign-in"}.get(
                type(exc), "Destination"
            )
            self.notify(str(exc), title=title, severity="error")
            return None

    def begin(self, prepared: PreparedSend) -> None:
        """Open the dashboard on a prepared session; it starts sending there."""
        from tui_sender.ui.screens.transfer import TransferScreen

        self.push_screen(TransferScreen(prepared.session))

    def stored_index(self) -> StoredIndex | None:
        """The stored-instance index (None, with a notification, if it cannot be opened)."""
        if self._index is None:
            try:
                self._index = StoredIndex()
            except (OSError, sqlite3.Error) as exc:
                self.notify(f"Stored-instance index unavailable: {exc}", severity="warning")
        return self._index

    def action_resume(self) -> None:
        """Pick an earlier session and send what it did not get stored."""
        from tui_sender.ui.screens.resume import ResumeScreen

        self.push_screen(ResumeScreen())


def _keeps_the_host_promise(app: SenderApp) -> SenderHost:
    """Never called: mypy checks here that the app is what screens rely on."""
    return app
