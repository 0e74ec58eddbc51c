"""An earlier session's record, read back for ``tui-sender verify``.

The summary JSON has everything verification needs per file (destination,
state, SOP Instance and Class UID, Study and Series UID). A journal has the
same per file line (since this release) and its header names the
destinations, so a session killed before it wrote its summary can be
verified too: :func:`load_record` turns either into a summary-shaped
document, and :func:`verified_path` says where the updated one goes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_sender.core.base.times import utc_iso
from tui_sender.core.config.destinations import Destination
from tui_sender.core.config.settings import ConfigError
from tui_sender.core.model.recorded_path import record_path
from tui_sender.core.record.journal import read_journal

VERIFIED_SUFFIX = ".verified.json"


@dataclass(slots=True)
class EarlierRecord:
    """A summary-shaped document and the destinations its journal header named."""

    path: Path
    summary: dict[str, Any]
    journal_destinations: dict[str, Destination] = field(default_factory=dict)


def load_record(path: Path) -> EarlierRecord:
    """Read a summary (``.json``) or a journal (``.jsonl``); ConfigError when it is neither."""
    if not path.is_file():
        raise ConfigError(f"{path} does not exist or is not a file")
    if path.suffix == ".jsonl":
        return _from_journal(path)
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path} is not a readable summary JSON: {exc}") from exc
    if not isinstance(summary, dict) or not isinstance(summary.get("files"), list):
        raise ConfigError(f"{path} is not a tui-sender session summary (it has no files list)")
    return EarlierRecord(path, summary)


def _from_journal(path: Path) -> EarlierRecord:
    journal = read_journal(path)
    destinations: dict[str, Destination] = {}
    for entry in journal.header.get("destinations", []) or []:
        # each entry is {"name", "from_book", "table"} (see record.resume), the table inside
        table = entry.get("table") if isinstance(entry, dict) else None
        try:
            d = Destination.from_table(dict(table or {}), f"journal {path.name}")
        except Exception:
            continue
        destinations[d.name] = d
    files = []
    for f in journal.files:
        files.append(
            {
                **record_path(f.path),
                "destination": f.destination,
                "state": f.state,
                "sop_instance_uid": f.sop_instance_uid,
                "sop_class_uid": f.sop_class_uid,
                "study_uid": f.study_uid,
                "series_uid": f.series_uid,
                "finished_at": utc_iso(f.at),
            }
        )
        earlier = journal.verified.get((f.destination, f.sop_instance_uid))
        if earlier is not None:
            files[-1]["verified"] = earlier.get("verified", "not-asked")
            files[-1]["verified_reason"] = earlier.get("reason", "")
            files[-1]["verified_at"] = utc_iso(float(earlier.get("t") or 0.0))
            if earlier.get("transaction"):  # a late report for it may still come
                files[-1]["verified_transaction"] = str(earlier["transaction"])
    names = list(dict.fromkeys([*destinations, *(f["destination"] for f in files)]))
    summary = {
        "session_id": journal.session_id,
        "journal": str(path),
        "exit_code": 0,
        "destinations": [{"name": n} for n in names],
        "files": files,
    }
    return EarlierRecord(path, summary, destinations)


def verified_path(source: Path, session_id: str) -> Path:
    """Where the updated summary goes: beside the source, ``<stem>.verified.json``."""
    if source.name.endswith(VERIFIED_SUFFIX):
        return source
    if source.suffix == ".jsonl":
        return source.with_name(f"dicom_sender_summary_{session_id}{VERIFIED_SUFFIX}")
    return source.with_name(source.stem + VERIFIED_SUFFIX)
