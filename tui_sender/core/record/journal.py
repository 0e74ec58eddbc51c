"""The session journal: an append-only, crash-safe record of file outcomes.

``logs/dicom_sender_journal_<id>.jsonl`` holds one JSON object per line:

* ``{"kind": "session", ...}`` first: what was asked (inputs, selection,
  destinations without secrets), so ``--resume`` can ask it again;
* ``{"kind": "file", ...}`` per final file outcome (its exact ``path``, plus
  ``path_bytes_b64`` for a name that is not valid UTF-8: see
  :mod:`tui_sender.core.model.recorded_path`), written and flushed to
  the OS as each arrives (``kill -9`` or a lost SSH session loses nothing
  already written; ``fsync`` runs about once a second for power loss);
* ``{"kind": "verified", ...}`` per instance a verification (storage
  commitment or C-FIND) decided, after the file lines of that destination;
* ``{"kind": "end", ...}`` last, only when the session finished normally.

Reading tolerates a torn last line (the process died mid-write).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_sender.core.base.private_files import open_private
from tui_sender.core.model.recorded_path import path_from_record

JOURNAL_VERSION = 1
SYNC_EVERY = 1.0


def journal_path(logs_dir: Path, session_id: str) -> Path:
    """Where a session's journal lives."""
    return logs_dir / f"dicom_sender_journal_{session_id}.jsonl"


class JournalWriter:
    """Appends journal lines; thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file = open_private(path)
        self._last_sync = time.monotonic()

    def write(self, entry: dict[str, Any]) -> None:
        """Append one line, flushed to the OS; fsync at most every second."""
        text = json.dumps(entry, ensure_ascii=False)
        with self._lock:
            self._file.write(text + "\n")
            self._file.flush()
            now = time.monotonic()
            if now - self._last_sync > SYNC_EVERY:
                os.fsync(self._file.fileno())
                self._last_sync = now

    def close(self) -> None:
        """Flush to disk and close."""
        with self._lock:
            if not self._file.closed:
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()


@dataclass(frozen=True, slots=True)
class JournalFile:
    """One final outcome read back from a journal."""

    destination: str
    destination_key: str
    sop_instance_uid: str
    size: int
    state: str
    path: str
    """The exact path (surrogate escapes for bytes that are not UTF-8)."""
    at: float
    sop_class_uid: str = ""
    study_uid: str = ""
    series_uid: str = ""


@dataclass(slots=True)
class Journal:
    """A journal read back: what was asked, what happened, whether it ended."""

    path: Path
    header: dict[str, Any] = field(default_factory=dict)
    files: list[JournalFile] = field(default_factory=list)
    end: dict[str, Any] | None = None
    torn_lines: int = 0
    verified: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    """The last verification line per (destination, SOP Instance UID)."""

    @property
    def session_id(self) -> str:
        """The session's id (from the header, else the file name)."""
        sid = self.header.get("session_id")
        if isinstance(sid, str) and sid:
            return sid
        return self.path.stem.removeprefix("dicom_sender_journal_")

    @property
    def complete(self) -> bool:
        """True when the session wrote its end line (it was not killed)."""
        return self.end is not None

    def stored(self) -> Iterator[JournalFile]:
        """Outcomes confirmed by the destination (sent or warning)."""
        return (f for f in self.files if f.state in ("sent", "warning"))


def read_journal(path: Path) -> Journal:
    """Parse a journal, skipping torn or foreign lines."""
    journal = Journal(path)
    with path.open("r", encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                journal.torn_lines += 1
                continue
            if not isinstance(entry, dict):
                journal.torn_lines += 1
                continue
            kind = entry.get("kind")
            if kind == "session":
                journal.header = entry
            elif kind == "end":
                journal.end = entry
            elif kind == "verified":
                key = (str(entry.get("dest", "")), str(entry.get("sop_instance_uid", "")))
                journal.verified[key] = entry
            elif kind == "file":
                journal.files.append(
                    JournalFile(
                        destination=str(entry.get("dest", "")),
                        destination_key=str(entry.get("dest_key", "")),
                        sop_instance_uid=str(entry.get("sop_instance_uid", "")),
                        size=int(entry.get("size", 0) or 0),
                        state=str(entry.get("state", "")),
                        path=path_from_record(entry),
                        at=float(entry.get("t", 0.0) or 0.0),
                        sop_class_uid=str(entry.get("sop_class_uid", "")),
                        study_uid=str(entry.get("study_uid", "")),
                        series_uid=str(entry.get("series_uid", "")),
                    )
                )
    return journal


def find_journal(logs_dir: Path, session: str) -> Path:
    """The journal of a session id (or a path to a journal); FileNotFoundError if none."""
    given = Path(session)
    if given.suffix == ".jsonl" and given.exists():
        return given
    candidate = journal_path(logs_dir, session)
    if candidate.exists():
        return candidate
    matches = sorted(logs_dir.glob(f"dicom_sender_journal_*{session}*.jsonl"))
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(p.stem.removeprefix("dicom_sender_journal_") for p in list_journals(logs_dir))
    raise FileNotFoundError(
        f"no journal for session {session!r} in {logs_dir}"
        + (f" (known sessions: {known})" if known else "")
    )


def list_journals(logs_dir: Path) -> list[Path]:
    """Journals in a logs folder, newest first."""
    if not logs_dir.is_dir():
        return []
    return sorted(logs_dir.glob("dicom_sender_journal_*.jsonl"), reverse=True)
