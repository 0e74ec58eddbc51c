"""C-FIND verification, for archives without storage commitment.

For each series a session stored into, one Study Root C-FIND at IMAGE
level by Study and Series Instance UID with an empty SOP Instance UID
returns every instance the archive holds there; each stored instance is
then ``found`` or ``missing``. One query per series works on every archive
(UID-list matching is optional in PS3.4 C.2.2.2.2 and many refuse it) and
costs one round trip per series rather than per instance. A SERIES level
query then asks Number of Series Related Instances, so a count that
disagrees with what the IMAGE level listed is reported too.

The queries run on the product's own association
(:meth:`~tui_sender.core.net.link.Link.find`), not pynetdicom's: its
reactor thread could take a fast archive's first match off the queue
(pydicom/pynetdicom#875), and a stored instance was then reported missing,
about one series in a few hundred against dcmqrscp.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from tui_sender.core.base.deferred_imports import IMPORT_LOCK
from tui_sender.core.model.verification import StoredInstance, Verification, Verified
from tui_sender.core.net.endpoint import LinkSettings
from tui_sender.core.net.failures import AssociationError, FailureKind, LinkBroken
from tui_sender.core.net.link import Link
from tui_sender.core.net.opening import ProposedContext, open_link
from tui_sender.core.verify.association import UNCOMPRESSED, VerificationError

STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
NO_ANSWER = (
    "no answer to the C-FIND (Orthanc, for one, does not answer an AE title it does not "
    "know as a modality)"
)
ENDED = "the archive ended the association before the C-FIND was answered"
IMPLICIT_LITTLE = "1.2.840.10008.1.2"


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


def _encode(ds: Any, implicit: bool) -> bytes:
    with IMPORT_LOCK:
        from pydicom.filebase import DicomBytesIO
        from pydicom.filewriter import write_dataset

    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = implicit
    write_dataset(fp, ds)
    return fp.getvalue()


def _decode(data: bytes, implicit: bool) -> Any:
    """One match, every element read now: pydicom converts values as they are first
    used, and a value it cannot parse must fail here, inside the query's ``try``."""
    with IMPORT_LOCK:
        from pydicom.filereader import read_dataset

    ds = read_dataset(BytesIO(data), implicit, True)
    for _element in ds:
        pass
    return ds


def _query(link: Link, identifier: Any) -> list[Any]:
    """Every match of one C-FIND; VerificationError when the peer fails it."""
    if link.closed:
        raise VerificationError(ENDED)
    context = link.context_for(STUDY_ROOT_FIND)
    implicit = context is None or context.transfer_syntax_uid == IMPLICIT_LITTLE
    try:
        status, matches = link.find(STUDY_ROOT_FIND, _encode(identifier, implicit))
    except LinkBroken as exc:
        if exc.kind is FailureKind.TIMEOUT:
            raise VerificationError(NO_ANSWER) from exc
        raise VerificationError(f"{ENDED} ({exc})") from exc
    if status != 0x0000:
        raise VerificationError(f"the archive failed the C-FIND (0x{status:04X})")
    try:
        return [_decode(match, implicit) for match in matches]
    except Exception as exc:  # pydicom raises many kinds for bytes it cannot parse
        raise VerificationError(f"the archive's C-FIND answer could not be read: {exc}") from exc


@contextmanager
def _find_link(settings: LinkSettings) -> Iterator[Link]:
    """An association proposing Study Root FIND; released (or aborted) after."""
    proposed = [ProposedContext(STUDY_ROOT_FIND, syntax) for syntax in UNCOMPRESSED]
    peer = settings.peer
    try:
        link = open_link(settings, proposed)
    except AssociationError as exc:
        if exc.kind is FailureKind.NO_CONTEXTS:
            raise VerificationError(f"{peer} does not accept Study Root C-FIND") from exc
        raise VerificationError(f"could not associate with {peer} to verify: {exc}") from exc
    try:
        yield link
    finally:
        if not link.closed:
            link.release()


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
    with _find_link(link) as association:
        lost = ""  # why the association ended: the reason of every series after it
        for done, ((study_uid, series_uid), members) in enumerate(series.items(), 1):
            try:
                if lost:
                    raise VerificationError(lost)
                if not study_uid or not series_uid:
                    raise VerificationError("its Study or Series Instance UID is not recorded")
                listed = {
                    str(m.get("SOPInstanceUID", ""))
                    for m in _query(association, _identifier("IMAGE", study_uid, series_uid))
                }
                related = _related(association, study_uid, series_uid)
            except VerificationError as exc:
                if association.closed:
                    lost = lost or str(exc)
                results |= series_verdicts(members, None, str(exc))
                progress(done, len(series))
                continue
            counts.append(SeriesCount(study_uid, series_uid, len(listed), related))
            results |= series_verdicts(members, listed, "a C-FIND of its series did not return it")
            progress(done, len(series))
    return results, counts


def _related(association: Link, study_uid: str, series_uid: str) -> int | None:
    """Number of Series Related Instances, when the archive returns it."""
    try:
        matches = _query(association, _identifier("SERIES", study_uid, series_uid))
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
