"""Walk DICOM element headers without building a data set: the scan's hot loop.

Given where a data set starts, its byte order and whether it is Implicit VR,
this module steps from element header to element header, slicing out only
the values asked for and skipping everything else:

* undefined-length sequences and encapsulated values are skipped by
  following their items (and nested item data sets), so a large SR that
  does not fit in the first chunk is read further, as far as needed;
* the walk stops at Pixel Data: a defined length must fit in the file; an
  encapsulated value must end with its Sequence Delimitation Item (checked
  from the file's last 8 bytes, falling back to following the fragments when
  something follows the pixel data).

The element rules mirror pydicom's reader (``data_element_generator``):
item and delimiter tags have no VR, an Explicit VR element whose VR bytes
are not letters is read as Implicit VR, and items of an Explicit VR data set
may be Implicit VR. Which transfer syntax means which rules, and what the
values mean, are decided elsewhere
(:mod:`~tui_sender.core.scan.data_set_reader`,
:mod:`~tui_sender.core.scan.header_values`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from tui_sender.core.scan.file_window import FileWindow
from tui_sender.core.scan.header_errors import Malformed, Truncated

MAX_NESTING = 64
"""Sequences nested deeper than this are treated as a malformed file."""
MAX_WANTED_VALUE = 64 * 1024
"""The values read are UIDs, names, dates and short texts; a longer one is malformed."""

UNDEFINED = 0xFFFFFFFF
ITEM = 0xFFFEE000
ITEM_DELIMITER = 0xFFFEE00D
SEQUENCE_DELIMITER = 0xFFFEE0DD
PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})

LONG_VRS = frozenset(
    v.encode()
    for v in ("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV")
)
"""VRs with a 2-byte reserved field and a 4-byte length in Explicit VR (PS3.5 7.1.2)."""


@dataclass(frozen=True, slots=True)
class ByteOrder:
    """The element header layouts of one byte order, and its Sequence Delimitation Item."""

    explicit: struct.Struct
    implicit: struct.Struct
    u32: struct.Struct
    sequence_delimiter: bytes


LITTLE_ENDIAN = ByteOrder(
    struct.Struct("<HH2sH"), struct.Struct("<HHL"), struct.Struct("<L"), b"\xfe\xff\xdd\xe0\0\0\0\0"
)
BIG_ENDIAN = ByteOrder(
    struct.Struct(">HH2sH"), struct.Struct(">HHL"), struct.Struct(">L"), b"\xff\xfe\xe0\xdd\0\0\0\0"
)


def is_letter_pair(vr: bytes) -> bool:
    """pydicom's test for 'these two bytes are a VR, not part of a length'."""
    return 0x40 < vr[0] < 0x5B and 0x40 < vr[1] < 0x5B


def element_header(
    window: FileWindow, pos: int, implicit: bool, order: ByteOrder
) -> tuple[int, int, int]:
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
    if vr in LONG_VRS:
        buf, base = window.get(pos, 12)
        return group << 16 | elem, order.u32.unpack_from(buf, pos - base + 8)[0], 12
    if b"AA" <= vr <= b"ZZ":
        return group << 16 | elem, length, 8
    group, elem, length = order.implicit.unpack_from(buf, i)
    return group << 16 | elem, length, 8


def skip_items(window: FileWindow, pos: int, implicit: bool, order: ByteOrder, depth: int) -> int:
    """Skip the items of an undefined-length value; return the position after its delimiter.

    Sequences and encapsulated pixel data share this layout (items, then a
    Sequence Delimitation Item), so the VR does not need to be known.
    """
    if depth > MAX_NESTING:
        raise Malformed("sequences nested too deeply")
    unpack = order.implicit.unpack_from
    while True:
        buf, base = window.get(pos, 8)
        group, elem, length = unpack(buf, pos - base)
        tag = group << 16 | elem
        pos += 8
        if tag == SEQUENCE_DELIMITER:
            return pos
        if tag != ITEM:
            raise Malformed(f"expected an item at byte {pos - 8}, found ({group:04X},{elem:04X})")
        if length == UNDEFINED:
            pos = _skip_item_data_set(window, pos, implicit, order, depth)
        else:
            pos += length
            if pos > window.size:
                raise Truncated


def _skip_item_data_set(
    window: FileWindow, pos: int, parent_implicit: bool, order: ByteOrder, depth: int
) -> int:
    """Skip an undefined-length item's data set; return the position after its delimiter."""
    implicit = parent_implicit
    if not implicit:
        # pydicom: items of an Explicit VR data set may be Implicit VR
        # (undefined-length UN values always are, PS3.5 6.2.2).
        buf, base = window.get(pos, 8)
        implicit = not is_letter_pair(buf[pos - base + 4 : pos - base + 6])
    while True:
        tag, length, header_length = element_header(window, pos, implicit, order)
        pos += header_length
        if tag == ITEM_DELIMITER:
            return pos
        if length == UNDEFINED:
            pos = skip_items(window, pos, implicit, order, depth + 1)
        else:
            pos += length
            if pos > window.size:
                raise Truncated


def _check_pixel_data(window: FileWindow, pos: int, length: int, order: ByteOrder) -> None:
    """Raise :class:`Truncated` unless the pixel data value ends inside the file."""
    if length != UNDEFINED:
        if pos + length > window.size:
            raise Truncated("the pixel data")
        return
    # Encapsulated: nearly always the last element, so the file's last
    # 8 bytes are the delimiter; otherwise follow the fragments.
    if window.size - pos >= 8 and window.value(window.size - 8, 8) == order.sequence_delimiter:
        return
    try:
        skip_items(window, pos, implicit=False, order=order, depth=1)
    except Truncated:
        raise Truncated("the encapsulated pixel data") from None


def walk_data_set(
    window: FileWindow, pos: int, implicit: bool, order: ByteOrder, wanted: frozenset[int]
) -> dict[int, bytes]:
    """Walk the top level of the data set from ``pos``; return the ``wanted`` values.

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
                raise Truncated
        if implicit:
            group, elem, length = unpack_implicit(buf, i)
            header_length = 8
        else:
            group, elem, vr, length = unpack_explicit(buf, i)
            header_length = 8
            if group == 0xFFFE or not (b"AA" <= vr <= b"ZZ"):
                group, elem, length = unpack_implicit(buf, i)
            elif vr in LONG_VRS:
                if i + 12 > len(buf):
                    raise Truncated
                length = unpack_u32(buf, i + 8)[0]
                header_length = 12
        tag = group << 16 | elem
        pos += header_length
        if tag in PIXEL_TAGS:
            _check_pixel_data(window, pos, length, order)
            return values
        if tag == ITEM_DELIMITER:
            return values  # pydicom ends the data set here too
        if length == UNDEFINED:
            pos = skip_items(window, pos, implicit, order, depth=1)
            buf, base = window.buf, window.base
            continue
        end = pos + length
        if end > size:
            raise Truncated
        if tag in wanted:
            if length > MAX_WANTED_VALUE:
                raise Malformed(f"({group:04X},{elem:04X}) is {length} bytes long")
            if end - base > len(buf):
                values[tag] = window.value(pos, length)
                buf, base = window.buf, window.base
            else:
                values[tag] = buf[pos - base : end - base]
        pos = end
    return values
