"""Verifying a finished session's unproven instances again, from the summary screen.

Plain functions around the core's verification stage (no widgets, no
DICOM of their own), so the summary screen's thread worker stays short and
the bookkeeping can be read on its own: which instances to ask about
(:func:`reverify_jobs`), and how the answers join the summary
(:func:`reverified_summary`), the way ``tui-sender verify`` writes them.
"""

from __future__ import annotations

import copy
import datetime as dt
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tui_sender.core.engine.targets import TransferTarget
from tui_sender.core.model.verification import Verification, Verified, VerifyMethod
from tui_sender.core.record.stored_index import StoredIndex, verdict_rows
from tui_sender.core.verify.stage import (
    DestinationVerification,
    VerifyJob,
    apply_to_summary,
    earlier_requests,
    not_proven,
    stored_instances,
)


@dataclass(frozen=True, slots=True)
class Reverified:
    """What a second verification concluded, and where the updated summary went."""

    summary: dict[str, Any]
    checked: list[DestinationVerification]
    written_to: Path
    warning: str = ""
    """Why the stored-instance index does not remember the answers ("" when it does)."""


def reverify_jobs(summary: Mapping[str, Any], targets: Sequence[TransferTarget]) -> list[VerifyJob]:
    """One job per destination with unproven instances, asking about those only.

    Each destination is asked as the session asked it (its target's link and
    verify settings); a destination the session did not verify is not asked.
    """
    doubtful = not_proven(summary)
    jobs = []
    for target in targets:
        if target.verify.method is VerifyMethod.NONE:
            continue
        instances = tuple(stored_instances(doubtful, target.name))
        if instances:
            earlier = earlier_requests(doubtful, target.name)  # late reports still count
            jobs.append(
                VerifyJob(target.name, target.link, target.verify, instances, target.web, earlier)
            )
    return jobs


def remember_reverified(
    checked: Sequence[DestinationVerification],
    targets: Sequence[TransferTarget],
    index: StoredIndex | None,
) -> str:
    """Put the second verification's answers in the stored-instance index, as
    ``tui-sender verify`` does: a later send that skips these instances carries
    them, and sends again one the archive is now found not to hold. Returns why
    that failed ("" when written, or when the session had no index)."""
    if index is None:
        return ""
    keys = {t.name: t.link.peer for t in targets}
    try:
        index.add_verified(verdict_rows({c.name: c.results for c in checked}, keys))
    except sqlite3.Error as exc:
        return f"the stored-instance index does not remember these verdicts: {exc}"
    return ""


def _timestamp(value: object) -> float:
    """A summary's ``verified_at`` (ISO 8601, or None) as a Unix time (0: unknown)."""
    if not isinstance(value, str) or not value:
        return 0.0
    try:
        return dt.datetime.fromisoformat(value).timestamp()
    except ValueError:
        return 0.0


def _keep_earlier(summary: Mapping[str, Any], check: DestinationVerification) -> None:
    """Add to ``check`` the verdicts the summary already has for instances not asked now.

    :func:`~tui_sender.core.verify.stage.apply_to_summary` takes a
    destination's results as the whole answer: an instance missing from them
    would become ``unconfirmed``. A second verification asks only about the
    unproven ones, so the proven ones keep what the first one said.
    """
    for f in summary.get("files") or []:
        uid = str(f.get("sop_instance_uid") or "")
        if f.get("destination") != check.name or not uid or uid in check.results:
            continue
        try:
            earlier = Verified(str(f.get("verified") or Verified.NOT_ASKED.value))
        except ValueError:
            continue
        if earlier is Verified.NOT_ASKED:
            continue
        check.results[uid] = Verification(
            earlier,
            str(f.get("verified_reason") or ""),
            _timestamp(f.get("verified_at")),
            str(f.get("verified_transaction") or ""),
        )


def reverified_summary(
    summary: Mapping[str, Any], checked: Sequence[DestinationVerification]
) -> dict[str, Any]:
    """A copy of ``summary`` with the new answers; the original (and ``checked``) is left as
    it was.

    A destination verified again loses the earlier run's error (this run's,
    if any, takes its place). When every stored instance is now proven, an
    exit code that was 4 only for want of proof becomes 0 again.
    """
    updated: dict[str, Any] = copy.deepcopy(dict(summary))
    names = {c.name for c in checked}
    merged = [replace(c, results=dict(c.results)) for c in checked]
    for check in merged:
        _keep_earlier(updated, check)
    for dest in updated.get("destinations") or []:
        if dest.get("name") in names:
            dest.pop("verify_error", None)
    apply_to_summary(updated, merged)
    return updated
