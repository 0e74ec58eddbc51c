"""The plan: what goes where, on how many associations, and what is skipped and why.

A stage of its own between the catalog and the workers. The confirmation
screen shows it, ``send`` and ``--resume`` run it, and the session executes
exactly it: nobody else decides which files a destination gets or how they
are batched.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tui_sender.core.base import wording
from tui_sender.core.dicom.negotiation import Batch, plan_batches
from tui_sender.core.engine.targets import TransferTarget
from tui_sender.core.model.catalog import Instance, SkippedFile, SkipReason
from tui_sender.core.model.verification import Verification
from tui_sender.core.record.stored_index import StoredIndex

SHARES_PER_WORKER = 4
"""With several associations, no batch holds more than 1/(workers x this) of a
destination's files: studies are split (an association carries on across batches
whose contexts it has), so the associations finish together. Whole studies of
equal size left the last round half idle: 20 studies of 100 files on 8
associations across a WAN ran 2.5 rounds of studies in 3 rounds' time."""


@dataclass(frozen=True, slots=True)
class AlreadyStored:
    """A file this destination confirmed storing in an earlier session: skipped."""

    instance: Instance
    reason: str
    verification: Verification | None = None
    """What the archive last said about it there (None: never verified since that store);
    the session's record carries it, so a resumed session keeps what was proven."""


@dataclass(frozen=True, slots=True)
class DestinationPlan:
    """One destination's share of the plan."""

    target: TransferTarget
    batches: tuple[Batch, ...]
    """Largest first; each goes over one association with its own contexts."""
    already_stored: tuple[AlreadyStored, ...]

    @property
    def files(self) -> int:
        """Files that will be offered to this destination."""
        return sum(len(b.instances) for b in self.batches)

    @property
    def bytes(self) -> int:
        return sum(b.bytes for b in self.batches)

    @property
    def associations(self) -> int:
        """Associations that will run at once: one per batch, up to the destination's workers."""
        return min(self.target.workers, len(self.batches)) if self.batches else 0


@dataclass(frozen=True, slots=True)
class SendPlan:
    """Everything a session will do, decided before the first association."""

    instances: tuple[Instance, ...]
    """The files the session was given (each destination gets those not already stored)."""
    unreadable: tuple[SkippedFile, ...]
    """What the scan skipped (not DICOM, unreadable, duplicates): recorded, never sent."""
    destinations: tuple[DestinationPlan, ...]

    @property
    def studies(self) -> int:
        return len({i.study_uid for i in self.instances})

    @property
    def bytes(self) -> int:
        return sum(i.size for i in self.instances)

    def lines(self) -> list[str]:
        """The plan in words, for the confirmation screen and the console."""
        n, s = len(self.instances), self.studies
        out = [
            f"{wording.count(n, 'file')} in {wording.count(s, 'study', 'studies')} "
            f"({wording.size(self.bytes)})"
        ]
        for d in self.destinations:
            t = d.target
            if t.web is not None:
                line = f"→ {t.name}: DICOMweb {t.web.url}"
                line += f", {t.web.credentials.describe()}" if t.web.credentials else ""
            else:
                line = f"→ {t.name}: {t.link.peer} as {t.link.calling_ae}"
                line += ", TLS" if t.link.tls_context is not None else ""
            if not d.files:
                line += ": nothing to send"
            else:
                if d.files != n:
                    line += f": {wording.count(d.files, 'file')} ({wording.size(d.bytes)})"
                line += f", {wording.count(d.associations, t.worker_unit)}"
            if d.already_stored:
                line += f"; {len(d.already_stored)} already stored there, skipped"
            out.append(line)
        if self.unreadable:
            reasons: dict[str, int] = {}
            for skipped in self.unreadable:
                key = skipped.reason.explanation
                reasons[key] = reasons.get(key, 0) + 1
            listed = "; ".join(f"{count} {why}" for why, count in sorted(reasons.items()))
            out.append(f"skipped by the scan: {listed}")
        return out


def make_plan(
    instances: Sequence[Instance],
    unreadable: Sequence[SkippedFile],
    targets: Sequence[TransferTarget],
    *,
    index: StoredIndex | None = None,
    skip_stored: bool = True,
    logs_dir: Path | None = None,
) -> SendPlan:
    """Plan sending ``instances`` to each target.

    With ``index`` and ``skip_stored``, files a destination already confirmed
    (same SOP Instance UID and size) are left out of its batches and listed
    with the session that stored them. The index first takes in the journals
    in ``logs_dir`` (a session killed before it updated the index still counts).
    """
    if index is not None and logs_dir is not None:
        index.catch_up(logs_dir)
    files = tuple(instances)
    plans = []
    for target in targets:
        stored = _already_stored(files, target, index) if skip_stored else ()
        left_out = {s.instance.path for s in stored}
        to_send = [i for i in files if i.path not in left_out] if left_out else files
        batches = _shared_out(plan_batches(_by_study(to_send)), target.workers)
        plans.append(DestinationPlan(target, tuple(batches), stored))
    return SendPlan(files, tuple(unreadable), tuple(plans))


def _already_stored(
    files: Sequence[Instance], target: TransferTarget, index: StoredIndex | None
) -> tuple[AlreadyStored, ...]:
    """The files the index says the destination holds (same SOP Instance UID, same size),
    less those a verification since found missing or failed to commit: they go again."""
    if index is None:
        return ()
    known = index.lookup(target.link.peer, [i.sop_instance_uid for i in files])
    stored = []
    for inst in files:
        record = known.get(inst.sop_instance_uid)
        if record is None or record.size != inst.size:
            continue
        if record.verification is not None and record.verification.verified.refuted:
            continue  # stored once, but the archive said since that it does not hold it
        when = dt.datetime.fromtimestamp(record.stored_at).strftime("%Y-%m-%d %H:%M")
        reason = (
            f"{SkipReason.ALREADY_SENT.explanation} (session {record.session_id}, {when}); "
            "--force sends it again"
        )
        stored.append(AlreadyStored(inst, reason, record.verification))
    return tuple(stored)


def _shared_out(batches: list[Batch], workers: int) -> list[Batch]:
    """The batches, studies split where one would hold too big a share (largest first)."""
    if workers <= 1 or not batches:
        return batches
    total = sum(len(b.instances) for b in batches)
    most = max(1, math.ceil(total / (workers * SHARES_PER_WORKER)))
    if all(len(b.instances) <= most for b in batches):
        return batches
    out: list[Batch] = []
    for batch in batches:
        count = len(batch.instances)
        size = math.ceil(count / math.ceil(count / most))
        out.extend(
            Batch(batch.study_uid, batch.instances[i : i + size], batch.contexts)
            for i in range(0, count, size)
        )
    out.sort(key=lambda b: b.bytes, reverse=True)
    return out


def _by_study(instances: Sequence[Instance]) -> dict[str, list[Instance]]:
    studies: dict[str, list[Instance]] = {}
    for inst in instances:
        studies.setdefault(inst.study_uid, []).append(inst)
    return studies
