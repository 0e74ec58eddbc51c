"""The verification stage: prove, per destination, that the archive holds what it stored.

A session runs it after its last file (``send --verify``, the app), and
``tui-sender verify`` runs it on an earlier session's record. Both give it
the same thing, the stored instances of each destination, and get back one
:class:`DestinationVerification` per destination, which
:func:`apply_to_summary` writes into the summary document.

Storage-commitment listeners are started once per port for the whole stage
and share one :class:`~tui_sender.core.verify.commitment.ReportBox`, so a
report that arrives while another destination is being asked still counts.
That holds for a late report to an earlier run's request as well: a job's
``earlier`` requests (:func:`earlier_requests`, from the record) are
expected before the listeners start.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from tui_sender.core.base.deferred_imports import IMPORT_LOCK
from tui_sender.core.base.times import utc_iso
from tui_sender.core.model.events import (
    Event,
    VerificationFinished,
    VerificationProgress,
    VerificationStarted,
)
from tui_sender.core.model.verification import (
    VERIFIED_VALUES,
    StoredInstance,
    Verification,
    Verified,
    VerifyMethod,
    VerifySettings,
)
from tui_sender.core.net.endpoint import LinkSettings
from tui_sender.core.verify.association import VerificationError
from tui_sender.core.verify.commitment import (
    ReportBox,
    ReportListener,
    Transaction,
    expect_earlier,
    request_commitment,
)
from tui_sender.core.verify.find import SeriesCount, find_instances
from tui_sender.core.web.settings import WebSettings

EXIT_NOT_VERIFIED = 4
"""Exit code when every file was stored but some stored instance is not proven held."""
STORED_STATES = ("sent", "warning")


@dataclass(frozen=True, slots=True)
class VerifyJob:
    """One destination to verify: where, how, and what it stored."""

    name: str
    link: LinkSettings
    settings: VerifySettings
    instances: tuple[StoredInstance, ...]
    web: WebSettings | None = None
    """A DICOMweb destination: verified by QIDO-RS instead of C-FIND."""
    earlier: tuple[Transaction, ...] = ()
    """Storage commitment requests of an earlier run that some of ``instances`` still wait
    on (their report came after that run's timeout): a late report for one is taken too.
    Used by storage commitment only."""


@dataclass(slots=True)
class DestinationVerification:
    """What verification concluded for one destination."""

    name: str
    method: VerifyMethod
    results: dict[str, Verification] = field(default_factory=dict)
    """SOP Instance UID -> verdict, for every stored instance asked about."""
    series: list[SeriesCount] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0
    transactions: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """One count per verified value (``not-asked`` excluded: it is not asked here)."""
        counted = Counter(v.verified.value for v in self.results.values())
        return {value: counted.get(value, 0) for value in VERIFIED_VALUES if value != "not-asked"}

    @property
    def all_proven(self) -> bool:
        """True when every stored instance was committed or found."""
        return all(v.verified.proven for v in self.results.values())


def run_verification(
    jobs: Sequence[VerifyJob],
    *,
    emit: Callable[[Event], None] = lambda _: None,
    log: Callable[[str], None] = lambda _: None,
    box: ReportBox | None = None,
) -> list[DestinationVerification]:
    """Verify each job's destination in turn; never raises for a peer's failure."""
    box = box or ReportBox()
    for job in jobs:
        if job.settings.method is VerifyMethod.COMMITMENT:
            expect_earlier(box, job.earlier)
    outcomes = []
    with ExitStack() as listeners:
        started: dict[int, ReportListener] = {}
        problems: dict[str, str] = {}
        for job in jobs:
            s = job.settings
            if s.method is not VerifyMethod.COMMITMENT or not s.listen_port:
                continue
            if s.listen_port in started:
                continue
            try:
                listener = ReportListener(
                    box, s.listen_ae or job.link.calling_ae, s.listen_port, s.listen_host
                )
                started[s.listen_port] = listeners.enter_context(listener)
            except VerificationError as exc:
                problems[job.name] = str(exc)
        for job in jobs:
            outcomes.append(_verify_one(job, box, emit, log, problems.get(job.name, "")))
    if box.unknown:
        named = ", ".join(sorted({r.transaction_uid or "(none)" for r in box.unknown})[:5])
        log(
            f"ignored {len(box.unknown)} storage commitment report(s) for requests this run "
            f"did not make or wait on: {named}"
        )
    return outcomes


def _verify_one(
    job: VerifyJob,
    box: ReportBox,
    emit: Callable[[Event], None],
    log: Callable[[str], None],
    problem: str,
) -> DestinationVerification:
    method = job.settings.method
    result = DestinationVerification(job.name, method)
    began = time.monotonic()
    emit(
        VerificationStarted(destination=job.name, method=method.value, instances=len(job.instances))
    )

    def said(text: str) -> None:
        log(f"{job.name}: {text}")

    try:
        if problem:
            raise VerificationError(problem)
        if method is VerifyMethod.COMMITMENT:
            total = -(-len(job.instances) // max(1, job.settings.batch))

            def progress(asked: int, answered: int) -> None:
                emit(
                    VerificationProgress(
                        destination=job.name,
                        method=method.value,
                        asked=asked,
                        answered=answered,
                        total=total,
                    )
                )

            transactions, result.results = request_commitment(
                job.link,
                job.instances,
                box,
                batch=job.settings.batch,
                timeout=job.settings.timeout,
                log=said,
                progress=progress,
                earlier=job.earlier,
            )
            result.transactions = [t.uid for t in transactions if t.uid]
        else:

            def queried(done: int, total: int) -> None:
                emit(
                    VerificationProgress(
                        destination=job.name,
                        method=method.value,
                        asked=done,
                        answered=done,
                        total=total,
                    )
                )

            if job.web is not None:
                with IMPORT_LOCK:  # httpx is for DICOMweb only
                    from tui_sender.core.verify.qido_find import query_instances
                result.results, result.series = query_instances(
                    job.web, job.instances, progress=queried
                )
            else:
                result.results, result.series = find_instances(
                    job.link, job.instances, progress=queried
                )
            for count in result.series:
                if not count.agrees:
                    said(
                        f"series {count.series_uid}: the archive counts {count.related} "
                        f"instances but listed {count.listed}"
                    )
    except VerificationError as exc:
        result.error = str(exc)
        now = time.time()
        for inst in job.instances:
            result.results.setdefault(
                inst.sop_instance_uid, Verification(Verified.UNCONFIRMED, str(exc), now)
            )
        said(f"verification could not run: {exc}")
    result.seconds = time.monotonic() - began
    emit(
        VerificationFinished(
            destination=job.name,
            method=method.value,
            counts=result.counts(),
            seconds=result.seconds,
            error=result.error,
        )
    )
    return result


# -- the record ------------------------------------------------------------------------------


def stored_instances(files: Iterable[Mapping[str, Any]], destination: str) -> list[StoredInstance]:
    """The stored instances of one destination in summary (or journal) file entries."""
    seen: dict[str, StoredInstance] = {}
    for f in files:
        if f.get("destination") != destination or f.get("state") not in STORED_STATES:
            continue
        uid = str(f.get("sop_instance_uid") or "")
        if uid and uid not in seen:
            seen[uid] = StoredInstance(
                sop_instance_uid=uid,
                sop_class_uid=str(f.get("sop_class_uid") or ""),
                study_uid=str(f.get("study_uid") or ""),
                series_uid=str(f.get("series_uid") or ""),
            )
    return list(seen.values())


def earlier_requests(
    files: Iterable[Mapping[str, Any]], destination: str
) -> tuple[Transaction, ...]:
    """The storage commitment requests one destination's stored instances still wait on.

    From summary (or journal) file entries left ``unconfirmed`` with a
    ``verified_transaction``: one :class:`Transaction` per Transaction UID,
    naming only those instances (the proven ones need no late report), each
    once however many entries repeat it.
    """
    waiting: dict[str, dict[str, StoredInstance]] = {}
    for f in files:
        transaction = str(f.get("verified_transaction") or "")
        if not transaction or f.get("verified") != Verified.UNCONFIRMED.value:
            continue
        for inst in stored_instances([f], destination):
            waiting.setdefault(transaction, {}).setdefault(inst.sop_instance_uid, inst)
    return tuple(Transaction(uid, tuple(named.values())) for uid, named in waiting.items())


def apply_to_summary(
    summary: dict[str, Any], verifications: Sequence[DestinationVerification]
) -> dict[str, Any]:
    """Write the verdicts into a summary document (in place) and return it.

    Every file entry gains ``verified``, ``verified_reason`` and
    ``verified_at`` (``not-asked`` where no verification answered for it,
    and what an earlier verification said is kept for a destination not
    verified now), and ``verified_transaction`` where storage commitment
    asked about it (what :func:`earlier_requests` reads back); each
    destination gains ``verify`` and ``verified`` counts; the totals gain
    ``verified``. The exit code becomes :data:`EXIT_NOT_VERIFIED` when it
    was 0 and a stored instance is not proven held, and 0 again when it was
    that and every one is proven now.
    """
    by_name = {v.name: v for v in verifications}
    files = summary.get("files") or []
    for f in files:
        f.setdefault("verified", Verified.NOT_ASKED.value)
        f.setdefault("verified_reason", "")
        f.setdefault("verified_at", None)
        check = by_name.get(str(f.get("destination", "")))
        if check is None or f.get("state") not in STORED_STATES:
            continue
        verdict = check.results.get(str(f.get("sop_instance_uid") or ""))
        if verdict is None:
            verdict = Verification(Verified.UNCONFIRMED, "its SOP Instance UID is not recorded")
        f["verified"] = verdict.verified.value
        f["verified_reason"] = verdict.reason
        f["verified_at"] = utc_iso(verdict.at)
        if verdict.transaction:
            f["verified_transaction"] = verdict.transaction
        else:  # verified otherwise now: an earlier transaction no longer applies
            f.pop("verified_transaction", None)
    total: Counter[str] = Counter()
    for dest in summary.get("destinations") or []:
        name = str(dest.get("name", ""))
        check = by_name.get(name)
        if check is not None:
            dest["verify"] = check.method.value
            if check.error:
                dest["verify_error"] = check.error
            if check.transactions:
                dest["commitment_transactions"] = check.transactions
            mismatched = [c for c in check.series if not c.agrees]
            if check.series:
                dest["series_counts_checked"] = len(check.series)
                dest["series_counts_differ"] = [
                    {"series_uid": c.series_uid, "listed": c.listed, "related": c.related}
                    for c in mismatched
                ]
        else:
            dest.setdefault("verify", VerifyMethod.NONE.value)
        counted = Counter(
            str(f.get("verified")) for f in files if str(f.get("destination", "")) == name
        )
        dest["verified"] = {value: counted.get(value, 0) for value in VERIFIED_VALUES}
        total.update(counted)
    summary.setdefault("totals", {})["verified"] = {
        value: total.get(value, 0) for value in VERIFIED_VALUES
    }
    if verifications:
        # 4 means "stored, not proven": it follows the proof both ways (a later verify that
        # proves everything gives 0 back); the codes of a send that failed are left alone.
        code = summary.get("exit_code", 0)
        if code == 0 and not_proven(summary):
            summary["exit_code"] = EXIT_NOT_VERIFIED
        elif code == EXIT_NOT_VERIFIED and not not_proven(summary):
            summary["exit_code"] = 0
    return summary


def not_proven(summary: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Stored file entries of verified destinations that the archive did not confirm."""
    verified = {
        str(d.get("name", ""))
        for d in summary.get("destinations") or []
        if d.get("verify", "none") != "none"
    }
    return [
        f
        for f in summary.get("files") or []
        if f.get("state") in STORED_STATES
        and str(f.get("destination", "")) in verified
        and f.get("verified") not in ("committed", "found")
    ]
