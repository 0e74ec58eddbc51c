"""What every storage SOP class and transfer syntax is called, and what it is.

The scan, the planner, the negotiation and every screen ask this module for
names, categories and flags. Two promises make it safe to call from hot
paths: lookups never raise (a private or unknown UID gets a synthesized entry,
so a file with a vendor SOP class is still listed and still sent), and the
tables are built once, on first use, from pydicom's UID dictionary and
pynetdicom's storage list, so names are the standard's and a library upgrade
brings new classes in without an edit here. What those lists do not say
(categories, short names, transfer syntax traits) is hand-kept data in
:mod:`tui_sender.core.dicom.registry_tables`; this module holds the logic.
pydicom is asked through its public :class:`~pydicom.uid.UID` API, except for
listing every UID it knows, which has no public API (see
:func:`_dictionary_uids`).

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
from functools import cache, lru_cache
from types import MappingProxyType
from typing import NamedTuple

from tui_sender.core.base.deferred_imports import IMPORT_LOCK
from tui_sender.core.dicom.registry_tables import (
    LEGACY_NAME_PREFIXES,
    NAMES_MISSING_FROM_PYDICOM,
    NOT_CSTORE_CLASSES,
    SOP_ABBREVIATIONS,
    SOP_CLASS_UID_RULES,
    SOP_SHORT_NAME_OVERRIDES,
    VIDEO_WORDS,
    SopClassCategory,
    TransferSyntaxCategory,
    TransferSyntaxTraits,
    traits,
)
from tui_sender.core.dicom.registry_tables import (
    # Under the name tests/core/dicom/test_registry.py checks the table's coverage by.
    TRANSFER_SYNTAX_TRAITS as _TRANSFER_SYNTAX_TRAITS,
)

__all__ = [
    "DICOM_ROOT",
    "STORAGE_ROOT",
    "SopClassCategory",
    "SopClassInfo",
    "TransferSyntaxCategory",
    "TransferSyntaxInfo",
    "all_sop_classes",
    "all_transfer_syntaxes",
    "categorise_sop_class",
    "is_network_syntax",
    "sop_class",
    "sop_class_name",
    "sop_classes_by_category",
    "transfer_syntax",
    "transfer_syntax_name",
    "transfer_syntaxes_by_category",
]

DICOM_ROOT = "1.2.840.10008."
STORAGE_ROOT = "1.2.840.10008.5.1.4.1.1"


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
# pydicom's UID dictionary
# --------------------------------------------------------------------------


class _DictionaryEntry(NamedTuple):
    """What pydicom's UID dictionary says about one UID."""

    name: str
    type: str
    keyword: str
    retired: bool


def _dictionary_entry(uid: str) -> _DictionaryEntry | None:
    """pydicom's entry for exactly ``uid``, read through the public UID API; ``None`` if none.

    ``UID()`` strips whitespace before its properties look the value up, so a
    string that stripping would change is treated as unknown: the lookup stays
    exact, as the registry's own tables are. Validation is off: odd strings
    from files are expected here, and must not warn.
    """
    with IMPORT_LOCK:  # here: sending need not wait for pydicom
        from pydicom import config as pydicom_config
        from pydicom.uid import UID

    known = UID(uid, validation_mode=pydicom_config.IGNORE)
    if known != uid or not known.type:
        return None
    return _DictionaryEntry(known.name, known.type, known.keyword, known.is_retired)


def _dictionary_uids(uid_type: str) -> list[str]:
    """Every UID of ``uid_type`` ("SOP Class", "Transfer Syntax") pydicom knows, in its order.

    The one use of a private pydicom module. pydicom 3 has no public API to
    list the UIDs it knows: :class:`~pydicom.uid.UID` answers for one UID at a
    time, and its public lists (``pydicom.uid.AllTransferSyntaxes`` and the
    like) leave out the retired transfer syntaxes, the four pynetdicom adds to
    the dictionary on import, and SOP classes altogether. Only the type is
    read from the private dictionary; everything else about a UID goes
    through :func:`_dictionary_entry`.
    """
    with IMPORT_LOCK:
        from pydicom._uid_dict import UID_dictionary  # no public API lists every UID

    return [uid for uid, entry in UID_dictionary.items() if entry[1] == uid_type]


# --------------------------------------------------------------------------
# SOP classes
# --------------------------------------------------------------------------


def _compile_pattern(pattern: str) -> tuple[str, bool]:
    """A rule pattern as (absolute UID, matches-descendants-too)."""
    subtree = pattern.endswith(".*")
    base = pattern[:-2] if subtree else pattern
    if not base.startswith(DICOM_ROOT):
        base = f"{STORAGE_ROOT}.{base}"
    return base, subtree


_COMPILED_RULES = tuple(
    (category, tuple(_compile_pattern(p) for p in patterns))
    for category, patterns in SOP_CLASS_UID_RULES
)


def categorise_sop_class(uid: str, name: str = "") -> SopClassCategory:
    """The family of a SOP class by the documented rules; never raises."""
    if not uid.startswith(DICOM_ROOT):
        return SopClassCategory.PRIVATE
    if name.startswith(LEGACY_NAME_PREFIXES):
        return SopClassCategory.LEGACY
    for category, patterns in _COMPILED_RULES:
        for base, subtree in patterns:
            if uid == base or (subtree and uid.startswith(base) and uid[len(base)] == "."):
                return category
    return SopClassCategory.OTHER


def _short_sop_name(uid: str, name: str) -> str:
    """A compact label for narrow UI columns, e.g. "Enhanced CT"."""
    override = SOP_SHORT_NAME_OVERRIDES.get(uid)
    if override is not None:
        return override
    short = name
    for phrase, replacement in SOP_ABBREVIATIONS:
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
    uids: dict[str, str] = {}
    for uid in _dictionary_uids("SOP Class"):
        entry = _dictionary_entry(uid)
        if entry is not None and "Storage" in entry.name and uid not in NOT_CSTORE_CLASSES:
            uids[uid] = entry.keyword
    with IMPORT_LOCK:
        from pynetdicom.sop_class import _STORAGE_CLASSES

    for keyword, uid in _STORAGE_CLASSES.items():
        uids.setdefault(uid, keyword)
    return uids


def _build_sop_class(uid: str, keyword: str) -> SopClassInfo:
    entry = _dictionary_entry(uid)
    if entry is not None:
        name, retired = entry.name, entry.retired
    else:
        name = NAMES_MISSING_FROM_PYDICOM.get(uid) or _name_from_keyword(keyword)
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
    entry = _dictionary_entry(uid)
    if entry is not None and entry.type in ("SOP Class", "Meta SOP Class"):
        name, keyword, retired = entry.name, entry.keyword, entry.retired
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


def _guess_traits(name: str) -> TransferSyntaxTraits:
    """Traits for a syntax pydicom knows and the table does not (a newer pydicom)."""
    if any(word in name for word in VIDEO_WORDS):
        nature = TransferSyntaxCategory.VIDEO
    elif "Lossless" in name and "Near" not in name:
        nature = TransferSyntaxCategory.LOSSLESS
    else:
        nature = TransferSyntaxCategory.LOSSY
    return traits(name, nature)


def _build_transfer_syntax(uid: str, entry: _DictionaryEntry) -> TransferSyntaxInfo:
    row = _TRANSFER_SYNTAX_TRAITS.get(uid) or _guess_traits(entry.name)
    return TransferSyntaxInfo(
        uid=uid,
        name=entry.name,
        keyword=entry.keyword,
        short_name=row.short_name,
        category=TransferSyntaxCategory.RETIRED if entry.retired else row.nature,
        retired=entry.retired,
        lossless=row.lossless,
        encapsulated=row.encapsulated,
        deflated=row.deflated,
        uncompressed=row.uncompressed,
        network=row.network,
    )


@cache
def _transfer_syntax_table() -> Mapping[str, TransferSyntaxInfo]:
    entries = sorted(
        (
            (uid, entry)
            for uid in _dictionary_uids("Transfer Syntax")
            if (entry := _dictionary_entry(uid)) is not None
        ),
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
        category=TransferSyntaxCategory.UNKNOWN,
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


def is_network_syntax(uid: str) -> bool:
    """Whether a transfer syntax may be proposed in an A-ASSOCIATE-RQ: what
    ``transfer_syntax(uid).network`` says, from the hand-kept traits alone.

    The planner asks this before the first association; :func:`transfer_syntax`
    would build the tables from pydicom's dictionary first (pydicom and numpy
    take about 0.17 s to import here), which names and screens can wait for.
    """
    row = _TRANSFER_SYNTAX_TRAITS.get(uid)
    if row is None:
        cleaned = _clean_uid(uid)
        row = _TRANSFER_SYNTAX_TRAITS.get(cleaned)
        if row is None:
            return (
                transfer_syntax(cleaned).network
                if cleaned.startswith(DICOM_ROOT)
                else bool(cleaned)
            )
    return row.network


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
