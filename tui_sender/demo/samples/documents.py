"""Non-image objects of the sample studies: SR reports, Key Object Selection and GSPS.

Real studies carry these beside the images, and they behave differently on
the wire (no pixel data, their own SOP classes, sequences nested several
levels deep, references to the images that must travel with them). Each
builder takes the images it refers to so that the references resolve inside
the generated set.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydicom.dataset import Dataset
from pydicom.uid import (
    BasicTextSRStorage,
    ComprehensiveSRStorage,
    GrayscaleSoftcopyPresentationStateStorage,
    KeyObjectSelectionDocumentStorage,
)

from tui_sender.demo.samples.identity import PatientIdentity, StudyIdentity
from tui_sender.demo.samples.images import INSTITUTION, MANUFACTURER


@dataclass(frozen=True, slots=True)
class ImageReference:
    """An image a document points at."""

    sop_class_uid: str
    sop_instance_uid: str
    series_uid: str
    rows: int
    columns: int


@dataclass(frozen=True, slots=True)
class DocumentContext:
    """Where a document sits: its patient, study and its own one-instance series."""

    patient: PatientIdentity
    study: StudyIdentity
    study_description: str
    series_uid: str
    series_number: int
    series_description: str
    sop_instance_uid: str
    content_time: str


def basic_text_report(ctx: DocumentContext, findings: str, impression: str) -> Dataset:
    """A verified Basic Text SR (TID 2000 shape): a Findings and an Impressions section."""
    ds = _document(ctx, BasicTextSRStorage, "SR")
    _sr_general(ds, ctx, verified=True)
    _sr_root(ds, _code("18748-4", "LN", "Diagnostic Imaging Report"), "2000")
    ds.ContentSequence = [
        _section("121070", "Findings", [_text("121071", "Finding", findings)]),
        _section("121072", "Impressions", [_text("121073", "Impression", impression)]),
    ]
    return ds


def comprehensive_report(
    ctx: DocumentContext, finding: str, length_mm: float, source: ImageReference
) -> Dataset:
    """A Comprehensive SR with a measurement inferred from an image in the same study."""
    ds = _document(ctx, ComprehensiveSRStorage, "SR")
    _sr_general(ds, ctx, verified=False)
    ds.CurrentRequestedProcedureEvidenceSequence = _evidence(ctx.study.uid, [source])
    _sr_root(ds, _code("18748-4", "LN", "Diagnostic Imaging Report"), "2000")
    measurement = _item("CONTAINS", "NUM", _code("410668003", "SCT", "Length"))
    value = Dataset()
    value.NumericValue = f"{length_mm:.1f}"
    value.MeasurementUnitsCodeSequence = [_code("mm", "UCUM", "millimeter")]
    measurement.MeasuredValueSequence = [value]
    image = _item("INFERRED FROM", "IMAGE", _code("121112", "DCM", "Source of Measurement"))
    image.ReferencedSOPSequence = [_sop_reference(source)]
    measurement.ContentSequence = [image]
    ds.ContentSequence = [
        _section("121070", "Findings", [_text("121071", "Finding", finding), measurement])
    ]
    return ds


def key_object_selection(
    ctx: DocumentContext, description: str, images: Sequence[ImageReference]
) -> Dataset:
    """A Key Object Selection ("Of Interest", TID 2010) flagging ``images``."""
    ds = _document(ctx, KeyObjectSelectionDocumentStorage, "KO")
    ds.ReferencedPerformedProcedureStepSequence = []
    ds.ContentDate = ctx.study.date
    ds.ContentTime = ctx.content_time
    ds.CurrentRequestedProcedureEvidenceSequence = _evidence(ctx.study.uid, images)
    _sr_root(ds, _code("113000", "DCM", "Of Interest"), "2010")
    items = [_text("113012", "Key Object Description", description, concept_scheme="DCM")]
    for image in images:
        item = _item("CONTAINS", "IMAGE", None)
        item.ReferencedSOPSequence = [_sop_reference(image)]
        items.append(item)
    ds.ContentSequence = items
    return ds


def presentation_state(
    ctx: DocumentContext,
    label: str,
    images: Sequence[ImageReference],
    window: tuple[int, int],
    rescale_intercept: int = 0,
) -> Dataset:
    """A Grayscale Softcopy Presentation State: a window, a displayed area and an annotation.

    All ``images`` must have the same size (they come from one series).
    """
    if not images:
        raise ValueError("a presentation state needs at least one image")
    rows, columns = images[0].rows, images[0].columns
    ds = _document(ctx, GrayscaleSoftcopyPresentationStateStorage, "PR")
    ds.ContentLabel = label
    ds.ContentDescription = f"{label.title()} preset"
    ds.PresentationCreationDate = ctx.study.date
    ds.PresentationCreationTime = ctx.content_time
    ds.ContentCreatorName = "READER^SAMPLE"
    ds.ReferencedSeriesSequence = [
        _series_reference(series_uid, members) for series_uid, members in _by_series(images)
    ]
    area = Dataset()
    area.PixelOriginInterpretation = "VOLUME"
    area.DisplayedAreaTopLeftHandCorner = [1, 1]
    area.DisplayedAreaBottomRightHandCorner = [columns, rows]
    area.PresentationSizeMode = "SCALE TO FIT"
    area.PresentationPixelAspectRatio = [1, 1]
    ds.DisplayedAreaSelectionSequence = [area]
    ds.RescaleIntercept = rescale_intercept
    ds.RescaleSlope = 1
    ds.RescaleType = "HU" if rescale_intercept else "US"
    voi = Dataset()
    voi.WindowCenter, voi.WindowWidth = window
    ds.SoftcopyVOILUTSequence = [voi]
    ds.PresentationLUTShape = "IDENTITY"
    layer = Dataset()
    layer.GraphicLayer = "ANNOTATION"
    layer.GraphicLayerOrder = 1
    ds.GraphicLayerSequence = [layer]
    ds.GraphicAnnotationSequence = [_annotation(images[len(images) // 2], rows, columns)]
    return ds


def _annotation(image: ImageReference, rows: int, columns: int) -> Dataset:
    """A circle around the middle of one image, with a caption above it."""
    text = Dataset()
    text.BoundingBoxAnnotationUnits = "PIXEL"
    text.UnformattedTextValue = "Region of interest"
    text.BoundingBoxTopLeftHandCorner = [columns * 0.35, rows * 0.1]
    text.BoundingBoxBottomRightHandCorner = [columns * 0.65, rows * 0.2]
    text.BoundingBoxTextHorizontalJustification = "CENTER"
    circle = Dataset()
    circle.GraphicAnnotationUnits = "PIXEL"
    circle.GraphicDimensions = 2
    circle.NumberOfGraphicPoints = 2
    circle.GraphicData = [columns * 0.5, rows * 0.5, columns * 0.6, rows * 0.5]
    circle.GraphicType = "CIRCLE"
    circle.GraphicFilled = "N"
    annotation = Dataset()
    annotation.ReferencedImageSequence = [_sop_reference(image)]
    annotation.GraphicLayer = "ANNOTATION"
    annotation.TextObjectSequence = [text]
    annotation.GraphicObjectSequence = [circle]
    return annotation


def _document(ctx: DocumentContext, sop_class_uid: str, modality: str) -> Dataset:
    """Patient, study, series, equipment and SOP Common modules of a document."""
    patient, study = ctx.patient, ctx.study
    ds = Dataset()
    ds.SpecificCharacterSet = patient.charset
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = ctx.sop_instance_uid
    ds.InstanceCreationDate = study.date
    ds.InstanceCreationTime = ctx.content_time
    ds.StudyDate = study.date
    ds.StudyTime = study.time
    ds.SeriesDate = study.date
    ds.SeriesTime = ctx.content_time
    ds.AccessionNumber = study.accession_number
    ds.Modality = modality
    ds.Manufacturer = MANUFACTURER
    ds.InstitutionName = INSTITUTION
    ds.ReferringPhysicianName = study.referring_physician
    ds.StudyDescription = ctx.study_description
    ds.SeriesDescription = ctx.series_description
    ds.PatientName = patient.name
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = patient.birth_date
    ds.PatientSex = patient.sex
    ds.StudyInstanceUID = study.uid
    ds.SeriesInstanceUID = ctx.series_uid
    ds.StudyID = study.study_id
    ds.SeriesNumber = ctx.series_number
    ds.InstanceNumber = 1
    return ds


def _sr_general(ds: Dataset, ctx: DocumentContext, *, verified: bool) -> None:
    """SR Document Series and SR Document General modules."""
    ds.ReferencedPerformedProcedureStepSequence = []
    ds.CompletionFlag = "COMPLETE"
    ds.ContentDate = ctx.study.date
    ds.ContentTime = ctx.content_time
    ds.PerformedProcedureCodeSequence = []
    if verified:
        ds.VerificationFlag = "VERIFIED"
        observer = Dataset()
        observer.VerifyingObserverName = "READER^SAMPLE"
        observer.VerifyingObserverIdentificationCodeSequence = []
        observer.VerifyingOrganization = INSTITUTION
        observer.VerificationDateTime = f"{ctx.study.date}{ctx.content_time}"
        ds.VerifyingObserverSequence = [observer]
    else:
        ds.VerificationFlag = "UNVERIFIED"


def _sr_root(ds: Dataset, title: Dataset, template: str) -> None:
    """The root CONTAINER content item and the template it follows."""
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = [title]
    ds.ContinuityOfContent = "SEPARATE"
    identifier = Dataset()
    identifier.MappingResource = "DCMR"
    identifier.TemplateIdentifier = template
    ds.ContentTemplateSequence = [identifier]


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    code = Dataset()
    code.CodeValue = value
    code.CodingSchemeDesignator = scheme
    code.CodeMeaning = meaning
    return code


def _item(relationship: str, value_type: str, concept: Dataset | None) -> Dataset:
    item = Dataset()
    item.RelationshipType = relationship
    item.ValueType = value_type
    if concept is not None:
        item.ConceptNameCodeSequence = [concept]
    return item


def _text(value: str, meaning: str, text: str, concept_scheme: str = "DCM") -> Dataset:
    item = _item("CONTAINS", "TEXT", _code(value, concept_scheme, meaning))
    item.TextValue = text
    return item


def _section(value: str, meaning: str, children: list[Dataset]) -> Dataset:
    section = _item("CONTAINS", "CONTAINER", _code(value, "DCM", meaning))
    section.ContinuityOfContent = "SEPARATE"
    section.ContentSequence = children
    return section


def _sop_reference(image: ImageReference) -> Dataset:
    ref = Dataset()
    ref.ReferencedSOPClassUID = image.sop_class_uid
    ref.ReferencedSOPInstanceUID = image.sop_instance_uid
    return ref


def _by_series(images: Iterable[ImageReference]) -> list[tuple[str, list[ImageReference]]]:
    """Images grouped by series, in first-seen order."""
    groups: dict[str, list[ImageReference]] = {}
    for image in images:
        groups.setdefault(image.series_uid, []).append(image)
    return list(groups.items())


def _series_reference(series_uid: str, images: list[ImageReference]) -> Dataset:
    series = Dataset()
    series.SeriesInstanceUID = series_uid
    series.ReferencedImageSequence = [_sop_reference(i) for i in images]
    return series


def _evidence(study_uid: str, images: Iterable[ImageReference]) -> list[Dataset]:
    """Hierarchical SOP Instance Reference Macro: study > series > instances."""
    study = Dataset()
    study.StudyInstanceUID = study_uid
    series_items = []
    for series_uid, members in _by_series(images):
        series = Dataset()
        series.SeriesInstanceUID = series_uid
        series.ReferencedSOPSequence = [_sop_reference(i) for i in members]
        series_items.append(series)
    study.ReferencedSeriesSequence = series_items
    return [study]
