"""The sample-study generator writes valid, varied, deterministic DICOM, quickly."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from pydicom import config
from pydicom.dataset import Dataset
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
)

from tui_sender.demo.samples.data import (
    PROFILES,
    SampleSet,
    generate_samples,
    generate_tiny_files,
    write_context_zoo,
    write_large_multiframe,
)
from tui_sender.demo.samples.files import SeriesEncoder, file_meta_for
from tui_sender.demo.samples.identity import (
    IMPLEMENTATION_CLASS_UID,
    UidFactory,
    make_patient,
    make_study,
)
from tui_sender.demo.samples.images import (
    ImageKind,
    SeriesContext,
    SeriesPlan,
    image_dataset,
    instance_dataset,
    series_dataset,
)
from tui_sender.demo.samples.pixels import Phantom, PixelLayout, rle_pixel_data

IN_CI = os.environ.get("CI", "").lower() == "true"

_DSRDUMP_LIMITATIONS = (
    "W: The VR checker does not support this Specific Character Set: ISO_IR 192",
    "W: Check for template constraints not yet supported",
)


@pytest.fixture(autouse=True)
def _strict_pydicom() -> Iterator[None]:
    """Any invalid value pydicom notices while writing or reading fails the test."""
    saved = (config.settings.reading_validation_mode, config.settings.writing_validation_mode)
    config.settings.reading_validation_mode = config.RAISE
    config.settings.writing_validation_mode = config.RAISE
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield
    config.settings.reading_validation_mode, config.settings.writing_validation_mode = saved


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[SampleSet, float]:
    """The "tiny" profile, seed 0, with the seconds it took to write."""
    root = tmp_path_factory.mktemp("tiny")
    saved = config.settings.writing_validation_mode
    config.settings.writing_validation_mode = config.RAISE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            start = time.perf_counter()
            samples = generate_samples(root, profile="tiny", seed=0)
            elapsed = time.perf_counter() - start
    finally:
        config.settings.writing_validation_mode = saved
    return samples, elapsed


def _tool(name: str) -> str:
    """Path of a DCMTK tool; skipped when absent, except in CI where it must be there."""
    found = shutil.which(name)
    if found is None:
        if IN_CI:
            pytest.fail(f"{name} (DCMTK) is not installed, and CI=true requires it")
        pytest.skip(f"{name} (DCMTK) is not installed on this machine")
    return found


def _read(path: Path) -> Dataset:
    ds = pydicom.dcmread(path)
    for element in ds.iterall():
        _ = element.value  # converts raw elements, so bad values raise here
    return ds


def _digest(samples: SampleSet) -> dict[str, str]:
    return {
        str(p.relative_to(samples.root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in samples.files
    }


def test_tiny_profile_is_big_enough_varied_and_fast(tiny: tuple[SampleSet, float]) -> None:
    samples, elapsed = tiny
    assert len(samples.files) >= 500
    assert elapsed < 10, f"tiny profile took {elapsed:.1f} s"
    assert len(samples.sop_classes) >= 5
    assert {ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless} <= set(
        samples.transfer_syntaxes
    )
    assert samples.studies == 16 and samples.patients == 8
    assert sum(samples.sop_classes.values()) == len(samples.files)
    assert samples.total_bytes == sum(p.stat().st_size for p in samples.files)
    names = {UID(uid).name for uid in samples.sop_classes}
    for expected in (
        "CT Image Storage",
        "MR Image Storage",
        "Computed Radiography Image Storage",
        "Digital X-Ray Image Storage - For Presentation",
        "X-Ray Angiographic Image Storage",
        "Ultrasound Multi-frame Image Storage",
        "Basic Text SR Storage",
        "Comprehensive SR Storage",
        "Key Object Selection Document Storage",
        "Grayscale Softcopy Presentation State Storage",
    ):
        assert expected in names


def test_every_file_reads_back_strictly_with_matching_meta(
    tiny: tuple[SampleSet, float],
) -> None:
    samples, _ = tiny
    seen_syntaxes: dict[str, int] = {}
    for path in samples.files:
        ds = _read(path)
        meta = ds.file_meta
        assert meta.MediaStorageSOPClassUID == ds.SOPClassUID, path
        assert meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID, path
        assert meta.ImplementationClassUID == IMPLEMENTATION_CLASS_UID
        syntax = str(meta.TransferSyntaxUID)
        seen_syntaxes[syntax] = seen_syntaxes.get(syntax, 0) + 1
        for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex"):
            assert str(ds.get(keyword, "")), f"{keyword} missing in {path}"
        for keyword in ("StudyDate", "StudyTime", "StudyDescription", "AccessionNumber"):
            assert str(ds.get(keyword, "")), f"{keyword} missing in {path}"
        assert ds.StudyID and ds.Modality and ds.SeriesDescription
        assert ds.SeriesNumber >= 1 and ds.InstanceNumber >= 1
    assert seen_syntaxes == samples.transfer_syntaxes


def test_sop_instance_uids_are_unique_and_documents_reference_real_images(
    tiny: tuple[SampleSet, float],
) -> None:
    samples, _ = tiny
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in samples.files]
    uids = [str(ds.SOPInstanceUID) for ds in headers]
    assert len(set(uids)) == len(uids)
    known = set(uids)
    documents = [ds for ds in headers if ds.Modality in ("KO", "PR", "SR")]
    assert {ds.Modality for ds in documents} == {"KO", "PR", "SR"}
    referenced = 0
    for ds in documents:
        for element in ds.iterall():
            if element.keyword == "ReferencedSOPInstanceUID":
                assert element.value in known, f"dangling reference in {ds.SOPInstanceUID}"
                referenced += 1
    assert referenced > 0


def test_images_carry_plausible_geometry_and_pixel_modules(
    tiny: tuple[SampleSet, float],
) -> None:
    samples, _ = tiny
    by_modality: dict[str, list[Dataset]] = {}
    for path in samples.files:
        ds = pydicom.dcmread(path)
        by_modality.setdefault(ds.Modality, []).append(ds)
    for modality in ("CT", "MR"):
        for ds in by_modality[modality]:
            assert len(ds.ImagePositionPatient) == 3 and len(ds.ImageOrientationPatient) == 6
            assert len(ds.PixelSpacing) == 2 and float(ds.SliceThickness) > 0
            assert 32 <= ds.Rows <= 128 and 32 <= ds.Columns <= 128
            assert "NumberOfFrames" not in ds
    for modality in ("XA", "US"):
        for ds in by_modality[modality]:
            assert ds.NumberOfFrames > 1
            assert ds.pixel_array.shape == (ds.NumberOfFrames, ds.Rows, ds.Columns)
    for ds in by_modality["CR"] + by_modality["DX"]:
        assert ds.Rows == 128 and ds.Columns == 112 and len(ds.ImagerPixelSpacing) == 2
    ct = by_modality["CT"]
    for series_uid in {ds.SeriesInstanceUID for ds in ct}:
        stack = [ds.PixelData for ds in ct if ds.SeriesInstanceUID == series_uid]
        assert len(set(stack)) == len(stack), "every slice of a series must differ"
    for ds in ct + by_modality["MR"]:
        assert int(ds.pixel_array.max()) <= (1 << ds.BitsStored) - 1


def test_rle_images_decode_to_the_same_phantom_as_their_native_siblings(
    tiny: tuple[SampleSet, float],
) -> None:
    """MR T2 (RLE) slices equal the T1 slices (Explicit VR) of the same study, pixel for
    pixel, and US "Liver" (RLE) runs equal the "Kidneys" runs: the templates draw the
    same phantom positions in those series, so this checks RLE against native bytes."""
    samples, _ = tiny
    rle = [p for p in samples.files if "SE002_MR" in str(p) or "SE001_US" in str(p)]
    assert rle
    for path in rle:
        ds = pydicom.dcmread(path)
        assert ds.file_meta.TransferSyntaxUID == RLELossless
        sibling_folder = "SE001_MR" if "SE002_MR" in str(path) else "SE002_US"
        sibling_dir = path.parent.with_name(sibling_folder)
        sibling = next(sibling_dir.glob(path.name.removesuffix(".dcm") + "*"))
        native = pydicom.dcmread(sibling)
        assert native.file_meta.TransferSyntaxUID != RLELossless
        assert ds.pixel_array.tobytes() == native.PixelData


def test_rle_pixel_data_round_trips_through_pydicom_decoder() -> None:
    for layout in (PixelLayout(40, 56, 16, 12), PixelLayout(48, 48, 8, 8)):
        phantom = Phantom(layout)
        frames = list(phantom.frames(3))
        ds = Dataset()
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = layout.photometric
        ds.Rows, ds.Columns = layout.rows, layout.columns
        ds.BitsAllocated, ds.BitsStored = layout.bits_allocated, layout.bits_stored
        ds.HighBit = layout.bits_stored - 1
        ds.PixelRepresentation = 0
        ds.NumberOfFrames = 3
        ds.PixelData = rle_pixel_data(frames, layout)
        ds["PixelData"].VR = "OB"
        ds.file_meta = pydicom.dataset.FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = RLELossless
        assert ds.pixel_array.tobytes() == b"".join(frames)
        assert len(set(frames)) == 3


def test_series_encoder_writes_exactly_what_dcmwrite_writes() -> None:
    uids = UidFactory("test", 0)
    patient = make_patient(0, 3)
    for kind, syntax, layout in (
        (ImageKind.CT, ExplicitVRLittleEndian, PixelLayout(32, 32)),
        (ImageKind.MR, ImplicitVRLittleEndian, PixelLayout(32, 32)),
        (ImageKind.US, RLELossless, PixelLayout(24, 24, 8, 8)),
    ):
        plan = SeriesPlan(kind, 1, "T2 AX", 3, layout, transfer_syntax=syntax, frames=2)
        context = SeriesContext(
            plan=plan,
            patient=patient,
            study=make_study(uids, 0, 3, 0),
            study_description="TEST",
            series_uid=uids.uid("series", kind),
            frame_of_reference_uid=uids.uid("for"),
            series_time="101500",
        )
        encoder = SeriesEncoder(series_dataset(context), syntax)
        frames = list(Phantom(layout).frames(plan.frames))
        pixels = rle_pixel_data(frames, layout) if syntax == RLELossless else b"".join(frames)
        for index in range(plan.instances):
            sop = uids.uid("sop", kind, index)
            reference = image_dataset(context, sop, index, pixels)
            spliced = encoder.file_bytes(instance_dataset(context, sop, index, pixels))
            buffer = io.BytesIO()
            reference.file_meta = file_meta_for(reference.SOPClassUID, sop, syntax)
            pydicom.dcmwrite(buffer, reference, enforce_file_format=True)
            assert spliced == buffer.getvalue(), (kind, syntax, index)


def test_same_seed_gives_identical_bytes_and_other_seeds_other_uids(
    tiny: tuple[SampleSet, float], tmp_path: Path
) -> None:
    samples, _ = tiny
    again = generate_samples(tmp_path / "again", profile="tiny", seed=0)
    assert _digest(again) == _digest(samples)
    other = generate_samples(tmp_path / "other", profile="tiny", seed=1, patients=2)

    def uids(files: tuple[Path, ...]) -> set[str]:
        found = set()
        for path in files:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            found |= {ds.SOPInstanceUID, ds.SeriesInstanceUID, ds.StudyInstanceUID}
        return found

    assert uids(other.files).isdisjoint(uids(samples.files))


def test_layout_has_patient_study_series_folders_and_extensionless_files(
    tiny: tuple[SampleSet, float],
) -> None:
    samples, _ = tiny
    for path in samples.files:
        assert len(path.relative_to(samples.root).parts) == 4
    bare = [p for p in samples.files if p.suffix == ""]
    assert bare and len(bare) < len(samples.files)
    assert any(p.name == "IMG0001.dcm" for p in samples.files)


def test_dcmdump_parses_a_sample_without_complaint(tiny: tuple[SampleSet, float]) -> None:
    dcmdump = _tool("dcmdump")
    samples, _ = tiny
    documents = [p for p in samples.files if p.parent.name.endswith(("_SR", "_KO", "_PR"))]
    chosen = list(samples.files[::7]) + documents
    paths = [str(p) for p in dict.fromkeys(chosen)]
    assert len(paths) > 80
    # One run for all files; bytes, because dcmdump prints names in each file's charset.
    out = subprocess.run([dcmdump, "-q", *paths], capture_output=True, timeout=60)
    assert out.returncode == 0 and out.stderr == b"", out.stderr.decode("latin-1")
    assert out.stdout.count(b"(7fe0,0010)") >= len(paths) - len(documents)


def test_dsrdump_accepts_every_report_and_key_object_selection(
    tiny: tuple[SampleSet, float],
) -> None:
    """dsrdump checks SR structure, relationship constraints and value types.

    Two of its warnings are about DCMTK itself, not the file: it cannot check
    UTF-8 (ISO_IR 192) values, and it does not check template constraints.
    """
    dsrdump = _tool("dsrdump")
    samples, _ = tiny
    documents = [p for p in samples.files if p.parent.name.endswith(("_SR", "_KO"))]
    expected = sum(
        count
        for uid, count in samples.sop_classes.items()
        if UID(uid).name.endswith(("SR Storage", "Key Object Selection Document Storage"))
    )
    assert len(documents) == expected > 0
    for path in documents:
        out = subprocess.run([dsrdump, str(path)], capture_output=True, timeout=30)
        complaints = [
            line
            for line in out.stderr.decode("latin-1").splitlines()
            if not line.startswith(_DSRDUMP_LIMITATIONS)
        ]
        assert out.returncode == 0 and complaints == [], f"{path}: {complaints}"
        assert b"<CONTAINER:" in out.stdout


def test_dcmpschk_accepts_the_presentation_states(tiny: tuple[SampleSet, float]) -> None:
    """dcmpschk (DCMTK) checks the GSPS IOD. It validates PN values byte-wise without
    decoding ISO_IR 192, so it flags valid UTF-8 names; those files are left out."""
    dcmpschk = _tool("dcmpschk")
    samples, _ = tiny
    states = [p for p in samples.files if p.parent.name.endswith("_PR")]
    assert states
    checked = 0
    for path in states:
        if pydicom.dcmread(path).SpecificCharacterSet == "ISO_IR 192":
            continue
        out = subprocess.run([dcmpschk, str(path)], capture_output=True, timeout=30)
        report = (out.stdout + out.stderr).decode("latin-1")
        assert out.returncode == 0 and "E:" not in report and "Test passed" in report, report
        checked += 1
    assert checked > 0


def test_generator_needs_no_numpy(tmp_path: Path) -> None:
    """NumPy is not a runtime dependency: generation (RLE included) runs with it blocked."""
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "from pathlib import Path\n"
        "from tui_sender.demo.samples.data import generate_samples\n"
        f"s = generate_samples(Path({str(tmp_path)!r}), profile='tiny', patients=1)\n"
        "print(len(s.files), sorted(s.transfer_syntaxes))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert RLELossless in out.stdout


def test_demo_profile_has_realistic_sizes(tmp_path: Path) -> None:
    demo = PROFILES["demo"].sizes
    assert demo.ct_matrix == 512 and demo.projection_rows >= 2000
    samples = generate_samples(tmp_path, profile="demo", patients=1)
    ct = [p for p in samples.files if p.parent.name.endswith("_CT")]
    assert len(ct) == 2 * demo.ct_slices
    header = pydicom.dcmread(ct[0], stop_before_pixels=True)
    assert (header.Rows, header.Columns) == (512, 512)
    assert ct[0].stat().st_size > 512 * 512 * 2


def test_tiny_files_are_small_and_grouped_in_studies(tmp_path: Path) -> None:
    samples = generate_tiny_files(tmp_path, 250, per_study=100)
    assert len(samples.files) == 250 and samples.studies == 3
    sizes = [p.stat().st_size for p in samples.files]
    assert min(sizes) >= 2_000 and max(sizes) <= 4_096
    for path in samples.files[::25]:
        assert _read(path).file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert generate_tiny_files(tmp_path / "none", 0).files == ()


def test_large_multiframe_has_every_frame(tmp_path: Path) -> None:
    path = write_large_multiframe(tmp_path / "run.dcm", target_bytes=5_000_000)
    ds = _read(path)
    frame_bytes = ds.Rows * ds.Columns * 2
    assert ds.NumberOfFrames == 5_000_000 // frame_bytes
    assert len(ds.PixelData) == ds.NumberOfFrames * frame_bytes
    frames = ds.pixel_array
    assert frames.shape == (ds.NumberOfFrames, ds.Rows, ds.Columns)
    phantom = Phantom(PixelLayout(ds.Rows, ds.Columns))
    assert frames[-1].tobytes() == phantom.frame(1.0)
    assert len({frames[i].tobytes() for i in range(ds.NumberOfFrames)}) == ds.NumberOfFrames
    dcmdump = shutil.which("dcmdump")
    if dcmdump:
        out = subprocess.run([dcmdump, "-q", str(path)], capture_output=True, timeout=30)
        assert out.returncode == 0 and out.stderr == b""


def test_large_multiframe_streams_instead_of_buffering(tmp_path: Path) -> None:
    """A 200 MiB file written in a fresh interpreter keeps its peak RSS far below 200 MiB."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from tui_sender.demo.samples.data import write_large_multiframe\n"
        f"p = write_large_multiframe(Path({str(tmp_path / 'big.dcm')!r}), "
        "target_bytes=200 * 2**20)\n"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent
        # across fork+exec, so a big pytest process would inflate it.
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print(p.stat().st_size, int(hwm.split()[1]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    size, max_rss_kib = (int(v) for v in out.stdout.split())
    assert size > 200 * 2**20
    assert max_rss_kib < 150 * 1024, f"peak RSS {max_rss_kib} KiB for a {size} B file"


def test_context_zoo_exceeds_128_distinct_pairs_in_one_study(tmp_path: Path) -> None:
    samples = write_context_zoo(tmp_path, pairs=300)
    assert len(samples.files) == 300 and samples.studies == 1
    pairs = set()
    for path in samples.files:
        ds = _read(path)
        pairs.add((str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID)))
    assert len(pairs) == 300
    assert len({sop for sop, _ in pairs}) == 170
    assert DeflatedExplicitVRLittleEndian in {ts for _, ts in pairs}
    with pytest.raises(ValueError):
        write_context_zoo(tmp_path / "too-many", pairs=10_000)
