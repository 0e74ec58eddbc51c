"""The registry's hand-kept data: category vocabularies and the tables behind every entry.

Data, not logic: :mod:`tui_sender.core.dicom.registry` builds its entries
from pydicom's and pynetdicom's UID lists and looks up here what those do not
say. The rules these tables encode (which family a SOP class belongs to,
what each transfer syntax flag means) are written down in that module's
docstring; a table is edited here when the standard or a library adds a UID:

* the two category enumerations, whose declaration order is the display order;
* SOP classes: the UID rules that file a class into its family, the names of
  classes newer than pydicom's dictionary, and the short labels for narrow
  columns (whole-name overrides, then phrase abbreviations);
* transfer syntaxes: one hand-checked row of traits per syntax pydicom knows
  (:func:`traits` fills in the defaults of the row's nature).
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class SopClassCategory(StrEnum):
    """Modality family of a storage SOP class; the value is the display title.

    The declaration order is the display order.
    """

    CT = "Computed Tomography"
    MR = "Magnetic Resonance"
    ULTRASOUND = "Ultrasound"
    NUCLEAR_MEDICINE = "Nuclear Medicine"
    PET = "Positron Emission Tomography"
    RADIOGRAPHY = "Radiography (CR, DX)"
    MAMMOGRAPHY = "Mammography and breast imaging"
    ANGIOGRAPHY = "Angiography, fluoroscopy and intravascular"
    DENTAL = "Dental"
    VISIBLE_LIGHT = "Endoscopy and visible light"
    MICROSCOPY = "Microscopy and pathology"
    OPHTHALMOLOGY = "Ophthalmology"
    RADIOTHERAPY = "Radiotherapy"
    STRUCTURED_REPORT = "Structured reports"
    DOCUMENT = "Encapsulated documents"
    PRESENTATION = "Presentation states and displays"
    WAVEFORM = "Waveforms"
    SECONDARY_CAPTURE = "Secondary capture"
    DERIVED = "Segmentation, registration and maps"
    SECURITY_INDUSTRIAL = "Security and industrial (DICOS, DICONDE)"
    NON_PATIENT = "Protocols, templates and palettes"
    LEGACY = "Legacy standalone and print objects"
    OTHER = "Other"
    PRIVATE = "Private"


class TransferSyntaxCategory(StrEnum):
    """What kind of encoding a transfer syntax is (rules in the module docstring)."""

    UNCOMPRESSED = "uncompressed"
    LOSSLESS = "lossless"
    LOSSY = "lossy"
    VIDEO = "video"
    RETIRED = "retired"
    UNKNOWN = "unknown"


# --------------------------------------------------------------------------
# SOP classes
# --------------------------------------------------------------------------

# pydicom "SOP Class" entries named "...Storage..." that are not C-STORE classes.
NOT_CSTORE_CLASSES = frozenset(
    {
        "1.2.840.10008.1.3.10",  # Media Storage Directory Storage (DICOMDIR)
        "1.2.840.10008.1.20.1",  # Storage Commitment Push Model
        "1.2.840.10008.1.20.2",  # Storage Commitment Pull Model (retired)
    }
)

# Names that file a class under Legacy before any UID rule (retired DICOM 3.0 objects).
LEGACY_NAME_PREFIXES = ("Standalone ", "Hardcopy ", "Stored Print ")

_C = SopClassCategory

# (family, UID patterns), first match wins. A pattern is relative to the storage root
# unless it starts with the DICOM root; "X.*" means X and everything under it.
SOP_CLASS_UID_RULES: tuple[tuple[SopClassCategory, tuple[str, ...]], ...] = (
    (_C.OTHER, ("66", "90.*")),
    (_C.PRESENTATION, ("11.*", "9.100.*", "131")),
    (_C.WAVEFORM, ("9.*",)),
    (_C.STRUCTURED_REPORT, ("88.*",)),
    (_C.DOCUMENT, ("104.*",)),
    (_C.RADIOTHERAPY, ("481.*", "1.2.840.10008.5.1.4.34.*")),
    (_C.SECONDARY_CAPTURE, ("7.*",)),
    (_C.CT, ("2.*",)),
    (_C.MR, ("4.*",)),
    (_C.ULTRASOUND, ("3.*", "6.*")),
    (_C.NUCLEAR_MEDICINE, ("5", "20.*")),
    (_C.PET, ("128.*", "130.*")),
    (_C.MAMMOGRAPHY, ("1.2.*", "13.1.3", "13.1.4", "13.1.5")),
    (_C.DENTAL, ("1.3.*", "13.1.2")),
    (_C.RADIOGRAPHY, ("1.*",)),
    (_C.ANGIOGRAPHY, ("12.*", "13.*", "14.*")),
    (_C.MICROSCOPY, ("77.1.2.*", "77.1.3", "77.1.6", "77.1.8", "77.1.9", "91.*")),
    (_C.OPHTHALMOLOGY, ("77.1.5.*", "78.*", "79.*", "80.*", "81.*", "82.*")),
    (_C.VISIBLE_LIGHT, ("77.*",)),
    (_C.DERIVED, ("30.*", "66.*", "67.*", "68.*")),
    (_C.SECURITY_INDUSTRIAL, ("501.*", "601.*")),
    (
        _C.NON_PATIENT,
        (
            "200.*",
            "201.*",
            "1.2.840.10008.5.1.4.38.*",  # Hanging Protocol
            "1.2.840.10008.5.1.4.39.*",  # Color Palette
            "1.2.840.10008.5.1.4.43.*",  # Generic Implant Template
            "1.2.840.10008.5.1.4.44.*",  # Implant Assembly Template
            "1.2.840.10008.5.1.4.45.*",  # Implant Template Group
        ),
    ),
)

# Names for classes pynetdicom knows and pydicom 3.0.2 does not yet.
NAMES_MISSING_FROM_PYDICOM = {
    "1.2.840.10008.5.1.4.1.1.9.100.1": "Waveform Presentation State Storage",
    "1.2.840.10008.5.1.4.1.1.9.100.2": "Waveform Acquisition Presentation State Storage",
    "1.2.840.10008.5.1.4.1.1.66.7": "Label Map Segmentation Storage",
    "1.2.840.10008.5.1.4.1.1.66.8": "Height Map Segmentation Storage",
}

# Whole-name short labels where the abbreviation rules read badly.
SOP_SHORT_NAME_OVERRIDES = {
    "1.2.840.10008.5.1.4.1.1.7": "SC",
    "1.2.840.10008.5.1.4.1.1.88.59": "KOS",
    "1.2.840.10008.5.1.4.1.1.104.1": "PDF",
    "1.2.840.10008.5.1.4.1.1.104.2": "CDA",
    "1.2.840.10008.5.1.4.1.1.104.3": "STL",
    "1.2.840.10008.5.1.4.1.1.104.4": "OBJ",
    "1.2.840.10008.5.1.4.1.1.104.5": "MTL",
    "1.2.840.10008.5.1.4.1.1.11.1": "GSPS",
    "1.2.840.10008.5.1.4.1.1.11.2": "Color PS",
    "1.2.840.10008.5.1.4.1.1.11.3": "Pseudo-Color PS",
    "1.2.840.10008.5.1.4.1.1.11.4": "Blending PS",
    "1.2.840.10008.5.1.4.1.1.9.1.1": "12-lead ECG",
    "1.2.840.10008.5.1.4.1.1.66.4": "SEG",
    "1.2.840.10008.5.1.4.1.1.66": "Raw Data",
    "1.2.840.10008.5.1.4.1.1.481.3": "RTSTRUCT",
    "1.2.840.10008.5.1.4.1.1.481.5": "RTPLAN",
    "1.2.840.10008.5.1.4.1.1.481.2": "RTDOSE",
    "1.2.840.10008.5.1.4.1.1.481.25": "RT Patient Position Instr.",
    "1.2.840.10008.5.1.4.1.1.481.19": "C-Arm Rad Record",
    "1.2.840.10008.5.1.4.34.10": "RT Brachy Setup Delivery",
    "1.2.840.10008.5.1.4.1.1.80.1": "Ophth Visual Field",
    "1.2.840.10008.5.1.4.1.1.79.1": "Macular Grid Report",
    "1.2.840.10008.5.1.4.1.1.78.6": "Spectacle Prescription",
    "1.2.840.10008.5.1.4.1.1.78.8": "IOL Calculations",
    "1.2.840.10008.5.1.4.1.1.77.1.5.5": "Wide Field Ophth Stereo",
    "1.2.840.10008.5.1.4.1.1.77.1.5.6": "Wide Field Ophth 3D",
    "1.2.840.10008.5.1.4.1.1.77.1.5.8": "Ophth OCT B-scan Analysis",
    "1.2.840.10008.5.1.4.1.1.77.1.9": "Confocal Micro Tiled",
    "1.2.840.10008.5.1.4.1.1.91.1": "Micro Bulk Annotations",
    "1.2.840.10008.5.1.4.1.1.88.68": "Radiopharm. Rad Dose SR",
    "1.2.840.10008.5.1.4.1.1.88.74": "Planned Agent Admin SR",
    "1.2.840.10008.5.1.4.1.1.88.75": "Performed Agent Admin SR",
    "1.2.840.10008.5.1.4.1.1.66.3": "Deformable Registration",
    "1.2.840.10008.5.1.4.1.1.501.6": "DICOS QR",
    "1.2.840.10008.5.1.4.1.1.501.3": "DICOS Threat Report",
    "1.2.840.10008.5.1.4.1.1.13.1.4": "Breast Projection Pres",
    "1.2.840.10008.5.1.4.1.1.13.1.5": "Breast Projection Proc",
}

# Applied in order to a name to make a short label; longest phrases first.
SOP_ABBREVIATIONS: tuple[tuple[str, str], ...] = (
    (" Storage - Trial", " Trial"),
    (" Storage SOP Class", ""),
    ("RT Image Storage", "RT Image"),
    (" Image Storage", ""),
    (" Storage", ""),
    (" - For Presentation", " Pres"),
    (" - For Processing", " Proc"),
    ("Legacy Converted Enhanced", "LC Enhanced"),
    ("Multi-frame Grayscale Byte Secondary Capture", "MF Gray Byte SC"),
    ("Multi-frame Grayscale Word Secondary Capture", "MF Gray Word SC"),
    ("Multi-frame Single Bit Secondary Capture", "MF 1-bit SC"),
    ("Multi-frame True Color Secondary Capture", "MF Color SC"),
    ("Volumetric Presentation State", "VPS"),
    ("Volume Rendering", "Vol. Rendering"),
    ("Softcopy Presentation State", "PS"),
    ("Presentation State", "PS"),
    ("Digital Mammography X-Ray", "MG"),
    ("Digital Intra-Oral X-Ray", "IO"),
    ("Digital X-Ray", "DX"),
    ("Computed Radiography", "CR"),
    ("Positron Emission Tomography", "PET"),
    ("Nuclear Medicine", "NM"),
    ("Ultrasound", "US"),
    ("X-Ray Angiographic", "XA"),
    ("X-Ray Radiofluoroscopic", "XRF"),
    ("Intravascular Optical Coherence Tomography", "IVOCT"),
    ("Optical Coherence Tomography", "OCT"),
    ("Ophthalmic", "Ophth"),
    ("Photography", "Photo"),
    ("Electroencephalogram", "EEG"),
    ("Electromyogram", "EMG"),
    ("Electrooculogram", "EOG"),
    ("Waveform", "WF"),
    ("Measurements", "Meas"),
    ("Radiation", "Rad"),
    ("Treatment", "Tx"),
    ("Delivery Instruction", "Delivery"),
    ("Microscopic", "Micro"),
    ("Microscopy", "Micro"),
    ("Procedure Protocol", "Protocol"),
    ("Stereographic Projection", "Stereo Proj"),
    ("3D Coordinates", "3D Coords"),
    ("Encapsulated ", ""),
)


# --------------------------------------------------------------------------
# Transfer syntaxes
# --------------------------------------------------------------------------


class TransferSyntaxTraits(NamedTuple):
    """Everything about a transfer syntax that pydicom's dictionary does not say."""

    short_name: str
    nature: TransferSyntaxCategory  # what it is; ``retired`` overrides the category
    lossless: bool
    encapsulated: bool
    deflated: bool
    uncompressed: bool
    network: bool


_T = TransferSyntaxCategory


def traits(
    short_name: str,
    nature: TransferSyntaxCategory,
    *,
    encapsulated: bool | None = None,
    deflated: bool = False,
    uncompressed: bool | None = None,
    lossless: bool | None = None,
    network: bool = True,
) -> TransferSyntaxTraits:
    """Traits with the defaults of their nature, overridden where the syntax differs."""
    is_plain = nature is _T.UNCOMPRESSED
    return TransferSyntaxTraits(
        short_name=short_name,
        nature=nature,
        lossless=nature in (_T.UNCOMPRESSED, _T.LOSSLESS) if lossless is None else lossless,
        encapsulated=(not is_plain) if encapsulated is None else encapsulated,
        deflated=deflated,
        uncompressed=is_plain if uncompressed is None else uncompressed,
        network=network,
    )


_TS = "1.2.840.10008.1.2"
TRANSFER_SYNTAX_TRAITS: dict[str, TransferSyntaxTraits] = {
    f"{_TS}": traits("Implicit LE", _T.UNCOMPRESSED),
    f"{_TS}.1": traits("Explicit LE", _T.UNCOMPRESSED),
    f"{_TS}.1.98": traits("Encap. uncompressed", _T.UNCOMPRESSED, encapsulated=True),
    f"{_TS}.1.99": traits("Deflated LE", _T.LOSSLESS, encapsulated=False, deflated=True),
    f"{_TS}.2": traits("Explicit BE", _T.UNCOMPRESSED),
    f"{_TS}.4.50": traits("JPEG baseline", _T.LOSSY),
    f"{_TS}.4.51": traits("JPEG extended", _T.LOSSY),
    f"{_TS}.4.52": traits("JPEG extended 3/5", _T.LOSSY),
    f"{_TS}.4.53": traits("JPEG spectral 6/8", _T.LOSSY),
    f"{_TS}.4.54": traits("JPEG spectral 7/9", _T.LOSSY),
    f"{_TS}.4.55": traits("JPEG progressive 10/12", _T.LOSSY),
    f"{_TS}.4.56": traits("JPEG progressive 11/13", _T.LOSSY),
    f"{_TS}.4.57": traits("JPEG lossless", _T.LOSSLESS),
    f"{_TS}.4.58": traits("JPEG lossless 15", _T.LOSSLESS),
    f"{_TS}.4.59": traits("JPEG hierarchical 16/18", _T.LOSSY),
    f"{_TS}.4.60": traits("JPEG hierarchical 17/19", _T.LOSSY),
    f"{_TS}.4.61": traits("JPEG hierarchical 20/22", _T.LOSSY),
    f"{_TS}.4.62": traits("JPEG hierarchical 21/23", _T.LOSSY),
    f"{_TS}.4.63": traits("JPEG hierarchical 24/26", _T.LOSSY),
    f"{_TS}.4.64": traits("JPEG hierarchical 25/27", _T.LOSSY),
    f"{_TS}.4.65": traits("JPEG lossless 28", _T.LOSSLESS),
    f"{_TS}.4.66": traits("JPEG lossless 29", _T.LOSSLESS),
    f"{_TS}.4.70": traits("JPEG lossless SV1", _T.LOSSLESS),
    f"{_TS}.4.80": traits("JPEG-LS lossless", _T.LOSSLESS),
    f"{_TS}.4.81": traits("JPEG-LS near-lossless", _T.LOSSY),
    f"{_TS}.4.90": traits("J2K lossless", _T.LOSSLESS),
    f"{_TS}.4.91": traits("J2K", _T.LOSSY),
    f"{_TS}.4.92": traits("J2K multi-comp. lossless", _T.LOSSLESS),
    f"{_TS}.4.93": traits("J2K multi-comp.", _T.LOSSY),
    f"{_TS}.4.94": traits("JPIP", _T.LOSSY, encapsulated=False),
    f"{_TS}.4.95": traits("JPIP deflate", _T.LOSSY, encapsulated=False, deflated=True),
    f"{_TS}.4.100": traits("MPEG2 MP@ML", _T.VIDEO),
    f"{_TS}.4.100.1": traits("MPEG2 MP@ML frag.", _T.VIDEO),
    f"{_TS}.4.101": traits("MPEG2 MP@HL", _T.VIDEO),
    f"{_TS}.4.101.1": traits("MPEG2 MP@HL frag.", _T.VIDEO),
    f"{_TS}.4.102": traits("H.264 HP@4.1", _T.VIDEO),
    f"{_TS}.4.102.1": traits("H.264 HP@4.1 frag.", _T.VIDEO),
    f"{_TS}.4.103": traits("H.264 BD", _T.VIDEO),
    f"{_TS}.4.103.1": traits("H.264 BD frag.", _T.VIDEO),
    f"{_TS}.4.104": traits("H.264 2D", _T.VIDEO),
    f"{_TS}.4.104.1": traits("H.264 2D frag.", _T.VIDEO),
    f"{_TS}.4.105": traits("H.264 3D", _T.VIDEO),
    f"{_TS}.4.105.1": traits("H.264 3D frag.", _T.VIDEO),
    f"{_TS}.4.106": traits("H.264 stereo", _T.VIDEO),
    f"{_TS}.4.106.1": traits("H.264 stereo frag.", _T.VIDEO),
    f"{_TS}.4.107": traits("HEVC main", _T.VIDEO),
    f"{_TS}.4.108": traits("HEVC main 10", _T.VIDEO),
    f"{_TS}.4.110": traits("JPEG XL lossless", _T.LOSSLESS),
    f"{_TS}.4.111": traits("JPEG XL recompressed", _T.LOSSLESS),
    f"{_TS}.4.112": traits("JPEG XL", _T.LOSSY),
    f"{_TS}.4.201": traits("HTJ2K lossless", _T.LOSSLESS),
    f"{_TS}.4.202": traits("HTJ2K lossless RPCL", _T.LOSSLESS),
    f"{_TS}.4.203": traits("HTJ2K", _T.LOSSY),
    f"{_TS}.4.204": traits("JPIP HTJ2K", _T.LOSSY, encapsulated=False),
    f"{_TS}.4.205": traits("JPIP HTJ2K deflate", _T.LOSSY, encapsulated=False, deflated=True),
    f"{_TS}.5": traits("RLE", _T.LOSSLESS),
    f"{_TS}.6.1": traits("MIME (RFC 2557)", _T.LOSSY, encapsulated=False, network=False),
    f"{_TS}.6.2": traits("XML", _T.LOSSY, encapsulated=False, network=False),
    f"{_TS}.7.1": traits(
        "SMPTE 2110-20 progressive",
        _T.VIDEO,
        encapsulated=False,
        uncompressed=True,
        network=False,
    ),
    f"{_TS}.7.2": traits(
        "SMPTE 2110-20 interlaced",
        _T.VIDEO,
        encapsulated=False,
        uncompressed=True,
        network=False,
    ),
    f"{_TS}.7.3": traits(
        "SMPTE 2110-30 audio", _T.VIDEO, encapsulated=False, uncompressed=True, network=False
    ),
    f"{_TS}.8.1": traits("Deflated frames", _T.LOSSLESS),
    "1.2.840.10008.1.20": traits("Papyrus 3", _T.UNCOMPRESSED, network=False),
}

# Name words of a video syntax, for syntaxes a newer pydicom knows and the table does not.
VIDEO_WORDS = ("MPEG", "HEVC", "H.264", "H.265", "SMPTE")
