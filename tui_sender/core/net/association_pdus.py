"""The A-ASSOCIATE-RQ we send and the A-ASSOCIATE-AC we read (PS3.8 9.3.2, 9.3.3).

Encoded and decoded here rather than by pynetdicom for start-up's sake:
pynetdicom's PDU classes import pydicom, numpy and pynetdicom's service
classes (about 0.2 s here) before the first byte could leave, while these
two PDUs are a few fixed-layout items. Tests compare what this module
encodes with pynetdicom's own encoder, byte for byte, and decode real
answers from DCMTK, Orthanc and pynetdicom.

Only what a storage SCU proposes and reads is covered: the application
context, presentation contexts (one transfer syntax each), and the user
information items Maximum Length (0x51), Implementation Class UID (0x52),
Asynchronous Operations Window (0x53) and Implementation Version Name
(0x55). Other user information sub-items in an answer are skipped.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"
IMPLEMENTATION_CLASS_UID = "2.25.235497671887547345508646228192859970419"
"""Ours (a UUID-derived UID, PS3.5 B.2), announced in every association."""
IMPLEMENTATION_VERSION = "TUI_SENDER_010"

_PDU = struct.Struct(">BBI")
_ITEM = struct.Struct(">BBH")
_FIXED = struct.Struct(">HH16s16s32s")
"""Protocol version, reserved, called AE, calling AE, reserved: after the PDU header."""
_CONTEXT_HEAD = struct.Struct(">BBBB")
_US = struct.Struct(">H")
_UL = struct.Struct(">I")

A_ASSOCIATE_RQ = 0x01
_APPLICATION_CONTEXT_ITEM = 0x10
_CONTEXT_RQ_ITEM = 0x20
_CONTEXT_AC_ITEM = 0x21
_ABSTRACT_SYNTAX = 0x30
_TRANSFER_SYNTAX = 0x40
_USER_INFORMATION = 0x50
_MAX_LENGTH = 0x51
_IMPLEMENTATION_UID = 0x52
_ASYNC_WINDOW = 0x53
_IMPLEMENTATION_VERSION = 0x55


class MalformedPdu(ValueError):
    """An A-ASSOCIATE-AC that does not follow PS3.8 9.3.3 (the message says where)."""


@dataclass(frozen=True, slots=True)
class ContextAnswer:
    """The peer's answer to one proposed presentation context."""

    context_id: int
    result: int
    """0 acceptance, 1 user rejection, 2 no reason, 3 abstract syntax, 4 transfer syntaxes."""
    transfer_syntax_uid: str


@dataclass(frozen=True, slots=True)
class AssociateAccept:
    """What an A-ASSOCIATE-AC says."""

    contexts: tuple[ContextAnswer, ...]
    max_pdu: int = 0
    """The longest P-DATA-TF the peer takes (0: no limit)."""
    implementation_uid: str = ""
    implementation_version: str = ""
    invoked: int = 1
    """Operations we may keep outstanding: 1 when the peer did not answer the window, 0: any."""


def _item(kind: int, body: bytes) -> bytes:
    return _ITEM.pack(kind, 0, len(body)) + body


def _ae(title: str) -> bytes:
    return title.encode("ascii").ljust(16, b" ")[:16]


def encode_associate_rq(
    called_ae: str,
    calling_ae: str,
    contexts: Sequence[tuple[int, str, str]],
    *,
    max_pdu: int,
    outstanding: int = 1,
) -> bytes:
    """An A-ASSOCIATE-RQ proposing ``contexts`` (id, abstract syntax, transfer syntax).

    With ``outstanding`` above 1 it proposes the Asynchronous Operations Window
    (that many invoked, one performed: we perform nothing for the peer).
    """
    items = [_item(_APPLICATION_CONTEXT_ITEM, APPLICATION_CONTEXT.encode("ascii"))]
    for context_id, abstract, transfer in contexts:
        body = (
            _CONTEXT_HEAD.pack(context_id, 0, 0, 0)
            + _item(_ABSTRACT_SYNTAX, abstract.encode("ascii"))
            + _item(_TRANSFER_SYNTAX, transfer.encode("ascii"))
        )
        items.append(_item(_CONTEXT_RQ_ITEM, body))
    user = [
        _item(_MAX_LENGTH, _UL.pack(max_pdu)),
        _item(_IMPLEMENTATION_UID, IMPLEMENTATION_CLASS_UID.encode("ascii")),
        _item(_IMPLEMENTATION_VERSION, IMPLEMENTATION_VERSION.encode("ascii")),
    ]
    if outstanding > 1:
        user.append(_item(_ASYNC_WINDOW, _US.pack(outstanding) + _US.pack(1)))
    items.append(_item(_USER_INFORMATION, b"".join(user)))
    body = _FIXED.pack(1, 0, _ae(called_ae), _ae(calling_ae), b"\x00" * 32) + b"".join(items)
    return _PDU.pack(A_ASSOCIATE_RQ, 0, len(body)) + body


def decode_associate_ac(body: bytes) -> AssociateAccept:
    """The A-ASSOCIATE-AC after its 6-byte PDU header. Raises :class:`MalformedPdu`."""
    if len(body) < _FIXED.size:
        raise MalformedPdu(f"{len(body)} bytes, shorter than the fixed fields (68)")
    contexts: list[ContextAnswer] = []
    user: dict[str, int | str] = {}
    for kind, value in _items(body, _FIXED.size, "A-ASSOCIATE-AC"):
        if kind == _CONTEXT_AC_ITEM:
            contexts.append(_context_answer(value))
        elif kind == _USER_INFORMATION:
            user = _user_information(value)
    return AssociateAccept(
        tuple(contexts),
        max_pdu=int(user.get("max_pdu", 0)),
        implementation_uid=str(user.get("uid", "")),
        implementation_version=str(user.get("version", "")),
        invoked=int(user.get("invoked", 1)),
    )


def _items(data: bytes, start: int, where: str) -> list[tuple[int, bytes]]:
    """The (type, value) items of ``data`` from ``start`` to its end."""
    out = []
    offset = start
    while offset < len(data):
        if offset + _ITEM.size > len(data):
            raise MalformedPdu(f"{where}: an item header cut short at byte {offset}")
        kind, _reserved, length = _ITEM.unpack_from(data, offset)
        offset += _ITEM.size
        if offset + length > len(data):
            raise MalformedPdu(f"{where}: item 0x{kind:02X} runs past the end ({length} bytes)")
        out.append((kind, data[offset : offset + length]))
        offset += length
    return out


def _context_answer(value: bytes) -> ContextAnswer:
    if len(value) < _CONTEXT_HEAD.size:
        raise MalformedPdu("a presentation context item shorter than 4 bytes")
    context_id, _r1, result, _r2 = _CONTEXT_HEAD.unpack_from(value)
    syntax = ""
    for kind, sub in _items(value, _CONTEXT_HEAD.size, f"presentation context {context_id}"):
        if kind == _TRANSFER_SYNTAX:
            syntax = _text(sub)
    return ContextAnswer(context_id, result, syntax)


def _user_information(value: bytes) -> dict[str, int | str]:
    out: dict[str, int | str] = {}
    for kind, sub in _items(value, 0, "user information"):
        if kind == _MAX_LENGTH and len(sub) >= 4:
            out["max_pdu"] = _UL.unpack_from(sub)[0]
        elif kind == _IMPLEMENTATION_UID:
            out["uid"] = _text(sub)
        elif kind == _IMPLEMENTATION_VERSION:
            out["version"] = _text(sub)
        elif kind == _ASYNC_WINDOW and len(sub) >= 4:
            out["invoked"] = _US.unpack_from(sub)[0]
    return out


def _text(raw: bytes) -> str:
    """A UID or name as sent: ASCII, trailing NUL or space padding dropped."""
    return raw.decode("ascii", "replace").rstrip("\x00 ")
