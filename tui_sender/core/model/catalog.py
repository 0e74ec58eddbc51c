"""The study tree as plain data: patients > studies > series > instances.

The scan fills a :class:`Catalog`; the UI browses it, the planner picks
instances out of it, and nothing in here touches the disk or the network.
Every path the scan met ends either as an :class:`Instance` in the tree or as
a :class:`SkippedFile` with a reason, so the session record can account for
all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum


class SkipReason(StrEnum):
    """Why a path found by the scan will never be offered to a destination."""

    NOT_DICOM = "not_dicom"
    EMPTY = "empty"
    TRUNCATED = "truncated"
    NO_FILE_META = "no_file_meta"
    INVALID = "invalid"
    UNREADABLE = "unreadable"
    DICOMDIR = "dicomdir"
    BROKEN_LINK = "broken_link"
    SPECIAL_FILE = "special_file"
    LINK_LOOP = "link_loop"
    DUPLICATE_UID = "duplicate_uid"
    ALREADY_SEEN = "already_seen"
    ALREADY_SENT = "already_sent"

    @property
    def explanation(self) -> str:
        """One sentence an administrator can act on."""
        return _EXPLANATIONS[self]


_EXPLANATIONS = {
    SkipReason.NOT_DICOM: "not a DICOM file (no 'DICM' marker at byte 128)",
    SkipReason.EMPTY: "empty file (0 bytes)",
    SkipReason.TRUNCATED: "file is truncated: it ends before its data does",
    SkipReason.NO_FILE_META: "DICOM data set without a valid Part-10 file meta header",
    SkipReason.INVALID: "DICOM file without the UIDs needed to send it",
    SkipReason.UNREADABLE: "cannot be read (permissions or I/O error)",
    SkipReason.DICOMDIR: "DICOMDIR media directory: an index, not an instance to store",
    SkipReason.BROKEN_LINK: "symbolic link whose target does not exist",
    SkipReason.SPECIAL_FILE: "not a regular file (FIFO, socket or device)",
    SkipReason.LINK_LOOP: "symbolic link back into a folder already being scanned",
    SkipReason.DUPLICATE_UID: "another file has the same SOP Instance UID",
    SkipReason.ALREADY_SEEN: "the same file was already found through another path",
    SkipReason.ALREADY_SENT: "already stored at this destination by an earlier session",
}


@dataclass(frozen=True, slots=True)
class SkippedFile:
    """A path that will not be sent, and why."""

    path: str
    """The path as found (may contain surrogate escapes for non-UTF-8 names)."""
    reason: SkipReason
    detail: str = ""
    """Specifics such as the first path of a duplicate or the OS error text."""

    @property
    def message(self) -> str:
        """Reason text plus detail, for logs, summaries and the details pane."""
        text = self.reason.explanation
        return f"{text}: {self.detail}" if self.detail else text


@dataclass(frozen=True, slots=True)
class Instance:
    """One Part-10 file that can be sent, with what sending it needs.

    ``dataset_offset`` is where the data set starts (just after the file
    meta), so the sender can stream the bytes from disk without parsing.
    ``size`` and ``mtime_ns`` let the sender notice a file that changed
    between scan and send.
    """

    path: str
    size: int
    mtime_ns: int
    dataset_offset: int
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    study_uid: str
    series_uid: str
    instance_number: int | None = None
    frames: int = 1

    @property
    def dataset_bytes(self) -> int:
        """Bytes that go on the wire as the data set when sent unchanged."""
        return self.size - self.dataset_offset


@dataclass(frozen=True, slots=True)
class HeaderFields:
    """Descriptive header values the scan reads beside the instance itself.

    Patient fields are PHI: the TUI shows them, logs and summaries do not
    (unless the user asks for ``--include-phi``).
    """

    patient_name: str = ""
    patient_id: str = ""
    patient_birth_date: str = ""
    patient_sex: str = ""
    study_date: str = ""
    study_time: str = ""
    study_description: str = ""
    accession_number: str = ""
    study_id: str = ""
    modality: str = ""
    series_description: str = ""
    series_number: int | None = None
    series_date: str = ""


@dataclass(slots=True)
class Series:
    """A series and its instances, in the order they were found."""

    uid: str
    modality: str = ""
    description: str = ""
    number: int | None = None
    instances: list[Instance] = field(default_factory=list)

    @property
    def count(self) -> int:
        """Number of instances."""
        return len(self.instances)

    @property
    def bytes(self) -> int:
        """Total file size of the instances."""
        return sum(i.size for i in self.instances)

    @property
    def sop_classes(self) -> set[str]:
        """SOP Class UIDs present in the series."""
        return {i.sop_class_uid for i in self.instances}

    @property
    def transfer_syntaxes(self) -> set[str]:
        """Transfer Syntax UIDs present in the series."""
        return {i.transfer_syntax_uid for i in self.instances}


@dataclass(slots=True)
class Study:
    """A study: the unit the sender queues and the UI selects."""

    uid: str
    patient_key: str
    date: str = ""
    time: str = ""
    description: str = ""
    accession_number: str = ""
    study_id: str = ""
    series: dict[str, Series] = field(default_factory=dict)

    def instances(self) -> Iterator[Instance]:
        """Every instance of the study, series by series."""
        for series in self.series.values():
            yield from series.instances

    @property
    def count(self) -> int:
        """Number of instances."""
        return sum(s.count for s in self.series.values())

    @property
    def bytes(self) -> int:
        """Total file size of the instances."""
        return sum(s.bytes for s in self.series.values())

    @property
    def modalities(self) -> list[str]:
        """Distinct modalities, in series order."""
        seen: dict[str, None] = {}
        for s in self.series.values():
            if s.modality:
                seen.setdefault(s.modality, None)
        return list(seen)

    @property
    def sop_classes(self) -> set[str]:
        """SOP Class UIDs present in the study."""
        return {i.sop_class_uid for i in self.instances()}

    @property
    def transfer_syntaxes(self) -> set[str]:
        """Transfer Syntax UIDs present in the study."""
        return {i.transfer_syntax_uid for i in self.instances()}


@dataclass(slots=True)
class Patient:
    """A patient and their studies. PHI: shown in the TUI, kept out of records."""

    key: str
    name: str = ""
    patient_id: str = ""
    birth_date: str = ""
    sex: str = ""
    studies: dict[str, Study] = field(default_factory=dict)


def patient_key(fields: HeaderFields) -> str:
    """Group studies under one patient by ID and name (either may be empty)."""
    return f"{fields.patient_id}\x00{fields.patient_name}"


@dataclass(slots=True)
class Catalog:
    """What the scan found: the study tree plus every skipped path.

    ``add`` is the only way instances get in, so duplicate SOP Instance UIDs
    are caught in one place: the first file wins, later ones are skipped with
    a reason naming the first.
    """

    patients: dict[str, Patient] = field(default_factory=dict)
    studies: dict[str, Study] = field(default_factory=dict)
    skipped: list[SkippedFile] = field(default_factory=list)
    notes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Remarks on files that are sent anyway (path -> remarks), e.g. a meta/data set mismatch."""
    _by_sop_uid: dict[str, Instance] = field(default_factory=dict)

    def add(self, instance: Instance, fields: HeaderFields) -> SkippedFile | None:
        """Put an instance in the tree; return the skip record if it is a duplicate."""
        first = self._by_sop_uid.get(instance.sop_instance_uid)
        if first is not None:
            skipped = SkippedFile(
                instance.path, SkipReason.DUPLICATE_UID, f"first seen in {first.path!r}"
            )
            self.skipped.append(skipped)
            return skipped
        self._by_sop_uid[instance.sop_instance_uid] = instance

        key = patient_key(fields)
        patient = self.patients.get(key)
        if patient is None:
            patient = Patient(
                key=key,
                name=fields.patient_name,
                patient_id=fields.patient_id,
                birth_date=fields.patient_birth_date,
                sex=fields.patient_sex,
            )
            self.patients[key] = patient
        study = self.studies.get(instance.study_uid)
        if study is None:
            study = Study(
                uid=instance.study_uid,
                patient_key=key,
                date=fields.study_date,
                time=fields.study_time,
                description=fields.study_description,
                accession_number=fields.accession_number,
                study_id=fields.study_id,
            )
            self.studies[instance.study_uid] = study
            patient.studies[study.uid] = study
        series = study.series.get(instance.series_uid)
        if series is None:
            series = Series(
                uid=instance.series_uid,
                modality=fields.modality,
                description=fields.series_description,
                number=fields.series_number,
            )
            study.series[series.uid] = series
        series.instances.append(instance)
        return None

    def skip(self, skipped: SkippedFile) -> None:
        """Record a path that will not be sent."""
        self.skipped.append(skipped)

    def instances(self) -> Iterator[Instance]:
        """Every instance in the catalog."""
        for study in self.studies.values():
            yield from study.instances()

    def instance_count(self) -> int:
        """Number of sendable instances."""
        return len(self._by_sop_uid)

    def total_bytes(self) -> int:
        """Total size of the sendable instances."""
        return sum(i.size for i in self._by_sop_uid.values())

    def studies_by_uid(self, uids: Iterable[str]) -> list[Study]:
        """The studies with these UIDs, in catalog order, ignoring unknown UIDs."""
        wanted = set(uids)
        return [s for uid, s in self.studies.items() if uid in wanted]
