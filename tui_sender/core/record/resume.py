"""Asking a session's question again: what ``--resume SESSION`` sends.

A session writes what it was asked (inputs, recursion, selection,
destinations without secrets) at the top of its journal; :func:`load_resume`
reads it back. Sending it again with the stored-instance index on sends
only what the destination does not hold yet: files that failed, were
cancelled, never got their turn, or whose outcome was unknown when the
session died.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui_sender.core.config.destinations import SECRET_KEYS, AddressBook, Destination
from tui_sender.core.config.settings import ConfigError
from tui_sender.core.model.catalog import Catalog, Instance
from tui_sender.core.model.recorded_path import (
    b64_path,
    display_path,
    is_exact_text,
    path_from_fields,
)
from tui_sender.core.record.journal import find_journal, read_journal


def request_header(
    inputs: Sequence[str],
    recursive: bool,
    destinations: Iterable[tuple[Destination, bool]],
    study_uids: Sequence[str] | None = None,
    series_uids: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The journal header's "what was asked" part.

    Inputs are kept absolute, so ``--resume`` finds them from any folder
    (cron jobs and the app's crash message do not run where the send did),
    and exact: an input whose name is not valid UTF-8 is listed escaped in
    ``inputs`` and losslessly in ``inputs_bytes_b64`` (base64 of its bytes,
    ``""`` for the others; the key is there only when needed).

    ``destinations`` pairs each destination with whether it came from the
    address book (then resume prefers the book's current entry, which holds
    any secret this header leaves out).
    """
    absolute = [os.path.abspath(i) for i in inputs]
    exact = all(is_exact_text(i) for i in absolute)
    return {
        "inputs": absolute if exact else [display_path(i) for i in absolute],
        **({} if exact else {"inputs_bytes_b64": [b64_path(i) for i in absolute]}),
        "recursive": recursive,
        "destinations": [
            {
                "name": d.name,
                "from_book": from_book,
                "table": {k: v for k, v in d.to_table().items() if k not in SECRET_KEYS},
            }
            for d, from_book in destinations
        ],
        "study_uids": list(study_uids) if study_uids is not None else None,
        "series_uids": list(series_uids) if series_uids is not None else None,
    }


@dataclass(frozen=True, slots=True)
class ResumePlan:
    """Everything needed to send a session's files again."""

    session_id: str
    journal: Path
    inputs: tuple[str, ...]
    recursive: bool
    destinations: tuple[Destination, ...]
    study_uids: tuple[str, ...] | None
    series_uids: tuple[str, ...] | None
    complete: bool
    """True when the earlier session ended normally (it was not killed)."""
    stored: int
    """How many outcomes the earlier session recorded as stored."""

    def select(self, catalog: Catalog) -> list[Instance]:
        """The instances the earlier session was asked to send, from a fresh scan."""
        studies = (
            catalog.studies_by_uid(self.study_uids)
            if self.study_uids is not None
            else list(catalog.studies.values())
        )
        wanted_series = set(self.series_uids) if self.series_uids is not None else None
        return [
            inst
            for study in studies
            for inst in study.instances()
            if wanted_series is None or inst.series_uid in wanted_series
        ]


def load_resume(logs_dir: Path, session: str, book: AddressBook | None = None) -> ResumePlan:
    """Read a session's journal; ConfigError (with what to do) when it cannot be resumed."""
    try:
        path = find_journal(logs_dir, session)
    except FileNotFoundError as exc:
        raise ConfigError(f"cannot resume: {exc}") from exc
    journal = read_journal(path)
    header = journal.header
    inputs = header.get("inputs")
    tables = header.get("destinations")
    if not isinstance(inputs, list) or not inputs or not isinstance(tables, list) or not tables:
        raise ConfigError(
            f"cannot resume {journal.session_id}: its journal {path} does not say what was sent "
            "(written by an older version?)"
        )
    destinations = []
    for entry in tables:
        name = str(entry.get("name", ""))
        if entry.get("from_book") and book is not None and name in book:
            destinations.append(book.get(name))
            continue
        table = dict(entry.get("table") or {})
        try:
            destinations.append(Destination.from_table(table, f"journal {path.name}"))
        except Exception as exc:
            raise ConfigError(f"cannot resume: destination {name!r} in {path}: {exc}") from exc
    study_uids = header.get("study_uids")
    series_uids = header.get("series_uids")
    return ResumePlan(
        session_id=journal.session_id,
        journal=path,
        inputs=_exact_inputs(inputs, header.get("inputs_bytes_b64")),
        recursive=bool(header.get("recursive", True)),
        destinations=tuple(destinations),
        study_uids=tuple(study_uids) if isinstance(study_uids, list) else None,
        series_uids=tuple(series_uids) if isinstance(series_uids, list) else None,
        complete=journal.complete,
        stored=sum(1 for _ in journal.stored()),
    )


def _exact_inputs(inputs: list[Any], raw: object) -> tuple[str, ...]:
    """The header's inputs as the exact paths (see :func:`request_header`)."""
    b64s = raw if isinstance(raw, list) and len(raw) == len(inputs) else [""] * len(inputs)
    return tuple(path_from_fields(str(i), b) for i, b in zip(inputs, b64s, strict=True))
