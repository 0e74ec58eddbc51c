"""Which data set values the scan keeps, and how their bytes become text and numbers.

The walk (:mod:`~tui_sender.core.scan.element_walk`) copies the raw bytes of
the tags in :data:`WANTED` and nothing else; this module turns them into the
catalog's UIDs and integers and the descriptive :class:`HeaderFields`. Text
values are decoded with pydicom's character set handling, but plain ASCII
(nearly every value) skips it: it decodes the same in every DICOM character
set, and pydicom is only imported for the first value that is not (a send
that starts while it scans need not wait for pydicom). A value that cannot
be decoded is shown as Latin-1, never an error: a garbled name must not cost
the file.
"""

from __future__ import annotations

from functools import lru_cache

from tui_sender.core.base.deferred_imports import IMPORT_LOCK
from tui_sender.core.model.catalog import HeaderFields

CHARSET = 0x00080005
DEFAULT_ENCODING = "iso8859"
"""pydicom's codec for the default repertoire (ISO-IR 6)."""
SOP_CLASS = 0x00080016
SOP_INSTANCE = 0x00080018
STUDY_UID = 0x0020000D
SERIES_UID = 0x0020000E
SERIES_NUMBER = 0x00200011
INSTANCE_NUMBER = 0x00200013
FRAMES = 0x00280008
PATIENT_NAME = 0x00100010

TEXT_FIELDS = {
    0x00080020: "study_date",
    0x00080021: "series_date",
    0x00080030: "study_time",
    0x00080050: "accession_number",
    0x00080060: "modality",
    0x00081030: "study_description",
    0x0008103E: "series_description",
    0x00100020: "patient_id",
    0x00100030: "patient_birth_date",
    0x00100040: "patient_sex",
    0x00200010: "study_id",
}
"""Tag → :class:`HeaderFields` attribute for the values shown as plain text."""

WANTED = frozenset(
    {
        CHARSET,
        SOP_CLASS,
        SOP_INSTANCE,
        STUDY_UID,
        SERIES_UID,
        INSTANCE_NUMBER,
        FRAMES,
        PATIENT_NAME,
        SERIES_NUMBER,
        *TEXT_FIELDS,
    }
)
"""Every top-level tag whose value the walk copies."""


def uid_value(raw: bytes | None) -> str:
    """A UI value without its padding; ``""`` when absent."""
    if not raw:
        return ""
    return raw.strip(b"\0 ").decode("ascii", "replace")


def is_uid(value: str) -> bool:
    """True for a non-empty string of digits and dots of at most 64 characters."""
    return 0 < len(value) <= 64 and all(c in "0123456789." for c in value)


def integer_value(raw: bytes | None) -> int | None:
    """An IS value as an int; ``None`` when absent or not a single integer."""
    if not raw:
        return None
    try:
        return int(raw.strip(b"\0 ").decode("ascii"))
    except ValueError:
        return None


@lru_cache(maxsize=64)
def _encodings(raw: bytes | None) -> tuple[str, ...]:
    """Python codecs for a Specific Character Set value (cached: files repeat it).

    A value pydicom cannot make sense of falls back to its default
    (ISO 646 read as Latin-1): a garbled name must not cost the file.
    """
    if not raw:
        return (DEFAULT_ENCODING,)
    with IMPORT_LOCK:
        from pydicom.charset import convert_encodings

    terms = [term.strip(" \0") for term in raw.decode("ascii", "replace").split("\\")]
    try:
        return tuple(convert_encodings(terms))
    except (LookupError, ValueError):
        return (DEFAULT_ENCODING,)


SINGLE_CODECS = {
    "ISO_IR 100": "latin_1",
    "ISO_IR 101": "iso8859_2",
    "ISO_IR 109": "iso8859_3",
    "ISO_IR 110": "iso8859_4",
    "ISO_IR 126": "iso_ir_126",
    "ISO_IR 127": "iso_ir_127",
    "ISO_IR 138": "iso_ir_138",
    "ISO_IR 144": "iso_ir_144",
    "ISO_IR 148": "iso_ir_148",
    "ISO_IR 166": "iso_ir_166",
    "ISO_IR 192": "UTF8",
    "GB18030": "GB18030",
    "GBK": "GBK",
}
"""Character sets that are one codec, without ISO 2022 code extensions (pydicom's codec
names): a value in one of them decodes with that codec alone, as pydicom decodes it
(tests/core/scan compares the two), without importing pydicom."""


def _single_codec(charset: bytes | None, raw: bytes) -> str | None:
    """The one codec ``raw`` decodes with, or None when pydicom must decide."""
    if not charset or b"\\" in charset or b"\x1b" in raw:
        return None
    return SINGLE_CODECS.get(charset.decode("ascii", "replace").strip(" \0"))


def _plain_ascii(raw: bytes) -> bool:
    """ASCII without ISO 2022 escapes decodes the same in every DICOM character set."""
    return raw.isascii() and b"\x1b" not in raw


def _text(raw: bytes | None, charset: bytes | None) -> str:
    if not raw:
        return ""
    raw = raw.rstrip(b"\0 ")
    if _plain_ascii(raw):
        return raw.decode("ascii").strip()
    codec = _single_codec(charset, raw)
    if codec is not None:
        try:
            return raw.decode(codec).strip()
        except UnicodeDecodeError:
            pass  # pydicom's lenient decoding below
    with IMPORT_LOCK:
        from pydicom.charset import decode_bytes
        from pydicom.valuerep import TEXT_VR_DELIMS

    try:
        return decode_bytes(raw, list(_encodings(charset)), TEXT_VR_DELIMS).strip()
    except (LookupError, ValueError):
        return raw.decode("latin-1").strip()


def _person_name(raw: bytes | None, charset: bytes | None) -> str:
    if not raw:
        return ""
    raw = raw.rstrip(b"\0 ")
    if _plain_ascii(raw):
        return raw.decode("ascii")
    codec = _single_codec(charset, raw)
    if codec is not None:
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            pass  # pydicom's lenient decoding below
    with IMPORT_LOCK:
        from pydicom.values import convert_PN

    try:
        return str(convert_PN(raw, list(_encodings(charset))))
    except (LookupError, ValueError):
        return raw.decode("latin-1")


def header_fields(values: dict[int, bytes]) -> HeaderFields:
    """The descriptive values, decoded in the data set's Specific Character Set."""
    charset = values.get(CHARSET)
    text = {name: _text(values.get(tag), charset) for tag, name in TEXT_FIELDS.items()}
    return HeaderFields(
        patient_name=_person_name(values.get(PATIENT_NAME), charset),
        series_number=integer_value(values.get(SERIES_NUMBER)),
        **text,
    )
