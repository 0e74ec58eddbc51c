"""Several C-STOREs in flight per association when the peer grants an operations window.

PS3.7 D.3.3.3: we propose 16 outstanding operations; storescp and Orthanc answer 1 (the
other tests cover that path), the scripted SCP here grants 16. Across a 50 ms round trip
(the bench's WAN proxy) that is the difference between one file per round trip and
sixteen. Every response is matched by its Message ID: no file is ``sent`` without its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from peers.pynetdicom_scp import ABORT, ScriptedSCP, StoreCall
from peers.wan_proxy import WanProxy
from tests.fault_runs import FaultRun, send_in_process, write_study
from tui_sender.core.scan.scanner import scan_paths


def _dataset_bytes(root: Path) -> dict[str, bytes]:
    catalog = scan_paths([str(root)], recursive=True)
    return {
        i.sop_instance_uid: Path(i.path).read_bytes()[i.dataset_offset :]
        for s in catalog.studies.values()
        for i in s.instances()
    }


def test_a_granted_window_keeps_sixteen_in_flight_across_a_wan(
    scp_factory: Callable[..., ScriptedSCP], tmp_path: Path
) -> None:
    """200 files over a 50 ms round trip on one association: one at a time that is at least
    10 s; with the window it fits in well under half of that. Every file arrives intact."""
    write_study(tmp_path / "in", 200)
    scp = scp_factory(grant_outstanding=16)
    with WanProxy(scp.port, delay=0.025) as wan:
        run = send_in_process(tmp_path / "in", wan.port, tmp_path / "logs", dimse_timeout=5.0)
    assert run.states() == {"sent": 200}
    assert len(run.summary["associations"]) == 1
    assert run.summary["totals"]["duration_s"] < 4.0
    stored = scp.stored()
    assert {uid: r.dataset for uid, r in stored.items()} == _dataset_bytes(tmp_path / "in")
    assert [r.call.attempt for r in scp.received] == [1] * 200


def test_each_answer_goes_to_its_own_file(
    scp_factory: Callable[..., ScriptedSCP], tmp_path: Path
) -> None:
    """Refusals, warnings and successes interleaved in one window land on the right files;
    an out-of-resources refusal is retried and then stored."""
    write_study(tmp_path / "in", 48)
    uids = sorted(_dataset_bytes(tmp_path / "in"))
    verdict = {uid: (0xC000, 0xB000, 0x0000)[n % 3] for n, uid in enumerate(uids)}
    busy_once = uids[4]

    def reply(call: StoreCall) -> int:
        if call.sop_instance_uid == busy_once and call.attempt == 1:
            return 0xA700
        return verdict[call.sop_instance_uid]

    scp = scp_factory(grant_outstanding=16, replies=reply)
    with WanProxy(scp.port, delay=0.01) as wan:
        run = send_in_process(tmp_path / "in", wan.port, tmp_path / "logs")
    states = {f["sop_instance_uid"]: f["state"] for f in run.summary["files"]}
    expected = {0xC000: "failed", 0xB000: "warning", 0x0000: "sent"}
    assert states == {uid: expected[verdict[uid]] for uid in uids}
    statuses = {f["sop_instance_uid"]: f["status"] for f in run.summary["files"]}
    assert statuses == {uid: f"0x{code:04X}" for uid, code in verdict.items()}
    assert Counter(r.call.sop_instance_uid for r in scp.received)[busy_once] == 2


def test_an_abort_with_a_window_in_flight_resends_each_of_them(
    scp_factory: Callable[..., ScriptedSCP], tmp_path: Path
) -> None:
    """The peer aborts on the 10th store of its first association while more are in flight:
    every file whose answer did not come is resent on a new association, and all arrive."""
    write_study(tmp_path / "in", 40)

    def reply(call: StoreCall) -> int | str:
        return ABORT if call.association_index == 0 and call.index_in_association == 9 else 0

    scp = scp_factory(grant_outstanding=16, replies=reply)
    run: FaultRun = send_in_process(tmp_path / "in", scp.port, tmp_path / "logs")
    assert run.states() == {"sent": 40}
    assert len(run.summary["associations"]) == 2
    assert set(scp.stored()) == set(_dataset_bytes(tmp_path / "in"))
    retried = [f for f in run.summary["files"] if f["attempts"] == 2]
    assert len(retried) >= 1
