"""The kinds of study the generator writes, and how one study is written to disk.

Five templates cover what a PACS administrator pushes every day: a CT chest
with key images, a presentation state and a report; an MR brain; a chest
X-ray with CR and DX; a coronary angiogram (multi-frame XA); an abdominal
ultrasound (multi-frame US). Each series declares its own transfer syntax
and file naming, so one study mixes Explicit VR, Implicit VR and RLE Lossless
and both ``IMG0001.dcm`` and extension-less names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless

from tui_sender.demo.samples.documents import (
    DocumentContext,
    ImageReference,
    basic_text_report,
    comprehensive_report,
    key_object_selection,
    presentation_state,
)
from tui_sender.demo.samples.files import SampleWriter, SeriesEncoder
from tui_sender.demo.samples.identity import (
    PatientIdentity,
    StudyIdentity,
    UidFactory,
    time_after,
)
from tui_sender.demo.samples.images import (
    ImageKind,
    SeriesContext,
    SeriesPlan,
    instance_dataset,
    series_dataset,
)
from tui_sender.demo.samples.pixels import Phantom, PixelLayout, rle_pixel_data


@dataclass(frozen=True, slots=True)
class StudySizes:
    """The size knobs of a profile that the study templates read."""

    ct_matrix: int
    ct_slices: int
    mr_matrix: int
    mr_slices: int
    projection_rows: int
    projection_columns: int
    cine_matrix: int
    cine_frames: int
    cine_runs: int


class Report(StrEnum):
    """Which report a study carries."""

    NONE = ""
    BASIC = "basic"
    COMPREHENSIVE = "comprehensive"


@dataclass(frozen=True, slots=True)
class StudyPlan:
    """Series to write and which documents to add to them."""

    description: str
    series: tuple[SeriesPlan, ...]
    report: Report = Report.BASIC
    key_objects: bool = False
    presentation_state: bool = False


def _ct_chest(s: StudySizes) -> StudyPlan:
    ct = PixelLayout(s.ct_matrix, s.ct_matrix, 16, 12)
    return StudyPlan(
        description="CT THORAX W/O CONTRAST",
        series=(
            SeriesPlan(ImageKind.CT, 1, "Thorax 5.0 mm", s.ct_slices, ct, slice_thickness=5.0),
            SeriesPlan(
                ImageKind.CT,
                2,
                "Thorax 1.25 mm lung",
                s.ct_slices,
                ct,
                transfer_syntax=ImplicitVRLittleEndian,
                slice_thickness=1.25,
            ),
        ),
        key_objects=True,
        presentation_state=True,
    )


def _mr_brain(s: StudySizes) -> StudyPlan:
    mr = PixelLayout(s.mr_matrix, s.mr_matrix, 16, 12)
    return StudyPlan(
        description="MR BRAIN W/O CONTRAST",
        series=(
            SeriesPlan(
                ImageKind.MR,
                1,
                "T1 SAG",
                s.mr_slices,
                mr,
                extension="",
                body_part="HEAD",
                orientation="SAGITTAL",
            ),
            SeriesPlan(
                ImageKind.MR,
                2,
                "T2 AX",
                s.mr_slices,
                mr,
                transfer_syntax=RLELossless,
                body_part="HEAD",
            ),
            SeriesPlan(
                ImageKind.MR,
                3,
                "FLAIR AX",
                s.mr_slices,
                mr,
                transfer_syntax=ImplicitVRLittleEndian,
                extension="",
                body_part="HEAD",
            ),
        ),
        report=Report.COMPREHENSIVE,
    )


def _chest_xray(s: StudySizes) -> StudyPlan:
    rows, columns = s.projection_rows, s.projection_columns
    cr = PixelLayout(rows, columns, 16, 12, photometric="MONOCHROME1")
    dx = PixelLayout(rows, columns, 16, 14)
    return StudyPlan(
        description="XR CHEST 2 VIEWS",
        series=(
            SeriesPlan(
                ImageKind.CR, 1, "Chest PA/LAT (CR)", 2, cr, transfer_syntax=ImplicitVRLittleEndian
            ),
            SeriesPlan(ImageKind.DX, 2, "Chest PA/LAT (DR)", 2, dx, transfer_syntax=RLELossless),
        ),
    )


def _coronary_angio(s: StudySizes) -> StudyPlan:
    xa = PixelLayout(s.cine_matrix, s.cine_matrix, 8, 8)
    return StudyPlan(
        description="XA CORONARY ANGIOGRAPHY",
        series=(
            SeriesPlan(ImageKind.XA, 1, "LCA RAO 30", s.cine_runs, xa, frames=s.cine_frames),
            SeriesPlan(
                ImageKind.XA,
                2,
                "RCA LAO 30",
                s.cine_runs,
                xa,
                frames=s.cine_frames,
                transfer_syntax=ImplicitVRLittleEndian,
            ),
        ),
        report=Report.NONE,
        key_objects=True,
    )


def _abdominal_us(s: StudySizes) -> StudyPlan:
    us = PixelLayout(s.cine_matrix, s.cine_matrix, 8, 8)
    return StudyPlan(
        description="US ABDOMEN COMPLETE",
        series=(
            SeriesPlan(
                ImageKind.US,
                1,
                "Liver",
                s.cine_runs,
                us,
                frames=s.cine_frames,
                transfer_syntax=RLELossless,
                extension="",
                body_part="ABDOMEN",
            ),
            SeriesPlan(
                ImageKind.US,
                2,
                "Kidneys",
                s.cine_runs,
                us,
                frames=s.cine_frames,
                body_part="ABDOMEN",
            ),
        ),
    )


STUDY_TEMPLATES: tuple[Callable[[StudySizes], StudyPlan], ...] = (
    _ct_chest,
    _mr_brain,
    _chest_xray,
    _coronary_angio,
    _abdominal_us,
)
"""Study ``n`` of a sample set uses template ``n % 5``."""

_REPORT_TEXT = {
    "CT": ("No focal consolidation. Small calcified granuloma.", "No acute findings."),
    "MR": ("Scattered periventricular hyperintensities.", "Mild small vessel disease."),
    "CR": ("Heart size normal. Lungs clear.", "No active disease."),
    "DX": ("Heart size normal. Lungs clear.", "No active disease."),
    "XA": ("Left dominant system.", "No significant stenosis."),
    "US": ("Liver normal in size and echotexture.", "Normal abdominal ultrasound."),
}


@dataclass(frozen=True, slots=True)
class StudyTarget:
    """Who the study belongs to and under which UIDs and folder it is written."""

    uids: UidFactory
    patient: PatientIdentity
    study: StudyIdentity
    patient_index: int
    study_index: int

    @property
    def folder(self) -> Path:
        """``<patient>/<study>`` relative to the sample root."""
        return Path(self.patient.folder) / self.study.folder

    def uid(self, *parts: object) -> str:
        """A UID scoped to this study."""
        return self.uids.uid(self.patient_index, self.study_index, *parts)


def write_study(writer: SampleWriter, target: StudyTarget, plan: StudyPlan) -> None:
    """Write every series of ``plan`` and then its documents."""
    written: dict[int, list[ImageReference]] = {}
    frame_of_reference = target.uid("frame-of-reference")
    for number, series in enumerate(plan.series):
        context = SeriesContext(
            plan=series,
            patient=target.patient,
            study=target.study,
            study_description=plan.description,
            series_uid=target.uid("series", series.number),
            frame_of_reference_uid=frame_of_reference,
            series_time=time_after(target.study.time, 300 * number),
        )
        written[series.number] = _write_series(writer, target, context)
    _write_documents(writer, target, plan, written)


def _write_series(
    writer: SampleWriter, target: StudyTarget, context: SeriesContext
) -> list[ImageReference]:
    plan = context.plan
    phantom = Phantom(plan.layout)
    encoder = SeriesEncoder(series_dataset(context), plan.transfer_syntax)
    folder = target.folder / f"SE{plan.number:03d}_{plan.kind.value}"
    references = []
    for index in range(plan.instances):
        if plan.frames > 1:
            offset = 0.1 * index
            frames = list(phantom.frames(plan.frames, start=offset, end=1.0 - offset / 2))
        else:
            frames = [phantom.frame((index + 1) / (plan.instances + 1))]
        if plan.transfer_syntax == RLELossless:
            pixel_data = rle_pixel_data(frames, plan.layout)
        else:
            pixel_data = b"".join(frames)
        sop_uid = target.uid("instance", plan.number, index)
        own = instance_dataset(context, sop_uid, index, pixel_data)
        writer.write_instance(folder / f"IMG{index + 1:04d}{plan.extension}", encoder, own)
        references.append(
            ImageReference(
                plan.kind.sop_class_uid,
                sop_uid,
                context.series_uid,
                plan.layout.rows,
                plan.layout.columns,
            )
        )
    return references


def _write_documents(
    writer: SampleWriter,
    target: StudyTarget,
    plan: StudyPlan,
    written: dict[int, list[ImageReference]],
) -> None:
    first_series = written[plan.series[0].number]
    modality = plan.series[0].kind.value

    def context(number: int, description: str) -> DocumentContext:
        return DocumentContext(
            patient=target.patient,
            study=target.study,
            study_description=plan.description,
            series_uid=target.uid("series", number),
            series_number=number,
            series_description=description,
            sop_instance_uid=target.uid("instance", number, 0),
            content_time=time_after(target.study.time, 3600 + 60 * number),
        )

    def write(number: int, kind: str, build: Callable[[DocumentContext], Dataset]) -> None:
        ds = build(context(number, kind))
        folder = target.folder / f"SE{number:03d}_{ds.Modality}"
        writer.write(folder / "IMG0001.dcm", ds, ExplicitVRLittleEndian)

    if plan.key_objects:
        picks = _spread(first_series, 3)
        write(90, "Key images", lambda c: key_object_selection(c, "Key images", picks))
    if plan.presentation_state:
        write(
            91,
            "Lung window",
            lambda c: presentation_state(
                c, "LUNG WINDOW", first_series, window=(-600, 1500), rescale_intercept=-1024
            ),
        )
    findings, impression = _REPORT_TEXT[modality]
    if plan.report is Report.BASIC:
        write(99, "Report", lambda c: basic_text_report(c, findings, impression))
    elif plan.report is Report.COMPREHENSIVE:
        source = written[plan.series[-1].number]
        middle = source[len(source) // 2]
        write(99, "Report", lambda c: comprehensive_report(c, findings, 12.5, middle))


def _spread(items: list[ImageReference], count: int) -> list[ImageReference]:
    """Up to ``count`` items evenly spread over ``items`` (first, middle, last, ...)."""
    if len(items) <= count:
        return list(items)
    step = (len(items) - 1) / (count - 1)
    return [items[round(i * step)] for i in range(count)]
