"""Which SOP instances each destination has already confirmed storing.

Re-sending a folder to a destination skips instances it already holds (by
this tool's own record), unless the user forces it. The index is a small
SQLite database in the state folder (``$XDG_STATE_HOME/tui-sender``, or
``$TUI_SENDER_STATE_DIR``), keyed by destination (``AE@host:port``) and SOP
Instance UID, with the file size as a cheap check that it is the same file.

Sessions add to it in batches (about once a second) and at the end; a
session killed in between still has every outcome in its journal, which
:meth:`StoredIndex.import_journal` reads back, so the index never misses a
stored instance for long.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tui_sender.core.config.state import state_dir
from tui_sender.core.record.journal import read_journal

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """An instance a destination confirmed, and when."""

    size: int
    session_id: str
    stored_at: float


class StoredIndex:
    """The SQLite index. Thread-safe (one connection behind a lock)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / "stored.sqlite3"
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fresh = not self.path.exists()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
        if fresh:
            os.chmod(self.path, 0o600)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS stored (dest_key TEXT NOT NULL, uid TEXT NOT NULL, "
            "size INTEGER NOT NULL, session_id TEXT NOT NULL, stored_at REAL NOT NULL, "
            "PRIMARY KEY (dest_key, uid))"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS journals (path TEXT PRIMARY KEY, complete INTEGER NOT NULL)"
        )
        self._db.commit()

    def lookup(self, dest_key: str, uids: Sequence[str]) -> dict[str, StoredRecord]:
        """The subset of ``uids`` the destination has confirmed."""
        found: dict[str, StoredRecord] = {}
        with self._lock:
            for start in range(0, len(uids), _CHUNK):
                chunk = list(uids[start : start + _CHUNK])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT uid, size, session_id, stored_at FROM stored "
                    f"WHERE dest_key = ? AND uid IN ({marks})",
                    [dest_key, *chunk],
                )
                for uid, size, session_id, stored_at in rows:
                    found[uid] = StoredRecord(size, session_id, stored_at)
        return found

    def add(self, entries: Iterable[tuple[str, str, int, str, float]]) -> None:
        """Record (dest_key, uid, size, session_id, stored_at) rows (newest wins)."""
        rows = list(entries)
        if not rows:
            return
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO stored (dest_key, uid, size, session_id, stored_at) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            self._db.commit()

    def import_journal(self, path: Path) -> int:
        """Add a journal's stored outcomes (once per complete journal); return how many."""
        key = str(path.resolve())
        with self._lock:
            row = self._db.execute("SELECT complete FROM journals WHERE path = ?", [key]).fetchone()
        if row is not None and row[0]:
            return 0
        journal = read_journal(path)
        rows = [
            (f.destination_key, f.sop_instance_uid, f.size, journal.session_id, f.at)
            for f in journal.stored()
            if f.destination_key and f.sop_instance_uid
        ]
        self.add(rows)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO journals (path, complete) VALUES (?, ?)",
                [key, int(journal.complete)],
            )
            self._db.commit()
        return len(rows)

    def catch_up(self, logs_dir: Path) -> int:
        """Import every journal in ``logs_dir`` not yet imported complete."""
        total = 0
        for path in sorted(logs_dir.glob("dicom_sender_journal_*.jsonl")):
            total += self.import_journal(path)
        return total

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()


class PendingStores:
    """Stored outcomes waiting to go into the index, flushed about once a second."""

    def __init__(self, index: StoredIndex, session_id: str, every: float = 1.0) -> None:
        self.index = index
        self.session_id = session_id
        self.every = every
        self._rows: list[tuple[str, str, int, str, float]] = []
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def add(self, dest_key: str, uid: str, size: int, at: float) -> None:
        """Queue one stored instance; flush if a second has passed."""
        with self._lock:
            self._rows.append((dest_key, uid, size, self.session_id, at))
            due = time.monotonic() - self._last >= self.every
        if due:
            self.flush()

    def flush(self) -> None:
        """Write what is queued."""
        with self._lock:
            rows, self._rows = self._rows, []
            self._last = time.monotonic()
        self.index.add(rows)
