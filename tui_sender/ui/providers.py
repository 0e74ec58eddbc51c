"""Command palette entries (ctrl+p): the app's actions, offered where they fit."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("Send selection", "send", "Confirm, then send the selected studies"),
    ("Destinations", "destinations", "Address book, choice of destinations, echo test"),
    ("Resume a session", "resume", "Send what an earlier (interrupted) session did not store"),
    ("Help", "help", "Keys and concepts"),
    ("Next theme", "cycle_theme", "Dark, light, high contrast"),
    ("Quit", "quit", "Leave tui-sender"),
)


class SenderCommands(Provider):
    """The app-level actions."""

    async def discover(self) -> Hits:
        for title, action, help_text in _COMMANDS:
            yield DiscoveryHit(title, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, action, help_text in _COMMANDS:
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(title),
                    partial(self.app.run_action, action),
                    help=help_text,
                )
