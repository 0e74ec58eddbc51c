"""Small, valid DICOM instances for peer tests, written with pydicom.

Each file has its own SOP Instance UID (tests against a shared Orthanc rely
on that) and a recognisable synthetic patient name.
"""

from __future__ import annotations

from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
    generate_uid,
)

from tui_sender.demo.receiver import part10_dataset_offset

UNCOMPRESSED = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)


def make_instance(
    *,
    sop_class_uid: str = CTImageStorage,
    study_uid: str | None = None,
    series_uid: str | None = None,
    sop_instance_uid: str | None = None,
    rows: int = 16,
    columns: int = 16,
    patient_name: str = "PEER^TEST",
) -> Dataset:
    """A 16-bit monochrome image data set (no file meta yet)."""
    ds = Dataset()
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = sop_instance_uid or generate_uid()
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.PatientName = patient_name
    ds.PatientID = "PEER-0001"
    ds.StudyDate = "20240101"
    ds.Modality = "OT"
    ds.InstanceNumber = 1
    ds.Rows = rows
    ds.Columns = columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = bytes(i % 251 for i in range(rows * columns * 2))
    return ds


def write_instance(
    path: Path,
    dataset: Dataset | None = None,
    *,
    transfer_syntax: str = ExplicitVRLittleEndian,
) -> Path:
    """Write ``dataset`` (default: a new :func:`make_instance`) as a Part-10 file.

    ``transfer_syntax`` is Explicit or Implicit VR Little Endian, or RLE
    Lossless (pydicom's own encoder; no plugin needed).
    """
    ds = dataset if dataset is not None else make_instance()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ts = UID(transfer_syntax)
    if ts == RLELossless:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.compress(RLELossless)
    elif ts in UNCOMPRESSED:
        ds.file_meta.TransferSyntaxUID = ts
    else:
        raise ValueError(f"write_instance makes uncompressed or RLE files, not {ts.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def dataset_bytes(path: Path) -> bytes:
    """The encoded data set of a Part-10 file: everything after the file meta."""
    return path.read_bytes()[part10_dataset_offset(path) :]
