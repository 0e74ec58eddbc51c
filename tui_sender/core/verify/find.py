"""C-FIND verification, for archives without storage commitment.

For each series a session stored into, one Study Root C-FIND at IMAGE
level by Study and Series Instance UID with an empty SOP Instance UID
returns every instance the archive holds there; each stored instance is
then ``found`` or ``missing``. One query per series works on every archive
(UID-list matching is optional in PS3.4 C.2.2.2.2 and many refuse it) and
costs one round trip per series rather than per instance. A SERIES level
query then asks Number of Series Related Instances, so a count that
disagrees with what the IMAGE level listed is reported too.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tui_sender.core.base.deferred_imports import IMPORT_LOCK
from tui_sender.core.model.verification import StoredInstance, Verification, Verified
from tui_sender.core.net.endpoint import LinkSettings
from tui_sender.core.verify.association import VerificationError, accepted, associated

STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
PENDING = (0xFF00, 0xFF01)
NO_ANSWER = (
    "no answer to the C-FIND (Orthanc, for one, does not answer an AE title it does not "
    "know as a modality)"
)
ENDED = "the archive ended the association before the C-FIND was answered"


@dataclass(frozen=True, slots=True)
class SeriesCount:
    """What the archive says about one series, beside what the IMAGE level listed."""

    study_uid: str
    series_uid: str
    listed: int
    """Instances the IMAGE level query returned."""
    related: int | None
    """Number of Series Related Instances at SERIES level (None: not returned)."""

    @property
    def agrees(self) -> bool:
        """True unless the archive returned a count that differs from its own list."""
        return self.related is None or self.related == self.listed


def by_series(instances: Sequence[StoredInstance]) -> dict[tuple[str, str], list[StoredInstance]]:
    """The stored instances grouped by (Study, Series Instance UID): one query each."""
    series: dict[tuple[str, str], list[StoredInstance]] = defaultdict(list)
    for inst in instances:
        series[(inst.study_uid, inst.series_uid)].append(inst)
    return series


def series_verdicts(
    members: Sequence[StoredInstance], listed: set[str] | None, reason: str
) -> dict[str, Verification]:
    """``found`` or ``missing`` (``reason``) per member, by what the archive ``listed``;
    every member ``unconfirmed`` with ``reason`` when the query failed (``listed`` None)."""
    now = time.time()
    if listed is None:
        return {
            i.sop_instance_uid: Verification(Verified.UNCONFIRMED, reason, now) for i in members
        }
    return {
        i.sop_instance_uid: Verification(Verified.FOUND, "", now)
        if i.sop_instance_uid in listed
        else Verification(Verified.MISSING, reason, now)
        for i in members
    }


def _identifier(level: str, study_uid: str, series_uid: str) -> Any:
    with IMPORT_LOCK:
        from pydicom.dataset import Dataset

    ds = Dataset()
    ds.QueryRetrieveLevel = level
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    if level == "IMAGE":
        ds.SOPInstanceUID = ""  # nothing else: an archive may read each file to answer more
    else:
        ds.NumberOfSeriesRelatedInstances = ""
    return ds


def _query(assoc: Any, identifier: Any) -> list[Any]:
    """Every match of one C-FIND; VerificationError when the peer fails it."""
    if not assoc.is_established:
        raise VerificationError(ENDED)
    matches = []
    try:
        for status, found in assoc.send_c_find(identifier, STUDY_ROOT_FIND):
            code = int(getattr(status, "Status", -1)) if status is not None else -1
            if code in PENDING:
                if found is not None:
                    matches.append(found)
            elif code == 0x0000:
                return matches
            elif code < 0:
                raise VerificationError(NO_ANSWER)
            else:
                raise VerificationError(f"the archive failed the C-FIND (0x{code:04X})")
    except RuntimeError as exc:  # pynetdicom: the association ended under the query
        raise VerificationError(ENDED) from exc
    raise VerificationError(ENDED)


def find_instances(
    link: LinkSettings,
    instances: Sequence[StoredInstance],
    *,
    progress: Callable[[int, int], None] = lambda _done, _total: None,
) -> tuple[dict[str, Verification], list[SeriesCount]]:
    """Look every instance up by C-FIND; the verdict per SOP Instance UID and per-series counts.

    Raises :class:`VerificationError` when the archive cannot be associated
    or does not accept Study Root FIND; a query that fails leaves its
    series' instances ``unconfirmed`` with the reason.
    """
    series = by_series(instances)
    results: dict[str, Verification] = {}
    counts: list[SeriesCount] = []
    with associated(link, [STUDY_ROOT_FIND]) as assoc:
        if not accepted(assoc, STUDY_ROOT_FIND):
            raise VerificationError(
                f"{link.called_ae}@{link.host}:{link.port} does not accept Study Root C-FIND"
            )
        lost = ""  # why the association ended: the reason of every series after it
        for done, ((study_uid, series_uid), members) in enumerate(series.items(), 1):
            try:
                if lost:
                    raise VerificationError(lost)
                if not study_uid or not series_uid:
                    raise VerificationError("its Study or Series Instance UID is not recorded")
                listed = {
                    str(m.get("SOPInstanceUID", ""))
                    for m in _query(assoc, _identifier("IMAGE", study_uid, series_uid))
                }
                related = _related(assoc, study_uid, series_uid)
            except VerificationError as exc:
                if not assoc.is_established:
                    lost = lost or str(exc)
                results |= series_verdicts(members, None, str(exc))
                progress(done, len(series))
                continue
            counts.append(SeriesCount(study_uid, series_uid, len(listed), related))
            results |= series_verdicts(members, listed, "a C-FIND of its series did not return it")
            progress(done, len(series))
    return results, counts


def _related(assoc: Any, study_uid: str, series_uid: str) -> int | None:
    """Number of Series Related Instances, when the archive returns it."""
    try:
        matches = _query(assoc, _identifier("SERIES", study_uid, series_uid))
    except VerificationError:
        return None
    for match in matches:
        value = match.get("NumberOfSeriesRelatedInstances")
        if value not in (None, ""):
            try:
                return int(value)
            except (TypeError, ValueError):
                return None
    return None
