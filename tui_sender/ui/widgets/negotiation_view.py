"""The dashboard's negotiation tab: each association's presentation contexts.

Kept as plain text lines (a document of the dashboard's :class:`TabbedLog`),
coloured when drawn by a highlighter: only the visible lines are ever
rendered. (A ``RichLog`` rendered every line it had been given when the tab
was first shown, tens of milliseconds into a key press with a few
associations, more with many.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from rich.highlighter import Highlighter
from rich.style import Style
from rich.text import Text

from tui_sender.core.dicom import registry
from tui_sender.core.model.events import AssociationOpened

ACCEPTED = re.compile(r"\d+ accepted")
REJECTED = re.compile(r"\d+ rejected")
CONTEXT_INDENT = "   "


def negotiation_lines(event: AssociationOpened, web_url: str | None = None) -> list[str]:
    """A heading for the association, then one line per proposed context.

    A DICOMweb worker's connection (``web_url`` given) negotiates nothing, so it
    gets the heading alone: listing every context as accepted would claim an
    answer the server never gave (it answers per instance, as each is stored).
    """
    if web_url is not None:
        return [f"{event.association_id} {event.worker} → {web_url}  HTTP: nothing to negotiate"]
    lines = [
        f"{event.association_id} {event.worker} → {event.peer}  max PDU {event.max_pdu}  "
        f"{len(event.accepted)} accepted, {len(event.rejected)} rejected"
    ]
    for ctx in event.contexts:
        mark = "✓" if ctx.accepted else "✗"
        line = (
            f"{CONTEXT_INDENT}{mark} {registry.sop_class_name(ctx.sop_class_uid)}"
            f"  {registry.transfer_syntax_name(ctx.transfer_syntax_uid)}"
        )
        lines.append(line if ctx.accepted else f"{line}  ({ctx.result})")
    return lines


class NegotiationHighlighter(Highlighter):
    """Colours the lines of :func:`negotiation_lines` with the theme's styles."""

    def __init__(self, styles: Mapping[str, Style] | None = None) -> None:
        self.styles: Mapping[str, Style] = styles or {}

    def highlight(self, text: Text) -> None:
        """Heading: id bold, counts coloured. Context: mark coloured, syntax dim, reason red."""
        plain = text.plain
        good, bad = self.styles.get("success", Style()), self.styles.get("error", Style())
        if not plain.startswith(CONTEXT_INDENT):
            text.stylize(Style(bold=True), 0, max(plain.find(" "), 0))
            for pattern, style in ((ACCEPTED, good), (REJECTED, bad)):
                for match in pattern.finditer(plain):
                    text.stylize(style, *match.span())
            return
        mark = len(CONTEXT_INDENT)
        text.stylize(good if plain[mark : mark + 1] == "✓" else bad, mark, mark + 1)
        syntax = plain.find("  ", mark)
        if syntax < 0:
            return
        reason = plain.find("  (", syntax + 2)
        text.stylize(Style(dim=True), syntax, reason if reason >= 0 else len(plain))
        if reason >= 0:
            text.stylize(bad, reason)
