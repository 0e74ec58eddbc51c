"""Storage Commitment Push Model as SCU (PS3.4 Annex J).

After a destination stored instances, :func:`request_commitment` sends
N-ACTION requests (one transaction of up to ``batch`` instances each) and
collects the N-EVENT-REPORTs that answer them. An archive may report on
the same association (we keep it open until every report came or the
timeout ran out) or, as most do and Orthanc does, on a new association to
our own listening AE: :class:`ReportListener`, which runs for the session
and accepts the Storage Commitment context in the role the archive
proposes (it acts as SCP there, PS3.4 J.3.3 with SCP/SCU role selection).

Both paths deliver into one :class:`ReportBox`, keyed by Transaction UID:
a duplicated report is counted once, a report for a transaction we never
asked is kept apart and logged, and an instance a report lists that was not
in its request is ignored (and logged). Every wait is bounded.

An archive may report after our timeout: the instances stay ``unconfirmed``
with their Transaction UID recorded, and a later run passes those requests
as ``earlier`` to :func:`request_commitment`. The box then takes their
reports too while the run listens (:func:`expect_earlier`), and
:func:`late_verdicts` reads them; per instance the most recent report that
mentions it wins, so a late report is proof when the new request's report
did not come (the run still asks again, for an archive that forgot the
first request).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tui_sender.core.base import wording
from tui_sender.core.base.deferred_imports import IMPORT_LOCK
from tui_sender.core.model.verification import (
    StoredInstance,
    Verification,
    Verified,
    failure_reason,
)
from tui_sender.core.net.endpoint import LinkSettings
from tui_sender.core.verify.association import (
    VerificationError,
    accepted,
    associated,
    no_delay,
    park_reactor,
)

STORAGE_COMMITMENT = "1.2.840.10008.1.20.1"
STORAGE_COMMITMENT_INSTANCE = "1.2.840.10008.1.20.1.1"
"""The well-known SOP Instance every N-ACTION and N-EVENT-REPORT of Annex J names."""
REQUEST_COMMITMENT = 1
"""Action Type ID of "Request Storage Commitment"."""
WAIT_SLICE = 0.2


def new_transaction_uid() -> str:
    """A fresh Transaction UID (2.25 form: needs no registered root)."""
    return f"2.25.{uuid.uuid4().int}"


@dataclass(frozen=True, slots=True)
class CommitmentReport:
    """One N-EVENT-REPORT, as received."""

    transaction_uid: str
    committed: frozenset[str]
    failed: dict[str, int | None]
    """SOP Instance UID -> Failure Reason (0008,1197), None when the item had none."""
    same_association: bool
    at: float


@dataclass
class ReportBox:
    """N-EVENT-REPORTs by Transaction UID, from any association; thread-safe."""

    asked: dict[str, frozenset[str]] = field(default_factory=dict)
    """Transaction UID -> the SOP Instance UIDs its N-ACTION named."""
    reports: dict[str, CommitmentReport] = field(default_factory=dict)
    unknown: list[CommitmentReport] = field(default_factory=list)
    duplicates: int = 0
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def expect(self, transaction_uid: str, uids: Iterable[str]) -> None:
        """Take reports for this transaction (also one asked by an earlier run)."""
        with self._changed:
            self.asked[transaction_uid] = frozenset(uids)

    def deliver(self, report: CommitmentReport) -> None:
        """Keep a report: the first per transaction counts."""
        with self._changed:
            if report.transaction_uid not in self.asked:
                self.unknown.append(report)
            elif report.transaction_uid in self.reports:
                self.duplicates += 1
            else:
                self.reports[report.transaction_uid] = report
            self._changed.notify_all()

    def wait(self, transaction_uids: Iterable[str], deadline: float) -> bool:
        """Wait until every one of these transactions has its report, or ``deadline``."""
        wanted = set(transaction_uids)
        with self._changed:
            while not wanted <= self.reports.keys():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, WAIT_SLICE))
            return True


def _report_from(event: Any, same_association: bool) -> CommitmentReport | None:
    """The report an N-EVENT-REPORT event carries; None when it is not one."""
    request = event.request
    if str(request.AffectedSOPClassUID) != STORAGE_COMMITMENT:
        return None
    info = event.event_information
    committed = frozenset(
        str(item.ReferencedSOPInstanceUID) for item in info.get("ReferencedSOPSequence", [])
    )
    failed: dict[str, int | None] = {}
    for item in info.get("FailedSOPSequence", []):
        reason = item.get("FailureReason")
        failed[str(item.ReferencedSOPInstanceUID)] = None if reason is None else int(reason)
    return CommitmentReport(
        transaction_uid=str(info.get("TransactionUID", "")),
        committed=committed,
        failed=failed,
        same_association=same_association,
        at=time.time(),
    )


def _report_handler(box: ReportBox, same_association: bool) -> Callable[[Any], Any]:
    def on_report(event: Any) -> tuple[int, None]:
        try:
            report = _report_from(event, same_association)
        except (AttributeError, KeyError, TypeError, ValueError):
            return 0x0110, None  # processing failure: the report could not be read
        if report is None:
            return 0x0122, None  # SOP class not supported
        box.deliver(report)
        return 0x0000, None

    return on_report


class ReportListener:
    """Our listening AE for N-EVENT-REPORTs an archive sends on a new association."""

    def __init__(self, box: ReportBox, ae_title: str, port: int, host: str = "") -> None:
        self.box = box
        self.ae_title = ae_title
        self.port = port
        self.host = host
        self._server: Any = None

    def start(self) -> ReportListener:
        """Listen; raise :class:`VerificationError` when the port cannot be bound."""
        with IMPORT_LOCK:
            from pynetdicom import AE, evt

        ae = AE(ae_title=self.ae_title)
        ae.require_called_aet = False
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
        ae.add_supported_context(STORAGE_COMMITMENT, scu_role=True, scp_role=True)
        handlers: list[Any] = [
            (evt.EVT_CONN_OPEN, no_delay),
            (evt.EVT_N_EVENT_REPORT, _report_handler(self.box, same_association=False)),
        ]
        try:
            self._server = ae.start_server(
                (self.host, self.port), block=False, evt_handlers=handlers
            )
        except OSError as exc:
            where = f"{self.host or '*'}:{self.port}"
            raise VerificationError(
                f"cannot listen for storage commitment reports on {where}: {exc.strerror or exc}"
            ) from exc
        self.port = self._server.server_address[1]
        return self

    def stop(self) -> None:
        """Stop listening (associations in progress are closed)."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def __enter__(self) -> ReportListener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True, slots=True)
class Transaction:
    """One N-ACTION: its UID and the instances it named."""

    uid: str
    instances: tuple[StoredInstance, ...]
    refused: str = ""
    """Why the N-ACTION itself failed (empty when the archive accepted the request)."""


def expect_earlier(box: ReportBox, earlier: Iterable[Transaction]) -> None:
    """Take reports for earlier runs' transactions, for the instances still waiting on them.

    Called before listening starts as well as before asking, so a late report
    that arrives while another destination is asked is kept, not put aside
    as unknown.
    """
    for transaction in earlier:
        if transaction.uid:
            box.expect(transaction.uid, (i.sop_instance_uid for i in transaction.instances))


def _action_dataset(transaction: Transaction) -> Any:
    with IMPORT_LOCK:
        from pydicom.dataset import Dataset

    ds = Dataset()
    ds.TransactionUID = transaction.uid
    items = []
    for inst in transaction.instances:
        item = Dataset()
        item.ReferencedSOPClassUID = inst.sop_class_uid
        item.ReferencedSOPInstanceUID = inst.sop_instance_uid
        items.append(item)
    ds.ReferencedSOPSequence = items
    return ds


def _batches(instances: Sequence[StoredInstance], size: int) -> list[tuple[StoredInstance, ...]]:
    size = max(1, size)
    return [tuple(instances[i : i + size]) for i in range(0, len(instances), size)]


def request_commitment(
    link: LinkSettings,
    instances: Sequence[StoredInstance],
    box: ReportBox,
    *,
    batch: int,
    timeout: float,
    log: Callable[[str], None] = lambda _: None,
    progress: Callable[[int, int], None] = lambda _asked, _reported: None,
    earlier: Sequence[Transaction] = (),
) -> tuple[list[Transaction], dict[str, Verification]]:
    """Ask the archive to commit ``instances``; the verdict per SOP Instance UID.

    Waits up to ``timeout`` seconds after the last N-ACTION for the reports,
    on this association and on any listener delivering into ``box``.
    ``progress(asked, reported)`` is called as transactions are asked and
    answered. ``earlier`` are requests of an earlier run still unanswered for
    some of ``instances``: a report for one of them that arrives meanwhile
    counts too (see :func:`late_verdicts`). Raises :class:`VerificationError`
    when the archive cannot be associated or does not accept the Storage
    Commitment SOP class.
    """
    transactions: list[Transaction] = []
    expect_earlier(box, earlier)
    if earlier:
        log(f"taking late reports for {wording.count(len(earlier), 'earlier request')} too")

    def reported() -> int:
        return sum(1 for t in transactions if t.uid in box.reports)

    handler = _report_handler(box, same_association=True)
    with IMPORT_LOCK:
        from pynetdicom import evt

    with associated(
        link, [STORAGE_COMMITMENT], handlers=[(evt.EVT_N_EVENT_REPORT, handler)]
    ) as assoc:
        if not accepted(assoc, STORAGE_COMMITMENT):
            raise VerificationError(
                f"{link.called_ae}@{link.host}:{link.port} does not accept storage commitment"
            )
        for group in _batches(instances, batch):
            transaction = Transaction(new_transaction_uid(), group)
            box.expect(transaction.uid, (i.sop_instance_uid for i in group))
            park_reactor(assoc)
            try:
                status, _ = assoc.send_n_action(
                    _action_dataset(transaction),
                    REQUEST_COMMITMENT,
                    STORAGE_COMMITMENT,
                    STORAGE_COMMITMENT_INSTANCE,
                )
            except RuntimeError:  # pynetdicom: the archive ended the association already
                status = None
            code = int(getattr(status, "Status", -1)) if status is not None else -1
            if code != 0x0000:
                refused = (
                    "no answer to the storage commitment request (the archive ended the "
                    "association: does it know our AE title as a modality?)"
                    if code < 0
                    else f"the archive refused the storage commitment request (0x{code:04X})"
                )
                transaction = Transaction(transaction.uid, group, refused=refused)
                log(f"storage commitment request {transaction.uid}: {transaction.refused}")
            transactions.append(transaction)
            progress(len(transactions), reported())
            if not assoc.is_established:
                break
        asked = [t.uid for t in transactions if not t.refused]
        deadline = time.monotonic() + timeout
        while assoc.is_established and not box.wait(asked, min(deadline, time.monotonic() + 1)):
            progress(len(transactions), reported())
            if time.monotonic() >= deadline:
                break
    box.wait(asked, deadline)  # the rest may still come to the listener
    progress(len(transactions), reported())
    asked_count = sum(len(t.instances) for t in transactions)
    left = tuple(instances[asked_count:])
    if left:  # the association ended: the last refusal, if any, says why
        why = next(
            (t.refused for t in reversed(transactions) if t.refused),
            "the association ended before they were asked",
        )
        transactions.append(Transaction("", left, refused=why))
    results = verdicts(transactions, box, timeout, log)
    stored = {i.sop_instance_uid for i in instances}
    for uid, late in late_verdicts(earlier, box, stored, log).items():
        current = results.get(uid)
        if current is None:
            continue
        own = box.reports.get(current.transaction) if current.transaction else None
        if own is None or uid not in _listed(own) or late.at > own.at:
            results[uid] = late
    return transactions, results


def _listed(report: CommitmentReport) -> set[str]:
    """Every SOP Instance UID a report mentions, committed or failed."""
    return set(report.committed | report.failed.keys())


def _read_report(transaction: Transaction, report: CommitmentReport) -> dict[str, Verification]:
    """What ``report`` says of each instance of ``transaction`` it mentions."""
    said: dict[str, Verification] = {}
    for inst in transaction.instances:
        uid = inst.sop_instance_uid
        if uid in report.failed:
            reason = failure_reason(report.failed[uid])
            said[uid] = Verification(Verified.COMMIT_FAILED, reason, report.at, transaction.uid)
        elif uid in report.committed:
            said[uid] = Verification(Verified.COMMITTED, "", report.at, transaction.uid)
    return said


def verdicts(
    transactions: Sequence[Transaction],
    box: ReportBox,
    timeout: float,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Verification]:
    """Each asked instance's verdict from the reports received so far.

    Each verdict names its transaction, an unconfirmed one too (a later run
    may still take its late report); one whose request was refused names
    none, as no report will come for it.
    """
    results: dict[str, Verification] = {}
    now = time.time()
    for transaction in transactions:
        report = box.reports.get(transaction.uid) if not transaction.refused else None
        if report is None:
            why = transaction.refused or f"no storage commitment report within {timeout:g} s"
            asked = "" if transaction.refused else transaction.uid
            for inst in transaction.instances:
                results[inst.sop_instance_uid] = Verification(Verified.UNCONFIRMED, why, now, asked)
            continue
        named = {i.sop_instance_uid for i in transaction.instances}
        extra = _listed(report) - named
        if extra:
            log(
                f"storage commitment report {transaction.uid} lists {len(extra)} instance(s) "
                "that its request did not name; ignored"
            )
        said = _read_report(transaction, report)
        for uid in named:
            results[uid] = said.get(uid) or Verification(
                Verified.UNCONFIRMED,
                "the archive's report did not mention it",
                report.at,
                transaction.uid,
            )
    return results


def late_verdicts(
    earlier: Sequence[Transaction],
    box: ReportBox,
    stored: Collection[str],
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Verification]:
    """What the reports that came for earlier runs' transactions say, per instance.

    Only the instances a report mentions get a verdict: one it does not
    mention keeps what this run learnt. An instance it lists that the
    destination stored but that no longer waits on that transaction (proven
    since, or asked again in a later one) is ignored quietly; one the
    destination did not store is ignored and logged. When two earlier
    transactions name the same instance, the more recent report wins.
    """
    results: dict[str, Verification] = {}
    for transaction in earlier:
        report = box.reports.get(transaction.uid)
        if report is None:
            continue
        said = _read_report(transaction, report)
        committed = sum(1 for v in said.values() if v.verified is Verified.COMMITTED)
        log(
            f"took a late report for the earlier request {transaction.uid}: "
            f"{wording.count(committed, 'instance')} committed, {len(said) - committed} failed"
        )
        strangers = _listed(report) - set(stored)
        if strangers:
            log(
                f"the late report {transaction.uid} lists {len(strangers)} instance(s) "
                "that this destination did not store; ignored"
            )
        for uid, verdict in said.items():
            if uid not in results or verdict.at > results[uid].at:
                results[uid] = verdict
    return results
