"""The plan stage and the one way in: what the confirmation shows is what the session does.

``prepare_send`` is what ``send``, the app and ``--resume`` call; these tests
run it against the in-process SCP and check the plan's words and numbers
against what then arrived and what the record says.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from peers.pynetdicom_scp import ScriptedSCP
from tests.fault_runs import QUICK_RETRY, write_study
from tui_sender.core.config.destinations import Destination
from tui_sender.core.engine.plan import make_plan
from tui_sender.core.engine.prepare import SendRequest, prepare_send
from tui_sender.core.engine.targets import TransferTarget
from tui_sender.core.net.endpoint import LinkSettings
from tui_sender.core.record.journal import read_journal
from tui_sender.core.record.stored_index import StoredIndex
from tui_sender.core.scan.scanner import scan_paths


def _request(tmp_path: Path, scp: ScriptedSCP, **changes: object) -> SendRequest:
    destination = Destination("pacs", "ANY_SCP", "127.0.0.1", scp.port, workers=2)
    fields: dict[str, object] = {
        "inputs": (str(tmp_path / "in"),),
        "recursive": True,
        "destinations": (destination,),
        "retry": QUICK_RETRY,
        "logs_dir": tmp_path / "logs",
    }
    fields.update(changes)
    return SendRequest(**fields)  # type: ignore[arg-type]


def test_the_plan_says_what_the_session_then_does(
    scp_factory: Callable[..., ScriptedSCP], tmp_path: Path
) -> None:
    """Files already stored are planned as skipped, the rest sent, on the planned associations."""
    for n in range(3):
        write_study(tmp_path / "in" / f"s{n}", 2, study=n)
    (tmp_path / "in" / "notes.txt").write_text("not DICOM")
    scp = scp_factory()
    index = StoredIndex(tmp_path / "state" / "stored.sqlite3")
    try:
        catalog = scan_paths([str(tmp_path / "in")], recursive=True)
        first_study = catalog.studies_by_uid(["1.2.826.0.1.3680043.8.498.1"])
        first = prepare_send(
            _request(tmp_path, scp, instances=list(first_study[0].instances())), catalog, index
        )
        assert first.session.run().counts["sent"] == 2

        catalog = scan_paths([str(tmp_path / "in")], recursive=True)
        prepared = prepare_send(_request(tmp_path, scp), catalog, index)
        plan = prepared.plan
        share = plan.destinations[0]
        assert (len(plan.instances), share.files, len(share.already_stored)) == (6, 4, 2)
        assert share.associations == 2 == prepared.session.expected_workers
        lines = plan.lines()
        assert lines[0].startswith("6 files in 3 studies")
        assert "4 files" in lines[1] and "2 associations" in lines[1]
        assert "2 already stored there, skipped" in lines[1]
        assert lines[2].startswith("skipped by the scan: 1 ")

        before = len(scp.received)
        result = prepared.session.run()
    finally:
        index.close()

    states = Counter(f["state"] for f in result.summary["files"])
    assert states == {"sent": 4, "skipped": 3}
    assert len(scp.received) - before == 4
    assert len(prepared.session.progress) == 2
    skipped = [f for f in result.summary["files"] if f["state"] == "skipped"]
    assert sum(first.session.session_id in f["reason"] for f in skipped) == 2
    stored_now = {r.sop_instance_uid for r in scp.received[before:]}
    assert stored_now == {i.sop_instance_uid for b in share.batches for i in b.instances}


def test_force_plans_everything_again(
    scp_factory: Callable[..., ScriptedSCP], tmp_path: Path
) -> None:
    write_study(tmp_path / "in", 3)
    scp = scp_factory()
    index = StoredIndex(tmp_path / "state" / "stored.sqlite3")
    try:
        catalog = scan_paths([str(tmp_path / "in")], recursive=True)
        prepare_send(_request(tmp_path, scp), catalog, index).session.run()
        again = prepare_send(_request(tmp_path, scp, skip_stored=False), catalog, index)
    finally:
        index.close()
    share = again.plan.destinations[0]
    assert (share.files, share.already_stored) == (3, ())
    assert "already stored" not in " ".join(again.plan.lines())


def test_the_journal_header_of_a_prepared_session_makes_it_resumable(
    scp_factory: Callable[..., ScriptedSCP], tmp_path: Path
) -> None:
    write_study(tmp_path / "in", 2)
    scp = scp_factory()
    catalog = scan_paths([str(tmp_path / "in")], recursive=True)
    prepared = prepare_send(_request(tmp_path, scp, from_book=frozenset({"pacs"})), catalog)
    result = prepared.session.run()

    journal = read_journal(
        result.log_path.parent / f"dicom_sender_journal_{result.session_id}.jsonl"
    )
    assert journal.header["inputs"] == [str((tmp_path / "in").resolve())]
    assert journal.header["destinations"][0]["from_book"] is True
    assert journal.complete and len(list(journal.stored())) == 2


def test_studies_are_split_so_many_associations_finish_together(tmp_path: Path) -> None:
    """20 studies of 10 files on 8 associations: 40 batches of 5, each file in one batch."""
    for n in range(20):
        write_study(tmp_path / "in" / f"s{n:02d}", 10, study=n, side=4)
    catalog = scan_paths([str(tmp_path / "in")], recursive=True)
    instances = [i for s in catalog.studies.values() for i in s.instances()]
    settings = LinkSettings("pacs.invalid", 104, "PACS", "US")
    wide = make_plan(instances, [], [TransferTarget("pacs", settings, workers=8)])
    batches = wide.destinations[0].batches
    assert sorted(len(b.instances) for b in batches) == [5] * 40
    assert Counter(i.path for b in batches for i in b.instances) == Counter(
        i.path for i in instances
    )
    assert all({i.study_uid for i in b.instances} == {b.study_uid} for b in batches)
    assert wide.destinations[0].associations == 8
    # One association: whole studies, as before.
    narrow = make_plan(instances, [], [TransferTarget("pacs", settings, workers=1)])
    assert sorted(len(b.instances) for b in narrow.destinations[0].batches) == [10] * 20
