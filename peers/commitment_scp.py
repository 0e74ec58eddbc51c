"""A small in-process archive: Storage, C-FIND and Storage Commitment SCP for tests.

:class:`ArchiveSCP` plays the archive a "proof of delivery" talks to:

* **Storage SCP** for every storage SOP class pynetdicom knows, in every
  transfer syntax (plus Verification). It keeps what it holds, SOP Instance
  UID to :class:`HeldInstance` (SOP Class UID, Study UID, Series UID, the data
  set bytes as received); :meth:`ArchiveSCP.hold` and :meth:`ArchiveSCP.forget`
  add and remove instances directly ("an instance was deleted").
* **C-FIND SCP**, Study Root Query/Retrieve Information Model - FIND, at
  STUDY, SERIES and IMAGE level over what it holds. StudyInstanceUID,
  SeriesInstanceUID, SOPInstanceUID (and SOPClassUID at IMAGE level) match
  by single value, universally when empty (or ``*``), or by a backslash
  separated UID list. Every answer carries the level's UIDs
  (StudyInstanceUID; SeriesInstanceUID; SOPInstanceUID and SOPClassUID),
  NumberOfSeriesRelatedInstances at SERIES level,
  NumberOfStudyRelatedSeries/-Instances at STUDY level, and every other key
  the query asked for, empty. With ``uid_lists=False`` a query with a UID
  list is refused with :data:`UID_LIST_REFUSAL` (0xA900, "identifier does
  not match SOP class"), as some archives do; an unknown level gets 0xA900
  too.
* **Storage Commitment Push Model SCP** (PS3.4 Annex J). The N-ACTION
  (Action Type ID 1 on the well-known instance 1.2.840.10008.1.20.1.1) is
  checked against what is held: a held instance is committed; one not held
  fails with 0x0112 (no such object instance); one held under another SOP
  class fails with 0x0119 (class-instance conflict); ``failure_reasons =
  {sop_uid: code}`` forces a reason. Event Type ID 1 when nothing failed,
  2 otherwise. ``reject_n_action=status`` answers every N-ACTION with that
  status and reports nothing. How the report is delivered is
  ``commitment`` (:data:`Commitment`):

  ``"new-association"`` (default, as Orthanc does)
      answer the N-ACTION with 0x0000; ``report_delay`` seconds later open a
      new association to ``report_to = (host, port, ae_title)`` or, when it is
      None, to ``modalities[calling AE title] = (host, port)`` (called AE
      title: the calling AE title, like Orthanc's DicomModalities), proposing
      the Storage Commitment Push Model with SCP/SCU role selection (SCP role
      for the archive, ``build_role(uid, scp_role=True)``), send the
      N-EVENT-REPORT, release.
  ``"same-association"``
      send the N-EVENT-REPORT on the association that carried the N-ACTION,
      after the N-ACTION response went out (and ``report_delay`` later). The
      requester must keep that association open (up to ``report_delay`` plus
      a little; bounded by its own timeout) and answer N-EVENT-REPORT
      requests on it; if it releases first, the report is lost (recorded in
      :attr:`ArchiveSCP.report_errors`).
  ``"never"``
      answer the N-ACTION, never report.
  ``"withhold"``
      answer the N-ACTION and keep its report (as it stands then) until the
      test calls :meth:`ArchiveSCP.release` with its Transaction UID: then
      send it on a new association, as ``"new-association"`` would. This is
      an archive that reports after the requester's timeout, to a later
      run's listener. :attr:`ArchiveSCP.withheld` lists what it keeps.
  ``"duplicate"``
      send the same report twice (two associations, or two requests on the
      same association with ``report_on_same_association=True``).
  ``"unknown-transaction"``
      report under a fresh Transaction UID that was never asked for.
  ``"extra-instance"``
      the report also lists as committed an instance that was not asked for.

  The last three deliver on a new association, or on the N-ACTION's own
  association when ``report_on_same_association=True``.

Records for tests: :attr:`ArchiveSCP.n_actions`, :attr:`ArchiveSCP.withheld`,
:attr:`ArchiveSCP.reports_sent`,
:attr:`ArchiveSCP.report_replies`, :attr:`ArchiveSCP.report_errors`,
:attr:`ArchiveSCP.finds` and association counts.

Own ACSE, DIMSE, network and connection timeouts are ``timeout`` (10 s);
TCP_NODELAY is on, inbound and outbound. :meth:`ArchiveSCP.stop` wakes every
report thread waiting out its delay, aborts report associations and stops
the server, in a few seconds at most.

How a report is sent on the N-ACTION's association, and why not with
``Association.send_n_event_report``: the N-ACTION handler runs in the
association's reactor thread, and pynetdicom sends the N-ACTION response only
after the handler returns, so the report is sent from a thread that first
waits until the response PDU is on the wire (``EVT_DIMSE_SENT`` then
``EVT_PDU_SENT``; sending earlier could put the report before the response,
and a pynetdicom requester waiting in ``send_n_action`` would take the report
request for its response). It then pauses the reactor only while the
request is queued (as pynetdicom's ``send_*`` do) and lets the reactor run
again: the N-EVENT-REPORT response is picked up from ``EVT_DIMSE_RECV``
(the reactor then logs "Received unexpected N-EVENT-REPORT service message"
at WARNING for it, which is expected). One race is left, as in pynetdicom's
own ``send_*``: the reactor counts as paused while it serves a request, so a
report sent while the reactor answers another request of the requester may
interleave with that answer's PDUs.
``send_n_event_report`` instead keeps the reactor paused until the next
message arrives and takes whatever it is as the response, so a requester
that sends another request (a second N-ACTION, a C-STORE) before answering
the report would have that request swallowed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from types import TracebackType
from typing import Final, Literal, NamedTuple, TypeVar, cast, get_args

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid
from pynetdicom import (
    AE,
    ALL_TRANSFER_SYNTAXES,
    AllStoragePresentationContexts,
    build_context,
    build_role,
    evt,
)
from pynetdicom.association import Association
from pynetdicom.dimse_messages import N_ACTION_RSP, N_EVENT_REPORT_RSP
from pynetdicom.dimse_primitives import C_STORE, N_ACTION, N_EVENT_REPORT
from pynetdicom.dsutils import encode
from pynetdicom.events import Event, EventHandlerType
from pynetdicom.pdu import P_DATA_TF
from pynetdicom.transport import ThreadedAssociationServer

from tui_sender.demo.receiver import (
    part10_dataset_offset,
    serve_in_background,
    set_tcp_nodelay,
    shutdown_server,
)

STORAGE_COMMITMENT_PUSH_MODEL: Final = "1.2.840.10008.1.20.1"
STORAGE_COMMITMENT_INSTANCE: Final = "1.2.840.10008.1.20.1.1"
"""The well-known SOP Instance of the Storage Commitment Push Model."""
STUDY_ROOT_FIND: Final = "1.2.840.10008.5.1.4.1.2.2.1"
VERIFICATION: Final = "1.2.840.10008.1.1"

UID_LIST_REFUSAL: Final = 0xA900
"""C-FIND status answered to a UID list query when ``uid_lists=False``
(Identifier does not match SOP Class)."""

NO_SUCH_OBJECT_INSTANCE: Final = 0x0112
PROCESSING_FAILURE: Final = 0x0110
CLASS_INSTANCE_CONFLICT: Final = 0x0119
DUPLICATE_TRANSACTION_UID: Final = 0x0131

EXTRA_INSTANCE_SOP_CLASS: Final = "1.2.840.10008.5.1.4.1.1.2"
"""SOP class of the instance ``"extra-instance"`` adds to a report (CT Image Storage)."""

Commitment = Literal[
    "new-association",
    "same-association",
    "never",
    "withhold",
    "duplicate",
    "unknown-transaction",
    "extra-instance",
]
COMMITMENT_BEHAVIOURS: Final[tuple[Commitment, ...]] = get_args(Commitment)

_PENDING: Final = 0xFF00
_CANCELLED: Final = 0xFE00
_NO_SUCH_ACTION: Final = 0x0123
_INVALID_OBJECT_INSTANCE: Final = 0x0117
_INVALID_ARGUMENT: Final = 0x0115
_SPIN_SECONDS: Final = 0.0005
_LEVELS: Final = ("STUDY", "SERIES", "IMAGE")
_T = TypeVar("_T")


class HeldInstance(NamedTuple):
    """An instance the archive holds."""

    sop_class_uid: str
    study_uid: str
    series_uid: str
    data: bytes
    """The data set as received (no file meta), or what :meth:`ArchiveSCP.hold` was given."""


class NActionRecord(NamedTuple):
    """An N-ACTION request as received (recorded whatever it was answered)."""

    transaction_uid: str
    sop_instance_uids: list[str]
    calling_ae_title: str


class SentReport(NamedTuple):
    """An N-EVENT-REPORT request the archive sent."""

    transaction_uid: str
    committed: list[str]
    failed: dict[str, int]
    """SOP Instance UID to Failure Reason."""
    on_same_association: bool


@dataclass(frozen=True, slots=True)
class _Report:
    transaction_uid: str
    committed: list[tuple[str, str]]
    """(SOP Class UID, SOP Instance UID)."""
    failed: list[tuple[str, str, int]]
    """(SOP Class UID, SOP Instance UID, Failure Reason)."""

    @property
    def event_type(self) -> int:
        return 2 if self.failed else 1

    def dataset(self, retrieve_ae_title: str) -> Dataset:
        ds = Dataset()
        ds.TransactionUID = self.transaction_uid
        ds.RetrieveAETitle = retrieve_ae_title
        if self.committed:
            ds.ReferencedSOPSequence = Sequence(
                [_reference(cls, uid) for cls, uid in self.committed]
            )
        if self.failed:
            items = []
            for cls, uid, reason in self.failed:
                item = _reference(cls, uid)
                item.FailureReason = reason
                items.append(item)
            ds.FailedSOPSequence = Sequence(items)
        return ds

    def record(self, *, on_same_association: bool) -> SentReport:
        return SentReport(
            self.transaction_uid,
            [uid for _, uid in self.committed],
            {uid: reason for _, uid, reason in self.failed},
            on_same_association,
        )


@dataclass(slots=True)
class _Job:
    """A report to send on the N-ACTION's own association."""

    report: _Report
    copies: int
    response_sent: threading.Event = field(default_factory=threading.Event)


@dataclass(slots=True)
class _AssociationState:
    job_for_next_response: _Job | None = None
    """Set by the N-ACTION handler; its response is the next N-ACTION-RSP."""
    job_on_the_wire: _Job | None = None
    """Its N-ACTION-RSP is queued; the next command PDU sent completes it."""
    next_message_id: int = 1
    replies: dict[int, int] = field(default_factory=dict)
    """Message ID of our N-EVENT-REPORT to the Status the requester answered."""
    reply_arrived: threading.Condition = field(default_factory=threading.Condition)


class ArchiveSCP:
    """A pynetdicom archive on 127.0.0.1: stores, answers C-FIND, commits; see the module doc.

    The settings (``commitment``, ``report_to``, ``modalities``,
    ``report_delay``, ``report_on_same_association``, ``failure_reasons``,
    ``reject_n_action``, ``uid_lists``) are public attributes, read at each
    request, so a test may change them while the archive runs.
    """

    def __init__(
        self,
        *,
        ae_title: str = "ARCHIVE_SCP",
        commitment: Commitment = "new-association",
        report_to: tuple[str, int, str] | None = None,
        modalities: Mapping[str, tuple[str, int]] | None = None,
        report_delay: float = 0.0,
        find_delay: float = 0.0,
        report_on_same_association: bool = False,
        failure_reasons: Mapping[str, int] | None = None,
        reject_n_action: int | None = None,
        uid_lists: bool = True,
        timeout: float = 10.0,
        host: str = "127.0.0.1",
        max_associations: int = 10,
    ) -> None:
        if commitment not in COMMITMENT_BEHAVIOURS:
            raise ValueError(f"unknown commitment behaviour {commitment!r}")
        self.commitment: Commitment = commitment
        self.report_to: tuple[str, int, str] | None = report_to
        self.modalities: dict[str, tuple[str, int]] = dict(modalities or {})
        self.report_delay = report_delay
        self.find_delay = find_delay
        """Seconds before a C-FIND is answered (Orthanc never answers an AE it does not know)."""
        self.report_on_same_association = report_on_same_association
        self.failure_reasons: dict[str, int] = dict(failure_reasons or {})
        self.reject_n_action = reject_n_action
        self.uid_lists = uid_lists
        self._timeout = timeout
        self._host = host
        self._ae = _configured_ae(AE(ae_title=ae_title), timeout)
        self._ae.maximum_associations = max_associations
        for cx in AllStoragePresentationContexts:
            self._ae.add_supported_context(str(cx.abstract_syntax), ALL_TRANSFER_SYNTAXES)
        self._ae.add_supported_context(VERIFICATION)
        self._ae.add_supported_context(STUDY_ROOT_FIND)
        self._ae.add_supported_context(STORAGE_COMMITMENT_PUSH_MODEL)
        self._report_ae = _configured_ae(AE(ae_title=ae_title), timeout)
        self._server: ThreadedAssociationServer | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._held: dict[str, HeldInstance] = {}
        self._n_actions: list[NActionRecord] = []
        self._reports_sent: list[SentReport] = []
        self._report_replies: list[int | None] = []
        self._report_errors: list[str] = []
        self._finds: list[dict[str, str]] = []
        self._withheld: dict[str, tuple[_Report, str]] = {}
        """Transaction UID -> its report and the calling AE title of its N-ACTION."""
        self._states: dict[Association, _AssociationState] = {}
        self._requests = 0
        self._associations = 0
        self._report_associations = 0
        self._outbound: set[Association] = set()
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> ArchiveSCP:
        if self._server is not None:
            return self
        handlers: list[EventHandlerType] = [
            (evt.EVT_CONN_OPEN, set_tcp_nodelay),
            (evt.EVT_REQUESTED, self._on_requested),
            (evt.EVT_ESTABLISHED, self._on_established),
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_C_FIND, self._on_find),
            (evt.EVT_N_ACTION, self._on_n_action),
            (evt.EVT_DIMSE_SENT, self._on_dimse_sent),
            (evt.EVT_PDU_SENT, self._on_pdu_sent),
            (evt.EVT_DIMSE_RECV, self._on_dimse_recv),
            (evt.EVT_CONN_CLOSE, self._on_conn_close),
        ]
        self._server = serve_in_background(self._ae, (self._host, 0), handlers)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Wake report threads, abort report associations, stop listening; bounded."""
        deadline = time.monotonic() + timeout
        self._stopping.set()
        with self._lock:
            outbound = list(self._outbound)
        for association in outbound:
            association.abort()
        server, self._server = self._server, None
        if server is not None:
            shutdown_server(server, max(0.5, deadline - time.monotonic()))
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> ArchiveSCP:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- settings ----------------------------------------------------------

    def set_report_to(self, host: str, port: int, ae_title: str) -> None:
        """Where new-association reports go (instead of looking up ``modalities``)."""
        self.report_to = (host, port, ae_title)

    # -- what it holds -----------------------------------------------------

    def hold(
        self,
        sop_instance_uid: str,
        sop_class_uid: str,
        study_uid: str,
        series_uid: str,
        data: bytes = b"",
    ) -> None:
        """Hold an instance as if it had been stored."""
        with self._lock:
            self._held[sop_instance_uid] = HeldInstance(sop_class_uid, study_uid, series_uid, data)

    def hold_dataset(self, ds: Dataset) -> None:
        """Hold a pydicom data set (its UIDs; no bytes)."""
        self.hold(
            str(ds.SOPInstanceUID),
            str(ds.SOPClassUID),
            str(ds.get("StudyInstanceUID", "")),
            str(ds.get("SeriesInstanceUID", "")),
        )

    def forget(self, sop_instance_uid: str) -> bool:
        """Drop an instance ("deleted on the archive"); False if it was not held."""
        with self._lock:
            return self._held.pop(sop_instance_uid, None) is not None

    @property
    def held(self) -> dict[str, HeldInstance]:
        """SOP Instance UID to what is held (a copy)."""
        with self._lock:
            return dict(self._held)

    # -- what happened -----------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("ArchiveSCP is not running")
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        return self._host

    @property
    def ae_title(self) -> str:
        return str(self._ae.ae_title)

    @property
    def n_actions(self) -> list[NActionRecord]:
        with self._lock:
            return list(self._n_actions)

    @property
    def reports_sent(self) -> list[SentReport]:
        """N-EVENT-REPORT requests sent, in order (a duplicate appears twice)."""
        with self._lock:
            return list(self._reports_sent)

    @property
    def report_replies(self) -> list[int | None]:
        """Status the requester answered to each of :attr:`reports_sent` (None: no answer)."""
        with self._lock:
            return list(self._report_replies)

    @property
    def report_errors(self) -> list[str]:
        """Why reports could not be delivered (no destination, rejected, released...)."""
        with self._lock:
            return list(self._report_errors)

    @property
    def withheld(self) -> list[str]:
        """Transaction UIDs whose reports ``"withhold"`` keeps, in the order asked."""
        with self._lock:
            return list(self._withheld)

    def release(self, transaction_uid: str) -> bool:
        """Send a withheld report now, on a new association; True when it was answered.

        The report is kept: releasing it again sends it again (a duplicate).
        Bounded by the archive's ``timeout``; raises KeyError for a transaction
        that was not withheld.
        """
        with self._lock:
            report, calling = self._withheld[transaction_uid]
        destination = self._destination(calling)
        if destination is None:
            return False
        return self._send_on_new_association(report, destination) == 0x0000

    @property
    def finds(self) -> list[dict[str, str]]:
        """Each C-FIND identifier: keyword to value as text (a UID list joined by ``\\``)."""
        with self._lock:
            return [dict(find) for find in self._finds]

    @property
    def association_requests(self) -> int:
        """Inbound A-ASSOCIATE-RQs seen."""
        with self._lock:
            return self._requests

    @property
    def association_count(self) -> int:
        """Inbound associations established."""
        with self._lock:
            return self._associations

    @property
    def report_association_count(self) -> int:
        """Outbound (report) associations established."""
        with self._lock:
            return self._report_associations

    @property
    def open_associations(self) -> int:
        """Inbound associations still running."""
        server = self._server
        if server is None:
            return 0
        return sum(1 for a in server.active_associations if a.is_alive())

    def wait_for_reports(self, count: int, timeout: float = 10.0) -> list[SentReport]:
        """Wait (bounded) until ``count`` reports were sent; return them all."""
        return self._wait_for(lambda: self.reports_sent, count, timeout, "reports")

    def wait_for_n_actions(self, count: int, timeout: float = 10.0) -> list[NActionRecord]:
        """Wait (bounded) until ``count`` N-ACTIONs arrived; return them all."""
        return self._wait_for(lambda: self.n_actions, count, timeout, "N-ACTIONs")

    def wait_until_idle(self, timeout: float = 5.0) -> int:
        """Wait (bounded) until no inbound association is open; return how many still are."""
        deadline = time.monotonic() + timeout
        while self.open_associations and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.open_associations

    @staticmethod
    def _wait_for(read: Callable[[], list[_T]], count: int, timeout: float, what: str) -> list[_T]:
        deadline = time.monotonic() + timeout
        while len(items := read()) < count:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{len(items)} of {count} {what} after {timeout} s")
            time.sleep(0.01)
        return items

    # -- association handlers ------------------------------------------------

    def _on_requested(self, event: Event) -> None:
        with self._lock:
            self._requests += 1

    def _on_established(self, event: Event) -> None:
        with self._lock:
            self._associations += 1

    def _on_conn_close(self, event: Event) -> None:
        with self._lock:
            self._states.pop(event.assoc, None)

    def _state(self, association: Association) -> _AssociationState:
        with self._lock:
            state = self._states.get(association)
            if state is None:
                state = self._states[association] = _AssociationState()
            return state

    # -- storage -------------------------------------------------------------

    def _on_store(self, event: Event) -> int:
        request = cast(C_STORE, event.request)
        data = _dataset_bytes(event)
        try:
            ds = event.dataset
            study = str(ds.get("StudyInstanceUID", ""))
            series = str(ds.get("SeriesInstanceUID", ""))
        except Exception:  # undecodable: held anyway, found by no query
            study = series = ""
        self.hold(
            str(request.AffectedSOPInstanceUID),
            str(request.AffectedSOPClassUID),
            study,
            series,
            data,
        )
        return 0x0000

    # -- C-FIND ----------------------------------------------------------------

    def _on_find(self, event: Event) -> Iterator[tuple[int, Dataset | None]]:
        query = event.identifier
        with self._lock:
            self._finds.append(_as_text(query))
        if self.find_delay and self._stopping.wait(self.find_delay):
            return
        level = str(query.get("QueryRetrieveLevel", "")).strip().upper()
        if level not in _LEVELS:
            yield UID_LIST_REFUSAL, None
            return
        keys = ["StudyInstanceUID"]
        if level in ("SERIES", "IMAGE"):
            keys.append("SeriesInstanceUID")
        if level == "IMAGE":
            keys += ["SOPInstanceUID", "SOPClassUID"]
        wanted = {key: _uid_values(query, key) for key in keys}
        if not self.uid_lists and any(len(v or ()) > 1 for v in wanted.values()):
            yield UID_LIST_REFUSAL, None
            return
        for answer in _matches(self.held, level, wanted):
            if event.is_cancelled:
                yield _CANCELLED, None
                return
            yield _PENDING, _response(query, answer)

    # -- Storage Commitment ----------------------------------------------------

    def _on_n_action(self, event: Event) -> tuple[int, Dataset | None]:
        request = cast(N_ACTION, event.request)
        calling = str(event.assoc.requestor.ae_title).strip()
        try:
            info = event.action_information
            transaction_uid = str(info.get("TransactionUID", ""))
            references = [
                (str(item.ReferencedSOPClassUID), str(item.ReferencedSOPInstanceUID))
                for item in info.get("ReferencedSOPSequence", [])
            ]
        except Exception:
            transaction_uid, references = "", []
            info = None
        with self._lock:
            self._n_actions.append(
                NActionRecord(transaction_uid, [uid for _, uid in references], calling)
            )
        if request.ActionTypeID != 1:
            return _NO_SUCH_ACTION, None
        if str(request.RequestedSOPInstanceUID) != STORAGE_COMMITMENT_INSTANCE:
            return _INVALID_OBJECT_INSTANCE, None
        if info is None or not transaction_uid or not references:
            return _INVALID_ARGUMENT, None
        if self.reject_n_action is not None:
            return self.reject_n_action, None
        behaviour = self.commitment
        if behaviour == "never":
            return 0x0000, None
        report = self._commit(transaction_uid, references, behaviour)
        if behaviour == "withhold":
            with self._lock:
                self._withheld[transaction_uid] = (report, calling)
            return 0x0000, None
        copies = 2 if behaviour == "duplicate" else 1
        same = behaviour == "same-association" or (
            behaviour != "new-association" and self.report_on_same_association
        )
        if same:
            job = _Job(report, copies)
            self._state(event.assoc).job_for_next_response = job
            self._spawn(self._report_on_same_association, event.assoc, job)
        else:
            self._spawn(self._report_on_new_association, report, copies, calling)
        return 0x0000, None

    def _commit(
        self, transaction_uid: str, references: list[tuple[str, str]], behaviour: Commitment
    ) -> _Report:
        held = self.held
        forced = dict(self.failure_reasons)
        committed: list[tuple[str, str]] = []
        failed: list[tuple[str, str, int]] = []
        for cls, uid in references:
            instance = held.get(uid)
            if uid in forced:
                failed.append((cls, uid, forced[uid]))
            elif instance is None:
                failed.append((cls, uid, NO_SUCH_OBJECT_INSTANCE))
            elif instance.sop_class_uid != cls:
                failed.append((cls, uid, CLASS_INSTANCE_CONFLICT))
            else:
                committed.append((cls, uid))
        if behaviour == "unknown-transaction":
            transaction_uid = generate_uid()
        if behaviour == "extra-instance":
            committed.append((EXTRA_INSTANCE_SOP_CLASS, generate_uid()))
        return _Report(transaction_uid, committed, failed)

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name="ArchiveSCP-report", daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _error(self, message: str) -> None:
        with self._lock:
            self._report_errors.append(message)

    def _sent(self, report: _Report, reply: int | None, *, on_same_association: bool) -> None:
        with self._lock:
            self._reports_sent.append(report.record(on_same_association=on_same_association))
            self._report_replies.append(reply)

    # -- new association (Orthanc's way) ---------------------------------------

    def _report_on_new_association(self, report: _Report, copies: int, calling: str) -> None:
        if self._stopping.wait(self.report_delay):
            return
        destination = self._destination(calling)
        if destination is None:
            return
        for _ in range(copies):
            if self._stopping.is_set():
                return
            self._send_on_new_association(report, destination)

    def _destination(self, calling: str) -> tuple[str, int, str] | None:
        """Where a new-association report goes: ``report_to``, else the calling AE's entry."""
        if self.report_to is not None:
            return self.report_to
        known = self.modalities.get(calling)
        if known is None:
            self._error(f"no destination for calling AE {calling!r}")
            return None
        return (known[0], known[1], calling)

    def _send_on_new_association(
        self, report: _Report, destination: tuple[str, int, str]
    ) -> int | None:
        """Send ``report`` on an association of its own; the Status answered (None: none)."""
        host, port, called = destination
        association = self._report_ae.associate(
            host,
            port,
            contexts=[build_context(STORAGE_COMMITMENT_PUSH_MODEL)],
            ae_title=called,
            ext_neg=[build_role(STORAGE_COMMITMENT_PUSH_MODEL, scp_role=True)],
            bind_address=(self._host, 0),
            evt_handlers=[(evt.EVT_CONN_OPEN, set_tcp_nodelay)],
        )
        if not association.is_established:
            self._error(f"report association to {called}@{host}:{port} not established")
            return None
        with self._lock:
            self._outbound.add(association)
            self._report_associations += 1
        try:
            status, _ = association.send_n_event_report(
                report.dataset(self.ae_title),
                report.event_type,
                STORAGE_COMMITMENT_PUSH_MODEL,
                STORAGE_COMMITMENT_INSTANCE,
            )
            reply = cast("int | None", status.get("Status"))
            self._sent(report, reply, on_same_association=False)
            if association.is_established:
                association.release()
            return reply
        except Exception as exc:
            self._error(f"report to {called}@{host}:{port} failed: {exc}")
            association.abort()
            return None
        finally:
            with self._lock:
                self._outbound.discard(association)

    # -- same association --------------------------------------------------------

    def _on_dimse_sent(self, event: Event) -> None:
        if not isinstance(event.message, N_ACTION_RSP):
            return
        state = self._state(event.assoc)
        with self._lock:
            state.job_on_the_wire = state.job_for_next_response
            state.job_for_next_response = None

    def _on_pdu_sent(self, event: Event) -> None:
        pdu = event.pdu
        if not isinstance(pdu, P_DATA_TF):
            return
        state = self._state(event.assoc)
        with self._lock:
            job = state.job_on_the_wire
            if job is None:
                return
            for item in pdu.presentation_data_value_items:
                header = (item.data or b"\x00")[0]
                if header & 0x03 == 0x03:  # the last fragment of a command
                    state.job_on_the_wire = None
                    job.response_sent.set()
                    return

    def _on_dimse_recv(self, event: Event) -> None:
        if not isinstance(event.message, N_EVENT_REPORT_RSP):
            return
        command = event.message.command_set
        state = self._state(event.assoc)
        with state.reply_arrived:
            state.replies[int(command.MessageIDBeingRespondedTo)] = int(command.Status)
            state.reply_arrived.notify_all()

    def _report_on_same_association(self, association: Association, job: _Job) -> None:
        if not self._wait(job.response_sent, self._timeout):
            self._error("the N-ACTION response was not sent")
            return
        if self._stopping.wait(self.report_delay):
            return
        for _ in range(job.copies):
            if self._stopping.is_set():
                return
            if not association.is_established:
                self._error("the N-ACTION's association ended before the report")
                return
            self._send_on_same_association(association, job.report)

    def _send_on_same_association(self, association: Association, report: _Report) -> None:
        contexts = [
            cx
            for cx in association.accepted_contexts
            if cx.abstract_syntax == STORAGE_COMMITMENT_PUSH_MODEL
        ]
        if not contexts:
            self._error("no Storage Commitment context on the N-ACTION's association")
            return
        context = contexts[0]
        syntax = context.transfer_syntax[0]
        state = self._state(association)
        with self._lock:
            message_id = state.next_message_id
            state.next_message_id += 1
        request = N_EVENT_REPORT()
        request.MessageID = message_id
        request.AffectedSOPClassUID = STORAGE_COMMITMENT_PUSH_MODEL
        request.AffectedSOPInstanceUID = STORAGE_COMMITMENT_INSTANCE
        request.EventTypeID = report.event_type
        encoded = encode(
            report.dataset(self.ae_title),
            syntax.is_implicit_VR,
            syntax.is_little_endian,
            syntax.is_deflated,
        )
        if encoded is None:
            self._error("the report data set could not be encoded")
            return
        request.EventInformation = BytesIO(encoded)
        if not self._queue_between_requests(association, request, cast(int, context.context_id)):
            self._error("the N-ACTION's association ended before the report")
            return
        reply = self._await_reply(state, message_id)
        self._sent(report, reply, on_same_association=True)
        if reply is None:
            self._error(f"no answer to the N-EVENT-REPORT (message {message_id})")

    def _queue_between_requests(
        self, association: Association, request: N_EVENT_REPORT, context_id: int
    ) -> bool:
        """Queue ``request`` while the reactor is paused, as pynetdicom's send_* do.

        The reactor is let go again at once: it serves the requester's
        requests as usual, and the response comes back through EVT_DIMSE_RECV.
        """
        checkpoint = association._reactor_checkpoint
        checkpoint.clear()
        try:
            deadline = time.monotonic() + self._timeout
            while not association._is_paused:
                if time.monotonic() >= deadline or self._stopping.is_set():
                    return False
                time.sleep(_SPIN_SECONDS)
            if not association.is_established:
                return False
            association.dimse.send_msg(request, context_id)
            return True
        finally:
            checkpoint.set()

    def _await_reply(self, state: _AssociationState, message_id: int) -> int | None:
        deadline = time.monotonic() + self._timeout
        with state.reply_arrived:
            while message_id not in state.replies:
                left = deadline - time.monotonic()
                if left <= 0 or self._stopping.is_set():
                    return None
                state.reply_arrived.wait(min(left, 0.05))
            return state.replies.pop(message_id)

    def _wait(self, flag: threading.Event, timeout: float) -> bool:
        """Wait for ``flag``, bounded, giving up early when the archive stops."""
        deadline = time.monotonic() + timeout
        while not flag.wait(0.05):
            if self._stopping.is_set() or time.monotonic() >= deadline:
                return False
        return True


def _configured_ae(ae: AE, timeout: float) -> AE:
    ae.acse_timeout = timeout
    ae.dimse_timeout = timeout
    ae.network_timeout = timeout
    ae.connection_timeout = timeout
    return ae


def _reference(sop_class_uid: str, sop_instance_uid: str) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = sop_class_uid
    item.ReferencedSOPInstanceUID = sop_instance_uid
    return item


def _as_text(query: Dataset) -> dict[str, str]:
    record: dict[str, str] = {}
    for element in query:
        name = element.keyword or str(element.tag)
        value = element.value
        if isinstance(value, MultiValue):
            record[name] = "\\".join(str(v) for v in value)
        elif isinstance(value, Sequence):
            record[name] = f"<sequence of {len(value)}>"
        else:
            record[name] = "" if value is None else str(value)
    return record


def _uid_values(query: Dataset, keyword: str) -> list[str] | None:
    """The UIDs asked for; None for universal matching (absent, empty or ``*``)."""
    raw = query.get(keyword)
    if raw is None:
        return None
    items = list(raw) if isinstance(raw, MultiValue | list) else str(raw or "").split("\\")
    values = [str(v).strip().rstrip("\x00") for v in items]
    values = [v for v in values if v]
    if not values or values == ["*"]:
        return None
    return values


def _matches(
    held: dict[str, HeldInstance], level: str, wanted: dict[str, list[str] | None]
) -> list[dict[str, str | int]]:
    def ok(keyword: str, value: str) -> bool:
        allowed = wanted.get(keyword)
        return allowed is None or value in allowed

    instances = [
        (uid, h)
        for uid, h in held.items()
        if ok("StudyInstanceUID", h.study_uid)
        and ok("SeriesInstanceUID", h.series_uid)
        and ok("SOPInstanceUID", uid)
        and ok("SOPClassUID", h.sop_class_uid)
    ]
    if level == "IMAGE":
        return [
            {
                "StudyInstanceUID": h.study_uid,
                "SeriesInstanceUID": h.series_uid,
                "SOPInstanceUID": uid,
                "SOPClassUID": h.sop_class_uid,
            }
            for uid, h in instances
        ]
    if level == "SERIES":
        series: dict[tuple[str, str], int] = {}
        for _, h in instances:
            key = (h.study_uid, h.series_uid)
            series[key] = series.get(key, 0) + 1
        return [
            {"StudyInstanceUID": st, "SeriesInstanceUID": se, "NumberOfSeriesRelatedInstances": n}
            for (st, se), n in series.items()
        ]
    studies: dict[str, tuple[set[str], int]] = {}
    for _, h in instances:
        series_uids, count = studies.get(h.study_uid, (set(), 0))
        series_uids.add(h.series_uid)
        studies[h.study_uid] = (series_uids, count + 1)
    return [
        {
            "StudyInstanceUID": st,
            "NumberOfStudyRelatedSeries": len(series_uids),
            "NumberOfStudyRelatedInstances": count,
        }
        for st, (series_uids, count) in studies.items()
    ]


def _response(query: Dataset, answer: dict[str, str | int]) -> Dataset:
    """Every key the query asked for (empty unless known), plus the answer's values."""
    ds = Dataset()
    for element in query:
        if element.VR == "SQ" or " or " in element.VR:
            continue
        if element.keyword in ("QueryRetrieveLevel", "SpecificCharacterSet"):
            ds.add_new(element.tag, element.VR, element.value)
        else:
            ds.add_new(element.tag, element.VR, None)
    for keyword, value in answer.items():
        setattr(ds, keyword, value)
    return ds


def _dataset_bytes(event: Event) -> bytes:
    """The data set as sent, in memory or (chunked mode, turned on process-wide by
    :class:`~tui_sender.demo.receiver.StorageSCP`) in a temporary Part-10 file."""
    temp_path = cast("Path | None", event.dataset_path)
    if temp_path is not None:
        return temp_path.read_bytes()[part10_dataset_offset(temp_path) :]
    return cast(BytesIO, cast(C_STORE, event.request).DataSet).getvalue()
