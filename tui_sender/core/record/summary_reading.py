"""Reading a session summary for the exports: its file records, and names for its UIDs.

A summary may come from another version or another machine, so nothing in it
is trusted to have the expected shape: a field that is not a list of mappings
reads as empty rather than failing the export.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tui_sender.core.model.verification import VERIFIED_VALUES, Verified

Record = Mapping[str, Any]
"""One JSON object of the summary: a file, a destination, a study, an association."""


def records(value: object) -> list[Record]:
    """The mappings of ``value`` when it is a list; anything else has none."""
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def mapping(value: object) -> Record:
    """``value`` when it is a mapping; anything else reads as an empty one."""
    return value if isinstance(value, Mapping) else {}


def file_records(summary: Record) -> list[Record]:
    """The summary's per-file records, in the summary's order."""
    return records(summary.get("files"))


def memoized(lookup: Callable[[str], str]) -> Callable[[str], str]:
    """Registry names per UID, looked up once: a session has few distinct UIDs."""
    cache: dict[str, str] = {}

    def name(uid: str) -> str:
        found = cache.get(uid)
        if found is None:
            found = cache[uid] = lookup(uid)
        return found

    return name


def carried_verdicts(files: Iterable[Record]) -> Counter[str]:
    """What the skipped (already stored) files carry from an earlier verification, by
    value: the stored-instance index's last verdict, put into a re-send's or resume's record."""
    values = (f.get("verified") for f in files if f.get("state") == "skipped")
    return Counter(
        v for v in values if isinstance(v, str) and v in VERIFIED_VALUES and v != Verified.NOT_ASKED
    )
