"""The session's files in ``logs/``: the text log, the journal, the summary.

* ``dicom_sender_<id>.log``: one line per event worth reading (as the Rust
  tool's log), created readable by the owner only;
* ``dicom_sender_journal_<id>.jsonl``: one JSON line per final file outcome,
  written as each arrives (so a killed session still says what was stored);
* ``dicom_sender_summary_<id>.json``: the summary, written at the end.

The journal and the summary keep each file's exact path (see
:mod:`tui_sender.core.model.recorded_path`); the text log shows it escaped.

Nothing here writes patient names or IDs: events carry paths, UIDs and codes.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from tui_sender.core.base import wording
from tui_sender.core.base.private_files import open_private
from tui_sender.core.dicom import registry
from tui_sender.core.model.events import (
    AssociationClosed,
    AssociationFailed,
    AssociationOpened,
    Event,
    FileDone,
    FileRetrying,
    LogMessage,
    ScanFinished,
    SessionFinished,
    SessionStarted,
    StudyFinished,
    StudyStarted,
    VerificationFinished,
    VerificationStarted,
)
from tui_sender.core.model.outcomes import FileState
from tui_sender.core.model.recorded_path import display_path, record_path
from tui_sender.core.model.verification import Verification
from tui_sender.core.record.journal import JOURNAL_VERSION, JournalWriter


def new_session_id() -> str:
    """Sortable and unique: ``20261125-114208-3fa9c1``."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(3)}"


class SessionFiles:
    """Paths of one session's files."""

    def __init__(self, logs_dir: Path, session_id: str) -> None:
        self.logs_dir = logs_dir
        self.session_id = session_id
        self.log = logs_dir / f"dicom_sender_{session_id}.log"
        self.summary = logs_dir / f"dicom_sender_summary_{session_id}.json"
        self.journal = logs_dir / f"dicom_sender_journal_{session_id}.jsonl"


class SessionLog:
    """Writes the text log and the journal as events arrive.

    Thread-safe: workers call :meth:`handle` from their own threads. Lines
    are flushed to the OS at once (a crash or ``kill -9`` loses nothing
    written); the journal is fsynced about once a second.
    """

    def __init__(
        self, files: SessionFiles, header: dict[str, Any], dest_keys: dict[str, str]
    ) -> None:
        self.files = files
        self._lock = threading.Lock()
        self._log = open_private(files.log)
        self._clock = _LogClock()
        self._journal = JournalWriter(files.journal)
        self._dest_keys = dest_keys
        self._journal.write(
            {"kind": "session", "version": JOURNAL_VERSION, "session_id": files.session_id} | header
        )

    def line(self, level: int, message: str) -> None:
        """Append one line to the text log."""
        stamp = self._clock.stamp()
        with self._lock:
            self._log.write(f"{stamp} {logging.getLevelName(level):<7} {message}\n")
            self._log.flush()

    def handle(self, event: Event) -> None:
        """Log the event; journal it when it is a final file outcome."""
        text = describe(event)
        if text is not None:
            level = event.level if isinstance(event, LogMessage) else _level(event)
            self.line(level, text)
        if isinstance(event, FileDone):
            o = event.outcome
            self._journal.write(
                {
                    "kind": "file",
                    "t": round(event.at, 3),
                    "dest": o.destination,
                    "dest_key": self._dest_keys.get(o.destination, ""),
                    **record_path(o.path),
                    "sop_instance_uid": o.sop_instance_uid,
                    "sop_class_uid": o.sop_class_uid,
                    "study_uid": o.study_uid,
                    "series_uid": o.series_uid,
                    "size": o.file_size,
                    "state": o.state.value,
                    "status": o.status,
                    "reason": o.reason,
                    "attempts": o.attempts,
                    "ts": o.transfer_syntax,
                    "assoc": o.association_id,
                }
            )
        elif isinstance(event, SessionFinished):
            self._journal.write(
                {
                    "kind": "end",
                    "t": round(event.at, 3),
                    "exit_code": event.exit_code,
                    "cancelled": event.cancelled,
                }
            )

    def journal_verified(self, destination: str, uid: str, verdict: Verification) -> None:
        """Journal what verification concluded for one instance (``verify`` and resume read it).

        ``transaction`` (storage commitment only) lets a later ``verify`` take a report
        the archive sends for that request after this session's timeout.
        """
        entry: dict[str, Any] = {
            "kind": "verified",
            "t": round(verdict.at, 3),
            "dest": destination,
            "sop_instance_uid": uid,
            "verified": verdict.verified.value,
            "reason": verdict.reason,
        }
        if verdict.transaction:
            entry["transaction"] = verdict.transaction
        self._journal.write(entry)

    def close(self) -> None:
        """Flush to disk and close both files."""
        self._journal.close()
        with self._lock:
            if not self._log.closed:
                self._log.flush()
                os.fsync(self._log.fileno())
                self._log.close()


class _LogClock:
    """Local ISO-8601 time stamps with milliseconds, cheaply.

    The date, time and offset change once a second; formatting them for
    every line (two datetime calls) cost more than writing the line.
    """

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""
        self._offset = ""

    def stamp(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:
            local = dt.datetime.fromtimestamp(second).astimezone()
            self._second = second
            self._prefix = local.strftime("%Y-%m-%dT%H:%M:%S")
            self._offset = local.isoformat()[19:]
        return f"{self._prefix}.{int((now - second) * 1000):03d}{self._offset}"


def _level(event: Event) -> int:
    if isinstance(event, FileDone):
        state = event.outcome.state
        if state is FileState.FAILED:
            return logging.ERROR
        if state is FileState.WARNING:
            return logging.WARNING
    if isinstance(event, AssociationFailed):
        return logging.WARNING if event.retrying else logging.ERROR
    if isinstance(event, FileRetrying):
        return logging.WARNING
    if isinstance(event, VerificationFinished):
        if event.error:
            return logging.ERROR
        doubtful = sum(event.counts.get(v, 0) for v in ("commit-failed", "missing", "unconfirmed"))
        return logging.WARNING if doubtful else logging.INFO
    return logging.INFO


def describe(event: Event) -> str | None:
    """A one-line, PHI-free description of an event (None: not worth a line)."""
    if isinstance(event, FileDone):
        o = event.outcome
        symbol = {"sent": "✓ Sent", "warning": "! Stored with warning", "failed": "✗ Failed"}
        head = symbol.get(o.state.value, "- Skipped")
        detail = f" ({o.bytes_sent} bytes) in {event.seconds * 1000:.1f} ms" if o.stored else ""
        status = f" status 0x{o.status:04X}" if o.status is not None else ""
        ts = f" as {registry.transfer_syntax_name(o.transfer_syntax)}" if o.transfer_syntax else ""
        conv = (
            f" (converted from {registry.transfer_syntax_name(o.converted_from)})"
            if o.converted_from
            else ""
        )
        reason = f": {o.reason}" if o.reason else ""
        return (
            f"[{event.worker}] {head} {display_path(o.path)}{detail}{status}{ts}{conv} "
            f"{o.association_id}{reason}"
        )
    if isinstance(event, AssociationOpened) and event.unit != "association":
        return (
            f"[{event.worker}] {event.unit} {event.association_id} to {event.peer} open, "
            f"{event.seconds * 1000:.1f} ms"
        )
    if isinstance(event, AssociationOpened):
        lines = [
            f"[{event.worker}] association {event.association_id} with {event.peer}: "
            f"{len(event.accepted)} of {len(event.contexts)} presentation contexts accepted, "
            f"peer max PDU {event.max_pdu}, {event.seconds * 1000:.1f} ms"
        ]
        for c in event.contexts:
            verdict = "accepted" if c.accepted else f"rejected ({c.result})"
            lines.append(
                f"    context {c.context_id}: {registry.sop_class_name(c.sop_class_uid)} / "
                f"{registry.transfer_syntax_name(c.transfer_syntax_uid)}: {verdict}"
            )
        return "\n".join(lines)
    if isinstance(event, AssociationFailed):
        retry = " (will retry)" if event.retrying else ""
        return (
            f"[{event.worker}] {event.unit} attempt {event.attempt} failed{retry}: {event.reason}"
        )
    if isinstance(event, AssociationClosed):
        how = "released" if event.released else "aborted"
        if event.unit != "association":
            how = "closed" if event.released else "dropped"
        note = f": {event.note}" if event.note else ""
        return (
            f"[{event.worker}] {event.unit} {event.association_id} {how} after {event.files} "
            f"files, {event.bytes} bytes, {event.seconds:.2f} s{note}"
        )
    if isinstance(event, FileRetrying):
        return (
            f"[{event.worker}] retry (attempt {event.attempt}) {display_path(event.path)}: "
            f"{event.reason}"
        )
    if isinstance(event, StudyStarted):
        return f"[{event.worker}] study {event.study_uid}: {event.files} files, {event.bytes} bytes"
    if isinstance(event, StudyFinished):
        return (
            f"[{event.worker}] study {event.study_uid} done: {event.sent} sent, "
            f"{event.warning} warning, {event.failed} failed"
        )
    if isinstance(event, LogMessage):
        return f"[{event.worker}] {event.message}" if event.worker else event.message
    if isinstance(event, SessionStarted) and event.scanning:
        return (
            f"session {event.session_id}: sending to {', '.join(event.destinations)} with "
            f"{event.workers} workers while scanning"
        )
    if isinstance(event, VerificationStarted):
        how = "storage commitment" if event.method == "commitment" else "C-FIND"
        return (
            f"{event.destination}: verifying {wording.count(event.instances, 'stored instance')} "
            f"by {how}"
        )
    if isinstance(event, VerificationFinished):
        if event.error:
            return f"{event.destination}: verification failed: {event.error}"
        return (
            f"{event.destination}: verified in {event.seconds:.1f} s: "
            f"{wording.verification_result(event.counts, event.method)}"
        )
    if isinstance(event, ScanFinished):
        return wording.scan_result(
            event.files_seen,
            event.instances,
            event.bytes,
            event.studies,
            event.skipped,
            event.seconds,
        ) + ("" if event.complete else " (stopped early: later paths are not in this record)")
    if isinstance(event, SessionStarted):
        return (
            f"session {event.session_id}: {event.files} files ({event.bytes} bytes) in "
            f"{event.studies} studies to {', '.join(event.destinations)} with {event.workers} "
            f"workers; {event.skipped} paths skipped"
        )
    if isinstance(event, SessionFinished):
        t = event.totals
        return (
            f"session {event.session_id} {'cancelled' if event.cancelled else 'finished'}: "
            f"{int(t.get('sent', 0))} sent, {int(t.get('warning', 0))} warning, "
            f"{int(t.get('failed', 0))} failed, {int(t.get('skipped', 0))} skipped of "
            f"{int(t.get('found', 0))}; exit code {event.exit_code}; summary {event.summary_path}"
        )
    return None
