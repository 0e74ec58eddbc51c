"""Bytes on the wire for the C-STORE and C-ECHO data path (PS3.7 command sets, PS3.8 PDUs).

pynetdicom encodes the association PDUs (see :mod:`tui_sender.core.net.link`);
the DIMSE messages are encoded here instead, because pynetdicom pushes every
P-DATA fragment through Python queues and a state machine polled with 1 ms
sleeps. Everything here is pure (no sockets) so tests can compare it byte for
byte with pynetdicom's own encoder.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# PDU types (PS3.8 9.3.1)
A_ASSOCIATE_RQ = 0x01
A_ASSOCIATE_AC = 0x02
A_ASSOCIATE_RJ = 0x03
P_DATA_TF = 0x04
A_RELEASE_RQ = 0x05
A_RELEASE_RP = 0x06
A_ABORT = 0x07

PDU_HEADER = struct.Struct(">BBI")
"""PDU type, reserved, length of what follows."""
PDV_HEADER = struct.Struct(">IBB")
"""PDV item length (context id + control + data), context id, message control header."""
PDATA_OVERHEAD = PDU_HEADER.size + PDV_HEADER.size
"""Bytes before the data of a P-DATA-TF PDU carrying one PDV: 12."""

# Message control header bits (PS3.8 E.2)
MCH_COMMAND = 0x01
MCH_LAST = 0x02

C_STORE_RQ = 0x0001
C_STORE_RSP = 0x8001
C_ECHO_RQ = 0x0030
C_ECHO_RSP = 0x8030
C_FIND_RQ = 0x0020
C_FIND_RSP = 0x8020
DATASET_PRESENT = 0x0001
NO_DATASET = 0x0101

PRIORITY_MEDIUM = 0x0000

VERIFICATION_SOP_CLASS = "1.2.840.10008.1.1"
"""The Verification SOP Class: the abstract syntax C-ECHO runs on."""

_ELEMENT = struct.Struct("<HHI")
_US = struct.Struct("<H")
_UL = struct.Struct("<I")

A_RELEASE_RQ_PDU = PDU_HEADER.pack(A_RELEASE_RQ, 0, 4) + b"\x00\x00\x00\x00"
A_RELEASE_RP_PDU = PDU_HEADER.pack(A_RELEASE_RP, 0, 4) + b"\x00\x00\x00\x00"


def abort_pdu(source: int = 0, reason: int = 0) -> bytes:
    """An A-ABORT PDU (source 0: service user, i.e. us)."""
    return PDU_HEADER.pack(A_ABORT, 0, 4) + bytes((0, 0, source, reason))


def _uid(value: str) -> bytes:
    raw = value.encode("ascii")
    return raw + b"\x00" if len(raw) % 2 else raw


def _element(group: int, elem: int, value: bytes) -> bytes:
    return _ELEMENT.pack(group, elem, len(value)) + value


def encode_c_store_rq(
    message_id: int,
    sop_class_uid: str,
    sop_instance_uid: str,
    priority: int = PRIORITY_MEDIUM,
    move_originator_ae: str | None = None,
    move_originator_id: int | None = None,
) -> bytes:
    """The C-STORE-RQ command set, Implicit VR Little Endian (PS3.7 9.3.1.1)."""
    body = [
        _element(0x0000, 0x0002, _uid(sop_class_uid)),
        _element(0x0000, 0x0100, _US.pack(C_STORE_RQ)),
        _element(0x0000, 0x0110, _US.pack(message_id)),
        _element(0x0000, 0x0700, _US.pack(priority)),
        _element(0x0000, 0x0800, _US.pack(DATASET_PRESENT)),
        _element(0x0000, 0x1000, _uid(sop_instance_uid)),
    ]
    if move_originator_ae is not None:
        ae = move_originator_ae.encode("ascii")
        body.append(_element(0x0000, 0x1030, ae + b" " if len(ae) % 2 else ae))
    if move_originator_id is not None:
        body.append(_element(0x0000, 0x1031, _US.pack(move_originator_id)))
    return _command_set(body)


def encode_c_echo_rq(message_id: int) -> bytes:
    """The C-ECHO-RQ command set, Implicit VR Little Endian (PS3.7 9.3.5.1); no data set."""
    return _command_set(
        [
            _element(0x0000, 0x0002, _uid(VERIFICATION_SOP_CLASS)),
            _element(0x0000, 0x0100, _US.pack(C_ECHO_RQ)),
            _element(0x0000, 0x0110, _US.pack(message_id)),
            _element(0x0000, 0x0800, _US.pack(NO_DATASET)),
        ]
    )


def encode_c_find_rq(message_id: int, sop_class_uid: str) -> bytes:
    """The C-FIND-RQ command set, Implicit VR Little Endian (PS3.7 9.3.2.1); an identifier
    follows."""
    return _command_set(
        [
            _element(0x0000, 0x0002, _uid(sop_class_uid)),
            _element(0x0000, 0x0100, _US.pack(C_FIND_RQ)),
            _element(0x0000, 0x0110, _US.pack(message_id)),
            _element(0x0000, 0x0700, _US.pack(PRIORITY_MEDIUM)),
            _element(0x0000, 0x0800, _US.pack(DATASET_PRESENT)),
        ]
    )


def _command_set(elements: list[bytes]) -> bytes:
    """The elements (in tag order) behind their (0000,0000) Command Group Length."""
    encoded = b"".join(elements)
    return _element(0x0000, 0x0000, _UL.pack(len(encoded))) + encoded


def pdata_header(context_id: int, control: int, data_length: int) -> bytes:
    """The 12 bytes before one PDV's data in its own P-DATA-TF PDU."""
    return PDU_HEADER.pack(P_DATA_TF, 0, data_length + 6) + PDV_HEADER.pack(
        data_length + 2, context_id, control
    )


def fragment_size(peer_max_pdu: int, ceiling: int) -> int:
    """Largest PDV data we may put in one P-DATA-TF PDU.

    The peer's Maximum Length Received bounds the PDU's variable part, which
    holds the PDV item (4 byte length, context id, control header) and the
    data: so ``max - 6`` (as pynetdicom does). 0 means no limit; we then use
    ``ceiling`` so a fragment still fits our reusable buffer.
    """
    if peer_max_pdu <= 0:
        return ceiling
    return max(1, min(peer_max_pdu - 6, ceiling))


def encode_command_pdus(context_id: int, command: bytes, peer_max_pdu: int) -> bytes:
    """The command set as one or more P-DATA-TF PDUs, like pynetdicom fragments it."""
    return _fragments(context_id, command, peer_max_pdu, MCH_COMMAND)


def encode_dataset_pdus(context_id: int, dataset: bytes, peer_max_pdu: int) -> bytes:
    """A small data set (a query identifier) as one or more P-DATA-TF PDUs."""
    return _fragments(context_id, dataset, peer_max_pdu, 0)


def _fragments(context_id: int, data: bytes, peer_max_pdu: int, kind: int) -> bytes:
    size = fragment_size(peer_max_pdu, max(len(data), 1))
    out = bytearray()
    for start in range(0, max(len(data), 1), size):
        chunk = data[start : start + size]
        last = start + size >= len(data)
        control = kind | (MCH_LAST if last else 0)
        out += pdata_header(context_id, control, len(chunk)) + chunk
    return bytes(out)


@dataclass(frozen=True, slots=True)
class CommandSet:
    """A decoded DIMSE command set: the elements a sender needs, raw otherwise."""

    elements: dict[int, bytes]

    def us(self, tag: int) -> int | None:
        """An unsigned short element, or None when absent."""
        raw = self.elements.get(tag)
        return _US.unpack_from(raw)[0] if raw is not None and len(raw) >= 2 else None

    def text(self, tag: int) -> str:
        """A text or UID element without padding, '' when absent."""
        raw = self.elements.get(tag)
        if raw is None:
            return ""
        return raw.rstrip(b"\x00 ").decode("ascii", "replace")

    @property
    def command_field(self) -> int | None:
        """(0000,0100): what kind of message this is."""
        return self.us(0x00000100)

    @property
    def status(self) -> int | None:
        """(0000,0900) Status, None when missing (an invalid response)."""
        return self.us(0x00000900)

    @property
    def message_id_responded(self) -> int | None:
        """(0000,0120) Message ID Being Responded To."""
        return self.us(0x00000120)

    @property
    def has_dataset(self) -> bool:
        """(0000,0800) Command Data Set Type: anything but 0x0101 means a data set follows."""
        return self.us(0x00000800) not in (None, NO_DATASET)

    @property
    def affected_sop_instance_uid(self) -> str:
        """(0000,1000) Affected SOP Instance UID."""
        return self.text(0x00001000)

    @property
    def error_comment(self) -> str:
        """(0000,0902) Error Comment, if the peer sent one."""
        return self.text(0x00000902)

    @property
    def offending_elements(self) -> str:
        """(0000,0901) Offending Element tags as hex, if sent."""
        raw = self.elements.get(0x00000901, b"")
        tags = [struct.unpack_from("<HH", raw, i) for i in range(0, len(raw) - 3, 4)]
        return ", ".join(f"({g:04X},{e:04X})" for g, e in tags)


class CommandDecodeError(ValueError):
    """The peer sent a command set we cannot parse."""


def decode_command(data: bytes) -> CommandSet:
    """Parse an Implicit VR Little Endian command set (group 0000 only)."""
    elements: dict[int, bytes] = {}
    pos = 0
    end = len(data)
    while pos < end:
        if pos + 8 > end:
            raise CommandDecodeError(f"command set truncated at byte {pos} of {end}")
        group, elem, length = _ELEMENT.unpack_from(data, pos)
        pos += 8
        if length == 0xFFFFFFFF or pos + length > end:
            raise CommandDecodeError(f"bad length for ({group:04X},{elem:04X})")
        elements[(group << 16) | elem] = bytes(data[pos : pos + length])
        pos += length
    return CommandSet(elements)


def encode_pdv_items(items: list[tuple[int, int, bytes]]) -> bytes:
    """One P-DATA-TF PDU holding several PDVs (context id, control, data): for tests."""
    body = b"".join(PDV_HEADER.pack(len(d) + 2, cid, ctl) + d for cid, ctl, d in items)
    return PDU_HEADER.pack(P_DATA_TF, 0, len(body)) + body


def iter_pdvs(body: bytes) -> list[tuple[int, int, bytes]]:
    """Split a P-DATA-TF PDU body into (context id, control, data) PDVs."""
    pdvs = []
    pos = 0
    while pos < len(body):
        if pos + 6 > len(body):
            raise CommandDecodeError("P-DATA-TF PDV item truncated")
        length, context_id, control = PDV_HEADER.unpack_from(body, pos)
        if length < 2 or pos + 4 + length > len(body):
            raise CommandDecodeError("P-DATA-TF PDV item length out of range")
        pdvs.append((context_id, control, bytes(body[pos + 6 : pos + 4 + length])))
        pos += 4 + length
    return pdvs
