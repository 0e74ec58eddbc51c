"""What the HTML report shows, as plain data: the context of ``templates/report.html.j2``.

Everything here is already worded (counts with thousands separators, sizes,
durations, sentences), so the template only lays it out; it holds no HTML,
and the template escapes every string it is given. A value that was empty in
the summary is worded as a dash, so an empty cell reads as "none".

The one exception is a chart's drawing, :class:`Svg`: markup that
:mod:`~tui_sender.core.record.report_charts` built escaping every text it
holds, which the template therefore shows as it is.
"""

from __future__ import annotations

from dataclasses import dataclass


class Svg(str):
    """An SVG drawing whose every text was escaped when it was built: the template shows it as is.

    Jinja2 leaves a value alone when it has an ``__html__`` method (the
    markupsafe protocol), so this type, and nothing else, reaches the page
    unescaped. Only :mod:`~tui_sender.core.record.report_charts` makes one.
    """

    __slots__ = ()

    def __html__(self) -> str:
        return str(self)


@dataclass(frozen=True, slots=True)
class Chart:
    """One picture of the Charts section: a heading, the drawing, and how to read it.

    ``svg`` is None when there is nothing to draw; ``empty`` then says why, so
    the reader sees a sentence rather than a blank frame.
    """

    key: str
    """Names the chart in the page (its element's id is ``chart-<key>``)."""
    title: str
    svg: Svg | None
    caption: str = ""
    """How to read the drawing, and what it grouped or left out."""
    empty: str = ""


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
    charts: tuple[Chart, ...] = ()


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
    proof: str
    """The line under the verdict on what the destinations confirmed holding; empty when
    verification was not asked."""
    proof_state: str
    facts: tuple[Fact, ...]
    contents: tuple[Link, ...]
    figures: tuple[Figure, ...]
    check: str
    """The sentence under the totals: that the states add up to the files found."""
    sections: tuple[Section, ...]
    """Charts, destinations, studies, associations, then the files by state."""
