"""The peers themselves work: DCMTK storescp/storescu, Orthanc, and the scripted SCP.

Everything is driven with pynetdicom's own SCU, so a failure here is about
the peer or its helper, not about the product's sender.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.filereader import read_file_meta_info
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    MRImageStorage,
    RLELossless,
)
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from peers import scu
from peers.availability import require_peer
from peers.dcmtk import DcmtkStoreSCP, run_storescu, storescu_profile
from peers.dicom_files import dataset_bytes, make_instance, write_instance
from peers.orthanc import OrthancServer
from peers.processes import group_members
from peers.pynetdicom_scp import ABORT, ScriptedSCP, StoreCall

StoreSCPFactory = Callable[..., DcmtkStoreSCP]
ScriptedFactory = Callable[..., ScriptedSCP]

CT_EXPLICIT = [(CTImageStorage, ExplicitVRLittleEndian)]


def ct_file(directory: Path, name: str = "ct.dcm", syntax: str = ExplicitVRLittleEndian) -> Path:
    return write_instance(directory / name, transfer_syntax=syntax)


def mr_file(directory: Path, name: str = "mr.dcm") -> Path:
    return write_instance(directory / name, make_instance(sop_class_uid=MRImageStorage))


# -- skip or fail when a peer is missing ------------------------------------------


def test_missing_peer_is_skipped_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        require_peer(None, "Nothing")


def test_missing_peer_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_peer(None, "Nothing")


def test_present_peer_is_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    assert require_peer("/usr/bin/true", "True") == "/usr/bin/true"


# -- DCMTK storescp -----------------------------------------------------------------


def test_storescp_receives_and_writes(storescp: StoreSCPFactory, tmp_path: Path) -> None:
    server = storescp(ae_title="DCMTK_SCP")
    files = [ct_file(tmp_path), ct_file(tmp_path, "rle.dcm", RLELossless), mr_file(tmp_path)]
    statuses = scu.send_files(server.port, files, called_ae="DCMTK_SCP")
    assert statuses == [0, 0, 0]
    written = server.wait_for_files(3)
    by_uid = {dcmread(p).SOPInstanceUID: p for p in written}
    for source in files:
        received = by_uid[dcmread(source).SOPInstanceUID]
        meta = read_file_meta_info(received)
        assert meta.TransferSyntaxUID == read_file_meta_info(source).TransferSyntaxUID
        assert dcmread(received).PixelData == dcmread(source).PixelData


def test_storescp_ignore_writes_nothing(storescp: StoreSCPFactory, tmp_path: Path) -> None:
    server = storescp(ignore=True)
    assert scu.send_files(server.port, [ct_file(tmp_path)]) == [0]
    assert server.received_files() == []


def test_storescp_implicit_only_and_small_pdu(storescp: StoreSCPFactory) -> None:
    server = storescp(implicit_only=True, max_pdu=4096)
    contexts = scu.contexts_for(
        [(CTImageStorage, ExplicitVRLittleEndian), (CTImageStorage, ImplicitVRLittleEndian)]
    )
    with scu.associate(server.port, contexts) as association:
        assert association.is_established
        assert association.acceptor.maximum_length == 4096
        accepted = [cx.transfer_syntax[0] for cx in association.accepted_contexts]
        assert accepted == [ImplicitVRLittleEndian]
        assert [cx.context_id for cx in association.rejected_contexts] == [1]


@pytest.mark.parametrize("fault", ["abort_after", "abort_during"])
def test_storescp_aborts_on_request(storescp: StoreSCPFactory, tmp_path: Path, fault: str) -> None:
    server = storescp(**{fault: True})
    with scu.associate(server.port, scu.contexts_for(CT_EXPLICIT)) as association:
        assert scu.send_file(association, ct_file(tmp_path)) is None
        association.join(5)
        assert association.is_aborted


def test_storescp_fork_serves_parallel_associations_and_stops_the_group(
    storescp: StoreSCPFactory, tmp_path: Path
) -> None:
    server = storescp(fork=True)
    assert server.pid is not None
    first, second = ct_file(tmp_path, "1.dcm"), ct_file(tmp_path, "2.dcm")
    contexts = scu.contexts_for(CT_EXPLICIT)
    with (
        scu.associate(server.port, contexts) as one,
        scu.associate(server.port, contexts) as two,
    ):
        assert one.is_established and two.is_established
        assert len(group_members(server.pid)) >= 3  # parent plus one child per association
        assert scu.send_file(two, second) == 0
        assert scu.send_file(one, first) == 0
    server.wait_for_files(2)
    group = server.pid
    server.stop()
    assert group_members(group) == []


def test_storescp_stop_is_bounded_while_it_sleeps(
    storescp: StoreSCPFactory, tmp_path: Path
) -> None:
    server = storescp(sleep_during=30)
    with scu.associate(server.port, scu.contexts_for(CT_EXPLICIT), timeout=1) as association:
        started = time.monotonic()
        assert scu.send_file(association, ct_file(tmp_path)) is None  # DIMSE timeout
        assert time.monotonic() - started < 5
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 6


# -- DCMTK storescu with a generated profile ------------------------------------------


def test_storescu_profile_lists_each_pair_once() -> None:
    profile = storescu_profile(
        [
            (CTImageStorage, RLELossless),
            (CTImageStorage, RLELossless),
            (MRImageStorage, RLELossless),
        ]
    )
    assert profile.count("TransferSyntax1 = 1.2.840.10008.1.2.5") == 1
    assert f"PresentationContext1 = {CTImageStorage}\\Syntax1" in profile
    assert f"PresentationContext2 = {MRImageStorage}\\Syntax1" in profile
    assert "PresentationContext3" not in profile
    with pytest.raises(ValueError, match="exceed 128"):
        storescu_profile((f"1.2.3.{n}", ExplicitVRLittleEndian) for n in range(129))


def test_storescu_sends_rle_unchanged_with_a_generated_profile(
    storescp: StoreSCPFactory, tmp_path: Path
) -> None:
    server = storescp()
    files = [ct_file(tmp_path, "rle.dcm", RLELossless), ct_file(tmp_path), mr_file(tmp_path)]
    result = run_storescu(server.port, files, called_ae=server.ae_title, timeout=30)
    assert result.returncode == 0, result.stderr
    written = server.wait_for_files(3)
    received = {dcmread(p).SOPInstanceUID: p for p in written}
    for source in files:
        target = received[dcmread(source).SOPInstanceUID]
        assert read_file_meta_info(target).TransferSyntaxUID == (
            read_file_meta_info(source).TransferSyntaxUID
        )
        assert dataset_bytes(target) == dataset_bytes(source)


def test_storescu_without_profile_cannot_send_rle(
    storescp: StoreSCPFactory, dcmtk_available: dict[str, str], tmp_path: Path
) -> None:
    """Why the profile exists: by default storescu proposes uncompressed syntaxes only."""
    import subprocess

    from peers.dcmtk import dcmtk_environment

    server = storescp()
    rle = ct_file(tmp_path, "rle.dcm", RLELossless)
    result = subprocess.run(
        [dcmtk_available["storescu"], "127.0.0.1", str(server.port), str(rle)],
        env=dcmtk_environment(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "unable to convert" in result.stdout + result.stderr
    assert server.received_files() == []


# -- Orthanc ----------------------------------------------------------------------------


def test_orthanc_stores_and_serves_the_instance(orthanc: OrthancServer, tmp_path: Path) -> None:
    files = [ct_file(tmp_path), ct_file(tmp_path, "rle.dcm", RLELossless)]
    before = orthanc.instance_count()
    statuses = scu.send_files(orthanc.dicom_port, files, called_ae=orthanc.ae_title)
    assert statuses == [0, 0]
    assert orthanc.instance_count() == before + 2
    for source in files:
        sent = dcmread(source)
        instance_id = orthanc.find_instance(sent.SOPInstanceUID)
        assert instance_id is not None and instance_id in orthanc.instances()
        stored = dcmread(_bytes_file(tmp_path, orthanc.instance_file(instance_id)))
        assert stored.SOPInstanceUID == sent.SOPInstanceUID
        assert stored.file_meta.TransferSyntaxUID == sent.file_meta.TransferSyntaxUID
        assert stored.PixelData == sent.PixelData
        assert orthanc.instance_tags(instance_id)["PatientName"] == str(sent.PatientName)
    assert orthanc.find_instance("1.2.3.4.5.6.7.8.9.999") is None
    assert int(orthanc.statistics()["CountInstances"]) >= 2


def test_orthanc_answers_echo(orthanc: OrthancServer) -> None:
    contexts = scu.contexts_for([(Verification, ImplicitVRLittleEndian)])
    with scu.associate(orthanc.dicom_port, contexts, called_ae=orthanc.ae_title) as association:
        assert association.send_c_echo().Status == 0


def test_orthanc_never_uses_the_system_ports(orthanc: OrthancServer) -> None:
    assert {orthanc.dicom_port, orthanc.http_port}.isdisjoint({4242, 8042})
    assert orthanc.pid is not None and group_members(orthanc.pid)


def _bytes_file(directory: Path, data: bytes) -> Path:
    path = directory / f"from-orthanc-{len(data)}-{os.urandom(4).hex()}.dcm"
    path.write_bytes(data)
    return path


# -- the scripted pynetdicom SCP ---------------------------------------------------------


def test_scripted_scp_records_bytes_and_syntax(
    scp_factory: ScriptedFactory, tmp_path: Path
) -> None:
    server = scp_factory()
    files = [ct_file(tmp_path), ct_file(tmp_path, "rle.dcm", RLELossless)]
    assert scu.send_files(server.port, files) == [0, 0]
    stored = server.stored()
    for source in files:
        record = stored[dcmread(source).SOPInstanceUID]
        assert record.dataset == dataset_bytes(source)
        assert record.transfer_syntax_uid == read_file_meta_info(source).TransferSyntaxUID
        assert record.call.calling_ae_title == "TEST_SCU"


def test_scripted_scp_can_write_files(scp_factory: ScriptedFactory, tmp_path: Path) -> None:
    server = scp_factory(output_dir=tmp_path / "out", keep_in_memory=False)
    source = ct_file(tmp_path)
    assert scu.send_files(server.port, [source]) == [0]
    (record,) = server.received
    assert record.dataset is None and record.path is not None
    assert dataset_bytes(record.path) == dataset_bytes(source)


def test_scripted_scp_status_sequence(scp_factory: ScriptedFactory, tmp_path: Path) -> None:
    server = scp_factory(replies=[0xA700, 0xA700, 0x0000])
    source = ct_file(tmp_path)
    assert scu.send_files(server.port, [source] * 4) == [0xA700, 0xA700, 0, 0]
    assert [r.call.attempt for r in server.received] == [1, 2, 3, 4]


def test_scripted_scp_fixed_status_and_per_sop_class(
    scp_factory: ScriptedFactory, tmp_path: Path
) -> None:
    server = scp_factory(replies=0xB000, replies_by_sop_class={MRImageStorage: 0xA900})
    assert scu.send_files(server.port, [ct_file(tmp_path), mr_file(tmp_path)]) == [0xB000, 0xA900]
    assert len(server.stored()) == 1  # the warning counts as stored, the failure not


def test_scripted_scp_status_function(scp_factory: ScriptedFactory, tmp_path: Path) -> None:
    def odd_fail(call: StoreCall) -> int:
        return 0xC000 if call.index % 2 else 0

    server = scp_factory(replies=odd_fail)
    files = [ct_file(tmp_path, f"{n}.dcm") for n in range(4)]
    assert scu.send_files(server.port, files) == [0, 0xC000, 0, 0xC000]


def test_scripted_scp_aborts_after_n_stores(scp_factory: ScriptedFactory, tmp_path: Path) -> None:
    server = scp_factory(abort_after=2)
    files = [ct_file(tmp_path, f"{n}.dcm") for n in range(4)]
    with scu.associate(server.port, scu.contexts_for(CT_EXPLICIT)) as association:
        statuses = [scu.send_file(association, f) for f in files[:3]]
        association.join(5)
        assert association.is_aborted
    assert statuses == [0, 0, None]
    assert server.replies == [0, 0, ABORT]
    assert server.aborts_sent == 1
    # a new association starts counting again
    assert scu.send_files(server.port, files[3:]) == [0]


def test_scripted_scp_aborts_during_a_data_set(
    scp_factory: ScriptedFactory, tmp_path: Path
) -> None:
    big = write_instance(tmp_path / "big.dcm", make_instance(rows=256, columns=256))
    poison = ct_file(tmp_path, "poison.dcm")
    poison_uid = str(dcmread(poison).SOPInstanceUID)
    server = scp_factory(abort_during_store=2, abort_during_instances={poison_uid})
    with scu.associate(server.port, scu.contexts_for(CT_EXPLICIT)) as association:
        assert scu.send_file(association, ct_file(tmp_path)) == 0
        assert scu.send_file(association, big) is None  # the 2nd data set: aborted mid-way
        association.join(5)
        assert association.is_aborted
    with scu.associate(server.port, scu.contexts_for(CT_EXPLICIT)) as association:
        assert scu.send_file(association, poison) is None
    assert len(server.received) == 1  # the aborted ones never reached the handler
    assert server.aborts_sent == 2


def test_scripted_scp_sleep_trips_the_dimse_timeout_and_stop_wakes_it(
    scp_factory: ScriptedFactory, tmp_path: Path
) -> None:
    server = scp_factory(sleep=30)
    with scu.associate(server.port, scu.contexts_for(CT_EXPLICIT), timeout=0.5) as association:
        started = time.monotonic()
        assert scu.send_file(association, ct_file(tmp_path)) is None
        assert time.monotonic() - started < 3
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 3


def test_scripted_scp_accepts_only_what_it_is_told(scp_factory: ScriptedFactory) -> None:
    server = scp_factory(
        transfer_syntaxes=[ImplicitVRLittleEndian], rejected_sop_classes={MRImageStorage}
    )
    contexts = scu.contexts_for(
        [
            (CTImageStorage, ExplicitVRLittleEndian),
            (CTImageStorage, ImplicitVRLittleEndian),
            (MRImageStorage, ImplicitVRLittleEndian),
        ]
    )
    with scu.associate(server.port, contexts) as association:
        accepted = [(cx.context_id, cx.transfer_syntax[0]) for cx in association.accepted_contexts]
        rejected = {cx.context_id: cx.result for cx in association.rejected_contexts}
    assert accepted == [(3, ImplicitVRLittleEndian)]
    assert rejected == {1: 0x04, 5: 0x03}  # syntax not supported, abstract syntax not supported


@pytest.mark.parametrize(
    ("options", "codes"),
    [
        ({"reject": (1, 1, 1)}, (1, 1, 1)),
        ({"reject": (2, 3, 1)}, (2, 3, 1)),
        ({"require_calling_aet": ["SOMEONE"]}, (1, 1, 3)),
        ({"require_called_aet": True}, (1, 1, 7)),
    ],
    ids=["permanent", "transient", "calling-aet", "called-aet"],
)
def test_scripted_scp_rejects_associations(
    scp_factory: ScriptedFactory, options: dict[str, object], codes: tuple[int, int, int]
) -> None:
    server = scp_factory(**options)
    with scu.associate(
        server.port, scu.contexts_for(CT_EXPLICIT), called_ae="WRONG"
    ) as association:
        assert association.is_rejected
        rj = association.acceptor.primitive
        assert rj is not None
        assert (rj.result, rj.result_source, rj.diagnostic) == codes
    assert server.association_count == 0


def test_scripted_scp_rejects_the_first_requests_then_accepts(
    scp_factory: ScriptedFactory, tmp_path: Path
) -> None:
    server = scp_factory(reject=lambda n: (2, 3, 1) if n < 2 else None)
    source = ct_file(tmp_path)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            scu.send_files(server.port, [source])
    assert scu.send_files(server.port, [source]) == [0]
    assert server.association_requests == 3


def test_scripted_scp_limits_associations_and_pdu(scp_factory: ScriptedFactory) -> None:
    server = scp_factory(max_associations=1, max_pdu=8192)
    contexts = scu.contexts_for(CT_EXPLICIT)
    with scu.associate(server.port, contexts) as first:
        assert first.is_established
        assert first.acceptor.maximum_length == 8192
        with scu.associate(server.port, contexts) as second:
            assert second.is_rejected
            rj = second.acceptor.primitive
            assert rj is not None
            assert (rj.result, rj.result_source, rj.diagnostic) == (2, 3, 2)


def test_storescp_retries_when_its_port_was_taken(
    dcmtk_available: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between choosing a free port and binding it, someone else may take it."""
    import socket

    from peers import dcmtk, processes

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = iter([taken])
        monkeypatch.setattr(dcmtk, "free_port", lambda: next(ports, processes.free_port()))
        with DcmtkStoreSCP(tmp_path / "out", executable=dcmtk_available["storescp"]) as server:
            assert server.port != taken
            assert scu.send_files(server.port, [ct_file(tmp_path)]) == [0]
            assert "Address already in use" in server.log()
