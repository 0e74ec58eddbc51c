"""What screens may ask of the app: a small protocol instead of importing it.

Screens need the app's catalog, selection, address book and a way to start
a session. Importing :class:`~tui_sender.ui.app.SenderApp` for that would
make a circle (the app imports the screens), so they reach it through this
protocol; the app implements it, and mypy checks that it does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from textual.message import Message

from tui_sender.core.config.destinations import AddressBook, Destination
from tui_sender.core.model.catalog import Catalog, Instance
from tui_sender.core.record.stored_index import StoredIndex
from tui_sender.core.scan.selection import Selection


@runtime_checkable
class SenderHost(Protocol):
    """The app as the screens see it."""

    book: AddressBook
    catalog: Catalog
    selection: Selection
    chosen_destinations: list[str]
    logs_dir: Path
    last_exit_code: int
    """The exit code of the last session the user saw end; the app exits with it."""

    def chosen_text(self) -> str:
        """The chosen destinations, for a status line."""
        ...

    def scan_status_text(self) -> str:
        """The scan's progress, for a status line."""
        ...

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
        """Build a session and open the dashboard on it; ``force``: send instances even when
        the stored-instance index says the destination holds them (a re-send of instances
        the archive could not prove it holds)."""
        ...

    def stored_index(self) -> StoredIndex | None:
        """The stored-instance index sessions consult (None when it cannot be opened)."""
        ...

    def post_message(self, message: Message) -> bool:
        """Tell the app something (Textual's own)."""
        ...


def host_of(app: object) -> SenderHost:
    """``app`` as a :class:`SenderHost`; TypeError if it is some other app."""
    if not isinstance(app, SenderHost):
        raise TypeError(f"{type(app).__name__} is not a tui-sender app")
    return app
