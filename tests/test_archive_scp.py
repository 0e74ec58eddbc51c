"""The scripted archive peer (peers/commitment_scp.py) itself: storage, C-FIND, commitment.

pynetdicom is the client here, on 127.0.0.1 and ephemeral ports; a second
pynetdicom AE listens for the reports sent on a new association.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE, build_context, evt
from pynetdicom.association import Association
from pynetdicom.events import Event, EventHandlerType
from pynetdicom.transport import ThreadedAssociationServer

from peers.commitment_scp import (
    NO_SUCH_OBJECT_INSTANCE,
    STORAGE_COMMITMENT_INSTANCE,
    STORAGE_COMMITMENT_PUSH_MODEL,
    STUDY_ROOT_FIND,
    UID_LIST_REFUSAL,
    ArchiveSCP,
)
from tests.dicom_builders import image
from tui_sender.demo.receiver import serve_in_background, shutdown_server

STUDY = "1.2.826.0.1.3680043.8.498.1"
SERIES = "1.2.826.0.1.3680043.8.498.1.1"
TIMEOUT = 5.0

ArchiveFactory = Callable[..., ArchiveSCP]


@dataclass
class Received:
    """One N-EVENT-REPORT request a client or listener answered."""

    event_type: int
    info: Dataset
    association: Association

    @property
    def transaction_uid(self) -> str:
        return str(self.info.TransactionUID)

    @property
    def committed(self) -> list[str]:
        return [str(i.ReferencedSOPInstanceUID) for i in self.info.get("ReferencedSOPSequence", [])]

    @property
    def failed(self) -> dict[str, int]:
        return {
            str(i.ReferencedSOPInstanceUID): int(i.FailureReason)
            for i in self.info.get("FailedSOPSequence", [])
        }


@dataclass
class Reports:
    """Collects N-EVENT-REPORTs; its handler answers each with 0x0000."""

    items: list[Received] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def handle(self, event: Event) -> tuple[int, None]:
        request: Any = event.request
        received = Received(int(request.EventTypeID), event.event_information, event.assoc)
        with self.arrived:
            self.items.append(received)
            self.arrived.notify_all()
        return 0x0000, None

    def wait(self, count: int, timeout: float = TIMEOUT) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.items) < count and (left := deadline - time.monotonic()) > 0:
                self.arrived.wait(left)
            return list(self.items)


@dataclass
class Listener:
    """The requester's listening AE, where new-association reports arrive."""

    server: ThreadedAssociationServer
    reports: Reports
    ae_title: str = "LISTENER"

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def report_to(self) -> tuple[str, int, str]:
        return ("127.0.0.1", self.port, self.ae_title)


@pytest.fixture
def archive() -> Iterator[ArchiveFactory]:
    started: list[ArchiveSCP] = []

    def start(**options: Any) -> ArchiveSCP:
        scp = ArchiveSCP(timeout=TIMEOUT, **options)
        started.append(scp)
        return scp.start()

    yield start
    for scp in started:
        scp.stop()


@pytest.fixture
def listener() -> Iterator[Listener]:
    ae = _client_ae("LISTENER")
    ae.add_supported_context(STORAGE_COMMITMENT_PUSH_MODEL, scu_role=True, scp_role=True)
    reports = Reports()
    server = serve_in_background(ae, ("127.0.0.1", 0), [(evt.EVT_N_EVENT_REPORT, reports.handle)])
    try:
        yield Listener(server, reports)
    finally:
        shutdown_server(server)


# -- client helpers --------------------------------------------------------------


def _client_ae(title: str = "SENDER") -> AE:
    ae = AE(ae_title=title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = TIMEOUT
    ae.connection_timeout = TIMEOUT
    return ae


def _associate(
    scp: ArchiveSCP, calling: str = "SENDER", handlers: list[EventHandlerType] | None = None
) -> Association:
    ae = _client_ae(calling)
    contexts = [
        build_context(CTImageStorage, ExplicitVRLittleEndian),
        build_context(STORAGE_COMMITMENT_PUSH_MODEL),
        build_context(STUDY_ROOT_FIND),
    ]
    assoc = ae.associate(
        "127.0.0.1",
        scp.port,
        contexts=contexts,
        ae_title=scp.ae_title,
        bind_address=("127.0.0.1", 0),
        evt_handlers=handlers or [],
    )
    assert assoc.is_established
    return assoc


def _store(scp: ArchiveSCP, count: int = 3) -> list[Dataset]:
    datasets = [image(study_uid=STUDY, series_uid=SERIES) for _ in range(count)]
    for ds in datasets:
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    assoc = _associate(scp)
    try:
        for ds in datasets:
            status = assoc.send_c_store(ds)
            assert status.Status == 0x0000
    finally:
        assoc.release()
    return datasets


def _request(uids: list[str], transaction_uid: str | None = None) -> Dataset:
    ds = Dataset()
    ds.TransactionUID = transaction_uid or generate_uid()
    items = []
    for uid in uids:
        item = Dataset()
        item.ReferencedSOPClassUID = CTImageStorage
        item.ReferencedSOPInstanceUID = uid
        items.append(item)
    ds.ReferencedSOPSequence = Sequence(items)
    return ds


def _n_action(assoc: Association, request: Dataset) -> int:
    status, _ = assoc.send_n_action(
        request, 1, STORAGE_COMMITMENT_PUSH_MODEL, STORAGE_COMMITMENT_INSTANCE
    )
    return int(status.Status)


def _commit(scp: ArchiveSCP, uids: list[str], calling: str = "SENDER") -> tuple[str, int]:
    """N-ACTION on its own association, released at once; (transaction UID, status)."""
    request = _request(uids)
    assoc = _associate(scp, calling)
    try:
        return str(request.TransactionUID), _n_action(assoc, request)
    finally:
        assoc.release()


def _find(scp: ArchiveSCP, level: str, **keys: Any) -> tuple[list[Dataset], int]:
    """Matches and the final status of a Study Root C-FIND."""
    query = Dataset()
    query.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(query, keyword, value)
    assoc = _associate(scp)
    matches: list[Dataset] = []
    final = -1
    try:
        for status, identifier in assoc.send_c_find(query, STUDY_ROOT_FIND):
            if status.Status in (0xFF00, 0xFF01):
                assert identifier is not None
                matches.append(identifier)
            else:
                final = int(status.Status)
    finally:
        assoc.release()
    return matches, final


# -- Storage Commitment ----------------------------------------------------------


def test_report_on_a_new_association_lists_committed_and_failed(
    archive: ArchiveFactory, listener: Listener
) -> None:
    scp = archive(report_to=listener.report_to)
    stored = [str(ds.SOPInstanceUID) for ds in _store(scp)]
    assert set(scp.held) == set(stored)
    held = scp.held[stored[0]]
    assert (held.sop_class_uid, held.study_uid, held.series_uid) == (CTImageStorage, STUDY, SERIES)
    assert len(held.data) > 0
    unknown = generate_uid()

    transaction_uid, status = _commit(scp, [*stored, unknown])

    assert status == 0x0000
    (report,) = listener.reports.wait(1)
    assert report.event_type == 2
    assert report.transaction_uid == transaction_uid
    assert sorted(report.committed) == sorted(stored)
    assert report.failed == {unknown: NO_SUCH_OBJECT_INSTANCE}
    # the archive proposed the SCP role (role selection): the listener is the SCU
    (context,) = [
        cx
        for cx in report.association.accepted_contexts
        if cx.abstract_syntax == STORAGE_COMMITMENT_PUSH_MODEL
    ]
    assert (context.as_scu, context.as_scp) == (True, False)
    assert scp.n_actions == [(transaction_uid, [*stored, unknown], "SENDER")]
    (sent,) = scp.wait_for_reports(1)
    assert sent.transaction_uid == transaction_uid
    assert sent.failed == {unknown: NO_SUCH_OBJECT_INSTANCE}
    assert sent.on_same_association is False
    assert scp.report_replies == [0x0000]
    assert scp.report_association_count == 1
    assert scp.association_count == 2  # the stores, the N-ACTION


def test_destination_comes_from_modalities_by_calling_ae(
    archive: ArchiveFactory, listener: Listener
) -> None:
    scp = archive(modalities={"MODALITY": ("127.0.0.1", listener.port)})
    stored = [str(ds.SOPInstanceUID) for ds in _store(scp, 1)]

    _commit(scp, stored, calling="MODALITY")
    (report,) = listener.reports.wait(1)
    assert report.event_type == 1
    assert report.committed == stored
    assert str(report.association.requestor.ae_title) == scp.ae_title

    _commit(scp, stored, calling="STRANGER")
    assert _eventually(lambda: bool(scp.report_errors))
    assert "STRANGER" in scp.report_errors[0]


def test_report_on_the_same_association(archive: ArchiveFactory) -> None:
    scp = archive(commitment="same-association")
    stored = [str(ds.SOPInstanceUID) for ds in _store(scp)]
    reports = Reports()
    assoc = _associate(scp, handlers=[(evt.EVT_N_EVENT_REPORT, reports.handle)])
    try:
        request = _request(stored)
        assert _n_action(assoc, request) == 0x0000
        (report,) = reports.wait(1)
        # a second N-ACTION on the association is served while reports flow
        second = _request(stored[:1])
        assert _n_action(assoc, second) == 0x0000
        reports.wait(2)
    finally:
        assoc.release()
    assert report.association is assoc
    assert report.event_type == 1
    assert report.transaction_uid == request.TransactionUID
    assert sorted(report.committed) == sorted(stored)
    assert [r.transaction_uid for r in reports.items] == [
        request.TransactionUID,
        second.TransactionUID,
    ]
    assert [r.on_same_association for r in scp.reports_sent] == [True, True]
    assert scp.report_replies == [0x0000, 0x0000]
    assert scp.report_errors == []


def test_never_answers_without_reporting(archive: ArchiveFactory, listener: Listener) -> None:
    scp = archive(report_to=listener.report_to, commitment="never")
    stored = [str(ds.SOPInstanceUID) for ds in _store(scp, 1)]
    _, status = _commit(scp, stored)
    assert status == 0x0000
    assert listener.reports.wait(1, timeout=1.0) == []
    assert scp.reports_sent == []
    assert len(scp.n_actions) == 1


def test_withhold_keeps_the_report_until_released(
    archive: ArchiveFactory, listener: Listener
) -> None:
    scp = archive(report_to=listener.report_to, commitment="withhold")
    stored = [str(ds.SOPInstanceUID) for ds in _store(scp, 2)]
    transaction_uid, status = _commit(scp, stored)
    assert status == 0x0000
    assert scp.withheld == [transaction_uid]
    assert listener.reports.wait(1, timeout=0.5) == []
    scp.forget(stored[0])  # the report says what was held when the N-ACTION came

    assert scp.release(transaction_uid)
    (report,) = listener.reports.wait(1)
    assert report.transaction_uid == transaction_uid
    assert sorted(report.committed) == sorted(stored)
    assert scp.release(transaction_uid), "released again: the same report twice"
    assert [r.transaction_uid for r in listener.reports.wait(2)] == [transaction_uid] * 2
    assert scp.report_replies == [0x0000, 0x0000]
    with pytest.raises(KeyError):
        scp.release(generate_uid())


def test_duplicate_sends_the_report_twice(archive: ArchiveFactory, listener: Listener) -> None:
    scp = archive(report_to=listener.report_to, commitment="duplicate")
    stored = [str(ds.SOPInstanceUID) for ds in _store(scp, 2)]
    transaction_uid, _ = _commit(scp, stored)
    reports = listener.reports.wait(2)
    assert [r.transaction_uid for r in reports] == [transaction_uid] * 2
    assert [sorted(r.committed) for r in reports] == [sorted(stored)] * 2
    assert scp.report_association_count == 2


def test_duplicate_on_the_same_association(archive: ArchiveFactory) -> None:
    scp = archive(commitment="duplicate", report_on_same_association=True)
    stored = [str(ds.SOPInstanceUID) for ds in _store(scp, 1)]
    reports = Reports()
    assoc = _associate(scp, handlers=[(evt.EVT_N_EVENT_REPORT, reports.handle)])
    try:
        _n_action(assoc, _request(stored))
        got = reports.wait(2)
    finally:
        assoc.release()
    assert len(got) == 2
    assert all(r.association is assoc for r in got)


def test_unknown_transaction_and_extra_instance(
    archive: ArchiveFactory, listener: Listener
) -> None:
    scp = archive(report_to=listener.report_to, commitment="unknown-transaction")
    stored = [str(ds.SOPInstanceUID) for ds in _store(scp, 1)]
    transaction_uid, _ = _commit(scp, stored)
    (report,) = listener.reports.wait(1)
    assert report.transaction_uid != transaction_uid
    assert report.committed == stored

    scp.commitment = "extra-instance"
    transaction_uid, _ = _commit(scp, stored)
    _, report = listener.reports.wait(2)
    assert report.transaction_uid == transaction_uid
    assert report.committed[0] == stored[0]
    assert len(report.committed) == 2


def test_forced_failure_reasons_and_rejected_n_action(
    archive: ArchiveFactory, listener: Listener
) -> None:
    scp = archive(report_to=listener.report_to)
    first, second = (str(ds.SOPInstanceUID) for ds in _store(scp, 2))
    scp.failure_reasons = {second: 0x0110}
    _commit(scp, [first, second])
    (report,) = listener.reports.wait(1)
    assert report.event_type == 2
    assert report.committed == [first]
    assert report.failed == {second: 0x0110}

    scp.reject_n_action = 0x0213
    _, status = _commit(scp, [first])
    assert status == 0x0213
    assert listener.reports.wait(2, timeout=0.5) == [report]


def test_stop_wakes_a_waiting_report(archive: ArchiveFactory, listener: Listener) -> None:
    scp = archive(report_to=listener.report_to, report_delay=60.0)
    stored = [str(ds.SOPInstanceUID) for ds in _store(scp, 1)]
    _commit(scp, stored)
    began = time.monotonic()
    scp.stop()
    assert time.monotonic() - began < 2.0
    assert scp.reports_sent == []


# -- C-FIND ----------------------------------------------------------------------


def test_find_image_level_by_series_and_forget(archive: ArchiveFactory) -> None:
    scp = archive()
    stored = [str(ds.SOPInstanceUID) for ds in _store(scp)]
    scp.hold(generate_uid(), CTImageStorage, STUDY, "1.2.3.other.series")

    matches, final = _find(
        scp, "IMAGE", StudyInstanceUID=STUDY, SeriesInstanceUID=SERIES, SOPInstanceUID=""
    )
    assert final == 0x0000
    assert sorted(str(m.SOPInstanceUID) for m in matches) == sorted(stored)
    assert {str(m.SOPClassUID) for m in matches} == {CTImageStorage}
    assert {str(m.SeriesInstanceUID) for m in matches} == {SERIES}

    assert scp.forget(stored[0]) is True
    matches, _ = _find(
        scp, "IMAGE", StudyInstanceUID=STUDY, SeriesInstanceUID=SERIES, SOPInstanceUID=""
    )
    assert sorted(str(m.SOPInstanceUID) for m in matches) == sorted(stored[1:])
    assert scp.finds[0]["SeriesInstanceUID"] == SERIES
    assert scp.finds[0]["QueryRetrieveLevel"] == "IMAGE"


def test_find_by_uid_list_and_its_refusal(archive: ArchiveFactory) -> None:
    scp = archive()
    stored = [str(ds.SOPInstanceUID) for ds in _store(scp)]
    asked = [stored[0], stored[2], generate_uid()]

    matches, final = _find(
        scp, "IMAGE", StudyInstanceUID=STUDY, SeriesInstanceUID=SERIES, SOPInstanceUID=asked
    )
    assert final == 0x0000
    assert sorted(str(m.SOPInstanceUID) for m in matches) == sorted([stored[0], stored[2]])
    assert scp.finds[-1]["SOPInstanceUID"] == "\\".join(asked)

    scp.uid_lists = False
    matches, final = _find(
        scp, "IMAGE", StudyInstanceUID=STUDY, SeriesInstanceUID=SERIES, SOPInstanceUID=asked
    )
    assert (matches, final) == ([], UID_LIST_REFUSAL)
    matches, final = _find(
        scp, "IMAGE", StudyInstanceUID=STUDY, SeriesInstanceUID=SERIES, SOPInstanceUID=stored[1]
    )
    assert final == 0x0000
    assert [str(m.SOPInstanceUID) for m in matches] == [stored[1]]


def test_find_series_level_counts_instances(archive: ArchiveFactory) -> None:
    scp = archive()
    _store(scp)
    matches, final = _find(
        scp,
        "SERIES",
        StudyInstanceUID=STUDY,
        SeriesInstanceUID=SERIES,
        NumberOfSeriesRelatedInstances="",
    )
    assert final == 0x0000
    (series,) = matches
    assert int(series.NumberOfSeriesRelatedInstances) == 3
    assert str(series.SeriesInstanceUID) == SERIES

    (study,), _ = _find(scp, "STUDY", StudyInstanceUID="")
    assert int(study.NumberOfStudyRelatedInstances) == 3
    assert int(study.NumberOfStudyRelatedSeries) == 1


def _eventually(check: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True
