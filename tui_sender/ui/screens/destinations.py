"""The address book screen: list, choose, add, edit, delete and echo-test destinations.

Every change to the book is written to the config file at once, so quitting
never loses an edit; when writing fails the change stays in memory (the
next change, or ctrl+s, tries again) and the user is told why. The
destinations chosen for the next send live on the app, not in the file.
"""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from tui_sender.core.config.destinations import Destination
from tui_sender.core.config.settings import ConfigError
from tui_sender.core.model.verification import VerifyMethod
from tui_sender.ui.host import SenderHost, host_of
from tui_sender.ui.messages import DestinationsChanged
from tui_sender.ui.screens.destination_dialogs import ConfirmDeleteScreen, EchoScreen
from tui_sender.ui.screens.destination_form import DestinationForm
from tui_sender.ui.widgets.echo_report import selected_pairs, sign_in_words
from tui_sender.ui.widgets.key_footer import KeyFooter
from tui_sender.ui.widgets.screen_header import ScreenHeader

COLUMNS: tuple[tuple[str, str], ...] = (
    ("chosen", ""),
    ("name", "Name"),
    ("kind", "Kind"),
    ("peer", "AE@host:port or URL"),
    ("calling", "Calling AE"),
    ("workers", "Workers"),
    ("tls", "TLS"),
    ("description", "Description"),
)
NAME_WIDTH = 20
PEER_WIDTH = 32
KIND_WORDS = {"dimse": "DIMSE", "dicomweb": "web"}
"""The Kind column: short, so a row still fits 80 columns up to the calling AE."""
DESCRIPTION_WIDTH = 40

EMPTY_BOOK = (
    "No destinations yet. Press n to add one: you need the PACS's AE title, host and port "
    "(ask its administrator), and the calling AE title it knows us by; or, for a DICOMweb "
    "server, its base URL and how we sign in."
)


def _cut(text: str, width: int) -> str:
    """``text`` on one line, at most ``width`` characters (an ellipsis marks the cut)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _address(destination: Destination) -> str:
    """The address column: ``AE@host:port``, or the URL without its scheme (the TLS column
    says https or http; the line under the table has the URL in full)."""
    if not destination.is_web:
        return destination.peer_label
    return destination.url.split("://", 1)[-1]


def describe_web(destination: Destination) -> str:
    """One DICOMweb destination in full, for the line under the table."""
    d = destination
    https = d.url.lower().startswith("https:")
    security = "HTTPS" if https else "plain HTTP"
    if https and not d.verify_hostname:
        security += " (host name not checked)"
    connections = f"{d.workers} connection{'s' if d.workers != 1 else ''}"
    text = f"{d.name}: DICOMweb {d.url} · {connections} · {security} · {sign_in_words(d)}"
    if d.verify is VerifyMethod.FIND:
        text += " · verify by QIDO-RS"
    return text + f" · {d.stow_instances} files / {d.stow_megabytes} MB per request"


def describe(destination: Destination) -> str:
    """One destination in full, in words, for the line under the table."""
    if destination.is_web:
        text = describe_web(destination)
        problems = destination.validate()
        if problems:
            text += f" · ✗ {problems[0]} (enter to fix)"
        if destination.description:
            text += f"\n{' '.join(destination.description.split())}"
        return text
    security = "TLS" if destination.tls else "plain TCP"
    if destination.tls and not destination.verify_hostname:
        security += " (host name not checked)"
    workers = f"{destination.workers} worker{'s' if destination.workers != 1 else ''}"
    text = (
        f"{destination.name}: {destination.peer_label} as {destination.calling_ae} · {workers}"
        f" · {security} · decompress {destination.decompress.value}"
    )
    if destination.verify is VerifyMethod.COMMITMENT:
        port = destination.commit_port
        text += " · verify by storage commitment" + (f" (reports to port {port})" if port else "")
    elif destination.verify is VerifyMethod.FIND:
        text += " · verify by C-FIND"
    problems = destination.validate()
    if problems:
        text += f" · ✗ {problems[0]} (enter to fix)"
    if destination.description:
        text += f"\n{' '.join(destination.description.split())}"
    return text


class DestinationsScreen(Screen[bool]):
    """The address book; ``d`` from the browser opens it, escape goes back.

    Opened by ``s`` with nothing chosen (``for_send``), it is a picker: enter
    goes on to the confirmation (dismissing with True) with the destinations
    chosen with space, or the highlighted one when none is chosen; editing
    is then a click on the row.
    """

    DEFAULT_CSS = """
    DestinationsScreen #dest-empty {
        padding: 1 2;
        color: $text-muted;
    }
    DestinationsScreen #dest-table {
        height: 1fr;
    }
    DestinationsScreen #dest-detail {
        padding: 0 1;
        height: auto;
        max-height: 3;
        border-top: solid $panel;
    }
    DestinationsScreen #dest-chosen {
        padding: 0 1;
        background: $panel;
    }
    DestinationsScreen #dest-file {
        padding: 0 1;
        color: $text-muted;
        background: $panel;
    }
    """

    BINDINGS = [
        Binding(
            "space",
            "choose",
            "Choose",
            id="destinations.choose",
            tooltip="Choose the highlighted destination for the next send, or unchoose it",
        ),
        Binding("n,a", "add", "Add", id="destinations.add", tooltip="Add a destination"),
        Binding(
            "enter",
            "continue_send",
            "Send",
            priority=True,
            id="destinations.continue",
            tooltip="Send to the chosen destinations, or to the highlighted one if none is chosen",
        ),
        Binding(
            "enter",
            "edit",
            "Edit",
            priority=True,
            id="destinations.edit",
            tooltip="Edit the highlighted destination",
        ),
        Binding(
            "e",
            "echo",
            "Echo",
            id="destinations.echo",
            tooltip="Echo-test the highlighted destination (C-ECHO, or a QIDO-RS query for "
            "DICOMweb); check what it accepts of the selection",
        ),
        Binding(
            "x,delete",
            "delete",
            "Delete",
            id="destinations.delete",
            tooltip="Delete the highlighted destination (asks first)",
        ),
        Binding(
            "ctrl+s",
            "save",
            "Save",
            id="destinations.save",
            tooltip="Write the address book to its file again",
        ),
        Binding("escape,b", "back", "Back", id="destinations.back", tooltip="Back to the studies"),
    ]

    def __init__(self, *, for_send: bool = False) -> None:
        super().__init__()
        self.for_send = for_send
        """True when opened to pick where a send goes (enter continues, not edits)."""
        self.unsaved = False
        """True when the last write of the config file failed (the book in memory is newer)."""

    @property
    def sender(self) -> SenderHost:
        """The app, as screens may use it."""
        return host_of(self.app)

    # -- layout ------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield ScreenHeader()
        yield Static(EMPTY_BOOK, id="dest-empty")
        table: DataTable[Text] = DataTable(id="dest-table", cursor_type="row", zebra_stripes=True)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        yield table
        yield Static("", id="dest-detail", markup=False)
        yield Static("", id="dest-chosen", markup=False)
        yield Static("", id="dest-file", markup=False)
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        self.title = "Destinations"
        self.refill()
        self.query_one(DataTable).focus()

    def refill(self, highlight: str | None = None) -> None:
        """Rebuild the table from the book, keeping (or moving) the cursor on ``highlight``."""
        table = self.table
        highlight = highlight or self.highlighted
        chosen = set(self.sender.chosen_destinations)
        table.clear()
        for destination in self.sender.book:
            cells = self._cells(destination, destination.name in chosen)
            table.add_row(*cells, key=destination.name)
        names = self.sender.book.names()
        if highlight in names:
            table.move_cursor(row=names.index(highlight))
        empty = not names
        self.query_one("#dest-empty").display = empty
        table.display = not empty
        self.show_detail()
        self.refresh_status()

    @staticmethod
    def _cells(destination: Destination, chosen: bool) -> list[Text]:
        web = destination.is_web
        tls = destination.url.lower().startswith("https:") if web else destination.tls
        return [
            Text("[x]" if chosen else "[ ]"),
            Text(_cut(destination.name, NAME_WIDTH)),
            Text(KIND_WORDS[destination.kind], style="bold" if web else ""),
            Text(_cut(_address(destination), PEER_WIDTH)),
            Text("–" if web else destination.calling_ae),  # no calling AE over HTTP
            Text(str(destination.workers), justify="right"),
            Text("yes" if tls else "no"),
            Text(_cut(destination.description, DESCRIPTION_WIDTH)),
        ]

    def refresh_status(self) -> None:
        """The chosen line, the file line, the subtitle and which keys apply."""
        chosen = self.sender.chosen_destinations
        if chosen:
            text = f"Chosen for the next send: {', '.join(chosen)}"
        elif self.for_send:
            text = "Enter sends to the highlighted destination; space chooses several."
        else:
            text = "None chosen for the next send: space chooses the highlighted destination."
        chosen_line = self.query_one("#dest-chosen", Static)
        chosen_line.update(text)
        chosen_line.display = len(self.sender.book) > 0
        book = self.sender.book
        if self.unsaved:
            where = f"NOT SAVED to {book.path} (ctrl+s tries again)"
        elif book.path.exists():
            where = f"Saved in {book.path}"
        else:
            where = f"Will be saved in {book.path}"
        self.query_one("#dest-file", Static).update(where)
        self.sub_title = f"{len(book)} in the address book, {len(chosen)} chosen"
        self.refresh_bindings()

    @property
    def table(self) -> DataTable[Text]:
        """The destination list."""
        return self.query_one("#dest-table", DataTable)

    @property
    def highlighted(self) -> str | None:
        """Name of the destination under the cursor, if any."""
        table = self.table
        if table.row_count == 0:
            return None
        row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return None if row_key.value is None else str(row_key.value)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide the keys that need a destination while the book is empty (the footer then
        shows what to do: add one)."""
        if action == "continue_send":
            return self.for_send and self.is_mounted and self.highlighted is not None
        if action == "edit" and self.for_send:
            return False
        if action in ("choose", "edit", "echo", "delete") and self.is_mounted:
            return self.highlighted is not None
        if action == "save":
            return self.unsaved
        return True

    # -- saving --------------------------------------------------------------------

    def save(self) -> bool:
        """Write the book; on failure say why and keep the change in memory."""
        try:
            self.sender.book.save()
        except (ConfigError, OSError) as exc:
            self.unsaved = True
            self.notify(
                f"{exc}\nThe change is kept for this session; ctrl+s tries again.",
                title="Address book not saved",
                severity="error",
                timeout=12,
            )
            return False
        else:
            self.unsaved = False
            return True
        finally:
            self.refresh_status()

    def _changed(self, highlight: str | None = None) -> None:
        """After any change of the book or of the choice: redraw and tell the app."""
        self.refill(highlight)
        self.sender.post_message(DestinationsChanged())

    # -- actions ---------------------------------------------------------------------

    def action_choose(self) -> None:
        """Choose or unchoose the highlighted destination (several may be chosen)."""
        name = self.highlighted
        if name is None:
            return
        chosen = self.sender.chosen_destinations
        if name in chosen:
            chosen.remove(name)
        else:
            chosen.append(name)
        self.table.update_cell(name, "chosen", Text("[x]" if name in chosen else "[ ]"))
        self.refresh_status()
        self.sender.post_message(DestinationsChanged())

    def action_add(self) -> None:
        """Open the form for a new destination."""
        template = Destination(
            name="",
            ae_title="",
            host="",
            port=104,
            workers=self.sender.book.settings.default_workers,
        )
        form = DestinationForm(None, taken_names=self.sender.book.names(), template=template)
        self.app.push_screen(form, self._added)

    def _added(self, destination: Destination | None) -> None:
        if destination is None:
            return
        try:
            self.sender.book.add(destination)
        except ConfigError as exc:
            self.notify(str(exc), title="Not added", severity="error")
            return
        self.save()
        self._changed(destination.name)

    def action_edit(self) -> None:
        """Open the form on the highlighted destination."""
        name = self.highlighted
        if name is None:
            return
        original = self.sender.book.get(name)
        form = DestinationForm(original, taken_names=self.sender.book.names())
        self.app.push_screen(form, partial(self._edited, original))

    def _edited(self, original: Destination, destination: Destination | None) -> None:
        if destination is None or destination == original:
            return
        try:
            self.sender.book.replace(destination, old_name=original.name)
        except ConfigError as exc:
            self.notify(str(exc), title="Not changed", severity="error")
            return
        chosen = self.sender.chosen_destinations
        if original.name in chosen and destination.name != original.name:
            chosen[chosen.index(original.name)] = destination.name
        self.save()
        self._changed(destination.name)

    def action_delete(self) -> None:
        """Ask, then delete the highlighted destination."""
        name = self.highlighted
        if name is None:
            return
        destination = self.sender.book.get(name)
        self.app.push_screen(ConfirmDeleteScreen(destination), self._confirmed_delete)

    def _confirmed_delete(self, destination: Destination | None) -> None:
        if destination is None or destination.name not in self.sender.book:
            return
        names = self.sender.book.names()
        index = names.index(destination.name)
        self.sender.book.remove(destination.name)
        if destination.name in self.sender.chosen_destinations:
            self.sender.chosen_destinations.remove(destination.name)
        self.save()
        rest = self.sender.book.names()
        self._changed(rest[min(index, len(rest) - 1)] if rest else None)
        self.notify(f"Deleted {destination.name}.", timeout=4)

    def action_echo(self) -> None:
        """Echo-test the highlighted destination, probing the selected files' pairs too."""
        name = self.highlighted
        if name is None:
            return
        pairs = selected_pairs(self.sender.selection.instances())
        self.app.push_screen(EchoScreen(self.sender.book.get(name), pairs))

    def action_save(self) -> None:
        """Retry writing the book after a failed save."""
        if self.save():
            self.notify(f"Saved in {self.sender.book.path}.", timeout=4)

    def action_continue_send(self) -> None:
        """Picker mode: go on to the confirmation, choosing the highlighted one if none is."""
        name = self.highlighted
        if name is None:
            return
        if not self.sender.chosen_destinations:
            self.sender.chosen_destinations.append(name)
            self.sender.post_message(DestinationsChanged())
        self.dismiss(True)

    def action_back(self) -> None:
        """Back to the browser."""
        self.dismiss(False)

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        """A click on a row (enter is bound to edit directly)."""
        self.action_edit()

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self) -> None:
        self.show_detail()
        self.refresh_bindings()

    def show_detail(self) -> None:
        """Everything about the highlighted destination, since narrow columns cut it short."""
        name = self.highlighted
        detail = self.query_one("#dest-detail", Static)
        detail.display = name is not None
        if name is not None:
            detail.update(describe(self.sender.book.get(name)))
