"""The HTML report's charts: rate over time, the associations' timeline, verification per study.

Hand-written inline SVG, because the report is one file that opens offline,
runs no script (its Content-Security-Policy forbids them) and ships no
dependency, and vector drawings print sharp. Colours come from CSS classes
named after the report's states (``sent``, ``warning``, ``failed``,
``skipped``), so ``templates/report.css`` colours the charts as it colours
the tables; line weights and shapes differ too, so a grey print still reads.
Every chart has a ``<title>`` and a ``<desc>`` (its accessible name) and
axis labels with their units.

**Escaping.** Every text and attribute value goes through :func:`_words`
(``html.escape``). Markup is typed :data:`_Markup`, which only the helpers
here make, so mypy refuses a raw string where markup belongs; only the
finished drawing becomes a :class:`~tui_sender.core.record.report_page.Svg`,
the one value the template shows unescaped.

**Huge sessions.** Rates are binned (about :data:`MAX_RATE_BINS` bins over
the session), the timeline's ticks are grouped past :data:`MAX_TICKS_PER_ROW`
per row and kind, and the rows of the timeline and of the verification chart
are capped; each caption says what was grouped or left out. A 100,000-file
session draws in well under a second, into a few hundred kilobytes.

The computation (:class:`Timing`, :func:`rate_panels`, :func:`timeline_rows`,
:func:`verified_rows`) is kept apart from the drawing, so what a chart shows
can be checked against the summary without reading SVG.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NewType

from tui_sender.core.base import wording
from tui_sender.core.model.verification import VERIFIED_VALUES, Verified
from tui_sender.core.record.report_page import Chart, Svg
from tui_sender.core.record.report_wording import decimal, integer, study_date, timestamp
from tui_sender.core.record.summary_reading import Record, file_records, records

STORED = ("sent", "warning")
"""The states whose files a destination holds."""
VERIFIED = tuple(v.value for v in Verified if v.proven)
"""The destination confirmed holding the instance (storage commitment, or a C-FIND)."""
NOT_VERIFIED = tuple(v.value for v in Verified if not v.proven and v is not Verified.NOT_ASKED)
"""Asked, and not confirmed: what the report lists under "Not verified"."""
VERIFIED_WORDS = {
    "committed": "committed",
    "found": "found by query",
    "commit-failed": "commitment failed",
    "missing": "missing",
    "unconfirmed": "unconfirmed",
    "not-asked": "not asked",
}

MAX_RATE_BINS = 60
"""About this many time bins over the session, whatever its length."""
MAX_RATE_PANELS = 8
"""Destinations drawn in the rate chart (a small multiple, one row each)."""
MAX_RATE_LINES = 12
"""A destination's associations drawn as their own lines; past this, only its total."""
MAX_TIMELINE_ROWS = 200
"""Associations drawn in the timeline; the Associations table lists them all."""
MAX_TICKS_PER_ROW = 60
"""Ticks per timeline row and kind (stored, retried, failed) before they are grouped."""
MAX_VERIFIED_ROWS = 50
"""Study rows in the verification chart, those with the most unverified files first."""

_BIN_SECONDS: tuple[float, ...] = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60)
_BIN_SECONDS += (120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
"""Bin widths that read well on a clock; a session longer than 60 days gets a plain one."""
_WIDTH = 880
"""Every chart's width in SVG units (pixels at 100 %); CSS scales it down to fit."""


def verified_value(f: Record) -> str:
    """A file entry's verification; absent (an older summary) or unknown reads as not asked."""
    value = f.get("verified")
    return value if isinstance(value, str) and value in VERIFIED_VALUES else Verified.NOT_ASKED


def _epoch(value: object) -> float | None:
    """An ISO-8601 time as seconds since the epoch (naive means UTC); None if it is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


# -- the session's times, read once --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimeAxis:
    """The session's time range, cut in equal bins that read well on a clock."""

    start: float
    """Seconds since the epoch: the session's start, or its earliest recorded time."""
    span: float
    """Seconds from ``start`` to the latest recorded time (at least a moment)."""
    bin_s: float

    @classmethod
    def over(cls, start: float, end: float) -> TimeAxis:
        span = max(end - start, 1e-3)
        rough = span / MAX_RATE_BINS
        width = next((w for w in _BIN_SECONDS if w >= rough), None)
        return cls(start, span, float(width or math.ceil(rough / 86400) * 86400))

    @property
    def bins(self) -> int:
        return max(1, math.ceil(self.span / self.bin_s - 1e-9))

    @property
    def width_s(self) -> float:
        """The seconds the bins cover: the chart's horizontal extent."""
        return self.bins * self.bin_s

    def bin_of(self, at: float) -> int:
        return min(self.bins - 1, max(0, int((at - self.start) // self.bin_s)))

    def unit(self) -> tuple[str, float]:
        """The time unit the axis is labelled in, and its seconds."""
        if self.width_s <= 180:
            return "s", 1.0
        return ("min", 60.0) if self.width_s <= 3 * 3600 else ("h", 3600.0)


@dataclass(frozen=True, slots=True)
class Store:
    """A file entry that has a ``finished_at``: when its final answer came, and what it was."""

    at: float
    destination: str
    association: str
    bytes: int
    state: str
    attempts: int

    @property
    def stored(self) -> bool:
        return self.state in STORED


@dataclass(frozen=True, slots=True)
class AssociationSpan:
    """An association entry that has an ``opened_at``: one bar of the timeline."""

    id: str
    destination: str
    worker: str
    opened: float
    seconds: float
    files: int
    bytes: int
    released: bool | None
    """False: aborted; None: not recorded (the session ended first)."""
    note: str


@dataclass(frozen=True, slots=True)
class Timing:
    """The session's times, parsed once for every chart that needs them."""

    axis: TimeAxis | None
    """None when the summary records no time at all."""
    stores: tuple[Store, ...]
    untimed_stored: int
    """Stored files without a finish time (carried over from a resumed session, or older)."""
    associations: tuple[AssociationSpan, ...]
    untimed_associations: int

    @classmethod
    def of(cls, summary: Record) -> Timing:
        files = file_records(summary)
        stores = tuple(s for s in map(_store, files) if s is not None)
        untimed = sum(1 for f in files if f.get("state") in STORED) - sum(
            1 for s in stores if s.stored
        )
        entries = records(summary.get("associations"))
        spans = tuple(a for a in map(_span, entries) if a is not None)
        bounds = (_epoch(summary.get("start_time")), _epoch(summary.get("end_time")))
        known = [s.at for s in stores] + [t for t in bounds if t is not None]
        known += [t for a in spans for t in (a.opened, a.opened + a.seconds)]
        axis = TimeAxis.over(min(known), max(known)) if known else None
        return cls(axis, stores, untimed, spans, len(entries) - len(spans))


def _store(f: Record) -> Store | None:
    at = _epoch(f.get("finished_at"))
    if at is None:
        return None
    return Store(
        at=at,
        destination=str(f.get("destination") or ""),
        association=str(f.get("association") or ""),
        bytes=integer(f.get("bytes")),
        state=str(f.get("state") or ""),
        attempts=integer(f.get("attempts")),
    )


def _span(a: Record) -> AssociationSpan | None:
    opened = _epoch(a.get("opened_at"))
    if opened is None:
        return None
    released = a.get("released")
    return AssociationSpan(
        id=str(a.get("id") or ""),
        destination=str(a.get("destination") or ""),
        worker=str(a.get("worker") or ""),
        opened=opened,
        seconds=max(decimal(a.get("duration_s")), 0.0),
        files=integer(a.get("files")),
        bytes=integer(a.get("bytes")),
        released=released if isinstance(released, bool) else None,
        note=str(a.get("note") or ""),
    )


# -- what each chart shows -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RateSeries:
    """Stored bytes and images per time bin, of a destination or of one association."""

    label: str
    bytes: tuple[int, ...]
    images: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RatePanel:
    """One destination's row of the rate chart."""

    destination: str
    total: RateSeries
    associations: tuple[RateSeries, ...]
    """Each association's own line; empty when it has one, or more than MAX_RATE_LINES."""
    association_count: int


def rate_panels(timing: Timing) -> tuple[RatePanel, ...]:
    """Stored bytes and images per bin, per destination and per association, in one pass."""
    axis = timing.axis
    if axis is None:
        return ()
    bins = axis.bins
    totals: dict[str, tuple[list[int], list[int]]] = {}
    per_association: dict[str, dict[str, tuple[list[int], list[int]]]] = defaultdict(dict)
    for s in timing.stores:
        if not s.stored:
            continue
        index = axis.bin_of(s.at)
        for sums in (
            totals.setdefault(s.destination, ([0] * bins, [0] * bins)),
            per_association[s.destination].setdefault(s.association, ([0] * bins, [0] * bins)),
        ):
            sums[0][index] += s.bytes
            sums[1][index] += 1
    return tuple(
        _panel(destination, total, per_association[destination])
        for destination, total in sorted(totals.items())
    )


def _panel(
    destination: str,
    total: tuple[list[int], list[int]],
    associations: Mapping[str, tuple[list[int], list[int]]],
) -> RatePanel:
    """A destination's total, and its associations' lines when there are a few of them."""
    named = {key: sums for key, sums in associations.items() if key}
    lines: tuple[RateSeries, ...] = ()
    if 1 < len(named) <= MAX_RATE_LINES:
        lines = tuple(_series(key, sums) for key, sums in sorted(named.items()))
    return RatePanel(destination, _series(destination, total), lines, len(named))


def _series(label: str, sums: tuple[list[int], list[int]]) -> RateSeries:
    return RateSeries(label, tuple(sums[0]), tuple(sums[1]))


@dataclass(frozen=True, slots=True)
class TimelineRow:
    """One association's bar, and the times of the stores it carried, by kind."""

    span: AssociationSpan
    stored: tuple[float, ...]
    """Stored at the first attempt."""
    retried: tuple[float, ...]
    """Stored after more than one attempt."""
    failed: tuple[float, ...]


def timeline_rows(timing: Timing) -> tuple[TimelineRow, ...]:
    """Every association that records its opening, by destination, worker and time."""
    kinds: dict[str, tuple[list[float], list[float], list[float]]] = {}
    for s in timing.stores:
        stored, retried, failed = kinds.setdefault(s.association, ([], [], []))
        if s.state == "failed":
            failed.append(s.at)
        elif s.stored:
            (retried if s.attempts > 1 else stored).append(s.at)
    order = sorted(timing.associations, key=lambda a: (a.destination, a.worker, a.opened))
    empty: tuple[list[float], list[float], list[float]] = ([], [], [])
    return tuple(TimelineRow(a, *(tuple(times) for times in kinds.get(a.id, empty))) for a in order)


@dataclass(frozen=True, slots=True)
class VerifiedRow:
    """How many of a study's stored instances at a destination each verification answered."""

    destination: str
    study_uid: str
    label: str
    counts: Mapping[str, int]
    """One count per :data:`VERIFIED_VALUES` entry."""

    @property
    def stored(self) -> int:
        return sum(self.counts.values())

    @property
    def verified(self) -> int:
        return sum(self.counts[v] for v in VERIFIED)

    @property
    def unverified(self) -> int:
        return sum(self.counts[v] for v in NOT_VERIFIED)


def verification_asked(files: Iterable[Record]) -> bool:
    """True when any file has an answer other than "not asked" (else no chart is drawn)."""
    return any(verified_value(f) != Verified.NOT_ASKED for f in files)


def verified_rows(summary: Record) -> tuple[VerifiedRow, ...]:
    """Stored files per study and destination, by verification; most unverified first."""
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for f in file_records(summary):
        if f.get("state") in STORED:
            key = (str(f.get("destination") or ""), str(f.get("study_uid") or ""))
            counts[key][verified_value(f)] += 1
    labels = _study_labels(summary, many=len({d for d, _ in counts}) > 1)
    rows = [
        VerifiedRow(
            dest,
            uid,
            labels.get((dest, uid)) or uid or "(no study UID)",
            {v: found[v] for v in VERIFIED_VALUES},
        )
        for (dest, uid), found in counts.items()
    ]
    rows.sort(key=lambda r: (-r.unverified, -(r.stored - r.verified), r.destination, r.label))
    return tuple(rows)


def _study_labels(summary: Record, *, many: bool) -> dict[tuple[str, str], str]:
    """'2024-01-01 CT HEAD' per (destination, study UID), from the summary's study entries."""
    labels = {}
    for s in records(summary.get("studies")):
        dest, uid = str(s.get("destination") or ""), str(s.get("study_uid") or "")
        words = " ".join(w for w in (study_date(s.get("study_date")), s.get("description")) if w)
        labels[(dest, uid)] = f"{dest}: {words or uid}" if many else words
    return labels


# -- markup, escaped by construction ------------------------------------------------------------


_Markup = NewType("_Markup", str)
"""SVG text whose every word was escaped: made only by the helpers below."""


def _words(text: object) -> _Markup:
    return _Markup(html.escape(str(text), quote=True))


def _el(name: str, attrs: Mapping[str, object], *children: _Markup) -> _Markup:
    """An element; attribute values are escaped here, empty ones left out."""
    attributes = "".join(
        f' {key}="{_words(value)}"' for key, value in attrs.items() if value not in ("", None)
    )
    if not children:
        return _Markup(f"<{name}{attributes}/>")
    return _Markup(f"<{name}{attributes}>{''.join(children)}</{name}>")


def _n(value: float) -> str:
    """A coordinate, short: one decimal, none when it is whole."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _text(x: float, y: float, words: str, css: str = "", anchor: str = "") -> _Markup:
    return _el("text", {"x": _n(x), "y": _n(y), "class": css, "text-anchor": anchor}, _words(words))


def _title(words: str) -> _Markup:
    return _el("title", {}, _words(words))


def _line(x1: float, y1: float, x2: float, y2: float, css: str) -> _Markup:
    return _el("line", {"x1": _n(x1), "y1": _n(y1), "x2": _n(x2), "y2": _n(y2), "class": css})


def _rect(x: float, y: float, width: float, height: float, css: str, *inside: _Markup) -> _Markup:
    attrs = {"x": _n(x), "y": _n(y), "width": _n(width), "height": _n(height), "class": css}
    return _el("rect", attrs, *inside)


def _row_label(x: float, y: float, label: str, about: str) -> _Markup:
    """A row's name, right-aligned before it; the tooltip has it in full."""
    attrs = {"x": _n(x), "y": _n(y), "class": "row-label", "text-anchor": "end"}
    return _el("text", attrs, _title(about), _words(label))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _svg(key: str, height: float, title: str, desc: str, body: Iterable[_Markup]) -> Svg:
    """The drawing's root: its title and description are its accessible name."""
    ids = f"chart-{key}-title chart-{key}-desc"
    attrs: dict[str, object] = {"class": f"chart {key}", "viewBox": f"0 0 {_WIDTH} {_n(height)}"}
    attrs |= {"width": _WIDTH, "height": _n(height), "role": "img", "aria-labelledby": ids}
    heading = _el("title", {"id": f"chart-{key}-title"}, _words(title))
    described = _el("desc", {"id": f"chart-{key}-desc"}, _words(desc))
    return Svg(_el("svg", attrs, heading, described, *body))


# -- axes ----------------------------------------------------------------------------------------


def _nice_step(rough: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at least ``rough``."""
    if rough <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(rough))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= rough * (1 - 1e-9))


def _label(value: float, step: float) -> str:
    """A tick label with as many decimals as the step needs."""
    if step <= 0 or float(step).is_integer():
        return f"{value:,.0f}"
    decimals = max(1, -math.floor(math.log10(step) + 1e-9))
    decimals += 0 if round(step, decimals) == step else 1
    return f"{value:,.{decimals}f}"


def _ticks(top: float, count: int) -> tuple[float, list[float]]:
    """About ``count`` evenly spaced round values from 0 past ``top``: (step, values)."""
    step = _nice_step(top / count) if top > 0 else 1.0
    steps = max(1, math.ceil(top / step - 1e-9))
    return step, [i * step for i in range(steps + 1)]


@dataclass(frozen=True, slots=True)
class _Frame:
    """A plot's area in the drawing, and how times and values map onto it."""

    left: float
    top: float
    width: float
    height: float

    @property
    def bottom(self) -> float:
        return self.top + self.height

    def x(self, fraction: float) -> float:
        return self.left + self.width * fraction


def _time_axis(axis: TimeAxis, frame: _Frame, grid_top: float) -> list[_Markup]:
    """Tick labels under ``frame``, grid lines up to ``grid_top``, and the unit's label."""
    name, unit_s = axis.unit()
    step, values = _ticks(axis.width_s / unit_s, 6)
    out = [_line(frame.left, frame.bottom, frame.x(1), frame.bottom, "axis")]
    for value in values:
        if value * unit_s > axis.width_s * (1 + 1e-9):
            break
        x = frame.x(value * unit_s / axis.width_s)
        out.append(_line(x, grid_top, x, frame.bottom, "grid"))
        out.append(_text(x, frame.bottom + 13, _label(value, step), "tick", "middle"))
    label = f"Time since the start ({name})"
    out.append(_text(frame.x(0.5), frame.bottom + 28, label, "axis-label", "middle"))
    return out


def _time_fraction(axis: TimeAxis) -> Callable[[float], float]:
    return lambda at: (at - axis.start) / axis.width_s


# -- the rate chart ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Measure:
    """What one column of the rate chart plots: MB/s from bytes, or images/s from counts."""

    unit: str
    values: Callable[[RateSeries], tuple[int, ...]]
    scale: float


_MEASURES = (
    _Measure("MB/s", lambda s: s.bytes, 1e6),
    _Measure("images/s", lambda s: s.images, 1.0),
)
_RATE_PANEL_HEIGHT = 190.0


def rate_chart(timing: Timing) -> Chart:
    """MB/s and images/s over time: a row per destination, a line per association in it."""
    title = "Rate over time"
    panels = rate_panels(timing)
    if timing.axis is None or not panels:
        empty = (
            "No timing data: no stored file in this summary has a finish time (summaries "
            "from older versions have none, and files carried over from a resumed session "
            "keep none), so there is no rate to draw."
        )
        return Chart("rate", title, None, empty=empty)
    axis, shown = timing.axis, panels[:MAX_RATE_PANELS]
    body = [
        mark
        for row, panel in enumerate(shown)
        for column, measure in enumerate(_MEASURES)
        for mark in _rate_plot(axis, panel, measure, column, row * _RATE_PANEL_HEIGHT)
    ]
    bin_words = wording.duration(axis.bin_s)
    desc = (
        f"Stored megabytes and images per second in bins of {bin_words}, for "
        f"{wording.count(len(shown), 'destination')}; thick line: the destination's total, "
        "thin lines: its associations."
    )
    svg = _svg("rate", len(shown) * _RATE_PANEL_HEIGHT, title, desc, body)
    return Chart("rate", title, svg, caption=_rate_caption(timing, axis, panels))


def _rate_caption(timing: Timing, axis: TimeAxis, panels: Sequence[RatePanel]) -> str:
    start = dt.datetime.fromtimestamp(axis.start, dt.UTC).isoformat(timespec="seconds")
    words = [
        f"Stored files per bin of {wording.duration(axis.bin_s)}, from "
        f"{timestamp(start.removesuffix('+00:00'))} UTC; MB is 10⁶ bytes. The thick line is "
        "a destination's total; thin lines, where it had several associations, are each "
        "association's share."
    ]
    crowded = [p for p in panels if p.association_count > MAX_RATE_LINES]
    if crowded:
        names = ", ".join(f"{p.destination} ({p.association_count:,})" for p in crowded)
        words.append(
            f"Past {MAX_RATE_LINES} associations only the total is drawn: {names}; "
            "the timeline below shows each one."
        )
    if len(panels) > MAX_RATE_PANELS:
        words.append(f"Showing {MAX_RATE_PANELS} of {len(panels):,} destinations.")
    if timing.untimed_stored:
        verb = "is" if timing.untimed_stored == 1 else "are"
        words.append(
            f"{wording.count(timing.untimed_stored, 'stored file')} without a finish time "
            f"(carried over from an earlier session) {verb} not drawn."
        )
    return " ".join(words)


def _rate_plot(
    axis: TimeAxis, panel: RatePanel, measure: _Measure, column: int, top: float
) -> list[_Markup]:
    """One destination's MB/s or images/s: grid, axes, association lines, then the total."""
    half = _WIDTH / 2
    frame = _Frame(column * half + 60, top + 30, half - 80, _RATE_PANEL_HEIGHT - 78)
    per_second = axis.bin_s * measure.scale
    total = [v / per_second for v in measure.values(panel.total)]
    step, values = _ticks(max(total), 4)
    top_value = values[-1]
    out = [_text(frame.left, top + 16, f"{panel.destination}: {measure.unit}", "plot-title")]
    for value in values:
        y = frame.bottom - frame.height * value / top_value
        out.append(_line(frame.left, y, frame.x(1), y, "grid"))
        out.append(_text(frame.left - 6, y + 4, _label(value, step), "tick", "end"))
    middle = frame.top + frame.height / 2
    out += [_upright_label(column * half + 14, middle, measure.unit)]
    out += _time_axis(axis, frame, frame.top)
    out.append(_line(frame.left, frame.top, frame.left, frame.bottom, "axis"))
    for series in panel.associations:
        rates = [v / per_second for v in measure.values(series)]
        out.append(_steps(rates, frame, top_value, "line association", series.label))
    out.append(_steps(total, frame, top_value, "line total sent", panel.destination))
    return out


def _upright_label(x: float, y: float, words: str) -> _Markup:
    """A vertical axis's label, read bottom to top, centred on (x, y)."""
    attrs = {"x": _n(x), "y": _n(y), "class": "axis-label", "text-anchor": "middle"}
    attrs["transform"] = f"rotate(-90 {_n(x)} {_n(y)})"
    return _el("text", attrs, _words(words))


def _steps(rates: Sequence[float], frame: _Frame, top: float, css: str, label: str) -> _Markup:
    """A step line over the bins that have data (an association's short life stays short)."""
    used = [i for i, r in enumerate(rates) if r > 0] or [0]
    bins = len(rates)
    points = []
    for i in range(used[0], used[-1] + 1):
        y = _n(frame.bottom - frame.height * rates[i] / top)
        points += [f"{_n(frame.x(i / bins))},{y}", f"{_n(frame.x((i + 1) / bins))},{y}"]
    return _el("polyline", {"points": " ".join(points), "class": css}, _title(label))


# -- the timeline --------------------------------------------------------------------------------


_ROW = 16.0
_LABEL_WIDTH = 160.0


def timeline_chart(timing: Timing) -> Chart | None:
    """One bar per association, its stores as ticks; None when the summary has none."""
    title = "Associations over time"
    rows = timeline_rows(timing)
    if timing.axis is None or not rows:
        if not timing.untimed_associations:
            return None
        empty = "No association in this summary records when it opened, so none is drawn."
        return Chart("timeline", title, None, empty=empty)
    axis, shown = timing.axis, rows[:MAX_TIMELINE_ROWS]
    frame = _Frame(_LABEL_WIDTH + 10, 8, _WIDTH - _LABEL_WIDTH - 30, len(shown) * _ROW)
    many = len({r.span.destination for r in rows}) > 1
    at = _time_fraction(axis)
    body, grouped = _time_axis(axis, frame, frame.top), False
    for index, row in enumerate(shown):
        marks, row_grouped = _timeline_row(row, frame, frame.top + index * _ROW, at, many)
        body += marks
        grouped = grouped or row_grouped
    aborted = sum(1 for r in rows if r.span.released is False)
    desc = (
        f"{wording.count(len(shown), 'association')} as bars from opening to closing, with "
        f"a tick per store; {aborted:,} aborted, marked with a cross."
    )
    svg = _svg("timeline", frame.bottom + 36, title, desc, body)
    return Chart("timeline", title, svg, caption=_timeline_caption(rows, timing, grouped))


def _timeline_caption(rows: Sequence[TimelineRow], timing: Timing, grouped: bool) -> str:
    words = [
        "One row per association, from its opening for as long as it lasted. Thin ticks: "
        "files stored at the first attempt; taller amber ticks: stored after a retry; red "
        "ticks through the bar: failed; a cross at a bar's end: aborted (hover for why)."
    ]
    if grouped:
        words.append(
            f"Rows with more than {MAX_TICKS_PER_ROW} ticks of a kind show them grouped: "
            "a tick then stands for every store in its stretch of the bar."
        )
    if len(rows) > MAX_TIMELINE_ROWS:
        words.append(
            f"Showing the first {MAX_TIMELINE_ROWS} of {len(rows):,} associations; "
            "the Associations table lists them all."
        )
    if timing.untimed_associations:
        verb = "is" if timing.untimed_associations == 1 else "are"
        words.append(
            f"{wording.count(timing.untimed_associations, 'association')} without an "
            f"opening time {verb} not drawn."
        )
    return " ".join(words)


def _timeline_row(
    row: TimelineRow, frame: _Frame, top: float, at: Callable[[float], float], many: bool
) -> tuple[list[_Markup], bool]:
    """A row's label, bar, ticks and abort mark; and whether its ticks had to be grouped."""
    a = row.span
    label = f"{a.destination} {a.id}" if many else a.id
    label += f" · {a.worker}" if a.worker else ""
    start, end = frame.x(at(a.opened)), frame.x(at(a.opened + a.seconds))
    how = {True: "released", False: "aborted", None: "end not recorded"}[a.released]
    about = (
        f"{a.id} ({a.destination}, worker {a.worker or '—'}): {wording.count(a.files, 'file')}, "
        f"{wording.size(a.bytes)} in {wording.duration(a.seconds)}, {how}"
    )
    bar_css = {True: "bar sent", False: "bar failed", None: "bar skipped"}[a.released]
    marks = [
        _row_label(frame.left - 8, top + 12, _clip(label, 26), about),
        _rect(start, top + 3, max(end - start, 1.5), 10, bar_css, _title(about)),
    ]
    grouped = False
    for times, css, reach in (
        (row.stored, "tick sent", (4, 8)),
        (row.retried, "tick retried warning", (1, 12)),
        (row.failed, "tick failed", (0, 16)),
    ):
        xs, merged = _tick_positions([frame.x(at(t)) for t in times])
        grouped = grouped or merged
        if xs:
            y, height = _n(top + reach[0]), _n(reach[1])
            ticks = "".join(f"M{_n(x)} {y}v{height}" for x in xs)
            marks.append(_el("path", {"d": ticks, "class": css}))
    if a.released is False:
        marks.append(_abort_mark(end, top, f"{a.id} aborted: {a.note or 'no reason recorded'}"))
    return marks, grouped


def _tick_positions(xs: Sequence[float]) -> tuple[list[float], bool]:
    """Where to draw ticks: one per distinct position, or grouped in MAX_TICKS_PER_ROW stretches."""
    distinct = sorted({round(x, 1) for x in xs})
    if len(distinct) <= MAX_TICKS_PER_ROW:
        return distinct, False
    low, stretch = distinct[0], (distinct[-1] - distinct[0]) / MAX_TICKS_PER_ROW
    cells = {min(int((x - low) / stretch), MAX_TICKS_PER_ROW - 1) for x in distinct}
    return [low + (cell + 0.5) * stretch for cell in sorted(cells)], True


def _abort_mark(x: float, top: float, why: str) -> _Markup:
    """A cross over the bar's end; its tooltip says why the association was aborted."""
    cross = f"M{_n(x - 4)} {_n(top + 2)}l8 12M{_n(x + 4)} {_n(top + 2)}l-8 12"
    return _el("g", {"class": "abort"}, _title(why), _el("path", {"d": cross, "class": "failed"}))


# -- verification per study ------------------------------------------------------------------------


_VERIFIED_CSS = {
    "committed": "sent",
    "found": "sent lighter",
    "commit-failed": "failed",
    "missing": "failed lighter",
    "unconfirmed": "warning",
    "not-asked": "skipped",
}
"""The report's state each answer reads as; "lighter" tells apart two answers of one state."""
_BAR_LEFT, _BAR_WIDTH = 300.0, 460.0


def verified_chart(summary: Record) -> Chart | None:
    """Stacked bars of each study's verification answers; None when verification was not asked."""
    if not verification_asked(file_records(summary)):
        return None
    title = "Verified per study"
    rows = verified_rows(summary)
    if not rows:
        return Chart("verified", title, None, empty="No file was stored, so none was verified.")
    shown = rows[:MAX_VERIFIED_ROWS]
    present = [v for v in VERIFIED_VALUES if any(r.counts[v] for r in rows)]
    frame = _Frame(_BAR_LEFT, 30, _BAR_WIDTH, len(shown) * 18.0)
    body = [*_verified_legend(present), *_share_axis(frame)]
    body += [_verified_row(row, frame.top + index * 18.0) for index, row in enumerate(shown)]
    verified = sum(r.verified for r in rows)
    stored = sum(r.stored for r in rows)
    desc = (
        f"For {wording.count(len(shown), 'study', 'studies')}, the share of stored instances "
        f"each verification answer covers; {verified:,} of {stored:,} verified in all."
    )
    svg = _svg("verified", frame.bottom + 36, title, desc, body)
    caption = (
        "Each bar is one study at one destination, its stored instances split by what the "
        "destination answered: committed (storage commitment) or found (a C-FIND query) "
        "count as verified."
    )
    if len(rows) > MAX_VERIFIED_ROWS:
        caption += (
            f" Showing {MAX_VERIFIED_ROWS} of {len(rows):,} studies, those with the most "
            "unverified instances first."
        )
    return Chart("verified", title, svg, caption=caption)


def _verified_legend(present: Sequence[str]) -> list[_Markup]:
    """A swatch and its words per answer present, spaced by the words' length."""
    out, x = [], 10.0
    for value in present:
        out.append(_rect(x, 4, 10, 10, f"seg {_VERIFIED_CSS[value]}"))
        out.append(_text(x + 14, 13, VERIFIED_WORDS[value], "tick"))
        x += 30 + len(VERIFIED_WORDS[value]) * 6.5
    return out


def _verified_row(row: VerifiedRow, top: float) -> _Markup:
    """A study's label, its answers as segments (each with its count), and 'n of m'."""
    about = f"{row.label} ({row.study_uid or 'no study UID'} at {row.destination})"
    parts = [_row_label(_BAR_LEFT - 8, top + 12, _clip(row.label, 42), about)]
    x = _BAR_LEFT
    for value in VERIFIED_VALUES:
        count = row.counts[value]
        if not count:
            continue
        width = _BAR_WIDTH * count / row.stored
        parts.append(_segment(x, top + 3, width, value, count))
        x += width
    tally = f"{row.verified:,} of {row.stored:,}"
    parts.append(_text(_BAR_LEFT + _BAR_WIDTH + 8, top + 12, tally, "tick"))
    attrs = {"class": "study", "data-study": row.study_uid, "data-destination": row.destination}
    return _el("g", attrs, *parts)


def _segment(x: float, y: float, width: float, value: str, count: int) -> _Markup:
    """One answer's part of a study's bar; its value and count are in data attributes too."""
    attrs: dict[str, object] = {"x": _n(x), "y": _n(y), "width": _n(width), "height": 12}
    attrs |= {"class": f"seg {_VERIFIED_CSS[value]}", "data-verified": value, "data-count": count}
    return _el("rect", attrs, _title(f"{VERIFIED_WORDS[value]}: {count:,}"))


def _share_axis(frame: _Frame) -> list[_Markup]:
    out = [_line(frame.left, frame.bottom + 2, frame.x(1), frame.bottom + 2, "axis")]
    for percent in (0, 25, 50, 75, 100):
        x = frame.x(percent / 100)
        out.append(_line(x, frame.top, x, frame.bottom + 2, "grid"))
        out.append(_text(x, frame.bottom + 15, f"{percent} %", "tick", "middle"))
    label = "Share of the study's stored instances (%)"
    out.append(_text(frame.x(0.5), frame.bottom + 30, label, "axis-label", "middle"))
    return out


# -- the section -----------------------------------------------------------------------------------


def session_charts(summary: Record) -> tuple[Chart, ...]:
    """The Charts section's pictures; the rate chart is always there, if only as a sentence."""
    timing = Timing.of(summary)
    optional = (timeline_chart(timing), verified_chart(summary))
    return (rate_chart(timing), *(chart for chart in optional if chart is not None))
