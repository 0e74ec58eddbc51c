"""How the HTML report words the summary's values: counts, sizes, durations, times, dates.

The summary holds raw numbers and ISO strings, and a summary from elsewhere
may hold anything; each function here gives readable text for any input
(a value that is not a number reads as 0) so one odd field cannot stop a report.
"""

from __future__ import annotations

from tui_sender.core.base import wording

DASH = "—"
"""What an empty value reads as, so an empty cell says "none" rather than nothing."""


def or_dash(value: object) -> str:
    """A value as text; None and empty show as :data:`DASH`."""
    if value is None or value == "":
        return DASH
    return str(value)


def integer(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return 0


def decimal(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def number(value: object) -> str:
    """An integer with thousands separators: '12,345'."""
    return f"{integer(value):,}"


def size(value: object) -> str:
    """Any summary value as a size, in the words the console and the screens use."""
    return wording.size(integer(value))


def duration(value: object) -> str:
    """Any summary value as a duration, in the words the console and the screens use."""
    return wording.duration(decimal(value))


def timestamp(value: object) -> str:
    """An ISO timestamp with a space for its 'T'; empty stays empty."""
    text = str(value or "")
    return text.replace("T", " ") if text else ""


def study_date(value: object) -> str:
    """A DICOM date (YYYYMMDD) as YYYY-MM-DD; anything else as it is."""
    text = str(value or "")
    if len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text
