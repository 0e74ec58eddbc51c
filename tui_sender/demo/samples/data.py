"""Sample DICOM studies for the demo, the tests and the benchmarks.

``generate_samples`` writes a realistic archive export: several patients,
CT and MR slice stacks, large CR and DX images, multi-frame XA and US, SR
reports, Key Object Selection documents and a presentation state, mixing
Explicit VR, Implicit VR and RLE Lossless. ``generate_tiny_files`` writes
many small images (the many-small-files benchmark),
``write_large_multiframe`` one huge object streamed frame by frame, and
``write_context_zoo`` hundreds of (SOP class, transfer syntax) pairs to push
negotiation past 128 presentation contexts.

Everything is deterministic: the same seed and profile give byte-identical
files, and a different seed gives different UIDs. No NumPy: pixel data is
assembled from bytes (see :mod:`tui_sender.demo.samples.pixels`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydicom.uid import ExplicitVRLittleEndian

from tui_sender.demo.samples.files import SampleSet, SampleWriter, SeriesEncoder
from tui_sender.demo.samples.identity import UidFactory, make_patient, make_study
from tui_sender.demo.samples.images import (
    ImageKind,
    SeriesContext,
    SeriesPlan,
    instance_dataset,
    series_dataset,
)
from tui_sender.demo.samples.multiframe import write_large_multiframe
from tui_sender.demo.samples.pixels import Phantom, PixelLayout
from tui_sender.demo.samples.studies import (
    STUDY_TEMPLATES,
    StudySizes,
    StudyTarget,
    write_study,
)
from tui_sender.demo.samples.zoo import write_context_zoo

__all__ = [
    "PROFILES",
    "SampleProfile",
    "SampleSet",
    "generate_samples",
    "generate_tiny_files",
    "write_context_zoo",
    "write_large_multiframe",
]


@dataclass(frozen=True)
class SampleProfile:
    """How many patients and studies, and how big their images are.

    Study ``n`` (counting over all patients) follows template ``n % 5``: CT
    chest, MR brain, chest X-ray, coronary angiogram, abdominal ultrasound.
    """

    name: str
    patients: int
    studies_per_patient: int
    sizes: StudySizes


PROFILES: dict[str, SampleProfile] = {
    # Tests: 532 files of 48..128 px, 10 SOP classes, 3 transfer syntaxes, 4.7 MB.
    "tiny": SampleProfile(
        "tiny",
        patients=8,
        studies_per_patient=2,
        sizes=StudySizes(
            ct_matrix=64,
            ct_slices=32,
            mr_matrix=64,
            mr_slices=24,
            projection_rows=128,
            projection_columns=112,
            cine_matrix=48,
            cine_frames=6,
            cine_runs=2,
        ),
    ),
    # The demo command: 254 files, 164 MB; CT 512², CR/DX 2500x2048, XA/US 512² x 30.
    "demo": SampleProfile(
        "demo",
        patients=3,
        studies_per_patient=2,
        sizes=StudySizes(
            ct_matrix=512,
            ct_slices=40,
            mr_matrix=256,
            mr_slices=24,
            projection_rows=2500,
            projection_columns=2048,
            cine_matrix=512,
            cine_frames=30,
            cine_runs=2,
        ),
    ),
    # Benchmarks: 2,476 files, 1.1 GB; CR/DX 3000x2500, XA/US 512² x 40 frames.
    "large": SampleProfile(
        "large",
        patients=10,
        studies_per_patient=2,
        sizes=StudySizes(
            ct_matrix=512,
            ct_slices=120,
            mr_matrix=256,
            mr_slices=120,
            projection_rows=3000,
            projection_columns=2500,
            cine_matrix=512,
            cine_frames=40,
            cine_runs=2,
        ),
    ),
}


def generate_samples(
    out_dir: Path,
    *,
    profile: str | SampleProfile = "demo",
    seed: int = 0,
    patients: int | None = None,
) -> SampleSet:
    """Write the sample studies of ``profile`` under ``out_dir``.

    Layout: ``<out_dir>/<PatientID>/<StudyDate>_<Accession>/SE<nnn>_<modality>/IMG0001[.dcm]``.
    ``patients`` overrides the profile's patient count (each patient still
    gets the profile's number of studies). Existing files are overwritten.
    """
    chosen = PROFILES[profile] if isinstance(profile, str) else profile
    patient_count = chosen.patients if patients is None else patients
    if patient_count < 1:
        raise ValueError(f"need at least one patient, not {patient_count}")
    # The scope holds everything that shapes the content, so equal UIDs mean equal files.
    uids = UidFactory(f"samples/{chosen}", seed)
    writer = SampleWriter(Path(out_dir))
    for patient_index in range(patient_count):
        patient = make_patient(seed, patient_index)
        for study_index in range(chosen.studies_per_patient):
            template = STUDY_TEMPLATES[
                (patient_index * chosen.studies_per_patient + study_index) % len(STUDY_TEMPLATES)
            ]
            target = StudyTarget(
                uids=uids,
                patient=patient,
                study=make_study(uids, seed, patient_index, study_index),
                patient_index=patient_index,
                study_index=study_index,
            )
            write_study(writer, target, template(chosen.sizes))
    return writer.result()


def generate_tiny_files(
    out_dir: Path, count: int, *, seed: int = 0, per_study: int = 100
) -> SampleSet:
    """``count`` single-frame 32x32 CT images of about 3 KB, in studies of ``per_study``.

    For the many-small-files benchmark, where per-file overhead (scan,
    negotiation, C-STORE round trips) dominates. Five studies per patient;
    all Explicit VR Little Endian.
    """
    if count < 0 or per_study < 1:
        raise ValueError("count must be >= 0 and per_study >= 1")
    uids = UidFactory("tiny-files", seed)
    writer = SampleWriter(Path(out_dir))
    layout = PixelLayout(32, 32, 16, 12)
    phantom = Phantom(layout)
    for first in range(0, count, per_study):
        study_number = first // per_study
        patient_index = study_number // 5
        target = StudyTarget(
            uids=uids,
            patient=make_patient(seed, patient_index),
            study=make_study(uids, seed, patient_index, study_number),
            patient_index=patient_index,
            study_index=study_number,
        )
        instances = min(per_study, count - first)
        plan = SeriesPlan(ImageKind.CT, 1, "Axial 1.0 mm", instances, layout, slice_thickness=1.0)
        context = SeriesContext(
            plan=plan,
            patient=target.patient,
            study=target.study,
            study_description="CT SMALL FILES",
            series_uid=target.uid("series", 1),
            frame_of_reference_uid=target.uid("frame-of-reference"),
            series_time=target.study.time,
        )
        encoder = SeriesEncoder(series_dataset(context), ExplicitVRLittleEndian)
        folder = target.folder / "SE001_CT"
        for index in range(instances):
            pixels = phantom.frame(index / max(1, instances - 1))
            own = instance_dataset(context, target.uid("instance", 1, index), index, pixels)
            writer.write_instance(folder / f"IMG{index + 1:04d}.dcm", encoder, own)
    return writer.result()
