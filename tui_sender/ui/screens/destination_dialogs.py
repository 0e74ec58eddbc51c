"""The two small dialogs of the address book: confirm a delete, and the echo test's report."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui_sender.core.config.destinations import Destination
from tui_sender.ui.widgets.echo_report import EchoReport, SelectedPair


class ConfirmDeleteScreen(ModalScreen[Destination | None]):
    """Asks before a destination is deleted; returns it when the user said yes."""

    DEFAULT_CSS = """
    ConfirmDeleteScreen {
        align: center middle;
    }
    ConfirmDeleteScreen > Vertical {
        width: 64;
        max-width: 100%;
        height: auto;
        border: round $error;
        background: $surface;
        padding: 0 1;
    }
    ConfirmDeleteScreen #confirm-buttons {
        height: auto;
        align-horizontal: right;
        margin-top: 1;
    }
    ConfirmDeleteScreen Button {
        margin-left: 2;
    }
    """

    BINDINGS = [
        Binding("y", "delete", "Delete", id="confirm-delete.yes", tooltip="Delete it"),
        Binding("n,escape", "keep", "Keep", id="confirm-delete.no", tooltip="Keep it"),
    ]

    def __init__(self, destination: Destination) -> None:
        super().__init__()
        self.destination = destination

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Delete destination"
            yield Static(
                f"Delete {self.destination.name} ({self.destination.peer_label}) from the "
                "address book? This cannot be undone.",
                markup=False,
            )
            with Horizontal(id="confirm-buttons"):
                yield Button("Delete (y)", id="yes", variant="error", compact=True)
                yield Button("Keep (n)", id="no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_delete(self) -> None:
        """Yes."""
        self.dismiss(self.destination)

    def action_keep(self) -> None:
        """No."""
        self.dismiss(None)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(self.destination if event.button.id == "yes" else None)


class EchoScreen(ModalScreen[None]):
    """The echo test's report over the address book; escape closes it, even mid-test."""

    DEFAULT_CSS = """
    EchoScreen {
        align: center middle;
    }
    EchoScreen > Vertical {
        width: 100%;
        max-width: 110;
        height: 100%;
        max-height: 32;
        border: round $primary;
        border-subtitle-color: $text-muted;
        background: $surface;
        padding: 0 1;
    }
    """

    BINDINGS = [
        Binding("escape,q,enter", "close", "Close", id="echo.close", tooltip="Close the report"),
        Binding("r", "again", "Again", id="echo.again", tooltip="Run the test again"),
        Binding(
            "c",
            "copy",
            "Copy",
            id="echo.copy",
            tooltip="Copy the report as text (for a ticket to the PACS team)",
        ),
    ]

    def __init__(self, destination: Destination, pairs: list[SelectedPair]) -> None:
        super().__init__()
        self.destination = destination
        self.pairs = pairs

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"Echo test: {self.destination.name}"
            box.border_subtitle = "esc: close · r: again · c: copy · ↑↓: scroll"
            yield EchoReport(self.destination, self.pairs, id="echo-report")

    def on_mount(self) -> None:
        self.query_one(EchoReport).focus()

    def action_close(self) -> None:
        """Close; a test still running is left to end at its timeouts."""
        self.dismiss(None)

    def action_again(self) -> None:
        """Repeat the test."""
        self.query_one(EchoReport).run_test()

    def action_copy(self) -> None:
        """Put the report on the clipboard; OSC 52 reaches the local clipboard through SSH."""
        self.app.copy_to_clipboard(self.query_one(EchoReport).plain_text())
        self.notify("Report copied (if the terminal allows programs to set the clipboard).")
