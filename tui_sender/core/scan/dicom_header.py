"""Read what sending needs from one DICOM file, without touching its pixel data.

The scan has to keep up with folders of tens of thousands of files, and
``pydicom.dcmread(stop_before_pixels=True)`` builds a full ``Dataset`` per
file (about 4,300 small files/s here). Sending needs much less: the file meta
(to know the transfer syntax and where the data set starts), a dozen
top-level values, and the certainty that the file is complete. So this module
reads the first chunk of the file once and walks the element *headers*
itself:

* the file meta group (always Explicit VR Little Endian, though some old
  writers used Implicit VR; read both like pydicom does) is walked element by
  element, so :attr:`Instance.dataset_offset` is the exact byte where the
  data set starts, whatever the group length claims;
* the data set is walked at the top level only; values are sliced out for the
  wanted tags and skipped for everything else. Undefined-length sequences and
  encapsulated values are skipped by following their items, so a large SR or
  presentation state that does not fit in the first chunk is read further,
  in windows, as far as needed;
* the walk stops at Pixel Data: a defined length must fit in the file; an
  encapsulated value must end with its Sequence Delimitation Item (checked
  from the file's last 8 bytes, falling back to following the fragments when
  something follows the pixel data);
* deflated data sets are inflated in memory first (rare, usually small SR or
  waveform objects); Explicit VR Big Endian (retired) and Implicit VR Little
  Endian are walked with the matching byte order and VR rules.

The element rules mirror pydicom's reader (per-element switch to Implicit VR
when the VR bytes are not letters, Implicit VR items inside an Explicit VR
data set, the top-level VR check), so this reads what ``dcmread`` reads. Text
values are decoded with pydicom's character set handling.

Failures are :class:`ScanError` with a :class:`SkipReason`; nothing here ever
opens a FIFO (files are opened non-blocking and checked with ``fstat``) or
uses ``force=True``.
"""

from __future__ import annotations

import os
import stat
import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache

from pydicom.charset import convert_encodings, decode_bytes
from pydicom.valuerep import TEXT_VR_DELIMS
from pydicom.values import convert_PN

from tui_sender.core.model.catalog import HeaderFields, Instance, SkipReason

CHUNK = 64 * 1024
"""First read of every file; enough for the header of nearly all images."""
_SMALL_READ = 4096
"""Read size after a jump (skipping a large value), where read-ahead is wasted."""
_MAX_NESTING = 64
"""Sequences nested deeper than this are treated as a malformed file."""
_MAX_WANTED_VALUE = 64 * 1024
"""The values read are UIDs, names, dates and short texts; a longer one is malformed."""

_PREAMBLE_END = 132
_DICM = b"DICM"
_UNDEFINED = 0xFFFFFFFF
_ITEM = 0xFFFEE000
_ITEM_DELIMITER = 0xFFFEE00D
_SEQUENCE_DELIMITER = 0xFFFEE0DD
_PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})

DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
EXPLICIT_VR_BIG_ENDIAN = "1.2.840.10008.1.2.2"
DEFLATED_TRANSFER_SYNTAXES = frozenset(
    {
        "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
        # PS3.5 A.6: the JPIP Referenced Deflate syntaxes deflate the data set
        # too (pydicom 3.0 reads them as plain Explicit VR Little Endian).
        "1.2.840.10008.1.2.4.95",
        "1.2.840.10008.1.2.4.205",
    }
)

# VRs with a 2-byte reserved field and a 4-byte length in Explicit VR (PS3.5 7.1.2).
_LONG_VRS = frozenset(
    v.encode()
    for v in ("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV")
)

_META_TRANSFER_SYNTAX = 0x00020010
_META_SOP_CLASS = 0x00020002
_META_SOP_INSTANCE = 0x00020003
_META_GROUP_LENGTH = 0x00020000

_CHARSET = 0x00080005
_DEFAULT_ENCODING = "iso8859"
"""pydicom's codec for the default repertoire (ISO-IR 6)."""
_SOP_CLASS = 0x00080016
_SOP_INSTANCE = 0x00080018
_STUDY_UID = 0x0020000D
_SERIES_UID = 0x0020000E
_INSTANCE_NUMBER = 0x00200013
_FRAMES = 0x00280008
_PATIENT_NAME = 0x00100010

_TEXT_FIELDS = {
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
_WANTED = frozenset(
    {
        _CHARSET,
        _SOP_CLASS,
        _SOP_INSTANCE,
        _STUDY_UID,
        _SERIES_UID,
        _INSTANCE_NUMBER,
        _FRAMES,
        _PATIENT_NAME,
        0x00200011,  # Series Number
        *_TEXT_FIELDS,
    }
)


class ScanError(Exception):
    """A file that cannot be offered, with the reason the catalog records."""

    def __init__(self, reason: SkipReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


class _Truncated(Exception):
    """The bytes end before the structure being read does."""

    def __init__(self, where: str = "the data set") -> None:
        super().__init__(f"file ends inside {where}")


class _Malformed(Exception):
    """The bytes do not follow the DICOM encoding rules."""


@dataclass(frozen=True, slots=True)
class ScannedFile:
    """A sendable file: the catalog entry, its descriptive values, and remarks.

    ``notes`` lists oddities that did not stop the file from being sent but an
    administrator may want to know about, such as a file meta SOP Instance UID
    that differs from the data set's (the data set's values are used: they are
    what the receiver stores).
    """

    instance: Instance
    fields: HeaderFields
    notes: tuple[str, ...] = ()


def read_header(path: str) -> tuple[Instance, HeaderFields]:
    """Read one file's instance record and descriptive values.

    Raises :class:`ScanError` for anything that cannot be sent. Anything that
    is not a regular file is refused from ``stat`` alone, without opening it.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise ScanError(SkipReason.UNREADABLE, _os_error_text(exc)) from None
    if not stat.S_ISREG(mode):
        raise ScanError(SkipReason.SPECIAL_FILE, "not a regular file")
    scanned = scan_file(path)
    return scanned.instance, scanned.fields


def scan_file(path: str, seen: dict[tuple[int, int], str] | None = None) -> ScannedFile:
    """Read one file like :func:`read_header`, keeping the notes.

    ``seen`` maps ``(st_dev, st_ino)`` to the first path of every file read
    so far in this scan: a second path to the same file (a hard link, a
    link, a path given twice) is rejected right after ``fstat``, before any
    parsing, and the new file is added.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ScanError(SkipReason.UNREADABLE, _os_error_text(exc)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ScanError(SkipReason.SPECIAL_FILE, "not a regular file")
        if seen is not None:
            identity = (st.st_dev, st.st_ino)
            first = seen.get(identity)
            if first is not None:
                raise ScanError(SkipReason.ALREADY_SEEN, f"same file as {first!r}")
            seen[identity] = path
        if st.st_size == 0:
            raise ScanError(SkipReason.EMPTY)
        head = os.read(fd, min(st.st_size, CHUNK))
        return _parse(path, _Window(fd, st.st_size, head), st.st_mtime_ns)
    except OSError as exc:
        raise ScanError(SkipReason.UNREADABLE, _os_error_text(exc)) from None
    finally:
        os.close(fd)


def _os_error_text(exc: OSError) -> str:
    """The OS message without the path (the skip record carries the path)."""
    return exc.strerror or str(exc)


class _Window:
    """Forward access to a file's bytes through one buffer refilled with ``pread``.

    ``fd`` is ``None`` when all the bytes are in memory (an inflated data set).
    """

    __slots__ = ("base", "buf", "fd", "size")

    def __init__(self, fd: int | None, size: int, buf: bytes, base: int = 0) -> None:
        self.fd = fd
        self.size = size
        self.buf = buf
        self.base = base

    def get(self, pos: int, n: int) -> tuple[bytes, int]:
        """Return ``(buf, base)`` such that ``buf[pos - base:][:n]`` are the bytes at ``pos``."""
        end = pos + n
        if end > self.size:
            raise _Truncated
        buf, base = self.buf, self.base
        if base <= pos and end <= base + len(buf):
            return buf, base
        if self.fd is None:
            raise _Truncated  # pragma: no cover - in-memory windows hold everything
        sequential = pos - (base + len(buf)) < CHUNK
        want = max(n, CHUNK if sequential else _SMALL_READ)
        data = os.pread(self.fd, min(want, self.size - pos), pos)
        if len(data) < n:
            raise _Truncated  # the file shrank while being read
        self.buf, self.base = data, pos
        return data, pos

    def value(self, pos: int, n: int) -> bytes:
        """The ``n`` bytes at ``pos``."""
        buf, base = self.get(pos, n)
        i = pos - base
        return buf[i : i + n]


@dataclass(frozen=True, slots=True)
class _ByteOrder:
    explicit: struct.Struct
    implicit: struct.Struct
    u32: struct.Struct
    sequence_delimiter: bytes


_LITTLE = _ByteOrder(
    struct.Struct("<HH2sH"), struct.Struct("<HHL"), struct.Struct("<L"), b"\xfe\xff\xdd\xe0\0\0\0\0"
)
_BIG = _ByteOrder(
    struct.Struct(">HH2sH"), struct.Struct(">HHL"), struct.Struct(">L"), b"\xff\xfe\xe0\xdd\0\0\0\0"
)


def _is_letter_pair(vr: bytes) -> bool:
    """pydicom's test for 'these two bytes are a VR, not part of a length'."""
    return 0x40 < vr[0] < 0x5B and 0x40 < vr[1] < 0x5B


def _header(window: _Window, pos: int, implicit: bool, order: _ByteOrder) -> tuple[int, int, int]:
    """Parse the element header at ``pos``: ``(tag, value length, header length)``.

    Mirrors pydicom's ``data_element_generator``: item and delimiter tags have
    no VR; in Explicit VR a VR outside "AA".."ZZ" means this one element is
    encoded with Implicit VR.
    """
    buf, base = window.get(pos, 8)
    i = pos - base
    if implicit:
        group, elem, length = order.implicit.unpack_from(buf, i)
        return group << 16 | elem, length, 8
    group, elem, vr, length = order.explicit.unpack_from(buf, i)
    if group == 0xFFFE:
        group, elem, length = order.implicit.unpack_from(buf, i)
        return group << 16 | elem, length, 8
    if vr in _LONG_VRS:
        buf, base = window.get(pos, 12)
        return group << 16 | elem, order.u32.unpack_from(buf, pos - base + 8)[0], 12
    if b"AA" <= vr <= b"ZZ":
        return group << 16 | elem, length, 8
    group, elem, length = order.implicit.unpack_from(buf, i)
    return group << 16 | elem, length, 8


def _skip_items(window: _Window, pos: int, implicit: bool, order: _ByteOrder, depth: int) -> int:
    """Skip the items of an undefined-length value; return the position after its delimiter.

    Sequences and encapsulated pixel data share this layout (items, then a
    Sequence Delimitation Item), so the VR does not need to be known.
    """
    if depth > _MAX_NESTING:
        raise _Malformed("sequences nested too deeply")
    unpack = order.implicit.unpack_from
    while True:
        buf, base = window.get(pos, 8)
        group, elem, length = unpack(buf, pos - base)
        tag = group << 16 | elem
        pos += 8
        if tag == _SEQUENCE_DELIMITER:
            return pos
        if tag != _ITEM:
            raise _Malformed(f"expected an item at byte {pos - 8}, found ({group:04X},{elem:04X})")
        if length == _UNDEFINED:
            pos = _skip_item_data_set(window, pos, implicit, order, depth)
        else:
            pos += length
            if pos > window.size:
                raise _Truncated


def _skip_item_data_set(
    window: _Window, pos: int, parent_implicit: bool, order: _ByteOrder, depth: int
) -> int:
    """Skip an undefined-length item's data set; return the position after its delimiter."""
    implicit = parent_implicit
    if not implicit:
        # pydicom: items of an Explicit VR data set may be Implicit VR
        # (undefined-length UN values always are, PS3.5 6.2.2).
        buf, base = window.get(pos, 8)
        implicit = not _is_letter_pair(buf[pos - base + 4 : pos - base + 6])
    while True:
        tag, length, header_length = _header(window, pos, implicit, order)
        pos += header_length
        if tag == _ITEM_DELIMITER:
            return pos
        if length == _UNDEFINED:
            pos = _skip_items(window, pos, implicit, order, depth + 1)
        else:
            pos += length
            if pos > window.size:
                raise _Truncated


def _check_pixel_data(window: _Window, pos: int, length: int, order: _ByteOrder) -> None:
    """Raise :class:`_Truncated` unless the pixel data value ends inside the file."""
    if length != _UNDEFINED:
        if pos + length > window.size:
            raise _Truncated("the pixel data")
        return
    # Encapsulated: nearly always the last element, so the file's last
    # 8 bytes are the delimiter; otherwise follow the fragments.
    if window.size - pos >= 8 and window.value(window.size - 8, 8) == order.sequence_delimiter:
        return
    try:
        _skip_items(window, pos, implicit=False, order=order, depth=1)
    except _Truncated:
        raise _Truncated("the encapsulated pixel data") from None


def _walk_data_set(
    window: _Window, pos: int, implicit: bool, order: _ByteOrder
) -> dict[int, bytes]:
    """Walk the top level of the data set from ``pos``; return the wanted values.

    This is the hot loop of the scan: element headers are unpacked straight
    from the current buffer and only the wanted values are copied.
    """
    values: dict[int, bytes] = {}
    size = window.size
    unpack_explicit = order.explicit.unpack_from
    unpack_implicit = order.implicit.unpack_from
    unpack_u32 = order.u32.unpack_from
    buf, base = window.buf, window.base
    while pos < size:
        i = pos - base
        if i < 0 or i + 12 > len(buf):
            buf, base = window.get(pos, min(12, size - pos))
            i = pos - base
            if size - pos < 8:
                raise _Truncated
        if implicit:
            group, elem, length = unpack_implicit(buf, i)
            header_length = 8
        else:
            group, elem, vr, length = unpack_explicit(buf, i)
            header_length = 8
            if group == 0xFFFE or not (b"AA" <= vr <= b"ZZ"):
                group, elem, length = unpack_implicit(buf, i)
            elif vr in _LONG_VRS:
                if i + 12 > len(buf):
                    raise _Truncated
                length = unpack_u32(buf, i + 8)[0]
                header_length = 12
        tag = group << 16 | elem
        pos += header_length
        if tag in _PIXEL_TAGS:
            _check_pixel_data(window, pos, length, order)
            return values
        if tag == _ITEM_DELIMITER:
            return values  # pydicom ends the data set here too
        if length == _UNDEFINED:
            pos = _skip_items(window, pos, implicit, order, depth=1)
            buf, base = window.buf, window.base
            continue
        end = pos + length
        if end > size:
            raise _Truncated
        if tag in _WANTED:
            if length > _MAX_WANTED_VALUE:
                raise _Malformed(f"({group:04X},{elem:04X}) is {length} bytes long")
            if end - base > len(buf):
                values[tag] = window.value(pos, length)
                buf, base = window.buf, window.base
            else:
                values[tag] = buf[pos - base : end - base]
        pos = end
    return values


def _walk_meta(window: _Window) -> tuple[dict[int, bytes], int, list[str]]:
    """Walk the file meta group after the DICM marker.

    Returns its values, the offset where the data set starts, and notes.
    """
    notes: list[str] = []
    pos = _PREAMBLE_END
    buf, base = window.get(pos, 8)
    first_group = int.from_bytes(buf[pos - base : pos - base + 2], "little")
    if first_group != 0x0002:
        raise ScanError(SkipReason.NO_FILE_META, "no file meta group after the DICM marker")
    implicit = not _is_letter_pair(buf[pos - base + 4 : pos - base + 6])
    if implicit:
        notes.append("file meta is encoded with Implicit VR (should be Explicit VR)")
    meta: dict[int, bytes] = {}
    while pos < window.size:
        if window.size - pos < 8:
            raise _Truncated
        buf, base = window.get(pos, 8)
        if int.from_bytes(buf[pos - base : pos - base + 2], "little") != 0x0002:
            break
        tag, length, header_length = _header(window, pos, implicit, _LITTLE)
        pos += header_length
        if length == _UNDEFINED:
            raise ScanError(SkipReason.NO_FILE_META, "undefined length in the file meta group")
        if pos + length > window.size:
            raise _Truncated
        meta[tag] = window.value(pos, length)
        pos += length
    group_length = meta.get(_META_GROUP_LENGTH)
    if group_length is not None and len(group_length) == 4:
        declared_end = _PREAMBLE_END + 12 + int.from_bytes(group_length, "little")
        if declared_end != pos:
            notes.append(
                f"file meta group length says the data set starts at byte {declared_end},"
                f" it starts at byte {pos}"
            )
    return meta, pos, notes


def _uid(raw: bytes | None) -> str:
    if not raw:
        return ""
    return raw.strip(b"\0 ").decode("ascii", "replace")


def _is_uid(value: str) -> bool:
    return 0 < len(value) <= 64 and all(c in "0123456789." for c in value)


def _looks_like_bare_data_set(head: bytes) -> bool:
    """True for a data set written without preamble and file meta.

    Such files start with a group 0x0008 (or 0x0002) element, in either byte
    order; reporting them as "no file meta" rather than "not DICOM" tells the
    administrator the data is there but needs a proper Part-10 header.
    """
    if len(head) < 8:
        return False
    for order in ("little", "big"):
        group = int.from_bytes(head[0:2], order)
        elem = int.from_bytes(head[2:4], order)
        if group not in (0x0002, 0x0008) or elem > 0x0100:
            continue
        if _is_letter_pair(head[4:6]):
            return True
        if order == "little" and int.from_bytes(head[4:8], "little") <= 1024:
            return True
    return False


def _parse(path: str, window: _Window, mtime_ns: int) -> ScannedFile:
    head = window.buf
    if len(head) < _PREAMBLE_END or head[128:_PREAMBLE_END] != _DICM:
        if _looks_like_bare_data_set(head):
            raise ScanError(SkipReason.NO_FILE_META, "data set without preamble, DICM or file meta")
        raise ScanError(SkipReason.NOT_DICOM)
    try:
        meta, offset, notes = _walk_meta(window)
    except _Truncated:
        raise ScanError(SkipReason.TRUNCATED, "file ends inside the file meta") from None
    transfer_syntax = _uid(meta.get(_META_TRANSFER_SYNTAX))
    if not transfer_syntax:
        raise ScanError(SkipReason.NO_FILE_META, "no Transfer Syntax UID (0002,0010)")
    if not _is_uid(transfer_syntax):
        raise ScanError(
            SkipReason.NO_FILE_META, f"Transfer Syntax UID {transfer_syntax!r} is not a UID"
        )
    meta_sop_class = _uid(meta.get(_META_SOP_CLASS))
    if meta_sop_class == DICOMDIR_SOP_CLASS:
        raise ScanError(SkipReason.DICOMDIR)
    if offset >= window.size:
        raise ScanError(SkipReason.TRUNCATED, "file ends after the file meta: no data set")

    effective = [transfer_syntax]
    values = _read_data_set(window, offset, transfer_syntax, notes, effective)
    transfer_syntax = effective[0]

    sop_class = _uid(values.get(_SOP_CLASS))
    sop_instance = _uid(values.get(_SOP_INSTANCE))
    if sop_class == DICOMDIR_SOP_CLASS:
        raise ScanError(SkipReason.DICOMDIR)
    missing = [
        name
        for name, value in (
            ("SOP Class UID", sop_class),
            ("SOP Instance UID", sop_instance),
            ("Study Instance UID", _uid(values.get(_STUDY_UID))),
            ("Series Instance UID", _uid(values.get(_SERIES_UID))),
        )
        if not value
    ]
    if missing:
        raise ScanError(SkipReason.INVALID, "no " + ", ".join(missing))
    meta_sop_instance = _uid(meta.get(_META_SOP_INSTANCE))
    if meta_sop_instance and meta_sop_instance != sop_instance:
        notes.append(
            f"file meta SOP Instance UID {meta_sop_instance} differs from the data set's;"
            " the data set's is used"
        )
    if meta_sop_class and meta_sop_class != sop_class:
        notes.append(
            f"file meta SOP Class UID {meta_sop_class} differs from the data set's;"
            " the data set's is used"
        )

    instance = Instance(
        path=path,
        size=window.size,
        mtime_ns=mtime_ns,
        dataset_offset=offset,
        sop_class_uid=sop_class,
        sop_instance_uid=sop_instance,
        transfer_syntax_uid=transfer_syntax,
        study_uid=_uid(values.get(_STUDY_UID)),
        series_uid=_uid(values.get(_SERIES_UID)),
        instance_number=_integer(values.get(_INSTANCE_NUMBER)),
        frames=max(1, _integer(values.get(_FRAMES)) or 1),
    )
    return ScannedFile(instance, _fields(values), tuple(notes))


def _read_data_set(
    window: _Window,
    offset: int,
    transfer_syntax: str,
    notes: list[str],
    effective: list[str] | None = None,
) -> dict[int, bytes]:
    """Walk the data set in its transfer syntax; map walk failures to skip reasons."""
    order = _BIG if transfer_syntax == EXPLICIT_VR_BIG_ENDIAN else _LITTLE
    implicit = transfer_syntax == IMPLICIT_VR_LITTLE_ENDIAN
    effective = effective if effective is not None else [transfer_syntax]
    try:
        if transfer_syntax in DEFLATED_TRANSFER_SYNTAXES:
            window, offset = _inflate(window, offset), 0
        if window.size - offset >= 6:
            # pydicom's top-level check: trust the bytes over the declared syntax.
            buf, base = window.get(offset, 6)
            found_implicit = not _is_letter_pair(buf[offset - base + 4 : offset - base + 6])
            if found_implicit != implicit:
                actual = "Implicit" if found_implicit else "Explicit"
                if transfer_syntax not in (IMPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN):
                    raise ScanError(
                        SkipReason.INVALID,
                        f"data set is encoded with {actual} VR, which its transfer syntax "
                        f"{transfer_syntax} does not allow",
                    )
                # Send what the bytes are, never bytes labelled with the wrong syntax.
                effective[0] = (
                    IMPLICIT_VR_LITTLE_ENDIAN if found_implicit else EXPLICIT_VR_LITTLE_ENDIAN
                )
                notes.append(
                    f"data set is encoded with {actual} VR Little Endian although its file meta "
                    f"says {transfer_syntax}: it is sent as {actual} VR Little Endian"
                )
                implicit = found_implicit
        return _walk_data_set(window, offset, implicit, order)
    except _Truncated as exc:
        raise ScanError(SkipReason.TRUNCATED, str(exc)) from None
    except _Malformed as exc:
        raise ScanError(SkipReason.INVALID, f"malformed data set: {exc}") from None


def _inflate(window: _Window, offset: int) -> _Window:
    """Inflate a deflated data set (raw deflate, PS3.5 A.5) into an in-memory window."""
    assert window.fd is not None
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    parts: list[bytes] = []
    pos = offset
    try:
        while pos < window.size and not inflater.eof:
            chunk = os.pread(window.fd, min(1 << 20, window.size - pos), pos)
            if not chunk:
                break
            pos += len(chunk)
            parts.append(inflater.decompress(chunk))
        parts.append(inflater.flush())
    except zlib.error as exc:
        raise _Malformed(f"deflated data set does not inflate ({exc})") from None
    if not inflater.eof:
        raise _Truncated("the deflated data set")
    data = b"".join(parts)
    return _Window(None, len(data), data)


@lru_cache(maxsize=64)
def _encodings(raw: bytes | None) -> tuple[str, ...]:
    """Python codecs for a Specific Character Set value (cached: files repeat it).

    A value pydicom cannot make sense of falls back to its default
    (ISO 646 read as Latin-1): a garbled name must not cost the file.
    """
    if not raw:
        return (_DEFAULT_ENCODING,)
    terms = [term.strip(" \0") for term in raw.decode("ascii", "replace").split("\\")]
    try:
        return tuple(convert_encodings(terms))
    except (LookupError, ValueError):
        return (_DEFAULT_ENCODING,)


def _plain_ascii(raw: bytes) -> bool:
    """ASCII without ISO 2022 escapes decodes the same in every DICOM character set."""
    return raw.isascii() and b"\x1b" not in raw


def _text(raw: bytes | None, encodings: tuple[str, ...]) -> str:
    if not raw:
        return ""
    raw = raw.rstrip(b"\0 ")
    if _plain_ascii(raw):
        return raw.decode("ascii").strip()
    try:
        return decode_bytes(raw, list(encodings), TEXT_VR_DELIMS).strip()
    except (LookupError, ValueError):
        return raw.decode("latin-1").strip()


def _person_name(raw: bytes | None, encodings: tuple[str, ...]) -> str:
    if not raw:
        return ""
    raw = raw.rstrip(b"\0 ")
    if _plain_ascii(raw):
        return raw.decode("ascii")
    try:
        return str(convert_PN(raw, list(encodings)))
    except (LookupError, ValueError):
        return raw.decode("latin-1")


def _integer(raw: bytes | None) -> int | None:
    """An IS value as an int; ``None`` when absent or not a single integer."""
    if not raw:
        return None
    try:
        return int(raw.strip(b"\0 ").decode("ascii"))
    except ValueError:
        return None


def _fields(values: dict[int, bytes]) -> HeaderFields:
    encodings = _encodings(values.get(_CHARSET))
    text = {name: _text(values.get(tag), encodings) for tag, name in _TEXT_FIELDS.items()}
    return HeaderFields(
        patient_name=_person_name(values.get(_PATIENT_NAME), encodings),
        series_number=_integer(values.get(0x00200011)),
        **text,
    )
