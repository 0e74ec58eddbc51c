"""Builders of DICOM test files, good and bad, shared by the scan and send tests."""

from __future__ import annotations

import io
import os
import socket
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.filebase import DicomBytesIO
from pydicom.fileset import FileSet
from pydicom.filewriter import write_dataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    UID,
    ComprehensiveSRStorage,
    CTImageStorage,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    RLELossless,
    generate_uid,
)

from tui_sender.core.model.catalog import SkipReason

# --------------------------------------------------------------------------
# building files
# --------------------------------------------------------------------------


def image(
    *,
    sop_uid: str | None = None,
    study_uid: str = "1.2.3.4",
    series_uid: str = "1.2.3.4.5",
    pixel_bytes: int = 64,
    charset: str | None = None,
    patient_name: str = "DOE^JANE",
) -> Dataset:
    """A small CT image with the values the scan reads, a sequence and a private block."""
    ds = Dataset()
    if charset is not None:
        ds.SpecificCharacterSet = charset
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid or generate_uid()
    ds.StudyDate = "20240131"
    ds.SeriesDate = "20240131"
    ds.StudyTime = "101500"
    ds.AccessionNumber = "ACC1"
    ds.Modality = "CT"
    ds.StudyDescription = "CT Chest"
    ds.SeriesDescription = "Axial 1mm"
    ds.PatientName = patient_name
    ds.PatientID = "PID-1"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "F"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = "S1"
    ds.SeriesNumber = 3
    ds.InstanceNumber = 7
    code = Dataset()
    code.CodeValue = "T-D3000"
    code.CodingSchemeDesignator = "SRT"
    code.CodeMeaning = "Chest"
    ds.AnatomicRegionSequence = Sequence([code])
    block = ds.private_block(0x0009, "TUI SENDER TEST", create=True)
    block.add_new(0x01, "LO", "private value")
    block.add_new(0x02, "OB", b"\x01\x02" * 300)
    ds.Rows = 4
    ds.Columns = pixel_bytes // 8
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.SamplesPerPixel = 1
    ds.PixelRepresentation = 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = bytes(range(256)) * (pixel_bytes // 256) + bytes(pixel_bytes % 256)
    return ds


def save(path: Path | bytes, ds: Dataset, syntax: str = ExplicitVRLittleEndian) -> Path:
    """Write ``ds`` as a Part-10 file in ``syntax`` (encapsulating the pixels if needed)."""
    ds = ds.copy()
    uid = UID(syntax)
    if uid.is_encapsulated and "PixelData" in ds:
        frame = bytes(ds.PixelData)
        ds.PixelData = encapsulate([frame[: len(frame) // 2], frame[len(frame) // 2 :]])
        ds["PixelData"].VR = "OB"
        ds["PixelData"].is_undefined_length = True
        if uid == JPEGBaseline8Bit:
            ds.BitsAllocated = ds.BitsStored = 8
            ds.HighBit = 7
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = uid
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    with open(path, "wb") as out:  # also takes a bytes path (non-UTF-8 names)
        out.write(buffer.getvalue())
    return Path(os.fsdecode(path))


def sr_document(items: int) -> Dataset:
    """A Comprehensive SR whose nested content sequences are ``items`` long."""
    ds = Dataset()
    ds.SOPClassUID = ComprehensiveSRStorage
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = "1.2.3.4"
    ds.SeriesInstanceUID = "1.2.3.4.99"
    ds.Modality = "SR"
    ds.PatientName = "DOE^JANE"
    ds.ValueType = "CONTAINER"
    content = []
    for n in range(items):
        text = Dataset()
        text.RelationshipType = "CONTAINS"
        text.ValueType = "TEXT"
        text.TextValue = f"finding {n}: " + "lorem ipsum " * 40
        inner = Dataset()
        inner.RelationshipType = "HAS PROPERTIES"
        inner.ValueType = "CODE"
        inner.ConceptCodeSequence = Sequence([Dataset()])
        inner.ConceptCodeSequence[0].CodeValue = str(n)
        text.ContentSequence = Sequence([inner])
        content.append(text)
    ds.ContentSequence = Sequence(content)
    ds.InstanceNumber = 1
    return ds


def with_undefined_lengths(ds: Dataset) -> Dataset:
    """Mark every sequence and item for writing with undefined length (as many modalities do)."""
    for element in ds.iterall():
        if element.VR == "SQ":
            element.is_undefined_length = True
            for item in element.value:
                item.is_undefined_length_sequence_item = True
    return ds


def meta_bytes(elements: list[tuple[int, bytes, bytes]]) -> bytes:
    """Explicit VR LE file meta from ``(element, VR, value)``, with a correct group length."""
    body = b""
    for element, vr, value in elements:
        tag = (0x0002).to_bytes(2, "little") + element.to_bytes(2, "little")
        if vr in (b"OB", b"UN"):
            body += tag + vr + b"\0\0" + len(value).to_bytes(4, "little") + value
        else:
            body += tag + vr + len(value).to_bytes(2, "little") + value
    group_length = b"\x02\x00\x00\x00UL\x04\x00" + len(body).to_bytes(4, "little")
    return b"\0" * 128 + b"DICM" + group_length + body


def data_set_bytes(ds: Dataset, syntax: str = ExplicitVRLittleEndian) -> bytes:
    """The data set alone (no preamble, no meta) in ``syntax``, whatever it lacks."""
    uid = UID(syntax)
    buffer = DicomBytesIO()
    buffer.is_little_endian = uid.is_little_endian
    buffer.is_implicit_VR = uid.is_implicit_VR
    write_dataset(buffer, ds)
    return buffer.getvalue()


class Zoo:
    """A folder tree holding one of every input the scan must classify."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.expected: list[tuple[str, SkipReason | None]] = []
        """(path, reason) in any order; ``None`` means "in the catalog"."""
        self.outside = root.parent / f"{root.name}-outside"

    def expect(self, path: Path | str, reason: SkipReason | None) -> None:
        self.expected.append((os.fsdecode(path), reason))

    def build(self) -> Zoo:
        root = self.root
        root.mkdir()
        (root / "sub" / "deeper").mkdir(parents=True)
        good = save(root / "good.dcm", image(sop_uid="1.2.3.1"))
        self.expect(good, None)
        self.expect(
            save(root / "sub" / "implicit", image(sop_uid="1.2.3.2"), "1.2.840.10008.1.2"), None
        )
        self.expect(
            save(root / "sub" / "deeper" / "rle.bin", image(sop_uid="1.2.3.3"), RLELossless), None
        )
        self.expect(save(root / "sub" / "sr", sr_document(50)), None)

        (root / "empty.dcm").write_bytes(b"")
        self.expect(root / "empty.dcm", SkipReason.EMPTY)
        (root / "readme.txt").write_text("not an image\n")
        self.expect(root / "readme.txt", SkipReason.NOT_DICOM)
        (root / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(500))
        self.expect(root / "photo.jpg", SkipReason.NOT_DICOM)
        (root / "broken-meta.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x99" * 64)
        self.expect(root / "broken-meta.dcm", SkipReason.NO_FILE_META)
        (root / "bare.dcm").write_bytes(data_set_bytes(image(sop_uid="1.2.3.5")))
        self.expect(root / "bare.dcm", SkipReason.NO_FILE_META)
        full = good.read_bytes()
        (root / "cut-meta.dcm").write_bytes(full[:140])
        self.expect(root / "cut-meta.dcm", SkipReason.TRUNCATED)
        (root / "cut-pixels.dcm").write_bytes(full[:-5])
        self.expect(root / "cut-pixels.dcm", SkipReason.TRUNCATED)
        rle = save(root / "rle-cut.dcm", image(sop_uid="1.2.3.6"), RLELossless)
        rle.write_bytes(rle.read_bytes()[:-20])
        self.expect(rle, SkipReason.TRUNCATED)
        no_uid = image(sop_uid="1.2.3.7")
        del no_uid.StudyInstanceUID
        (root / "no-study.dcm").write_bytes(
            meta_bytes([(0x0010, b"UI", b"1.2.840.10008.1.2.1\0")]) + data_set_bytes(no_uid)
        )
        self.expect(root / "no-study.dcm", SkipReason.INVALID)

        file_set = FileSet()
        file_set.add(dcmread(good))
        file_set.write(root / "media")  # DICOMDIR plus a copy of good.dcm
        self.expect(root / "media" / "DICOMDIR", SkipReason.DICOMDIR)
        for copied in (root / "media").rglob("*"):
            if copied.is_file() and copied.name != "DICOMDIR":
                self.expect(copied, SkipReason.DUPLICATE_UID)

        save(root / "zz-dup-uid.dcm", image(sop_uid="1.2.3.1", study_uid="9.9"))  # as good.dcm
        self.expect(root / "zz-dup-uid.dcm", SkipReason.DUPLICATE_UID)
        os.link(good, root / "zz-hardlink.dcm")
        self.expect(root / "zz-hardlink.dcm", SkipReason.ALREADY_SEEN)

        os.symlink(root / "nowhere", root / "broken-link.dcm")
        self.expect(root / "broken-link.dcm", SkipReason.BROKEN_LINK)
        os.symlink("self-loop", root / "self-loop")
        self.expect(root / "self-loop", SkipReason.LINK_LOOP)
        os.symlink("..", root / "sub" / "loop")
        self.expect(root / "sub" / "loop", SkipReason.LINK_LOOP)
        os.symlink(good, root / "sub" / "link-to-good.dcm")
        self.expect(root / "sub" / "link-to-good.dcm", SkipReason.ALREADY_SEEN)
        os.mkfifo(root / "pipe.dcm")
        self.expect(root / "pipe.dcm", SkipReason.SPECIAL_FILE)
        self._socket(root / "sock")
        self.expect(root / "sock", SkipReason.SPECIAL_FILE)

        # a link to a folder outside the input, holding one file: followed
        self.outside.mkdir()
        self.expect(save(self.outside / "linked.dcm", image(sop_uid="1.2.3.8")), None)
        os.symlink(self.outside, root / "linked-folder")
        self.expect(root / "linked-folder" / "linked.dcm", None)
        self.expected.remove((str(self.outside / "linked.dcm"), None))

        # odd names
        for n, name in enumerate(["with space.dcm", "new\nline.dcm", "-leading-dash.dcm"]):
            self.expect(save(root / name, image(sop_uid=f"1.2.3.9.{n}")), None)
        raw_name = os.fsencode(root) + b"/latin1-\xe9\xff.dcm"
        save(raw_name, image(sop_uid="1.2.3.9.9"))
        self.expect(os.fsdecode(raw_name), None)
        return self

    def _socket(self, path: Path) -> None:
        # AF_UNIX paths are limited to ~108 bytes; bind from inside the folder.
        here = os.getcwd()
        os.chdir(path.parent)
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.bind(path.name)
        finally:
            os.chdir(here)
