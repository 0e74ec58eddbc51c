"""The real app, staged: sample studies, three sample destinations, a staged session.

:class:`ShowcaseApp` differs from :class:`~tui_sender.ui.app.SenderApp` in two
places only. It scans before its first frame, in the UI thread, because the
threaded scan adds patients to the tree in set order, which changes from one
run to the next. And it sends to a
:class:`~tui_sender.ui.screenshots.staged_session.StagedSession`, paused
mid-transfer, with the dashboard's clock (if given) set to the pause.
"""

from __future__ import annotations

from pathlib import Path

from tui_sender.core.config.destinations import AddressBook, Destination
from tui_sender.core.engine.prepare import PreparedSend
from tui_sender.core.model.verification import VerifyMethod
from tui_sender.core.record.stored_index import StoredIndex
from tui_sender.core.scan.scanner import add_results, iter_scan
from tui_sender.ui.app import SenderApp
from tui_sender.ui.screens.browse import BrowseScreen
from tui_sender.ui.screens.transfer import TransferScreen
from tui_sender.ui.screenshots.clock import FrozenClock
from tui_sender.ui.screenshots.staged_session import StagedSession

SAMPLES = "samples"
"""The sample folder, relative to the working directory (so no temporary path shows)."""
SEED = 7
"""Seed of the sample studies (names, dates and UIDs follow from it)."""

DESTINATIONS = (
    Destination(
        name="PACS-MAIN",
        ae_title="MAINPACS",
        host="10.20.0.15",
        port=104,
        workers=2,
        description="Radiology PACS, building B (on call: ext. 4411)",
    ),
    Destination(
        name="ARCHIVE-VNA",
        ae_title="VNA_ARCHIVE",
        host="vna.hospital.example",
        port=11112,
        workers=4,
        tls=True,
        description="Vendor-neutral archive, long-term storage",
    ),
    Destination(
        name="CLOUD-WEB",
        url="https://dicomweb.example.net/dicom-web",
        host="dicomweb.example.net",
        port=443,
        username="sender",
        password_env="CLOUD_PASSWORD",
        workers=4,
        verify=VerifyMethod.FIND,
        description="Cloud DICOM store (STOW-RS), teleradiology",
    ),
)


class ShowcaseApp(SenderApp):
    """The app on ``samples/`` in the working directory, with :data:`DESTINATIONS`.

    The address book's file is ``config.toml`` in the working directory and is
    only written if a scene edits the book (none does).
    """

    def __init__(self, clock: FrozenClock | None = None) -> None:
        super().__init__(
            [SAMPLES],
            book=AddressBook(Path("config.toml"), DESTINATIONS),
            logs_dir=Path("logs"),
            remember_choice=False,  # the same pictures whatever the user chose last
        )
        self.clock = clock
        self.staged: StagedSession | None = None
        """The dashboard's session, once one started."""

    def start_scan(self) -> None:
        """Scan in the UI thread: the same catalog, in the same order, every run."""
        add_results(self.catalog, iter_scan(self.paths, recursive=self.recursive))
        self.scanning = False
        self.call_after_refresh(self._show_catalog)

    def _show_catalog(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, BrowseScreen):
                screen.catalog_grew()

    def stored_index(self) -> StoredIndex | None:
        """None: the staged show records nothing and skips nothing."""
        return None

    def begin(self, prepared: PreparedSend) -> None:
        """Open the dashboard on a staged session, paused mid-transfer."""
        session = prepared.session
        instances = list(prepared.plan.instances)
        self.staged = StagedSession(session.catalog, session.targets, instances, self.paths)
        if self.clock is not None:
            self.clock.set_elapsed(0)
        screen = TransferScreen(self.staged)  # the session starts now, on this clock
        if self.clock is not None:
            self.clock.set_elapsed(self.staged.paused_after)
        self.push_screen(screen)
