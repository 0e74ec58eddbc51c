"""A study with hundreds of distinct (SOP class, transfer syntax) pairs.

An association can carry at most 128 presentation contexts, so a study with
more distinct pairs must be split across associations. Real studies rarely
get there, which is exactly why the splitting needs a fixture that does.
Every storage SOP class pynetdicom knows is combined with the uncompressed
syntaxes, including Deflated Explicit VR Little Endian; the files carry only
the header modules (no pixel data), which is all negotiation looks at.
"""

from __future__ import annotations

from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom.sop_class import _STORAGE_CLASSES

from tui_sender.demo.samples.files import SampleSet, SampleWriter
from tui_sender.demo.samples.identity import UidFactory, make_patient, make_study

ZOO_TRANSFER_SYNTAXES = (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
)


def zoo_pairs(count: int) -> list[tuple[str, str]]:
    """The first ``count`` distinct (SOP Class UID, Transfer Syntax UID) pairs.

    Round ``r`` visits every storage class once, class ``i`` with syntax
    ``(i + r) % 3``, so even a short list mixes all three syntaxes and every
    class appears before any class repeats.
    """
    classes = sorted(set(_STORAGE_CLASSES.values()), key=_uid_key)
    syntaxes = ZOO_TRANSFER_SYNTAXES
    available = len(classes) * len(syntaxes)
    if not 0 <= count <= available:
        raise ValueError(f"the zoo has {available} distinct pairs, {count} were asked for")
    pairs: list[tuple[str, str]] = [
        (sop_class, syntaxes[(i + r) % len(syntaxes)])
        for r in range(len(syntaxes))
        for i, sop_class in enumerate(classes)
    ]
    return pairs[:count]


def write_context_zoo(out_dir: Path, *, pairs: int, seed: int = 0) -> SampleSet:
    """One study of ``pairs`` files, each a distinct (SOP class, transfer syntax) pair.

    One series per SOP class (``SE<nnn>``), files ``IMG<round>.dcm`` inside.
    """
    uids = UidFactory("context-zoo", seed)
    patient = make_patient(seed, 0)
    study = make_study(uids, seed, 0, 0)
    writer = SampleWriter(Path(out_dir))
    series_numbers: dict[str, int] = {}
    files_in_series: dict[str, int] = {}
    for sop_class, syntax in zoo_pairs(pairs):
        number = series_numbers.setdefault(sop_class, len(series_numbers) + 1)
        position = files_in_series.get(sop_class, 0) + 1
        files_in_series[sop_class] = position
        ds = Dataset()
        ds.SpecificCharacterSet = patient.charset
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = uids.uid("instance", number, position)
        ds.StudyDate = study.date
        ds.StudyTime = study.time
        ds.AccessionNumber = study.accession_number
        ds.Modality = "OT"
        ds.StudyDescription = "CONTEXT ZOO"
        ds.SeriesDescription = f"Class {number}"
        ds.PatientName = patient.name
        ds.PatientID = patient.patient_id
        ds.PatientBirthDate = patient.birth_date
        ds.PatientSex = patient.sex
        ds.StudyInstanceUID = study.uid
        ds.SeriesInstanceUID = uids.uid("series", number)
        ds.StudyID = study.study_id
        ds.SeriesNumber = number
        ds.InstanceNumber = position
        relative = Path(patient.folder) / study.folder / f"SE{number:03d}"
        writer.write(relative / f"IMG{position:04d}.dcm", ds, syntax)
    return writer.result()


def _uid_key(uid: str) -> tuple[int, ...]:
    """Numeric order of UID components, so 1.2.10 sorts after 1.2.9."""
    return tuple(int(part) for part in uid.split("."))
