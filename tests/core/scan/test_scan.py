"""The scanner: discovery, DICOM sniffing and header-only reads.

Files are built in ``tmp_path`` with pydicom (and byte surgery for the broken
ones); every expectation is checked against what ``pydicom.dcmread`` reads
from the same file, and ``dataset_offset`` against a parse of the bytes from
that offset.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pydicom.data
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filereader import read_dataset
from pydicom.fileset import FileSet
from pydicom.uid import (
    UID,
    ComprehensiveSRStorage,
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    KeyObjectSelectionDocumentStorage,
    RLELossless,
)

from tests.dicom_builders import (
    Zoo,
    data_set_bytes,
    image,
    meta_bytes,
    save,
    sr_document,
    with_undefined_lengths,
)
from tui_sender.core.model.catalog import Instance, SkippedFile, SkipReason
from tui_sender.core.scan.dicom_header import ScannedFile, read_header, scan_file
from tui_sender.core.scan.file_meta import DICOMDIR_SOP_CLASS
from tui_sender.core.scan.file_window import CHUNK
from tui_sender.core.scan.header_errors import ScanError
from tui_sender.core.scan.scanner import (
    ScanProgress,
    add_results,
    iter_scan,
    iter_scan_batches,
    scan_paths,
)

IS_ROOT = os.geteuid() == 0


def scan_file_bytes_offset(full: bytes) -> int:
    """Where the data set starts in a file written by pydicom (end of group 0002)."""
    group_length = int.from_bytes(full[140:144], "little")
    return 144 + group_length


def parse_from_offset(path: Path, instance: Instance) -> Dataset:
    """Parse the bytes from ``dataset_offset`` as a data set in the file's syntax."""
    raw = path.read_bytes()[instance.dataset_offset :]
    syntax = UID(instance.transfer_syntax_uid)
    if syntax.is_deflated:
        raw = zlib.decompress(raw, -zlib.MAX_WBITS)
    return read_dataset(
        io.BytesIO(raw),
        is_implicit_VR=syntax.is_implicit_VR,
        is_little_endian=syntax.is_little_endian,
    )


def expected_frames(full: Dataset) -> int:
    """Number of Frames as sending counts it: 1 when absent or not a positive integer."""
    try:
        return max(1, int(full.get("NumberOfFrames", 1) or 1))
    except ValueError:
        return 1


def assert_matches_pydicom(path: Path, scanned: ScannedFile) -> None:
    """The scan read what dcmread reads, and the data set starts at ``dataset_offset``."""
    full = dcmread(path)
    instance, fields = scanned.instance, scanned.fields
    assert instance.path == str(path)
    assert instance.size == path.stat().st_size
    assert instance.mtime_ns == path.stat().st_mtime_ns
    assert instance.transfer_syntax_uid == full.file_meta.TransferSyntaxUID
    assert instance.sop_class_uid == full.SOPClassUID
    assert instance.sop_instance_uid == full.SOPInstanceUID
    assert instance.study_uid == full.StudyInstanceUID
    assert instance.series_uid == full.SeriesInstanceUID
    assert instance.instance_number == full.get("InstanceNumber")
    assert instance.frames == expected_frames(full)
    assert fields.patient_name == str(full.get("PatientName", ""))
    assert fields.patient_id == full.get("PatientID", "")
    assert fields.study_date == full.get("StudyDate", "")
    assert fields.modality == full.get("Modality", "")
    assert fields.study_description == full.get("StudyDescription", "")
    assert fields.series_description == full.get("SeriesDescription", "")
    assert fields.series_number == full.get("SeriesNumber")
    data_set = parse_from_offset(path, instance)
    assert data_set == full
    assert len(data_set) == len(full)


# --------------------------------------------------------------------------
# good files: every encoding the reader must handle
# --------------------------------------------------------------------------

SYNTAXES = [
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    ExplicitVRBigEndian,
    DeflatedExplicitVRLittleEndian,
    RLELossless,
    JPEGBaseline8Bit,
]


@pytest.mark.parametrize("syntax", SYNTAXES, ids=[UID(s).keyword for s in SYNTAXES])
def test_reads_each_transfer_syntax_like_pydicom(tmp_path: Path, syntax: str) -> None:
    path = save(tmp_path / "image", image(), syntax)
    scanned = scan_file(str(path))
    assert scanned.notes == ()
    assert_matches_pydicom(path, scanned)
    assert scanned.instance.dataset_offset == scan_file_bytes_offset(path.read_bytes())


def test_read_header_returns_instance_and_fields(tmp_path: Path) -> None:
    path = save(tmp_path / "x.dcm", image(sop_uid="1.2.3.4.5.6"))
    instance, fields = read_header(str(path))
    assert instance.sop_instance_uid == "1.2.3.4.5.6"
    assert instance.dataset_bytes == path.stat().st_size - instance.dataset_offset
    assert fields.patient_birth_date == "19700101"
    assert fields.patient_sex == "F"
    assert fields.study_time == "101500"
    assert fields.accession_number == "ACC1"
    assert fields.study_id == "S1"
    assert fields.series_date == "20240131"


@pytest.mark.parametrize(
    ("charset", "name"),
    [("ISO_IR 100", "Müller^Zoë"), ("ISO_IR 192", "山田^太郎"), ("ISO_IR 144", "Иванов^Иван")],
)
def test_decodes_names_in_the_declared_character_set(
    tmp_path: Path, charset: str, name: str
) -> None:
    path = save(tmp_path / "x.dcm", image(charset=charset, patient_name=name))
    scanned = scan_file(str(path))
    assert scanned.fields.patient_name == name
    assert_matches_pydicom(path, scanned)


def test_multiframe_frames_and_missing_optional_values(tmp_path: Path) -> None:
    ds = image()
    ds.NumberOfFrames = 3
    del ds.InstanceNumber, ds.SeriesNumber, ds.StudyDescription, ds.PatientName
    path = save(tmp_path / "mf.dcm", ds)
    scanned = scan_file(str(path))
    assert scanned.instance.frames == 3
    assert scanned.instance.instance_number is None
    assert scanned.fields.series_number is None
    assert scanned.fields.patient_name == ""
    assert_matches_pydicom(path, scanned)


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
@pytest.mark.parametrize("undefined", [True, False], ids=["undefined-length", "defined-length"])
def test_large_sr_beyond_the_first_chunk(tmp_path: Path, syntax: str, undefined: bool) -> None:
    document = sr_document(items=500)
    if undefined:
        with_undefined_lengths(document)
    path = save(tmp_path / "sr.dcm", document, syntax)
    assert path.stat().st_size > 4 * CHUNK
    raw = path.read_bytes()
    assert (raw.count(b"\xfe\xff\xdd\xe0") > 500) is undefined  # sequence delimiters
    scanned = scan_file(str(path))
    assert_matches_pydicom(path, scanned)
    assert scanned.instance.sop_class_uid == ComprehensiveSRStorage
    assert scanned.instance.instance_number == 1  # (0020,0013) comes after the content

    cut = tmp_path / "sr-cut.dcm"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ScanError) as caught:
        scan_file(str(cut))
    assert caught.value.reason is SkipReason.TRUNCATED


def test_undefined_length_private_sequences_and_un_with_implicit_items(tmp_path: Path) -> None:
    """Undefined-length SQ and items, and a UN of undefined length whose item is Implicit VR.

    A writer that does not know a private sequence's VR writes it as UN, and
    its content in Implicit VR Little Endian (PS3.5 6.2.2). Both come before
    Patient Name, Study/Series UIDs and Instance Number, so reading those
    right proves the walk got past them.
    """
    item = b"\xfe\xff\x00\xe0\xff\xff\xff\xff"
    item_end = b"\xfe\xff\x0d\xe0\x00\x00\x00\x00"
    sequence_end = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    undefined = b"\xff\xff\xff\xff"
    implicit_code = b"\x08\x00\x00\x01" + (2).to_bytes(4, "little") + b"X "
    explicit_code = b"\x08\x00\x00\x01SH" + (2).to_bytes(2, "little") + b"Y "
    private_un = b"\x09\x00\x03\x10UN\x00\x00" + undefined + item + implicit_code + item_end
    private_sq = b"\x09\x00\x04\x10SQ\x00\x00" + undefined + item + explicit_code + item_end
    inserted = private_un + sequence_end + private_sq + sequence_end

    path = save(tmp_path / "seq.dcm", image())
    raw = path.read_bytes()
    at = raw.index(b"\x10\x00\x10\x00PN")  # Patient Name follows group 0009
    path.write_bytes(raw[:at] + inserted + raw[at:])
    full = dcmread(path)
    assert full[0x00091004].value[0].CodeValue == "Y"
    scanned = scan_file(str(path))
    assert_matches_pydicom(path, scanned)
    assert scanned.fields.patient_name == "DOE^JANE"
    assert scanned.instance.instance_number == 7


def test_file_without_pixel_data(tmp_path: Path) -> None:
    ds = sr_document(items=3)
    ds.SOPClassUID = KeyObjectSelectionDocumentStorage
    ds.Modality = "KO"
    path = save(tmp_path / "ko", ds)
    assert_matches_pydicom(path, scan_file(str(path)))


def test_encapsulated_pixel_data_followed_by_another_element(tmp_path: Path) -> None:
    ds = image()
    ds.add_new(0xFFFCFFFC, "OB", b"\0" * 16)  # Data Set Trailing Padding
    path = save(tmp_path / "padded.dcm", ds, RLELossless)
    assert not path.read_bytes().endswith(b"\xfe\xff\xdd\xe0\0\0\0\0")
    assert_matches_pydicom(path, scan_file(str(path)))


def test_meta_and_data_set_uid_mismatch_prefers_the_data_set(tmp_path: Path) -> None:
    ds = image(sop_uid="1.2.3.100")
    ds.preamble = b"\0" * 128
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = UID(ExplicitVRLittleEndian)
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = UID("1.2.3.999")
    path = tmp_path / "mismatch.dcm"
    ds.save_as(path, enforce_file_format=False, implicit_vr=False, little_endian=True)
    assert dcmread(path).file_meta.MediaStorageSOPInstanceUID == "1.2.3.999"
    scanned = scan_file(str(path))
    assert scanned.instance.sop_instance_uid == "1.2.3.100"
    assert scanned.notes == (
        "file meta SOP Instance UID 1.2.3.999 differs from the data set's; the data set's is used",
    )


def test_file_meta_without_group_length_gives_the_exact_offset(tmp_path: Path) -> None:
    data_set = data_set_bytes(image())
    meta = meta_bytes(
        [
            (0x0002, b"UI", str(CTImageStorage).encode() + b"\0"),
            (0x0010, b"UI", b"1.2.840.10008.1.2.1\0"),
        ]
    )
    without_group_length = meta[:132] + meta[144:]
    path = tmp_path / "no-group-length.dcm"
    path.write_bytes(without_group_length + data_set)
    scanned = scan_file(str(path))
    assert scanned.instance.dataset_offset == len(without_group_length)
    assert_matches_pydicom(path, scanned)


# --------------------------------------------------------------------------
# real-world files: pydicom's bundled test data (no download)
# --------------------------------------------------------------------------

PYDICOM_FILES = Path(pydicom.data.__file__).parent / "test_files"

PYDICOM_EXPECTED = {
    "MR_truncated.dcm": SkipReason.TRUNCATED,  # pydicom reads it without a word
    "rtplan_truncated.dcm": SkipReason.TRUNCATED,
    "meta_missing_tsyntax.dcm": SkipReason.NO_FILE_META,
    "ExplVR_LitEndNoMeta.dcm": SkipReason.NO_FILE_META,
    "ExplVR_BigEndNoMeta.dcm": SkipReason.NO_FILE_META,
    "dicomdirtests/DICOMDIR": SkipReason.DICOMDIR,
    "dicomdirtests/DICOMDIR-bigEnd": SkipReason.DICOMDIR,
    "dicomdirtests/DICOMDIR-implicit": SkipReason.DICOMDIR,
    "zipMR.gz": SkipReason.NOT_DICOM,
    "image_dfl.dcm": None,  # deflated
    "rtdose_expb.dcm": None,  # big endian
    "JPEG2000-embedded-sequence-delimiter.dcm": None,
    "emri_small_jpeg_2k_lossless.dcm": None,
    "test-SR.dcm": None,
}


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_pydicom_test_files_are_read_like_pydicom_reads_them() -> None:
    """Every bundled file pydicom reads and the scan accepts gives the same values.

    The files the scan refuses are refused for a reason pydicom's own test
    suite gives them (truncated, no meta, DICOMDIR, no UIDs...).
    """
    accepted = 0
    results: dict[str, SkipReason | None] = {}
    for result in iter_scan([PYDICOM_FILES], recursive=True):
        if isinstance(result, ScannedFile):
            accepted += 1
            results[result.instance.path] = None
            assert_matches_pydicom(Path(result.instance.path), result)
        else:
            results[result.path] = result.reason
    assert accepted >= 60
    for name, reason in PYDICOM_EXPECTED.items():
        path = str(PYDICOM_FILES / name)
        if Path(path).exists():
            assert results[path] == reason, name


# --------------------------------------------------------------------------
# bad files, one at a time
# --------------------------------------------------------------------------


def reason_of(path: Path | str) -> SkipReason:
    with pytest.raises(ScanError) as caught:
        scan_file(os.fsdecode(path))
    return caught.value.reason


def test_not_dicom_inputs(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 100)
    jpeg = tmp_path / "photo.dcm"
    jpeg.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4)
    tiny = tmp_path / "tiny"
    tiny.write_bytes(b"DICM")
    assert reason_of(text) is SkipReason.NOT_DICOM
    assert reason_of(jpeg) is SkipReason.NOT_DICOM
    assert reason_of(tiny) is SkipReason.NOT_DICOM


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.dcm").write_bytes(b"")
    assert reason_of(tmp_path / "empty.dcm") is SkipReason.EMPTY


def test_no_file_meta(tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    image().save_as(bare, enforce_file_format=False, implicit_vr=True, little_endian=True)
    assert dcmread(bare, force=True).SOPInstanceUID  # it is a data set, just no Part-10 header
    broken = tmp_path / "broken-meta"
    broken.write_bytes(b"\0" * 128 + b"DICM" + b"\x10\x00\x20\x00garbage" * 20)
    no_syntax = tmp_path / "no-syntax"
    no_syntax.write_bytes(
        meta_bytes([(0x0002, b"UI", str(CTImageStorage).encode() + b"\0")])
        + data_set_bytes(image())
    )
    bad_syntax = tmp_path / "bad-syntax"
    bad_syntax.write_bytes(meta_bytes([(0x0010, b"UI", b"explicit\0")]) + data_set_bytes(image()))
    for path in (bare, broken, no_syntax, bad_syntax):
        assert reason_of(path) is SkipReason.NO_FILE_META, path.name


def test_truncated_files(tmp_path: Path) -> None:
    good = save(tmp_path / "good.dcm", image(pixel_bytes=4096)).read_bytes()
    offset = scan_file_bytes_offset(good)
    cases = {
        "in-meta": good[:150],
        "after-meta": good[:offset],
        "in-data-set": good[: offset + 40],
        "in-pixel-data": good[:-10],
        "partial-element-header": good[: offset + 3],
    }
    rle = save(tmp_path / "rle.dcm", image(pixel_bytes=4096), RLELossless).read_bytes()
    cases["in-encapsulated-pixel-data"] = rle[:-100]
    cases["encapsulated-delimiter-missing"] = rle[:-8]
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        assert reason_of(tmp_path / name) is SkipReason.TRUNCATED, name


def test_invalid_without_uids(tmp_path: Path) -> None:
    for missing in ("SOPInstanceUID", "SOPClassUID", "StudyInstanceUID", "SeriesInstanceUID"):
        ds = image()
        delattr(ds, missing)
        path = tmp_path / missing
        path.write_bytes(
            meta_bytes([(0x0010, b"UI", b"1.2.840.10008.1.2.1\0")]) + data_set_bytes(ds)
        )
        assert reason_of(path) is SkipReason.INVALID, missing


def test_dicomdir_whatever_its_name(tmp_path: Path) -> None:
    source = save(tmp_path / "src.dcm", image())
    file_set = FileSet()
    file_set.add(dcmread(source))
    file_set.write(tmp_path / "media")
    dicomdir = tmp_path / "media" / "DICOMDIR"
    assert reason_of(dicomdir) is SkipReason.DICOMDIR
    renamed = tmp_path / "index.bin"
    shutil.copy(dicomdir, renamed)
    assert reason_of(renamed) is SkipReason.DICOMDIR
    assert dcmread(renamed).file_meta.MediaStorageSOPClassUID == DICOMDIR_SOP_CLASS


def test_fifo_is_never_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.dcm"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(ScanError) as caught:
        read_header(str(fifo))
    assert caught.value.reason is SkipReason.SPECIAL_FILE
    with pytest.raises(ScanError) as caught:
        scan_file(str(fifo))  # opened non-blocking, then refused from fstat
    assert caught.value.reason is SkipReason.SPECIAL_FILE
    assert time.monotonic() - started < 5


def test_mutated_files_only_ever_raise_scan_error(tmp_path: Path) -> None:
    """Random byte damage gives a skip reason or a record, never another exception."""
    rng = random.Random(20240131)
    sources = [
        save(tmp_path / "explicit", image()).read_bytes(),
        save(
            tmp_path / "implicit", with_undefined_lengths(image()), ImplicitVRLittleEndian
        ).read_bytes(),
        save(tmp_path / "rle", image(), RLELossless).read_bytes(),
        save(tmp_path / "sr", with_undefined_lengths(sr_document(5))).read_bytes(),
    ]
    damage = [b"\xff\xff\xff\xff", b"\xfe\xff\x00\xe0", b"\xfe\xff\xdd\xe0", b"UN\0\0", b"\0\0"]
    target = tmp_path / "mutant"
    outcomes: Counter[str] = Counter()
    for _ in range(600):
        data = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.5:
                data[at] = rng.randrange(256)
            elif choice < 0.8:
                data[at : at + 4] = rng.choice(damage)
            else:
                del data[at:]
                break
        target.write_bytes(bytes(data))
        try:
            scan_file(str(target))
            outcomes["read"] += 1
        except ScanError as exc:
            outcomes[exc.reason.value] += 1
    assert outcomes["read"] > 0 and outcomes["truncated"] > 0


def test_garbage_character_set_does_not_cost_the_file(tmp_path: Path) -> None:
    ds = image(charset="ISO_IR 100", patient_name="Müller^Zoë")
    path = save(tmp_path / "x.dcm", ds)
    raw = path.read_bytes().replace(b"ISO_IR 100", b"ISO_IR\x00100")
    path.write_bytes(raw)
    scanned = scan_file(str(path))
    assert scanned.fields.patient_name == "Müller^Zoë"  # Latin-1 fallback


# --------------------------------------------------------------------------
# the whole zoo through the walk
# --------------------------------------------------------------------------


def outcomes(results: list[ScannedFile | SkippedFile]) -> Counter[tuple[str, SkipReason | None]]:
    return Counter(
        (r.instance.path, None) if isinstance(r, ScannedFile) else (r.path, r.reason)
        for r in results
    )


def test_every_path_of_the_zoo_lands_once_with_its_reason(tmp_path: Path) -> None:
    zoo = Zoo(tmp_path / "zoo").build()
    catalog = scan_paths([zoo.root], recursive=True)
    got = Counter(
        [(i.path, None) for i in catalog.instances()]
        + [(s.path, s.reason) for s in catalog.skipped]
    )
    assert got == Counter(zoo.expected)
    # and the good ones were read correctly, whatever their names
    for instance in catalog.instances():
        assert_matches_pydicom(Path(instance.path), scan_file(instance.path))


def test_a_file_given_twice_and_bytes_paths(tmp_path: Path) -> None:
    good = save(tmp_path / "a.dcm", image())
    results = list(iter_scan([good, str(good), os.fsencode(good), tmp_path], recursive=False))
    assert [getattr(r, "reason", None) for r in results] == [
        None,
        SkipReason.ALREADY_SEEN,
        SkipReason.ALREADY_SEEN,
        SkipReason.ALREADY_SEEN,
    ]
    assert all(isinstance(r, SkippedFile) and str(good) in r.detail for r in results[1:])


def test_folder_reached_twice_is_listed_once(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    save(tmp_path / "d" / "x.dcm", image())
    os.symlink(tmp_path / "d", tmp_path / "alias")
    results = list(iter_scan([tmp_path, tmp_path / "d"], recursive=True))
    assert outcomes(results) == Counter(
        {
            (str(tmp_path / "d" / "x.dcm"), None): 1,
            (str(tmp_path / "alias"), SkipReason.ALREADY_SEEN): 1,
            (str(tmp_path / "d"), SkipReason.ALREADY_SEEN): 1,
        }
    )


def test_not_recursive_reads_direct_files_only(tmp_path: Path) -> None:
    save(tmp_path / "top.dcm", image())
    (tmp_path / "sub").mkdir()
    save(tmp_path / "sub" / "below.dcm", image())
    os.symlink(tmp_path / "sub", tmp_path / "link-to-sub")
    os.symlink(tmp_path / "gone", tmp_path / "dangling")
    results = list(iter_scan([tmp_path], recursive=False))
    assert outcomes(results) == Counter(
        {
            (str(tmp_path / "top.dcm"), None): 1,
            (str(tmp_path / "dangling"), SkipReason.BROKEN_LINK): 1,
        }
    )
    recursive = outcomes(list(iter_scan([tmp_path], recursive=True)))
    assert recursive[(str(tmp_path / "sub" / "below.dcm"), None)] == 1
    assert recursive[(str(tmp_path / "link-to-sub"), SkipReason.ALREADY_SEEN)] == 1
    assert recursive.total() == 4


def test_inputs_that_are_links_or_missing(tmp_path: Path) -> None:
    good = save(tmp_path / "good.dcm", image())
    os.symlink(good, tmp_path / "file-link")
    os.symlink(tmp_path / "missing", tmp_path / "dangling")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    results = list(
        iter_scan(
            [tmp_path / "file-link", tmp_path / "dangling", tmp_path / "nope", fifo],
            recursive=True,
        )
    )
    assert [(getattr(r, "path", None), getattr(r, "reason", None)) for r in results] == [
        (None, None),
        (str(tmp_path / "dangling"), SkipReason.BROKEN_LINK),
        (str(tmp_path / "nope"), SkipReason.UNREADABLE),
        (str(fifo), SkipReason.SPECIAL_FILE),
    ]
    assert isinstance(results[0], ScannedFile)
    assert results[0].instance.path == str(tmp_path / "file-link")


def test_files_and_folders_vanishing_during_the_scan(tmp_path: Path) -> None:
    for name in ("a.dcm", "b.dcm"):
        save(tmp_path / name, image())
    (tmp_path / "c").mkdir()
    save(tmp_path / "c" / "x.dcm", image())
    scan = iter_scan([tmp_path], recursive=True)
    first = next(scan)
    assert isinstance(first, ScannedFile)
    (tmp_path / "b.dcm").unlink()
    shutil.rmtree(tmp_path / "c")
    rest = list(scan)
    assert [(Path(r.path).name, r.reason) for r in rest if isinstance(r, SkippedFile)] == [
        ("b.dcm", SkipReason.UNREADABLE),
        ("c", SkipReason.UNREADABLE),
    ]


# --------------------------------------------------------------------------
# permissions (root reads everything, so the check runs as "nobody" then)
# --------------------------------------------------------------------------

_SCAN_AND_PRINT = """
import json, os, sys
from tui_sender.core.scan.scanner import iter_scan

user, warm_up, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
if user:
    # The interpreter lives under /root (mode 700): start as root, read one
    # good file so every lazy import is done, then become the user.
    import pwd
    entry = pwd.getpwnam(user)
    list(iter_scan([warm_up], recursive=False))
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
print(json.dumps([
    [getattr(r, "path", None) or r.instance.path, getattr(r, "reason", None)]
    for r in iter_scan(paths, recursive=True)
]))
"""


def _scan_as(user: str, warm_up: Path, paths: list[str]) -> list[tuple[str, str | None]]:
    """Scan in a child process, as ``user`` when given (needs root)."""
    out = subprocess.run(
        [sys.executable, "-c", _SCAN_AND_PRINT, user, str(warm_up), *paths],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd="/",
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return [(path, reason) for path, reason in json.loads(out.stdout)]


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder another user can traverse (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="tui-sender-scan-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for below in path.rglob("*"):
            if not below.is_symlink():
                below.chmod(0o755 if below.is_dir() else 0o644)
        shutil.rmtree(path)


def test_unreadable_file_and_folder(shared_dir: Path) -> None:
    """As root the scan runs as ``nobody`` in a child process; otherwise as ourselves."""
    user = ""
    if IS_ROOT:
        try:
            import pwd

            pwd.getpwnam("nobody")
        except KeyError:
            pytest.skip("running as root and there is no 'nobody' user to lose the privilege")
        user = "nobody"
    good = save(shared_dir / "good.dcm", image())
    good.chmod(0o644)
    locked_file = save(shared_dir / "locked.dcm", image())
    locked_file.chmod(0)
    locked_dir = shared_dir / "locked-folder"
    locked_dir.mkdir()
    save(locked_dir / "inside.dcm", image())
    locked_dir.chmod(0)
    results = _scan_as(user, good, [str(shared_dir)])
    assert sorted(results) == sorted(
        [
            (str(good), None),
            (str(locked_file), SkipReason.UNREADABLE.value),
            (str(locked_dir), SkipReason.UNREADABLE.value),
        ]
    )


# --------------------------------------------------------------------------
# progress, batches and cancelling
# --------------------------------------------------------------------------


def test_progress_batches_and_final_counts(tmp_path: Path) -> None:
    for n in range(30):
        save(tmp_path / f"{n:02d}.dcm", image(sop_uid=f"1.2.3.{n % 25}"))  # 5 duplicates
    (tmp_path / "junk").write_text("x")
    seen: list[ScanProgress] = []
    catalog = scan_paths([tmp_path], recursive=False, on_progress=seen.append, progress_interval=0)
    assert catalog.instance_count() == 25
    assert Counter(s.reason for s in catalog.skipped) == {
        SkipReason.DUPLICATE_UID: 5,
        SkipReason.NOT_DICOM: 1,
    }
    assert len(seen) >= 2
    last = seen[-1]
    assert (last.files_seen, last.instances, last.skipped) == (31, 25, 6)
    assert last.bytes == catalog.total_bytes()
    assert all(a.files_seen <= b.files_seen for a, b in itertools.pairwise(seen))

    batches = list(iter_scan_batches([tmp_path], recursive=False, interval=3600))
    assert len(batches) == 1  # everything in the final batch when the interval never passes
    assert batches[0].progress.files_seen == len(batches[0].results) == 31
    assert batches[0].progress.instances == 30  # duplicates are the catalog's business
    again = scan_paths([tmp_path], recursive=False)
    other = type(catalog)()
    add_results(other, batches[0].results)
    assert other.instance_count() == again.instance_count() == 25


def test_should_stop_cancels_between_files(tmp_path: Path) -> None:
    for n in range(20):
        save(tmp_path / f"{n:02d}.dcm", image())
    calls = 0

    def stop_after_five() -> bool:
        nonlocal calls
        calls += 1
        return calls > 5

    catalog = scan_paths([tmp_path], recursive=False, should_stop=stop_after_five)
    assert catalog.instance_count() == 5


def test_a_reader_bug_costs_one_file_not_the_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save(tmp_path / "a.dcm", image())
    save(tmp_path / "b.dcm", image())
    import tui_sender.core.scan.scanner as scan_module

    real = scan_file

    def flaky(path: str, seen: dict[tuple[int, int], str] | None = None) -> ScannedFile:
        if path.endswith("a.dcm"):
            raise IndexError("boom")
        return real(path, seen)

    monkeypatch.setattr(scan_module, "scan_file", flaky)
    results = list(iter_scan([tmp_path], recursive=False))
    assert isinstance(results[0], SkippedFile)
    assert results[0].reason is SkipReason.INVALID
    assert "IndexError" in results[0].detail
    assert isinstance(results[1], ScannedFile)


# --------------------------------------------------------------------------
# speed (a later issue makes >= 5,000 files/s a hard bar)
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_scan_speed_on_10000_small_files(tmp_path: Path) -> None:
    template = save(tmp_path / "template.dcm", image(sop_uid="1.2.3.4.5.6.7.10000")).read_bytes()
    folder = tmp_path / "many"
    folder.mkdir()
    marker = b"1.2.3.4.5.6.7.10000"
    assert template.count(marker) == 2  # meta and data set
    for n in range(10_000):
        (folder / f"{n:05d}.dcm").write_bytes(
            template.replace(marker, b"1.2.3.4.5.6.7.%05d" % (10_000 + n))
        )
    scan_paths([folder], recursive=True)  # warm the page cache
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        catalog = scan_paths([folder], recursive=True)
        best = max(best, 10_000 / (time.perf_counter() - started))
        assert catalog.instance_count() == 10_000
    print(f"\nscan speed: {best:,.0f} files/s")
    assert best >= 5_000
