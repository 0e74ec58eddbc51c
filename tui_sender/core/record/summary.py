"""The session ledger and the JSON summary built from it.

:class:`Ledger` consumes engine events and keeps exactly one
:class:`~tui_sender.core.model.outcomes.FileOutcome` per (file, destination), plus
what each association negotiated and carried. :func:`build_summary` turns it
into the ``dicom_sender_summary_<id>.json`` document. Counts are computed from
the per-file records, so they add up by construction: for every destination,
``found == sent + warning + failed + skipped``.

The document keeps the Rust ``dicom-sender`` summary's top-level keys (so
scripts reading them keep working) and adds the detail that tool lacked.
Each file entry's ``"path"`` is the exact path, plus ``"path_bytes_b64"``
when it is not valid UTF-8 (see :mod:`tui_sender.core.model.recorded_path`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tui_sender import __version__
from tui_sender.core.base.gil import handing_over
from tui_sender.core.dicom import registry
from tui_sender.core.model.catalog import Catalog, SkippedFile
from tui_sender.core.model.events import (
    AssociationClosed,
    AssociationOpened,
    Event,
    FileDone,
)
from tui_sender.core.model.outcomes import FileOutcome, FileState
from tui_sender.core.model.recorded_path import record_path

STATES = (FileState.SENT, FileState.WARNING, FileState.FAILED, FileState.SKIPPED)


@dataclass(slots=True)
class AssociationRecord:
    """What one association negotiated and carried."""

    association_id: str
    destination: str
    worker: str
    peer: str
    max_pdu: int
    accepted: list[dict[str, str]]
    rejected: list[dict[str, str]]
    opened_at: float
    negotiation_seconds: float
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    released: bool | None = None
    note: str = ""


@dataclass(slots=True)
class Ledger:
    """Every outcome and association of a session, fed by events."""

    outcomes: dict[tuple[str, str], FileOutcome] = field(default_factory=dict)
    associations: dict[str, AssociationRecord] = field(default_factory=dict)
    finished_at: dict[tuple[str, str], float] = field(default_factory=dict)
    """When each file sent in this session reached its final state (for the report's charts)."""

    def handle(self, event: Event) -> None:
        """Record what the event says (other events are ignored)."""
        if isinstance(event, FileDone):
            key = (event.outcome.destination, event.outcome.path)
            if key not in self.outcomes:
                self.finished_at[key] = event.at
            self.record(event.outcome)
        elif isinstance(event, AssociationOpened) and event.association_id != "-":
            self.associations[event.association_id] = AssociationRecord(
                association_id=event.association_id,
                destination=event.destination,
                worker=event.worker,
                peer=event.peer,
                max_pdu=event.max_pdu,
                accepted=[_context(c.sop_class_uid, c.transfer_syntax_uid) for c in event.accepted],
                rejected=[
                    {**_context(c.sop_class_uid, c.transfer_syntax_uid), "result": c.result}
                    for c in event.rejected
                ],
                opened_at=event.at,
                negotiation_seconds=round(event.seconds, 4),
            )
        elif isinstance(event, AssociationClosed):
            record = self.associations.get(event.association_id)
            if record is not None:
                record.files = event.files
                record.bytes = event.bytes
                record.seconds = round(event.seconds, 3)
                record.released = event.released
                record.note = event.note

    def record(self, outcome: FileOutcome) -> None:
        """Keep one outcome per (destination, path); the first final one wins."""
        self.outcomes.setdefault((outcome.destination, outcome.path), outcome)

    def has(self, destination: str, path: str) -> bool:
        """True when the file already has its final state at that destination."""
        return (destination, path) in self.outcomes

    def skip_all(self, skipped: Iterable[SkippedFile], destinations: Sequence[str]) -> None:
        """Record the scan's skipped paths as skipped at every destination."""
        for item in skipped:
            for dest in destinations:
                self.record(
                    FileOutcome(
                        path=item.path,
                        destination=dest,
                        state=FileState.SKIPPED,
                        reason=item.message,
                    )
                )

    def counts(self, destination: str | None = None) -> dict[str, int]:
        """Outcome counts (all destinations, or one)."""
        counts = {state.value: 0 for state in STATES}
        for (dest, _), outcome in self.outcomes.items():
            if destination is None or dest == destination:
                counts[outcome.state.value] += 1
        counts["found"] = sum(counts[s.value] for s in STATES)
        return counts

    def bytes_stored(self, destination: str | None = None) -> int:
        """Data set bytes the destination(s) confirmed."""
        return sum(
            o.bytes_sent
            for (dest, _), o in self.outcomes.items()
            if o.stored and (destination is None or dest == destination)
        )


def _context(sop: str, ts: str) -> dict[str, str]:
    return {
        "sop_class_uid": sop,
        "sop_class": registry.sop_class_name(sop),
        "transfer_syntax_uid": ts,
        "transfer_syntax": registry.transfer_syntax_name(ts),
    }


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class SummaryContext:
    """Session facts the summary needs beside the ledger."""

    session_id: str
    started_at: float
    ended_at: float
    destinations: Sequence[dict[str, Any]]
    """One entry per destination: name, peer, called_ae, calling_ae, host, port, workers."""
    configuration: dict[str, Any]
    cancelled: bool
    exit_code: int
    log_path: str
    include_phi: bool = False


def build_summary(ledger: Ledger, catalog: Catalog, ctx: SummaryContext) -> dict[str, Any]:
    """The JSON summary document (no patient data unless ``include_phi``)."""
    duration = max(ctx.ended_at - ctx.started_at, 1e-9)
    counts = ledger.counts()
    stored_bytes = ledger.bytes_stored()
    stored_files = counts["sent"] + counts["warning"]
    first = ctx.destinations[0] if ctx.destinations else {}
    files = [
        _file_entry(o, ledger.finished_at.get(key))
        for key, o in handing_over(ledger.outcomes.items())
    ]
    studies = _study_entries(ledger, catalog, ctx.include_phi)
    return {
        # -- keys of the Rust dicom-sender summary, same names and meanings --
        "session_id": ctx.session_id,
        "start_time": _iso(ctx.started_at),
        "end_time": _iso(ctx.ended_at),
        "total_files": counts["found"],
        "successful_transfers": stored_files,
        "failed_transfers": counts["failed"],
        "total_bytes": stored_bytes,
        "total_time_ms": round(duration * 1000),
        "average_transfer_time_ms": round(duration * 1000 / stored_files, 3)
        if stored_files
        else 0.0,
        "throughput_mbps": round(stored_bytes / duration / (1024 * 1024), 3),
        "threads_used": sum(int(d.get("workers", 0)) for d in ctx.destinations),
        "destination": first.get("url")
        or f"{first.get('called_ae', '')}:{first.get('port', '')}@{first.get('host', '')}",
        "calling_ae": first.get("calling_ae", ""),
        "called_ae": first.get("called_ae", ""),
        "studies_processed": sorted({s["study_uid"] for s in studies}),
        # -- tui-sender additions --
        "tool": {"name": "tui-sender", "version": __version__},
        "cancelled": ctx.cancelled,
        "exit_code": ctx.exit_code,
        "log_file": ctx.log_path,
        "configuration": ctx.configuration,
        "totals": {
            **counts,
            "bytes_sent": stored_bytes,
            "duration_s": round(duration, 3),
            "mb_per_s": round(stored_bytes / duration / 1e6, 3),
            "images_per_s": round(stored_files / duration, 2),
            "converted": sum(1 for o in ledger.outcomes.values() if o.converted_from),
        },
        "destinations": [{**d, "totals": ledger.counts(str(d["name"]))} for d in ctx.destinations],
        "associations": [_association_entry(a) for a in ledger.associations.values()],
        "studies": studies,
        "files": files,
    }


def _file_entry(o: FileOutcome, finished_at: float | None) -> dict[str, Any]:
    return {
        **record_path(o.path),
        "destination": o.destination,
        "state": o.state.value,
        "status": f"0x{o.status:04X}" if o.status is not None else None,
        "http_status": o.http_status or None,
        "reason": o.reason,
        "attempts": o.attempts,
        "sop_instance_uid": o.sop_instance_uid,
        "sop_class_uid": o.sop_class_uid,
        "study_uid": o.study_uid,
        "series_uid": o.series_uid,
        "transfer_syntax": o.transfer_syntax,
        "converted_from": o.converted_from,
        "bytes": o.bytes_sent,
        "association": o.association_id,
        "finished_at": _iso(finished_at) if finished_at is not None else None,
    }


def _association_entry(a: AssociationRecord) -> dict[str, Any]:
    return {
        "id": a.association_id,
        "destination": a.destination,
        "worker": a.worker,
        "peer": a.peer,
        "peer_max_pdu": a.max_pdu,
        "opened_at": _iso(a.opened_at),
        "negotiation_s": a.negotiation_seconds,
        "accepted": a.accepted,
        "rejected": a.rejected,
        "files": a.files,
        "bytes": a.bytes,
        "duration_s": a.seconds,
        "released": a.released,
        "note": a.note,
    }


def _study_entries(ledger: Ledger, catalog: Catalog, include_phi: bool) -> list[dict[str, Any]]:
    per: dict[tuple[str, str], dict[str, Any]] = {}
    for (dest, _), o in handing_over(ledger.outcomes.items()):
        if not o.study_uid:
            continue
        entry = per.get((dest, o.study_uid))
        if entry is None:
            entry = {"study_uid": o.study_uid, "destination": dest, "files": 0, "bytes": 0}
            entry.update({s.value: 0 for s in STATES})
            study = catalog.studies.get(o.study_uid)
            if study is not None:
                entry["study_date"] = study.date
                entry["modalities"] = study.modalities
                entry["description"] = study.description
                if include_phi:
                    patient = catalog.patients.get(study.patient_key)
                    if patient is not None:
                        entry["patient_name"] = patient.name
                        entry["patient_id"] = patient.patient_id
            per[(dest, o.study_uid)] = entry
        entry["files"] += 1
        entry[o.state.value] += 1
        entry["bytes"] += o.bytes_sent
    return list(per.values())
