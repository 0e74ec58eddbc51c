"""The stored-instance index remembers the last verdict per instance, and an older index
file (from before verdicts were remembered) keeps working."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from tui_sender.core.model.verification import Verification, Verified
from tui_sender.core.record.journal import journal_path
from tui_sender.core.record.stored_index import StoredIndex

KEY = "ARCHIVE@127.0.0.1:11112"
UID = "2.25.1"


def _journal(logs: Path, session_id: str, *lines: dict[str, Any], ended: bool = True) -> Path:
    """A journal as a session writes it: header, lines, end."""
    logs.mkdir(parents=True, exist_ok=True)
    path = journal_path(logs, session_id)
    header = {"kind": "session", "version": 1, "session_id": session_id,
              "destination_keys": {"archive": KEY}}  # fmt: skip
    end = [{"kind": "end", "t": 900.0, "exit_code": 0, "cancelled": False}] if ended else []
    path.write_text("".join(json.dumps(e) + "\n" for e in [header, *lines, *end]))
    return path


def _stored(uid: str, t: float) -> dict[str, Any]:
    return {"kind": "file", "t": t, "dest": "archive", "dest_key": KEY, "path": f"/in/{uid}",
            "sop_instance_uid": uid, "size": 100, "state": "sent"}  # fmt: skip


def _verified(uid: str, t: float, value: str, reason: str = "") -> dict[str, Any]:
    return {"kind": "verified", "t": t, "dest": "archive", "sop_instance_uid": uid,
            "verified": value, "reason": reason}  # fmt: skip


def test_an_index_from_before_verdicts_keeps_working_and_reads_its_journals_again(
    tmp_path: Path,
) -> None:
    logs = tmp_path / "logs"
    journal = _journal(
        logs, "S1", _stored(UID, 100.0), _verified(UID, 101.25, "missing", "not listed")
    )
    path = tmp_path / "state" / "stored.sqlite3"
    path.parent.mkdir()
    old = sqlite3.connect(path)  # the schema of the release before
    old.execute(
        "CREATE TABLE stored (dest_key TEXT NOT NULL, uid TEXT NOT NULL, size INTEGER NOT NULL, "
        "session_id TEXT NOT NULL, stored_at REAL NOT NULL, PRIMARY KEY (dest_key, uid))"
    )
    old.execute("CREATE TABLE journals (path TEXT PRIMARY KEY, complete INTEGER NOT NULL)")
    old.execute("INSERT INTO stored VALUES (?, ?, 100, 'S1', 100.0)", [KEY, UID])
    old.execute("INSERT INTO journals VALUES (?, 1)", [str(journal.resolve())])
    old.commit()
    old.close()

    index = StoredIndex(path)
    try:
        (record,) = index.lookup(KEY, [UID]).values()
        assert (record.size, record.session_id, record.verification) == (100, "S1", None)
        # The journal was imported complete before; read once more for its verdicts.
        assert index.catch_up(logs) == 1
        assert index.lookup(KEY, [UID])[UID].verification == Verification(
            Verified.MISSING, "not listed", 101.25
        )
        assert index.catch_up(logs) == 0, "then not again"
    finally:
        index.close()
    StoredIndex(path).close()  # opening the migrated file again changes nothing


def test_the_latest_verdict_wins_and_not_asked_is_no_verdict(tmp_path: Path) -> None:
    index = StoredIndex(tmp_path / "stored.sqlite3")
    try:
        index.add([(KEY, UID, 100, "S1", 100.0)])
        index.add_verified([(KEY, UID, Verification(Verified.COMMITTED, "", 150.1234))])
        # The same verdict read back from a journal, rounded to the millisecond: kept exact.
        index.add_verified([(KEY, UID, Verification(Verified.COMMITTED, "", 150.123))])
        index.add_verified([(KEY, UID, Verification(Verified.NOT_ASKED, "", 160.0))])
        assert index.lookup(KEY, [UID])[UID].verification == Verification(
            Verified.COMMITTED, "", 150.1234
        )
        index.add_verified([(KEY, UID, Verification(Verified.MISSING, "gone", 200.0))])
        index.add_verified([(KEY, UID, Verification(Verified.FOUND, "", 180.0))])  # older
        assert index.lookup(KEY, [UID])[UID].verification == Verification(
            Verified.MISSING, "gone", 200.0
        )
        assert index.lookup("OTHER@127.0.0.1:104", [UID]) == {}
    finally:
        index.close()


def test_a_verdict_from_before_the_last_store_is_not_carried(tmp_path: Path) -> None:
    index = StoredIndex(tmp_path / "stored.sqlite3")
    try:
        index.add([(KEY, UID, 100, "S1", 100.0)])
        index.add_verified([(KEY, UID, Verification(Verified.COMMITTED, "", 101.0))])
        index.add([(KEY, UID, 100, "S2", 300.0)])  # sent again (--force), not verified
        # An older journal read again does not put the earlier store back.
        index.add([(KEY, UID, 100, "S1", 100.0)])
        record = index.lookup(KEY, [UID])[UID]
        assert (record.session_id, record.verification) == ("S2", None)
    finally:
        index.close()


def test_a_killed_sessions_journal_brings_its_verdicts(tmp_path: Path) -> None:
    """Verdict lines of a journal without an end line (read at every catch-up) count; a
    value this version does not know does not."""
    logs = tmp_path / "logs"
    _journal(
        logs,
        "S1",
        _stored(UID, 100.0),
        _stored("2.25.2", 100.0),
        _verified(UID, 101.0, "commit-failed", "processing failure (0x0110)"),
        _verified("2.25.2", 101.0, "held-by-magic"),
        ended=False,
    )
    index = StoredIndex(tmp_path / "stored.sqlite3")
    try:
        assert index.catch_up(logs) == 2
        found = index.lookup(KEY, [UID, "2.25.2"])
        assert found[UID].verification == Verification(
            Verified.COMMIT_FAILED, "processing failure (0x0110)", 101.0
        )
        assert found["2.25.2"].verification is None
    finally:
        index.close()
