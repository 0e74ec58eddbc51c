"""Which presentation contexts to propose, and how each file will travel.

Per association we propose, for each SOP class in its batch, every transfer
syntax its files are in (each as its own context, so the peer can accept one
and reject another) plus Explicit and Implicit VR Little Endian as
fallbacks. Never more than 128 contexts: a batch that needs more is split.

After negotiation, :func:`choose_route` picks for each file: its own syntax
if accepted (bytes streamed unchanged), else a lossless conversion to an
accepted uncompressed syntax when the policy allows, else a failure whose
reason says what the peer rejected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from tui_sender.core.config.destinations import DecompressPolicy
from tui_sender.core.dicom import registry
from tui_sender.core.model.catalog import Instance
from tui_sender.core.model.events import ContextResult
from tui_sender.core.net.opening import MAX_CONTEXTS, ProposedContext

EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
FALLBACKS: tuple[str, str] = (EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN)
UNCOMPRESSED_LE = frozenset(FALLBACKS)


def contexts_for_class(sop_class_uid: str, syntaxes: Iterable[str]) -> list[ProposedContext]:
    """The contexts one SOP class needs: its files' syntaxes first, then the fallbacks."""
    ordered: dict[str, None] = {}
    for ts in sorted(set(syntaxes) - UNCOMPRESSED_LE):
        if registry.is_network_syntax(ts):
            ordered[ts] = None
    for ts in FALLBACKS:
        ordered[ts] = None
    return [ProposedContext(sop_class_uid, ts) for ts in ordered]


def contexts_for(instances: Iterable[Instance]) -> list[ProposedContext]:
    """All contexts for these instances, grouped by SOP class in a stable order."""
    by_class: dict[str, set[str]] = {}
    for inst in instances:
        by_class.setdefault(inst.sop_class_uid, set()).add(inst.transfer_syntax_uid)
    out: list[ProposedContext] = []
    for sop in sorted(by_class):
        out.extend(contexts_for_class(sop, by_class[sop]))
    return out


@dataclass(frozen=True, slots=True)
class Batch:
    """Files that go over one association, with the contexts to propose for them."""

    study_uid: str
    instances: tuple[Instance, ...]
    contexts: tuple[ProposedContext, ...]

    @property
    def bytes(self) -> int:
        """Total file size, for largest-first ordering and progress."""
        return sum(i.size for i in self.instances)


def split_by_contexts(
    study_uid: str, instances: Sequence[Instance], limit: int = MAX_CONTEXTS
) -> list[Batch]:
    """One batch per group of SOP classes whose contexts fit in ``limit``."""
    by_class: dict[str, list[Instance]] = {}
    for inst in instances:
        by_class.setdefault(inst.sop_class_uid, []).append(inst)
    batches: list[Batch] = []
    group: list[Instance] = []
    group_contexts: list[ProposedContext] = []
    for sop in sorted(by_class):
        members = by_class[sop]
        needed = contexts_for_class(sop, {i.transfer_syntax_uid for i in members})
        if group and len(group_contexts) + len(needed) > limit:
            batches.append(Batch(study_uid, tuple(group), tuple(group_contexts)))
            group, group_contexts = [], []
        group.extend(members)
        group_contexts.extend(needed[:limit])
    if group:
        batches.append(Batch(study_uid, tuple(group), tuple(group_contexts)))
    return batches


def plan_batches(
    studies: Mapping[str, Sequence[Instance]], limit: int = MAX_CONTEXTS
) -> list[Batch]:
    """Batches for a destination, largest study first.

    When every context of the whole session fits in one association, every
    batch proposes that same set, so a worker keeps one association across
    studies instead of opening one per study.
    """
    everything = contexts_for(i for insts in studies.values() for i in insts)
    shared = tuple(everything) if len(everything) <= limit else None
    batches: list[Batch] = []
    for study_uid, instances in studies.items():
        if not instances:
            continue
        if shared is not None:
            batches.append(Batch(study_uid, tuple(instances), shared))
        else:
            batches.extend(split_by_contexts(study_uid, instances, limit))
    batches.sort(key=lambda b: b.bytes, reverse=True)
    return batches


class Conversion(StrEnum):
    """How the data set changes on the way, if it does."""

    NONE = ""
    REENCODE = "reencode"
    """Between uncompressed syntaxes (explicit/implicit VR, inflate, byte order)."""
    DECOMPRESS = "decompress"


@dataclass(frozen=True, slots=True)
class Route:
    """How one file goes out: on which context, in which syntax."""

    context_id: int
    transfer_syntax_uid: str
    conversion: Conversion = Conversion.NONE


@dataclass(frozen=True, slots=True)
class NoRoute:
    """Why a file cannot be sent on this association."""

    reason: str


def choose_route(
    instance: Instance,
    accepted: Mapping[tuple[str, str], int],
    contexts: Sequence[ContextResult],
    policy: DecompressPolicy,
) -> Route | NoRoute:
    """Pick the context for a file, or say why there is none."""
    sop, ts = instance.sop_class_uid, instance.transfer_syntax_uid
    exact = accepted.get((sop, ts))
    if exact is not None:
        return Route(exact, ts)
    fallbacks = [(fb, accepted[(sop, fb)]) for fb in FALLBACKS if (sop, fb) in accepted]
    if not fallbacks:
        return NoRoute(_rejected_class_reason(sop, contexts))
    target, context_id = fallbacks[0]
    info = registry.transfer_syntax(ts)
    # Uncompressed data sets in another encoding (explicit/implicit VR, big
    # endian, deflated) are re-encoded; JPIP "deflate" syntaxes reference
    # pixels elsewhere and cannot be turned into a plain data set.
    reencodable = info.uncompressed or (info.deflated and not info.keyword.startswith("JPIP"))
    if ts in UNCOMPRESSED_LE or (reencodable and not info.encapsulated):
        return Route(context_id, target, Conversion.REENCODE)
    if policy is DecompressPolicy.NEVER:
        return NoRoute(
            f"the destination does not accept {info.name} for "
            f"{registry.sop_class_name(sop)} and decompression is turned off"
        )
    if not info.lossless and policy is not DecompressPolicy.LOSSY:
        return NoRoute(
            f"the destination does not accept {info.name} for {registry.sop_class_name(sop)}; "
            "the file is lossy-compressed, and decompressing it is allowed only with "
            "--decompress lossy"
        )
    return Route(context_id, target, Conversion.DECOMPRESS)


def _rejected_class_reason(sop: str, contexts: Sequence[ContextResult]) -> str:
    name = registry.sop_class_name(sop)
    answers = sorted({c.result for c in contexts if c.sop_class_uid == sop and not c.accepted})
    if not answers:
        return f"{name} was not proposed on this association"
    return f"the destination rejected {name} ({'; '.join(answers)})"
