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

It also remembers the last verification of each instance there (storage
commitment or C-FIND: the verdict, its reason, when it was learnt), from
``send --verify``, ``tui-sender verify`` and the journals' ``verified`` lines,
so a later session that skips an instance the destination already holds can
still say what the archive last said about it (:attr:`StoredRecord.verification`).

An index written before verdicts were remembered keeps working: the table
of verdicts is created when missing, and journals it had imported are read
once more for their ``verified`` lines (``journals.version``).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tui_sender.core.config.state import state_dir
from tui_sender.core.model.verification import Verification, Verified
from tui_sender.core.record.journal import Journal, read_journal

_CHUNK = 500

IMPORT_VERSION = 2
"""What :meth:`StoredIndex.import_journal` takes from a journal: 1, the stored outcomes;
2, also the ``verified`` lines. A complete journal imported at an older version is read
again once (an index from before verdicts were remembered)."""

SAME_TIME = 0.001
"""Seconds within which two times count as the same: journals keep times to the
millisecond, so a journal's copy of a verdict the index already has (with the exact
time) must not replace it with a time a fraction of a millisecond off, and a verdict
and the store it proves, both read back from a journal, must not swap order."""


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """An instance a destination confirmed, and when."""

    size: int
    session_id: str
    stored_at: float
    verification: Verification | None = None
    """What the archive last said about it (committed, found, missing...): None when it
    was never verified there, or only before this store (a ``--force`` re-send since)."""


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
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS verdicts (dest_key TEXT NOT NULL, uid TEXT NOT NULL, "
            "verified TEXT NOT NULL, reason TEXT NOT NULL, at REAL NOT NULL, "
            "PRIMARY KEY (dest_key, uid))"
        )
        self._add_column("journals", "version", "INTEGER NOT NULL DEFAULT 1")
        self._db.commit()

    def _add_column(self, table: str, column: str, declaration: str) -> None:
        """Add a column an older index lacks (another process may be adding it too)."""

        def present() -> bool:
            return any(row[1] == column for row in self._db.execute(f"PRAGMA table_info({table})"))

        if present():
            return
        try:
            self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
        except sqlite3.OperationalError:
            if not present():
                raise

    def lookup(self, dest_key: str, uids: Sequence[str]) -> dict[str, StoredRecord]:
        """The subset of ``uids`` the destination has confirmed."""
        found: dict[str, StoredRecord] = {}
        with self._lock:
            for start in range(0, len(uids), _CHUNK):
                chunk = list(uids[start : start + _CHUNK])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    "SELECT s.uid, s.size, s.session_id, s.stored_at, v.verified, v.reason, v.at "
                    "FROM stored s LEFT JOIN verdicts v "
                    "ON v.dest_key = s.dest_key AND v.uid = s.uid "
                    f"WHERE s.dest_key = ? AND s.uid IN ({marks})",
                    [dest_key, *chunk],
                )
                for uid, size, session_id, stored_at, verified, reason, at in rows:
                    verdict = _verdict(verified, reason, at, stored_at)
                    found[uid] = StoredRecord(size, session_id, stored_at, verdict)
        return found

    def add(self, entries: Iterable[tuple[str, str, int, str, float]]) -> None:
        """Record (dest_key, uid, size, session_id, stored_at) rows (newest wins).

        Newest by ``stored_at``, not by arrival: an older journal read again
        (one that never ended is read at every catch-up) must not put back an
        earlier store over a later one, whose verdict may be the only one
        that counts (:attr:`StoredRecord.verification`).
        """
        rows = list(entries)
        if not rows:
            return
        with self._lock:
            self._db.executemany(
                "INSERT INTO stored (dest_key, uid, size, session_id, stored_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (dest_key, uid) DO UPDATE SET "
                "size = excluded.size, session_id = excluded.session_id, "
                "stored_at = excluded.stored_at WHERE excluded.stored_at >= stored.stored_at",
                rows,
            )
            self._db.commit()

    def add_verified(self, entries: Iterable[tuple[str, str, Verification]]) -> None:
        """Remember (dest_key, uid, verdict) rows: the latest verdict per instance wins.

        ``not-asked`` is no verdict and is not remembered (it must not hide an
        earlier proof). A verdict replaces the remembered one only when learnt
        later (by more than :data:`SAME_TIME`), so reading a journal again
        keeps the exact time a session or ``tui-sender verify`` wrote.
        """
        rows = [
            (key, uid, v.verified.value, v.reason, v.at or time.time())
            for key, uid, v in entries
            if key and uid and v.verified is not Verified.NOT_ASKED
        ]
        if not rows:
            return
        with self._lock:
            self._db.executemany(
                "INSERT INTO verdicts (dest_key, uid, verified, reason, at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (dest_key, uid) DO UPDATE SET verified = excluded.verified, "
                "reason = excluded.reason, at = excluded.at "
                f"WHERE excluded.at > verdicts.at + {SAME_TIME!r}",
                rows,
            )
            self._db.commit()

    def import_journal(self, path: Path) -> int:
        """Add a journal's stored outcomes and verdicts (once per complete journal, at this
        :data:`IMPORT_VERSION`); return how many stored outcomes."""
        key = str(path.resolve())
        with self._lock:
            row = self._db.execute(
                "SELECT complete, version FROM journals WHERE path = ?", [key]
            ).fetchone()
        if row is not None and row[0] and row[1] >= IMPORT_VERSION:
            return 0
        journal = read_journal(path)
        rows = [
            (f.destination_key, f.sop_instance_uid, f.size, journal.session_id, f.at)
            for f in journal.stored()
            if f.destination_key and f.sop_instance_uid
        ]
        self.add(rows)
        self.add_verified(_journal_verdicts(journal))
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO journals (path, complete, version) VALUES (?, ?, ?)",
                [key, int(journal.complete), IMPORT_VERSION],
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


def _verdict(
    verified: str | None, reason: str | None, at: float | None, stored_at: float
) -> Verification | None:
    """A remembered verdict, if it speaks for the store the index holds.

    A verdict learnt before that store (beyond :data:`SAME_TIME`) was about
    an earlier copy: the file was sent again since (``--force``) and that
    send was not verified. A value this version does not know is none.
    """
    if verified is None or at is None or at < stored_at - SAME_TIME:
        return None
    try:
        value = Verified(verified)
    except ValueError:
        return None
    return Verification(value, reason or "", at)


def _journal_verdicts(journal: Journal) -> list[tuple[str, str, Verification]]:
    """A journal's ``verified`` lines as (dest_key, uid, verdict) rows.

    The lines name the destination; its key comes from the header's
    ``destination_keys``, else from the destination's file lines.
    """
    keys = {f.destination: f.destination_key for f in journal.files if f.destination_key}
    named = journal.header.get("destination_keys")
    if isinstance(named, dict):
        keys.update({str(name): str(key) for name, key in named.items() if key})
    rows = []
    for (destination, uid), line in journal.verified.items():
        try:
            value = Verified(str(line.get("verified", "")))
            at = float(line.get("t", 0.0) or 0.0)
        except (TypeError, ValueError):
            continue
        verdict = Verification(value, str(line.get("reason", "") or ""), at)
        rows.append((keys.get(destination, ""), uid, verdict))
    return rows


def verdict_rows(
    verdicts: Mapping[str, Mapping[str, Verification]], keys: Mapping[str, str]
) -> list[tuple[str, str, Verification]]:
    """Each destination's verdicts (name -> SOP Instance UID -> verdict) as index rows,
    under its key (name -> ``AE@host:port``); a destination without a key is left out."""
    return [
        (keys[name], uid, verdict)
        for name, results in verdicts.items()
        if keys.get(name)
        for uid, verdict in results.items()
    ]


def remember_verdicts(
    verdicts: Mapping[str, Mapping[str, Verification]],
    keys: Mapping[str, str],
    *,
    warn: Callable[[str], None] = lambda _: None,
    path: Path | None = None,
) -> None:
    """Remember verdicts in the index at ``path`` (default: the state folder's), for
    ``tui-sender verify``: a later send that skips those instances carries them.

    The record is what the user asked for and is written either way: a
    state folder that cannot be written is a warning (``warn``), not a failure.
    """
    try:
        index = StoredIndex(path)
        try:
            index.add_verified(verdict_rows(verdicts, keys))
        finally:
            index.close()
    except (OSError, sqlite3.Error) as exc:
        warn(f"the stored-instance index does not remember these verdicts: {exc}")


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
