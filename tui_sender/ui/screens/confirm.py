"""The confirmation before anything is sent: what, how much, where, how."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui_sender.core.engine.plan import SendPlan


class ConfirmScreen(ModalScreen[bool]):
    """Enter sends, escape goes back. Shows the engine's own plan, not a copy of its logic."""

    BINDINGS = [
        Binding("enter", "confirm", "Send", priority=True),
        Binding("escape", "cancel", "Back"),
    ]

    def __init__(self, plan: SendPlan) -> None:
        super().__init__()
        self.plan = plan

    def compose(self) -> ComposeResult:
        first, *rest = self.plan.lines()
        with Vertical(id="confirm-dialog", classes="dialog"):
            yield Static("Confirm send", classes="dialog-title")
            yield Static(
                "\n".join([f"Send {first}", "", *(f"  {line}" for line in rest)]), id="confirm-text"
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Send (enter)", variant="primary", id="send")
                yield Button("Back (esc)", id="back")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "send":
            self.action_confirm()
        else:
            self.action_cancel()

    def action_confirm(self) -> None:
        """Send."""
        self.dismiss(True)

    def action_cancel(self) -> None:
        """Back to the browser."""
        self.dismiss(False)


class YesNoScreen(ModalScreen[bool]):
    """A yes/no question (y / n or escape)."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "No", show=False),
    ]

    def __init__(self, question: str, title: str = "Are you sure?") -> None:
        super().__init__()
        self.question = question
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="dialog-title")
            yield Static(self.question)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Yes (y)", variant="error", id="yes")
                yield Button("No (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        """Close with the answer."""
        self.dismiss(answer)
