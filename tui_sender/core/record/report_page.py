"""What the HTML report shows, as plain data: the context of ``templates/report.html.j2``.

Everything here is already worded (counts with thousands separators, sizes,
durations, sentences), so the template only lays it out; it holds no HTML,
and the template escapes every string it is given. A value that was empty in
the summary is worded as a dash, so an empty cell reads as "none".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ContextGroup:
    """Presentation contexts of one SOP class: 'CT Image Storage: Explicit VR LE, ...'."""

    sop_class: str
    syntaxes: str


@dataclass(frozen=True, slots=True)
class Cell:
    """One table cell: its text, or (``contexts`` not None) a list of presentation contexts."""

    text: str
    css: str = ""
    contexts: tuple[ContextGroup, ...] | None = None
    folded: str = ""
    """When set, the contexts are folded away under this label ('3 accepted')."""


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    numeric: bool = False
    """Right-aligned, like its cells."""


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    css: str = ""


@dataclass(frozen=True, slots=True)
class Listing:
    """A capped list: the note saying what was left out and where it is, then what is shown.

    ``table`` is None when nothing is shown (every row was left out).
    """

    note: str
    table: Table | None


@dataclass(frozen=True, slots=True)
class Group:
    """A titled part of a section: the skipped files of one reason."""

    title: str
    listing: Listing


@dataclass(frozen=True, slots=True)
class Section:
    """One section of the page, shown in the order of its fields.

    ``state`` colours the heading (its symbol and words say the same without
    colour); ``empty`` is the sentence shown when there is nothing to list.
    """

    anchor: str
    title: str
    state: str = ""
    empty: str = ""
    by_reason: Table | None = None
    groups: tuple[Group, ...] = ()
    listing: Listing | None = None
    folded: str = ""
    """When set, the listing is folded away under this label."""


@dataclass(frozen=True, slots=True)
class Fact:
    """A line of the header: 'Started: 2026-01-01 00:00:00'; ``code`` shows it as a path."""

    label: str
    value: str
    code: bool = False


@dataclass(frozen=True, slots=True)
class Link:
    anchor: str
    text: str


@dataclass(frozen=True, slots=True)
class Figure:
    """One of the totals; ``key`` names the summary's field (and the element's id)."""

    key: str
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class ReportPage:
    """The whole page."""

    session: str
    version: str
    made: str
    verdict: str
    verdict_state: str
    facts: tuple[Fact, ...]
    contents: tuple[Link, ...]
    figures: tuple[Figure, ...]
    check: str
    """The sentence under the totals: that the states add up to the files found."""
    sections: tuple[Section, ...]
    """Destinations, studies, associations, then the files by state."""
