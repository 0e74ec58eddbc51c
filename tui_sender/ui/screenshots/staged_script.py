"""The events a staged session plays: what the engine would emit against a made-up PACS.

The made-up PACS rejects :data:`REJECTED_SOP_CLASSES`, refuses one file with
0xA700 until the retries run out and stores one with a warning. What follows
from that (which files fail, with which reason and status, which retries are
announced) is decided by the engine's own rules (:func:`choose_route`,
:func:`classify`, the destination's retry policy), so a staged picture cannot
show an outcome the engine would not produce.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from tui_sender.core.dicom import registry
from tui_sender.core.dicom.negotiation import Batch, NoRoute, choose_route
from tui_sender.core.dicom.status import classify
from tui_sender.core.engine.targets import TransferTarget
from tui_sender.core.model.catalog import Instance
from tui_sender.core.model.events import (
    AssociationOpened,
    ContextResult,
    Event,
    FileDone,
    FileRetrying,
    LogMessage,
    StudyFinished,
    StudyStarted,
)
from tui_sender.core.model.outcomes import FileOutcome, FileState

REJECTED_SOP_CLASSES = frozenset({"1.2.840.10008.5.1.4.1.1.11.1"})
"""The staged PACS does not store Grayscale Softcopy Presentation States."""
STAGED_STATUSES: Mapping[int, int] = {2: 0xA700, 5: 0xB000}
"""File index (in the first worker's first study) -> the status the staged PACS answers:
out of resources until the retries run out, and a warning (coercion of data elements)."""
SECONDS_PER_FILE = 0.004
"""What one C-STORE costs beyond its bytes, on a LAN (about 4 ms per small image)."""
BYTES_PER_SECOND = 40e6
"""What one association carries, on a LAN. Staged times follow from these two."""
PEER_MAX_PDU = 16384


def staged_seconds(files: int, size: int) -> float:
    """How long one worker takes for ``files`` files of ``size`` bytes in all."""
    return files * SECONDS_PER_FILE + size / BYTES_PER_SECOND


def peer_answer(batch: Batch) -> list[ContextResult]:
    """The staged PACS's answer to the batch's proposal: all but the rejected classes."""
    return [
        ContextResult(
            context_id=2 * n + 1,
            sop_class_uid=c.sop_class_uid,
            transfer_syntax_uid=c.transfer_syntax_uid,
            accepted=c.sop_class_uid not in REJECTED_SOP_CLASSES,
            result=(
                "Abstract Syntax Not Supported"
                if c.sop_class_uid in REJECTED_SOP_CLASSES
                else "Accepted"
            ),
        )
        for n, c in enumerate(batch.contexts)
    ]


def association_opened(
    worker: str, association_id: str, target: TransferTarget, contexts: list[ContextResult]
) -> list[Event]:
    """The association opens; like the engine, also log what the peer rejected."""
    events: list[Event] = [
        AssociationOpened(
            worker=worker,
            association_id=association_id,
            destination=target.name,
            peer=target.link.peer,
            max_pdu=PEER_MAX_PDU,
            contexts=tuple(contexts),
            seconds=0.0124,
        )
    ]
    rejected = [c for c in contexts if not c.accepted]
    if rejected:
        names = sorted({registry.sop_class_name(c.sop_class_uid) for c in rejected})
        events.append(
            LogMessage(
                message=f"{association_id}: {len(rejected)} of {len(contexts)} contexts "
                f"rejected: {', '.join(names)}",
                worker=worker,
            )
        )
    return events


@dataclass
class StudyScript:
    """The events of one study: its start, each file's events, its end."""

    head: list[Event]
    files: list[list[Event]]
    """Per file: any retries, then its FileDone (always last)."""
    tail: list[Event]

    def events(self) -> list[Event]:
        """All of them, in order."""
        return [*self.head, *(e for file in self.files for e in file), *self.tail]


def play_study(
    worker: str,
    association_id: str,
    target: TransferTarget,
    contexts: list[ContextResult],
    batch: Batch,
    statuses: Mapping[int, int],
) -> StudyScript:
    """StudyStarted, each file's events, StudyFinished; file ``i`` is answered
    ``statuses.get(i, 0x0000)`` when the peer accepted a context for it."""
    accepted = {
        (c.sop_class_uid, c.transfer_syntax_uid): c.context_id for c in contexts if c.accepted
    }
    counts = dict.fromkeys(FileState, 0)
    files: list[list[Event]] = []
    for index, inst in enumerate(batch.instances):
        status = statuses.get(index, 0x0000)
        outcome, retries = file_outcome(
            worker, association_id, target, inst, accepted, contexts, status
        )
        files.append([*retries, FileDone(worker=worker, outcome=outcome, seconds=0.004)])
        counts[outcome.state] += 1
    head: list[Event] = [
        StudyStarted(
            worker=worker,
            destination=target.name,
            study_uid=batch.study_uid,
            files=len(batch.instances),
            bytes=batch.bytes,
        )
    ]
    tail: list[Event] = [
        StudyFinished(
            worker=worker,
            destination=target.name,
            study_uid=batch.study_uid,
            sent=counts[FileState.SENT],
            warning=counts[FileState.WARNING],
            failed=counts[FileState.FAILED],
        )
    ]
    return StudyScript(head, files, tail)


def file_outcome(
    worker: str,
    association_id: str,
    target: TransferTarget,
    inst: Instance,
    accepted: Mapping[tuple[str, str], int],
    contexts: list[ContextResult],
    status: int,
) -> tuple[FileOutcome, list[Event]]:
    """What the engine records for ``inst`` when the PACS answers ``status``, and the
    retries it announces first."""
    base = FileOutcome(
        path=inst.path,
        destination=target.name,
        state=FileState.FAILED,
        sop_instance_uid=inst.sop_instance_uid,
        sop_class_uid=inst.sop_class_uid,
        study_uid=inst.study_uid,
        file_size=inst.size,
    )
    route = choose_route(inst, accepted, contexts, target.decompress)
    if isinstance(route, NoRoute):
        return replace(base, reason=route.reason), []
    verdict = classify(status)
    attempts = target.retry.max_attempts if verdict.retry else 1
    retries: list[Event] = [
        FileRetrying(
            worker=worker,
            destination=target.name,
            path=inst.path,
            attempt=n + 1,
            reason=f"{verdict.meaning}; retrying in {target.retry.status_pause(n):g} s",
        )
        for n in range(1, attempts)
    ]
    stored = verdict.state is not FileState.FAILED
    reason = "" if verdict.state is FileState.SENT else verdict.reason
    if verdict.retry:
        reason += f" (after {attempts} attempts)"
    outcome = replace(
        base,
        state=verdict.state,
        status=status,
        reason=reason,
        attempts=attempts,
        transfer_syntax=route.transfer_syntax_uid,
        bytes_sent=inst.dataset_bytes if stored else 0,
        association_id=association_id,
    )
    return outcome, retries
