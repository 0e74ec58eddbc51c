"""Which contexts we propose, how batches split at 128, and how each file travels."""

from __future__ import annotations

from pydicom.uid import (
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    RLELossless,
)

from tui_sender.core.config.destinations import DecompressPolicy
from tui_sender.core.dicom import registry
from tui_sender.core.dicom.negotiation import (
    Conversion,
    NoRoute,
    Route,
    choose_route,
    contexts_for,
    plan_batches,
    split_by_contexts,
)
from tui_sender.core.model.catalog import Instance
from tui_sender.core.model.events import ContextResult
from tui_sender.core.net.opening import MAX_CONTEXTS

CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
EXPLICIT, IMPLICIT = str(ExplicitVRLittleEndian), str(ImplicitVRLittleEndian)


def inst(sop: str, ts: str, n: int = 0, study: str = "1.2.3", size: int = 1000) -> Instance:
    return Instance(
        path=f"/data/{sop}/{ts}/{n}",
        size=size,
        mtime_ns=0,
        dataset_offset=200,
        sop_class_uid=sop,
        sop_instance_uid=f"9.{abs(hash((sop, ts, n))) % 10**12}.{n}",
        transfer_syntax_uid=ts,
        study_uid=study,
        series_uid=study + ".1",
    )


def test_each_syntax_gets_its_own_context_plus_both_fallbacks() -> None:
    contexts = contexts_for([inst(CT, str(RLELossless)), inst(CT, EXPLICIT), inst(MR, IMPLICIT)])
    pairs = [(c.sop_class_uid, c.transfer_syntax_uid) for c in contexts]
    assert pairs == [
        (CT, str(RLELossless)),
        (CT, EXPLICIT),
        (CT, IMPLICIT),
        (MR, EXPLICIT),
        (MR, IMPLICIT),
    ]


def _classes(n: int) -> list[str]:
    return [c.uid for c in registry.all_sop_classes()][:n]


def test_more_than_128_contexts_split_into_batches_that_each_fit() -> None:
    classes = _classes(60)
    files = [
        inst(sop, ts, i) for i, sop in enumerate(classes) for ts in (EXPLICIT, str(RLELossless))
    ]
    assert len(contexts_for(files)) == 180
    batches = split_by_contexts("1.2.3", files)
    assert len(batches) == 2
    assert all(len(b.contexts) <= MAX_CONTEXTS for b in batches)
    sent = [i.path for b in batches for i in b.instances]
    assert sorted(sent) == sorted(i.path for i in files)
    for b in batches:
        proposed = {(c.sop_class_uid, c.transfer_syntax_uid) for c in b.contexts}
        assert all((i.sop_class_uid, i.transfer_syntax_uid) in proposed for i in b.instances)


def test_plan_shares_one_proposal_when_everything_fits() -> None:
    studies = {
        "s1": [inst(CT, EXPLICIT, 1, "s1", size=10)],
        "s2": [inst(MR, IMPLICIT, 2, "s2", size=500), inst(MR, IMPLICIT, 3, "s2", size=500)],
    }
    batches = plan_batches(studies)
    assert [b.study_uid for b in batches] == ["s2", "s1"], "largest study first"
    assert batches[0].contexts == batches[1].contexts


def test_plan_splits_per_study_when_the_session_needs_more_than_128() -> None:
    classes = _classes(70)
    studies = {
        f"s{k}": [
            inst(sop, EXPLICIT, i, f"s{k}") for i, sop in enumerate(classes[k * 35 : (k + 1) * 35])
        ]
        for k in range(2)
    }
    batches = plan_batches(studies)
    assert len(batches) == 2
    assert batches[0].contexts != batches[1].contexts
    assert all(len(b.contexts) <= MAX_CONTEXTS for b in batches)


def _accepted(*pairs: tuple[str, str]) -> tuple[dict[tuple[str, str], int], list[ContextResult]]:
    results = [
        ContextResult(2 * n + 1, sop, ts, True, "Accepted") for n, (sop, ts) in enumerate(pairs)
    ]
    return {(r.sop_class_uid, r.transfer_syntax_uid): r.context_id for r in results}, results


def test_own_syntax_accepted_streams_unchanged() -> None:
    accepted, results = _accepted((CT, str(RLELossless)), (CT, EXPLICIT))
    route = choose_route(inst(CT, str(RLELossless)), accepted, results, DecompressPolicy.LOSSLESS)
    assert route == Route(1, str(RLELossless), Conversion.NONE)


def test_lossless_compressed_is_decompressed_only_when_allowed() -> None:
    accepted, results = _accepted((CT, IMPLICIT))
    file = inst(CT, str(JPEG2000Lossless))
    assert choose_route(file, accepted, results, DecompressPolicy.LOSSLESS) == Route(
        1, IMPLICIT, Conversion.DECOMPRESS
    )
    refused = choose_route(file, accepted, results, DecompressPolicy.NEVER)
    assert isinstance(refused, NoRoute) and "decompression is turned off" in refused.reason


def test_lossy_file_is_never_decompressed_without_being_asked() -> None:
    accepted, results = _accepted((CT, EXPLICIT))
    file = inst(CT, str(JPEGBaseline8Bit))
    refused = choose_route(file, accepted, results, DecompressPolicy.LOSSLESS)
    assert isinstance(refused, NoRoute) and "lossy" in refused.reason
    assert choose_route(file, accepted, results, DecompressPolicy.LOSSY) == Route(
        1, EXPLICIT, Conversion.DECOMPRESS
    )


def test_uncompressed_encodings_are_reencoded_even_with_decompression_off() -> None:
    accepted, results = _accepted((CT, IMPLICIT))
    for ts in (EXPLICIT, str(ExplicitVRBigEndian), "1.2.840.10008.1.2.1.99"):
        assert choose_route(inst(CT, ts), accepted, results, DecompressPolicy.NEVER) == Route(
            1, IMPLICIT, Conversion.REENCODE
        )


def test_rejected_sop_class_reason_names_the_class_and_the_answer() -> None:
    results = [ContextResult(1, MR, EXPLICIT, False, "Abstract Syntax Not Supported")]
    route = choose_route(inst(MR, EXPLICIT), {}, results, DecompressPolicy.LOSSLESS)
    assert isinstance(route, NoRoute)
    assert route.reason == (
        "the destination rejected MR Image Storage (Abstract Syntax Not Supported)"
    )
