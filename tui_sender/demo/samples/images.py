"""Image data sets for the sample studies: CT, MR, CR, DX, XA and US (multi-frame).

One function per modality fills the modules its IOD needs on top of the
shared Patient, General Study, General Series, General Equipment, General
Image, Image Pixel and SOP Common modules. The values are the ones a real
modality writes (geometry, window, acquisition parameters) so that the
scanner, the TUI and downstream PACS have something plausible to show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pydicom.uid import (
    UID,
    ComputedRadiographyImageStorage,
    CTImageStorage,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    MRImageStorage,
    UltrasoundMultiFrameImageStorage,
    XRayAngiographicImageStorage,
)

from tui_sender.demo.samples.identity import PatientIdentity, StudyIdentity, time_after
from tui_sender.demo.samples.pixels import PixelLayout

MANUFACTURER = "TUI-SENDER SAMPLE"
INSTITUTION = "Sample General Hospital"


class ImageKind(StrEnum):
    """The image modalities the generator writes."""

    CT = "CT"
    MR = "MR"
    CR = "CR"
    DX = "DX"
    XA = "XA"
    US = "US"

    @property
    def sop_class_uid(self) -> UID:
        """Storage SOP Class of this kind of image."""
        return _SOP_CLASSES[self]

    @property
    def is_cine(self) -> bool:
        """True for kinds written as multi-frame objects."""
        return self in (ImageKind.XA, ImageKind.US)


_SOP_CLASSES = {
    ImageKind.CT: CTImageStorage,
    ImageKind.MR: MRImageStorage,
    ImageKind.CR: ComputedRadiographyImageStorage,
    ImageKind.DX: DigitalXRayImageStorageForPresentation,
    ImageKind.XA: XRayAngiographicImageStorage,
    ImageKind.US: UltrasoundMultiFrameImageStorage,
}


@dataclass(frozen=True, slots=True)
class SeriesPlan:
    """One image series to write: what, how many, how big and in which encoding."""

    kind: ImageKind
    number: int
    description: str
    instances: int
    layout: PixelLayout
    transfer_syntax: str = ExplicitVRLittleEndian
    frames: int = 1
    """Frames per instance (more than 1 only for XA and US)."""
    extension: str = ".dcm"
    """File name suffix; "" writes extension-less names, as many PACS exports do."""
    body_part: str = "CHEST"
    orientation: str = "AXIAL"
    """AXIAL or SAGITTAL, for the CT and MR geometry."""
    slice_thickness: float = 5.0


@dataclass(frozen=True, slots=True)
class SeriesContext:
    """What every instance of one series shares."""

    plan: SeriesPlan
    patient: PatientIdentity
    study: StudyIdentity
    study_description: str
    series_uid: str
    frame_of_reference_uid: str
    series_time: str


def image_dataset(
    series: SeriesContext, sop_instance_uid: str, index: int, pixel_data: bytes
) -> Dataset:
    """The complete data set of image ``index`` (0-based) of ``series``.

    ``pixel_data`` is native bytes, or an encapsulated RLE stream when the
    series' transfer syntax is RLE Lossless.
    """
    ds = series_dataset(series)
    ds.update(instance_dataset(series, sop_instance_uid, index, pixel_data))
    return ds


def series_dataset(series: SeriesContext) -> Dataset:
    """The elements every image of ``series`` shares, encoded once per series by the writer."""
    plan = series.plan
    ds = Dataset()
    _patient_and_study(ds, series)
    ds.SOPClassUID = plan.kind.sop_class_uid
    ds.Modality = plan.kind.value
    ds.SeriesInstanceUID = series.series_uid
    ds.SeriesNumber = plan.number
    ds.SeriesDescription = plan.description
    ds.SeriesDate = series.study.date
    ds.SeriesTime = series.series_time
    ds.BodyPartExamined = plan.body_part
    ds.Manufacturer = MANUFACTURER
    ds.ManufacturerModelName = _MODEL_NAMES[plan.kind]
    ds.InstitutionName = INSTITUTION
    ds.StationName = f"{plan.kind.value}01"
    ds.SoftwareVersions = "1.0"
    ds.ContentDate = series.study.date
    ds.AcquisitionNumber = 1
    _SERIES_MODULES[plan.kind](ds, series)
    _image_pixel(ds, plan)
    return ds


def instance_dataset(
    series: SeriesContext, sop_instance_uid: str, index: int, pixel_data: bytes
) -> Dataset:
    """The elements that differ from image to image: identity, position, pixels."""
    plan = series.plan
    ds = Dataset()
    ds.SOPInstanceUID = sop_instance_uid
    ds.InstanceNumber = index + 1
    ds.ContentTime = time_after(series.series_time, index)
    _INSTANCE_MODULES[plan.kind](ds, series, index)
    encapsulated = UID(plan.transfer_syntax).is_encapsulated
    vr = "OB" if encapsulated or plan.layout.bits_allocated == 8 else "OW"
    ds.add_new(0x7FE00010, vr, pixel_data)
    # Encapsulated Pixel Data always has an undefined length (PS3.5 A.4).
    ds["PixelData"].is_undefined_length = encapsulated
    return ds


def _patient_and_study(ds: Dataset, series: SeriesContext) -> None:
    patient, study = series.patient, series.study
    ds.SpecificCharacterSet = patient.charset
    ds.PatientName = patient.name
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = patient.birth_date
    ds.PatientSex = patient.sex
    ds.StudyInstanceUID = study.uid
    ds.StudyDate = study.date
    ds.StudyTime = study.time
    ds.StudyDescription = series.study_description
    ds.AccessionNumber = study.accession_number
    ds.StudyID = study.study_id
    ds.ReferringPhysicianName = study.referring_physician
    ds.InstanceCreationDate = study.date
    ds.InstanceCreationTime = series.series_time


def _image_pixel(ds: Dataset, plan: SeriesPlan) -> None:
    layout = plan.layout
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = layout.photometric
    ds.Rows = layout.rows
    ds.Columns = layout.columns
    ds.BitsAllocated = layout.bits_allocated
    ds.BitsStored = layout.bits_stored
    ds.HighBit = layout.bits_stored - 1
    ds.PixelRepresentation = 0
    ds.LossyImageCompression = "00"


def _field_of_view(plan: SeriesPlan) -> float:
    return 380.0 if plan.kind is ImageKind.CT else 240.0


def _cross_section(ds: Dataset, series: SeriesContext) -> None:
    """Image Plane and Frame of Reference values a CT or MR slice stack shares."""
    plan = series.plan
    spacing = _ds(_field_of_view(plan) / plan.layout.columns)
    ds.FrameOfReferenceUID = series.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.PatientPosition = "HFS"
    ds.PixelSpacing = [spacing, spacing]
    ds.SliceThickness = _ds(plan.slice_thickness)
    if plan.orientation == "SAGITTAL":
        ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
    else:
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]


def _slice_position(ds: Dataset, series: SeriesContext, index: int) -> None:
    """Image Position (Patient) and Slice Location of slice ``index``."""
    plan = series.plan
    thickness = plan.slice_thickness
    location = _ds(-0.5 * plan.instances * thickness + index * thickness)
    half = _ds(_field_of_view(plan) / 2)
    minus_half = _ds(-_field_of_view(plan) / 2)
    ds.SliceLocation = location
    if plan.orientation == "SAGITTAL":
        ds.ImagePositionPatient = [location, minus_half, half]
    else:
        ds.ImagePositionPatient = [minus_half, minus_half, location]


def _ct(ds: Dataset, series: SeriesContext) -> None:
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    _cross_section(ds, series)
    ds.KVP = 120
    ds.XRayTubeCurrent = 180
    ds.ConvolutionKernel = "STANDARD"
    ds.DataCollectionDiameter = 500
    ds.ReconstructionDiameter = 380
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    ds.RescaleType = "HU"
    ds.WindowCenter = 40
    ds.WindowWidth = 400


def _mr(ds: Dataset, series: SeriesContext) -> None:
    weighting = series.plan.description.split()[0].upper()
    repetition, echo = {"T1": (550, 12), "T2": (4200, 95)}.get(weighting, (9000, 110))
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
    _cross_section(ds, series)
    ds.ScanningSequence = "SE"
    ds.SequenceVariant = "SK"
    ds.ScanOptions = ""
    ds.MRAcquisitionType = "2D"
    ds.RepetitionTime = repetition
    ds.EchoTime = echo
    ds.EchoTrainLength = 1 if weighting == "T1" else 16
    ds.MagneticFieldStrength = 1.5
    ds.ImagingFrequency = "63.87"
    ds.SpacingBetweenSlices = _ds(series.plan.slice_thickness)
    ds.WindowCenter = series.plan.layout.max_value // 4
    ds.WindowWidth = series.plan.layout.max_value // 2


def _projection(ds: Dataset, series: SeriesContext) -> None:
    """What CR and DX share: detector spacing and a window."""
    layout = series.plan.layout
    spacing = _ds(430.0 / layout.columns)
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.ImagerPixelSpacing = [spacing, spacing]
    ds.WindowCenter = layout.max_value // 4
    ds.WindowWidth = layout.max_value // 2


def _dx(ds: Dataset, series: SeriesContext) -> None:
    _projection(ds, series)
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.DetectorType = "SCINTILLATOR"
    ds.PixelIntensityRelationship = "LOG"
    ds.PixelIntensityRelationshipSign = 1
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.RescaleType = "US"
    ds.PresentationLUTShape = "IDENTITY"
    ds.BurnedInAnnotation = "NO"


def _view(ds: Dataset, series: SeriesContext, index: int) -> None:
    """Even images are PA views, odd ones lateral."""
    lateral = index % 2 == 1
    ds.ViewPosition = "LL" if lateral else "PA"
    ds.PatientOrientation = ["P", "F"] if lateral else ["L", "F"]
    ds.KVP = 125 if lateral else 110


def _cine(ds: Dataset, series: SeriesContext, frame_time: float) -> None:
    ds.PatientOrientation = ""
    ds.NumberOfFrames = series.plan.frames
    ds.FrameIncrementPointer = Tag(0x0018, 0x1063)
    ds.FrameTime = _ds(frame_time)
    ds.CineRate = round(1000 / frame_time)


def _xa(ds: Dataset, series: SeriesContext) -> None:
    ds.ImageType = ["ORIGINAL", "PRIMARY", "SINGLE PLANE"]
    _cine(ds, series, 66.7)
    ds.PixelIntensityRelationship = "LIN"
    ds.RadiationSetting = "GR"
    ds.KVP = 80
    ds.XRayTubeCurrent = 600
    ds.ExposureTime = 8
    ds.PositionerMotion = "STATIC"
    ds.PositionerSecondaryAngle = _ds(20.0)
    ds.DistanceSourceToDetector = 1100


def _xa_run(ds: Dataset, series: SeriesContext, index: int) -> None:
    ds.PositionerPrimaryAngle = _ds(-30.0 + 60.0 * (index % 2))


def _us(ds: Dataset, series: SeriesContext) -> None:
    ds.ImageType = ["ORIGINAL", "PRIMARY", "ABDOMINAL"]
    _cine(ds, series, 33.3)


def _nothing(ds: Dataset, series: SeriesContext, index: int) -> None:
    """Kinds whose images differ only by identity and pixels."""


def _ds(value: float) -> str:
    """A Decimal String short enough for the 16-character limit."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


_SERIES_MODULES: dict[ImageKind, Callable[[Dataset, SeriesContext], None]] = {
    ImageKind.CT: _ct,
    ImageKind.MR: _mr,
    ImageKind.CR: _projection,
    ImageKind.DX: _dx,
    ImageKind.XA: _xa,
    ImageKind.US: _us,
}

_INSTANCE_MODULES: dict[ImageKind, Callable[[Dataset, SeriesContext, int], None]] = {
    ImageKind.CT: _slice_position,
    ImageKind.MR: _slice_position,
    ImageKind.CR: _view,
    ImageKind.DX: _view,
    ImageKind.XA: _xa_run,
    ImageKind.US: _nothing,
}

_MODEL_NAMES = {
    ImageKind.CT: "Phantom CT 64",
    ImageKind.MR: "Phantom MR 1.5T",
    ImageKind.CR: "Phantom CR Reader",
    ImageKind.DX: "Phantom DR Detector",
    ImageKind.XA: "Phantom Angio",
    ImageKind.US: "Phantom Ultrasound",
}
