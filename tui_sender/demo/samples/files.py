"""Writing sample data sets as Part-10 files, and the record of what was written.

The file meta is built here, from the data set itself, so the Media Storage
SOP Class and Instance UIDs always match (0008,0016) and (0008,0018): the
sender streams files unchanged, and a mismatch there is the kind of defect
real archives contain but a generator must not invent by accident.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import dcmwrite
from pydicom.charset import default_encoding
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import correct_ambiguous_vr, write_data_element, write_file_meta_info
from pydicom.tag import BaseTag
from pydicom.uid import UID

from tui_sender.demo.samples.identity import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME


@dataclass(frozen=True)
class SampleSet:
    """What a generator call wrote: every path, in writing order, and tallies by UID."""

    root: Path
    files: tuple[Path, ...]
    total_bytes: int
    sop_classes: dict[str, int]
    """SOP Class UID -> number of files, sorted by UID."""
    transfer_syntaxes: dict[str, int]
    """Transfer Syntax UID -> number of files, sorted by UID."""
    studies: int
    patients: int


def file_meta_for(
    sop_class_uid: str, sop_instance_uid: str, transfer_syntax: str
) -> FileMetaDataset:
    """Group 0002 for an instance written in ``transfer_syntax``."""
    meta = FileMetaDataset()
    meta.FileMetaInformationVersion = b"\x00\x01"
    meta.MediaStorageSOPClassUID = UID(sop_class_uid)
    meta.MediaStorageSOPInstanceUID = UID(sop_instance_uid)
    meta.TransferSyntaxUID = UID(transfer_syntax)
    meta.ImplementationClassUID = UID(IMPLEMENTATION_CLASS_UID)
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    return meta


class SeriesEncoder:
    """Encodes the files of one series, re-encoding only what differs per instance.

    pydicom's cost is per element, and the images of a series share most of
    their elements (patient, study, series, equipment, geometry). Those are
    encoded once, in runs cut at the tags an instance brings, and spliced
    around the instance's own elements. The bytes equal what ``dcmwrite``
    writes for the merged data set (a test holds it to that), several times
    faster, which is what lets thousands of small files appear in seconds.
    """

    def __init__(self, shared: Dataset, transfer_syntax: str) -> None:
        syntax = UID(transfer_syntax)
        if syntax.is_deflated or not syntax.is_little_endian:
            raise ValueError(f"{syntax.name} is not supported here; use SampleWriter.write")
        self.transfer_syntax = syntax
        self._implicit = syntax.is_implicit_VR
        self.shared = correct_ambiguous_vr(shared, True)
        self._charset: str | list[str] = shared.get("SpecificCharacterSet", default_encoding)
        self._runs: dict[tuple[BaseTag, ...], list[bytes]] = {}

    def file_bytes(self, own: Dataset) -> bytes:
        """The whole Part-10 file (preamble, meta, data set) of ``shared`` plus ``own``."""
        out = self._buffer()
        out.write(_PREAMBLE)
        out.is_implicit_VR = False
        write_file_meta_info(
            out,
            file_meta_for(self.shared.SOPClassUID, own.SOPInstanceUID, self.transfer_syntax),
            enforce_standard=True,
        )
        out.is_implicit_VR = self._implicit
        tags = tuple(sorted(own.keys()))
        runs = self._runs_around(tags)
        for run, tag in zip(runs, tags, strict=False):
            out.write(run)
            write_data_element(out, own[tag], self._charset)
        out.write(runs[-1])
        return out.getvalue()

    def _runs_around(self, tags: tuple[BaseTag, ...]) -> list[bytes]:
        """Shared elements encoded in ``len(tags) + 1`` runs, split at ``tags``."""
        runs = self._runs.get(tags)
        if runs is None:
            clash = [t for t in tags if t in self.shared]
            if clash:
                raise ValueError(f"instance elements {clash} are also shared elements")
            bounds = [*tags, BaseTag(0xFFFFFFFF)]
            runs = []
            # Group lengths of groups > 6 are retired; dcmwrite drops them too.
            shared = [t for t in sorted(self.shared.keys()) if t.element != 0 or t.group <= 6]
            position = 0
            for bound in bounds:
                out = self._buffer()
                while position < len(shared) and shared[position] < bound:
                    write_data_element(out, self.shared[shared[position]], self._charset)
                    position += 1
                runs.append(out.getvalue())
            self._runs[tags] = runs
        return runs

    def _buffer(self) -> DicomBytesIO:
        out = DicomBytesIO()
        out.is_little_endian = True
        out.is_implicit_VR = self._implicit
        return out


_PREAMBLE = b"\x00" * 128 + b"DICM"


@dataclass
class SampleWriter:
    """Writes files under ``root`` and tallies them into a :class:`SampleSet`."""

    root: Path
    _files: list[Path] = field(default_factory=list)
    _bytes: int = 0
    _sop_classes: Counter[str] = field(default_factory=Counter)
    _syntaxes: Counter[str] = field(default_factory=Counter)
    _studies: set[str] = field(default_factory=set)
    _patients: set[str] = field(default_factory=set)

    def write(self, relative: Path, ds: Dataset, transfer_syntax: str) -> Path:
        """Write ``ds`` as a Part-10 file at ``root / relative``; returns the full path."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.file_meta = file_meta_for(ds.SOPClassUID, ds.SOPInstanceUID, transfer_syntax)
        dcmwrite(path, ds, enforce_file_format=True)
        self.record(path, str(ds.SOPClassUID), transfer_syntax, ds.StudyInstanceUID, ds.PatientID)
        return path

    def write_instance(self, relative: Path, encoder: SeriesEncoder, own: Dataset) -> Path:
        """Write one instance of a series through its :class:`SeriesEncoder`."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encoder.file_bytes(own))
        shared = encoder.shared
        self.record(
            path,
            shared.SOPClassUID,
            encoder.transfer_syntax,
            shared.StudyInstanceUID,
            shared.PatientID,
        )
        return path

    def record(
        self, path: Path, sop_class: str, transfer_syntax: str, study_uid: str, patient_id: str
    ) -> None:
        """Count a file written by other means (the streaming multi-frame writer)."""
        self._files.append(path)
        self._bytes += path.stat().st_size
        self._sop_classes[sop_class] += 1
        self._syntaxes[transfer_syntax] += 1
        self._studies.add(study_uid)
        self._patients.add(patient_id)

    def result(self) -> SampleSet:
        """The record of everything written so far."""
        return SampleSet(
            root=self.root,
            files=tuple(self._files),
            total_bytes=self._bytes,
            sop_classes=dict(sorted(self._sop_classes.items())),
            transfer_syntaxes=dict(sorted(self._syntaxes.items())),
            studies=len(self._studies),
            patients=len(self._patients),
        )
