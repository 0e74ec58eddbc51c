"""What every storage SOP class and transfer syntax is called, and what it is.

The scan, the planner, the negotiation and every screen ask this module for
names, categories and flags. Two promises make it safe to call from hot
paths: lookups never raise (a private or unknown UID gets a synthesized entry,
so a file with a vendor SOP class is still listed and still sent), and the
tables are built once, on first use, from pydicom's UID dictionary and
pynetdicom's storage list, so names are the standard's and a library upgrade
brings new classes in without an edit here.

SOP classes
-----------
The registry holds the union of pynetdicom's storage SOP classes
(``pynetdicom.sop_class._STORAGE_CLASSES``) and every pydicom "SOP Class"
whose name contains "Storage", retired ones included (flagged). Three pydicom
entries are left out because they are not C-STORE classes: Media Storage
Directory Storage (DICOMDIR, a media file) and the two Storage Commitment
models (N-ACTION). Names and keywords come from pydicom; the four classes
newer than pydicom 3.0.2 (Label Map and Height Map Segmentation, Waveform and
Waveform Acquisition Presentation State) take pynetdicom's keyword and their
PS3.6 name from a small table here. pydicom's keyword wins where the two
disagree (pynetdicom 3.0.4 misspells five, e.g.
``PseudoColorSoftcopyPresentationStageStorage``).

Categories follow the modality families of the original Rust tool's README
(cplatt-iso/rust-dicom), fixed where it was wrong. Its cross-cutting
"Enhanced", "Legacy" and "Multi-frame" buckets are folded into the modality:
Enhanced MR is MR, Legacy Converted Enhanced CT is CT. Rules, first match
wins (UIDs relative to the storage root ``1.2.840.10008.5.1.4.1.1``; ``X.*``
means X and everything under it):

1. a UID outside ``1.2.840.10008.`` → Private;
2. names starting "Standalone ", "Hardcopy " or "Stored Print " → Legacy
   (retired non-image objects of DICOM 3.0: overlays, curves, LUTs, print);
3. then by UID, in this order: Other ``66`` (Raw Data), ``90.*`` (Content
   Assessment Results); Presentation ``11.*``, ``9.100.*``, ``131`` (Basic
   Structured Display); Waveform ``9.*``; Structured report ``88.*`` (Key
   Object Selection included: it is an SR document); Document ``104.*``;
   Radiotherapy ``481.*`` and ``1.2.840.10008.5.1.4.34.*``; Secondary capture
   ``7.*``; CT ``2.*``; MR ``4.*``; Ultrasound ``3.*``, ``6.*`` (photoacoustic
   included); Nuclear medicine ``5``, ``20.*``; PET ``128.*``, ``130.*``;
   Mammography ``1.2.*``, ``13.1.3``-``13.1.5`` (breast tomosynthesis and
   projection); Dental ``1.3.*``, ``13.1.2`` (3D craniofacial); Radiography
   ``1.*``; Angiography ``12.*``, ``13.*``, ``14.*`` (IVOCT, a cath-lab
   modality); Microscopy ``77.1.2.*``, ``77.1.3``, ``77.1.6``, ``77.1.8``,
   ``77.1.9``, ``91.*``; Ophthalmology ``77.1.5.*``, ``78.*``-``82.*``;
   Endoscopy and visible light ``77.*`` (endoscopic, photographic,
   dermoscopic, the retired VL trials); Derived ``30.*``, ``66.*``, ``67.*``,
   ``68.*`` (parametric maps, registration, segmentation, RWV mapping,
   surface scans); Security and industrial ``501.*`` (DICOS), ``601.*``
   (DICONDE); Non-patient ``200.*``, ``201.*`` and the hanging protocol,
   color palette and implant template roots;
4. anything else under ``1.2.840.10008.`` → Other.

The rules apply to unknown UIDs too, so a class added to the standard after
pydicom's dictionary (say ``…1.1.2.3``) still lands in its family.

Transfer syntaxes
-----------------
Every pydicom "Transfer Syntax" entry (63: pynetdicom 3.0.4 adds the three
JPEG XL syntaxes and Deflated Image Frame Compression to pydicom 3.0.2's
dictionary when it is imported, which this module always does), each with a
hand-checked table row, a category and the flags the engine decides with:

* ``retired`` → category "retired", whatever the encoding.
* "video": MPEG-2, MPEG-4 AVC/H.264, HEVC/H.265 and SMPTE ST 2110.
* "lossy": JPEG baseline and extended, JPEG-LS near-lossless, JPEG 2000 and
  HTJ2K without "Lossless Only", JPEG XL, and the JPIP referenced syntaxes
  (the pixels live on a JPIP server that may serve any quality level, so
  nothing about them is promised to be lossless).
* "lossless": RLE, JPEG lossless (processes 14 and 14 SV1), JPEG-LS
  lossless, JPEG 2000 and HTJ2K "Lossless Only" (RPCL included), JPEG XL
  lossless, JPEG XL JPEG Recompression (a lossless repacking of a JPEG
  bitstream: decoding gives exactly the original JPEG's pixels, though that
  JPEG itself may once have been lossy), Deflated Explicit VR Little Endian
  and Deflated Image Frame Compression.
* "uncompressed": Implicit and Explicit VR Little Endian and Encapsulated
  Uncompressed Explicit VR Little Endian.
* "unknown": only synthesized entries for UIDs nobody knows.

Flags:

* ``lossless``: converting away from this syntax reproduces the pixel data
  exactly, so the engine may decompress without asking. True for the
  uncompressed and lossless categories, and for retired syntaxes of the same
  nature (Explicit VR Big Endian, JPEG lossless processes 15, 28, 29, Papyrus).
* ``encapsulated``: Pixel Data, when present, is a sequence of fragments.
  False for JPIP (no Pixel Data, only a provider URL) and SMPTE ST 2110
  (the essence travels outside the data set).
* ``deflated``: the whole data set after the file meta is zlib-deflated
  (Deflated Explicit VR LE and the two JPIP Referenced Deflate syntaxes).
  Deflated Image Frame Compression deflates frames, not the data set.
* ``uncompressed``: pixel values are stored without any codec (native, or
  one frame per fragment for Encapsulated Uncompressed, or SMPTE ST 2110).
* ``network``: may appear in an A-ASSOCIATE proposal. False for RFC 2557
  MIME, XML Encoding and Papyrus 3 (file and web encodings) and for SMPTE
  ST 2110 (DICOM-RTV streams, PS3.22, never DIMSE). JPIP referenced is a
  network syntax by PS3.5 and stays True: a file stored that way can only be
  sent in it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache
from types import MappingProxyType
from typing import NamedTuple

from pydicom._uid_dict import UID_dictionary
from pynetdicom.sop_class import _STORAGE_CLASSES

DICOM_ROOT = "1.2.840.10008."
STORAGE_ROOT = "1.2.840.10008.5.1.4.1.1"


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


@dataclass(frozen=True, slots=True)
class SopClassInfo:
    """One storage SOP class; ``known`` is False for synthesized entries."""

    uid: str
    name: str
    keyword: str
    short_name: str
    category: SopClassCategory
    retired: bool
    known: bool = True


@dataclass(frozen=True, slots=True)
class TransferSyntaxInfo:
    """One transfer syntax and the flags the engine decides with."""

    uid: str
    name: str
    keyword: str
    short_name: str
    category: TransferSyntaxCategory
    retired: bool
    lossless: bool
    encapsulated: bool
    deflated: bool
    uncompressed: bool
    network: bool
    known: bool = True


# --------------------------------------------------------------------------
# SOP classes
# --------------------------------------------------------------------------

_NOT_CSTORE_CLASSES = frozenset(
    {
        "1.2.840.10008.1.3.10",  # Media Storage Directory Storage (DICOMDIR)
        "1.2.840.10008.1.20.1",  # Storage Commitment Push Model
        "1.2.840.10008.1.20.2",  # Storage Commitment Pull Model (retired)
    }
)

_LEGACY_NAME_PREFIXES = ("Standalone ", "Hardcopy ", "Stored Print ")

_C = SopClassCategory
_UID_RULES: tuple[tuple[SopClassCategory, tuple[str, ...]], ...] = (
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


def _compile_pattern(pattern: str) -> tuple[str, bool]:
    """A rule pattern as (absolute UID, matches-descendants-too)."""
    subtree = pattern.endswith(".*")
    base = pattern[:-2] if subtree else pattern
    if not base.startswith(DICOM_ROOT):
        base = f"{STORAGE_ROOT}.{base}"
    return base, subtree


_COMPILED_RULES = tuple(
    (category, tuple(_compile_pattern(p) for p in patterns)) for category, patterns in _UID_RULES
)


def categorise_sop_class(uid: str, name: str = "") -> SopClassCategory:
    """The family of a SOP class by the documented rules; never raises."""
    if not uid.startswith(DICOM_ROOT):
        return SopClassCategory.PRIVATE
    if name.startswith(_LEGACY_NAME_PREFIXES):
        return SopClassCategory.LEGACY
    for category, patterns in _COMPILED_RULES:
        for base, subtree in patterns:
            if uid == base or (subtree and uid.startswith(base) and uid[len(base)] == "."):
                return category
    return SopClassCategory.OTHER


# Names for classes pynetdicom knows and pydicom 3.0.2 does not yet.
_NAMES_MISSING_FROM_PYDICOM = {
    "1.2.840.10008.5.1.4.1.1.9.100.1": "Waveform Presentation State Storage",
    "1.2.840.10008.5.1.4.1.1.9.100.2": "Waveform Acquisition Presentation State Storage",
    "1.2.840.10008.5.1.4.1.1.66.7": "Label Map Segmentation Storage",
    "1.2.840.10008.5.1.4.1.1.66.8": "Height Map Segmentation Storage",
}

# Whole-name short labels where the abbreviation rules read badly.
_SOP_SHORT_OVERRIDES = {
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
_SOP_ABBREVIATIONS: tuple[tuple[str, str], ...] = (
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


def _short_sop_name(uid: str, name: str) -> str:
    """A compact label for narrow UI columns, e.g. "Enhanced CT"."""
    override = _SOP_SHORT_OVERRIDES.get(uid)
    if override is not None:
        return override
    short = name
    for phrase, replacement in _SOP_ABBREVIATIONS:
        short = short.replace(phrase, replacement)
    return short.strip() or name


def _name_from_keyword(keyword: str) -> str:
    """ "LabelMapSegmentationStorage" → "Label Map Segmentation Storage"."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", keyword)


def _uid_sort_key(uid: str) -> tuple[int, ...]:
    """Numeric arc order, so 1.1.2 < 1.1.10 and families stay together."""
    return tuple(int(arc) if arc.isdigit() else -1 for arc in uid.split("."))


def _storage_uids() -> dict[str, str]:
    """UID → keyword for the union of pydicom's and pynetdicom's storage classes."""
    uids: dict[str, str] = {
        uid: entry[4]
        for uid, entry in UID_dictionary.items()
        if entry[1] == "SOP Class" and "Storage" in entry[0] and uid not in _NOT_CSTORE_CLASSES
    }
    for keyword, uid in _STORAGE_CLASSES.items():
        uids.setdefault(uid, keyword)
    return uids


def _build_sop_class(uid: str, keyword: str) -> SopClassInfo:
    entry = UID_dictionary.get(uid)
    if entry is not None:
        name, retired = entry[0], entry[3] == "Retired"
    else:
        name = _NAMES_MISSING_FROM_PYDICOM.get(uid) or _name_from_keyword(keyword)
        retired = False
    return SopClassInfo(
        uid=uid,
        name=name,
        keyword=keyword,
        short_name=_short_sop_name(uid, name),
        category=categorise_sop_class(uid, name),
        retired=retired,
    )


@cache
def _sop_table() -> Mapping[str, SopClassInfo]:
    items = sorted(_storage_uids().items(), key=lambda item: _uid_sort_key(item[0]))
    return MappingProxyType({uid: _build_sop_class(uid, kw) for uid, kw in items})


@lru_cache(maxsize=1024)
def _synthesized_sop_class(uid: str) -> SopClassInfo:
    entry = UID_dictionary.get(uid)
    if entry is not None and entry[1] in ("SOP Class", "Meta SOP Class"):
        name, keyword, retired = entry[0], entry[4], entry[3] == "Retired"
    elif not uid:
        name, keyword, retired = "Missing SOP Class UID", "", False
    elif uid.startswith(DICOM_ROOT):
        name, keyword, retired = f"Unknown SOP Class ({uid})", "", False
    else:
        name, keyword, retired = f"Private SOP Class ({uid})", "", False
    category = categorise_sop_class(uid, name) if uid else SopClassCategory.OTHER
    short = "Private" if category is SopClassCategory.PRIVATE else "Unknown"
    if entry is not None and keyword:
        short = _short_sop_name(uid, name)
    return SopClassInfo(
        uid=uid,
        name=name,
        keyword=keyword,
        short_name=short,
        category=category,
        retired=retired,
        known=False,
    )


def _clean_uid(uid: str) -> str:
    """UIDs read from files may keep their NUL or space padding."""
    return uid.strip(" \x00\t\r\n")


def sop_class(uid: str) -> SopClassInfo:
    """The registry entry for ``uid``; unknown and private UIDs get a synthesized one."""
    table = _sop_table()
    info = table.get(uid)
    if info is not None:
        return info
    cleaned = _clean_uid(uid)
    return table.get(cleaned) or _synthesized_sop_class(cleaned)


def sop_class_name(uid: str) -> str:
    """The standard name of a SOP class, or "Unknown/Private SOP Class (uid)"."""
    return sop_class(uid).name


def all_sop_classes() -> tuple[SopClassInfo, ...]:
    """Every known storage SOP class, in numeric UID order."""
    return _all_sop_classes()


@cache
def _all_sop_classes() -> tuple[SopClassInfo, ...]:
    return tuple(_sop_table().values())


@cache
def sop_classes_by_category() -> Mapping[SopClassCategory, tuple[SopClassInfo, ...]]:
    """Known storage SOP classes per family, families in display order, none empty."""
    groups = {
        category: tuple(info for info in _all_sop_classes() if info.category is category)
        for category in SopClassCategory
    }
    return MappingProxyType({category: items for category, items in groups.items() if items})


# --------------------------------------------------------------------------
# Transfer syntaxes
# --------------------------------------------------------------------------


class _Traits(NamedTuple):
    """Everything about a transfer syntax that pydicom's dictionary does not say."""

    short_name: str
    nature: TransferSyntaxCategory  # what it is; ``retired`` overrides the category
    lossless: bool
    encapsulated: bool
    deflated: bool
    uncompressed: bool
    network: bool


_T = TransferSyntaxCategory


def _traits(
    short_name: str,
    nature: TransferSyntaxCategory,
    *,
    encapsulated: bool | None = None,
    deflated: bool = False,
    uncompressed: bool | None = None,
    lossless: bool | None = None,
    network: bool = True,
) -> _Traits:
    """Traits with the defaults of their nature, overridden where the syntax differs."""
    is_plain = nature is _T.UNCOMPRESSED
    return _Traits(
        short_name=short_name,
        nature=nature,
        lossless=nature in (_T.UNCOMPRESSED, _T.LOSSLESS) if lossless is None else lossless,
        encapsulated=(not is_plain) if encapsulated is None else encapsulated,
        deflated=deflated,
        uncompressed=is_plain if uncompressed is None else uncompressed,
        network=network,
    )


_TS = "1.2.840.10008.1.2"
_TRANSFER_SYNTAX_TRAITS: dict[str, _Traits] = {
    f"{_TS}": _traits("Implicit LE", _T.UNCOMPRESSED),
    f"{_TS}.1": _traits("Explicit LE", _T.UNCOMPRESSED),
    f"{_TS}.1.98": _traits("Encap. uncompressed", _T.UNCOMPRESSED, encapsulated=True),
    f"{_TS}.1.99": _traits("Deflated LE", _T.LOSSLESS, encapsulated=False, deflated=True),
    f"{_TS}.2": _traits("Explicit BE", _T.UNCOMPRESSED),
    f"{_TS}.4.50": _traits("JPEG baseline", _T.LOSSY),
    f"{_TS}.4.51": _traits("JPEG extended", _T.LOSSY),
    f"{_TS}.4.52": _traits("JPEG extended 3/5", _T.LOSSY),
    f"{_TS}.4.53": _traits("JPEG spectral 6/8", _T.LOSSY),
    f"{_TS}.4.54": _traits("JPEG spectral 7/9", _T.LOSSY),
    f"{_TS}.4.55": _traits("JPEG progressive 10/12", _T.LOSSY),
    f"{_TS}.4.56": _traits("JPEG progressive 11/13", _T.LOSSY),
    f"{_TS}.4.57": _traits("JPEG lossless", _T.LOSSLESS),
    f"{_TS}.4.58": _traits("JPEG lossless 15", _T.LOSSLESS),
    f"{_TS}.4.59": _traits("JPEG hierarchical 16/18", _T.LOSSY),
    f"{_TS}.4.60": _traits("JPEG hierarchical 17/19", _T.LOSSY),
    f"{_TS}.4.61": _traits("JPEG hierarchical 20/22", _T.LOSSY),
    f"{_TS}.4.62": _traits("JPEG hierarchical 21/23", _T.LOSSY),
    f"{_TS}.4.63": _traits("JPEG hierarchical 24/26", _T.LOSSY),
    f"{_TS}.4.64": _traits("JPEG hierarchical 25/27", _T.LOSSY),
    f"{_TS}.4.65": _traits("JPEG lossless 28", _T.LOSSLESS),
    f"{_TS}.4.66": _traits("JPEG lossless 29", _T.LOSSLESS),
    f"{_TS}.4.70": _traits("JPEG lossless SV1", _T.LOSSLESS),
    f"{_TS}.4.80": _traits("JPEG-LS lossless", _T.LOSSLESS),
    f"{_TS}.4.81": _traits("JPEG-LS near-lossless", _T.LOSSY),
    f"{_TS}.4.90": _traits("J2K lossless", _T.LOSSLESS),
    f"{_TS}.4.91": _traits("J2K", _T.LOSSY),
    f"{_TS}.4.92": _traits("J2K multi-comp. lossless", _T.LOSSLESS),
    f"{_TS}.4.93": _traits("J2K multi-comp.", _T.LOSSY),
    f"{_TS}.4.94": _traits("JPIP", _T.LOSSY, encapsulated=False),
    f"{_TS}.4.95": _traits("JPIP deflate", _T.LOSSY, encapsulated=False, deflated=True),
    f"{_TS}.4.100": _traits("MPEG2 MP@ML", _T.VIDEO),
    f"{_TS}.4.100.1": _traits("MPEG2 MP@ML frag.", _T.VIDEO),
    f"{_TS}.4.101": _traits("MPEG2 MP@HL", _T.VIDEO),
    f"{_TS}.4.101.1": _traits("MPEG2 MP@HL frag.", _T.VIDEO),
    f"{_TS}.4.102": _traits("H.264 HP@4.1", _T.VIDEO),
    f"{_TS}.4.102.1": _traits("H.264 HP@4.1 frag.", _T.VIDEO),
    f"{_TS}.4.103": _traits("H.264 BD", _T.VIDEO),
    f"{_TS}.4.103.1": _traits("H.264 BD frag.", _T.VIDEO),
    f"{_TS}.4.104": _traits("H.264 2D", _T.VIDEO),
    f"{_TS}.4.104.1": _traits("H.264 2D frag.", _T.VIDEO),
    f"{_TS}.4.105": _traits("H.264 3D", _T.VIDEO),
    f"{_TS}.4.105.1": _traits("H.264 3D frag.", _T.VIDEO),
    f"{_TS}.4.106": _traits("H.264 stereo", _T.VIDEO),
    f"{_TS}.4.106.1": _traits("H.264 stereo frag.", _T.VIDEO),
    f"{_TS}.4.107": _traits("HEVC main", _T.VIDEO),
    f"{_TS}.4.108": _traits("HEVC main 10", _T.VIDEO),
    f"{_TS}.4.110": _traits("JPEG XL lossless", _T.LOSSLESS),
    f"{_TS}.4.111": _traits("JPEG XL recompressed", _T.LOSSLESS),
    f"{_TS}.4.112": _traits("JPEG XL", _T.LOSSY),
    f"{_TS}.4.201": _traits("HTJ2K lossless", _T.LOSSLESS),
    f"{_TS}.4.202": _traits("HTJ2K lossless RPCL", _T.LOSSLESS),
    f"{_TS}.4.203": _traits("HTJ2K", _T.LOSSY),
    f"{_TS}.4.204": _traits("JPIP HTJ2K", _T.LOSSY, encapsulated=False),
    f"{_TS}.4.205": _traits("JPIP HTJ2K deflate", _T.LOSSY, encapsulated=False, deflated=True),
    f"{_TS}.5": _traits("RLE", _T.LOSSLESS),
    f"{_TS}.6.1": _traits("MIME (RFC 2557)", _T.LOSSY, encapsulated=False, network=False),
    f"{_TS}.6.2": _traits("XML", _T.LOSSY, encapsulated=False, network=False),
    f"{_TS}.7.1": _traits(
        "SMPTE 2110-20 progressive",
        _T.VIDEO,
        encapsulated=False,
        uncompressed=True,
        network=False,
    ),
    f"{_TS}.7.2": _traits(
        "SMPTE 2110-20 interlaced",
        _T.VIDEO,
        encapsulated=False,
        uncompressed=True,
        network=False,
    ),
    f"{_TS}.7.3": _traits(
        "SMPTE 2110-30 audio", _T.VIDEO, encapsulated=False, uncompressed=True, network=False
    ),
    f"{_TS}.8.1": _traits("Deflated frames", _T.LOSSLESS),
    "1.2.840.10008.1.20": _traits("Papyrus 3", _T.UNCOMPRESSED, network=False),
}

_VIDEO_WORDS = ("MPEG", "HEVC", "H.264", "H.265", "SMPTE")


def _guess_traits(name: str) -> _Traits:
    """Traits for a syntax pydicom knows and the table does not (a newer pydicom)."""
    if any(word in name for word in _VIDEO_WORDS):
        nature = _T.VIDEO
    elif "Lossless" in name and "Near" not in name:
        nature = _T.LOSSLESS
    else:
        nature = _T.LOSSY
    return _traits(name, nature)


def _build_transfer_syntax(uid: str, entry: tuple[str, str, str, str, str]) -> TransferSyntaxInfo:
    name, _type, _info, retired_text, keyword = entry
    traits = _TRANSFER_SYNTAX_TRAITS.get(uid) or _guess_traits(name)
    retired = retired_text == "Retired"
    return TransferSyntaxInfo(
        uid=uid,
        name=name,
        keyword=keyword,
        short_name=traits.short_name,
        category=_T.RETIRED if retired else traits.nature,
        retired=retired,
        lossless=traits.lossless,
        encapsulated=traits.encapsulated,
        deflated=traits.deflated,
        uncompressed=traits.uncompressed,
        network=traits.network,
    )


@cache
def _transfer_syntax_table() -> Mapping[str, TransferSyntaxInfo]:
    entries = sorted(
        ((uid, entry) for uid, entry in UID_dictionary.items() if entry[1] == "Transfer Syntax"),
        key=lambda item: _uid_sort_key(item[0]),
    )
    return MappingProxyType({uid: _build_transfer_syntax(uid, entry) for uid, entry in entries})


@lru_cache(maxsize=256)
def _synthesized_transfer_syntax(uid: str) -> TransferSyntaxInfo:
    if not uid:
        name, short = "Missing Transfer Syntax UID", "Missing"
    elif uid.startswith(DICOM_ROOT):
        name, short = f"Unknown Transfer Syntax ({uid})", "Unknown"
    else:
        name, short = f"Private Transfer Syntax ({uid})", "Private"
    # Nothing is assumed: never converted (not lossless), but a file's own
    # syntax may still be proposed as-is (network), the peer decides.
    return TransferSyntaxInfo(
        uid=uid,
        name=name,
        keyword="",
        short_name=short,
        category=_T.UNKNOWN,
        retired=False,
        lossless=False,
        encapsulated=False,
        deflated=False,
        uncompressed=False,
        network=bool(uid),
        known=False,
    )


def transfer_syntax(uid: str) -> TransferSyntaxInfo:
    """The registry entry for ``uid``; unknown and private UIDs get a synthesized one."""
    table = _transfer_syntax_table()
    info = table.get(uid)
    if info is not None:
        return info
    cleaned = _clean_uid(uid)
    return table.get(cleaned) or _synthesized_transfer_syntax(cleaned)


def transfer_syntax_name(uid: str) -> str:
    """The standard name of a transfer syntax, or "Unknown/Private Transfer Syntax (uid)"."""
    return transfer_syntax(uid).name


def all_transfer_syntaxes() -> tuple[TransferSyntaxInfo, ...]:
    """Every known transfer syntax, in numeric UID order."""
    return _all_transfer_syntaxes()


@cache
def _all_transfer_syntaxes() -> tuple[TransferSyntaxInfo, ...]:
    return tuple(_transfer_syntax_table().values())


@cache
def transfer_syntaxes_by_category() -> Mapping[
    TransferSyntaxCategory, tuple[TransferSyntaxInfo, ...]
]:
    """Known transfer syntaxes per category, categories in declaration order, none empty."""
    groups = {
        category: tuple(info for info in _all_transfer_syntaxes() if info.category is category)
        for category in TransferSyntaxCategory
    }
    return MappingProxyType({category: items for category, items in groups.items() if items})
