"""Our C-STORE and C-ECHO bytes on the wire are exactly pynetdicom's own encoding.

The data path bypasses pynetdicom's DUL queues for speed (see link.py), so
these tests pin it to pynetdicom's encoder: same command set, same P-DATA-TF
fragmentation at the peer's max PDU, for data sets streamed from a file and
for data sets held in memory.
"""

from __future__ import annotations

import io
import socket
import threading
from pathlib import Path

import pytest
from pydicom.uid import UID
from pynetdicom.dimse_messages import C_ECHO_RQ, C_ECHO_RSP, C_STORE_RQ, C_STORE_RSP
from pynetdicom.dimse_primitives import C_ECHO, C_STORE
from pynetdicom.pdu import P_DATA_TF

from tui_sender.core.model.events import ContextResult
from tui_sender.core.net import wire
from tui_sender.core.net.endpoint import LinkSettings
from tui_sender.core.net.failures import FailureKind, LinkBroken
from tui_sender.core.net.link import Link

CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
INSTANCE = "1.2.826.0.1.3680043.8.498.1234567890.1"


def pynetdicom_c_store_bytes(
    data: bytes, context_id: int, max_pdu: int, message_id: int, priority: int
) -> bytes:
    """What pynetdicom puts on the wire for this C-STORE-RQ."""
    primitive = C_STORE()
    primitive.MessageID = message_id
    primitive.AffectedSOPClassUID = UID(CT)
    primitive.AffectedSOPInstanceUID = UID(INSTANCE)
    primitive.Priority = priority
    primitive.DataSet = io.BytesIO(data)
    message = C_STORE_RQ()
    message.primitive_to_message(primitive)
    out = b""
    for pdata in message.encode_msg(context_id, max_pdu):
        pdu = P_DATA_TF()
        pdu.from_primitive(pdata)
        out += pdu.encode()
    return out


def pynetdicom_c_store_rsp(message_id: int, status: int, comment: str = "") -> bytes:
    """A C-STORE-RSP as pynetdicom's SCP would send it, as one or more PDUs."""
    primitive = C_STORE()
    primitive.MessageIDBeingRespondedTo = message_id
    primitive.AffectedSOPClassUID = UID(CT)
    primitive.AffectedSOPInstanceUID = UID(INSTANCE)
    primitive.Status = status
    if comment:
        primitive.ErrorComment = comment
    message = C_STORE_RSP()
    message.primitive_to_message(primitive)
    out = b""
    for pdata in message.encode_msg(1, 16384):
        pdu = P_DATA_TF()
        pdu.from_primitive(pdata)
        out += pdu.encode()
    return out


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def _make_link(max_pdu: int) -> tuple[Link, socket.socket]:
    ours, peer = socket.socketpair()
    ours.settimeout(5)
    peer.settimeout(5)
    contexts = (ContextResult(1, CT, EXPLICIT, True, "Accepted"),)
    settings = LinkSettings("127.0.0.1", 104, "PEER", "US", dimse_timeout=5, network_timeout=5)
    return Link(ours, settings, max_pdu, contexts), peer


def _exchange(
    link: Link, peer: socket.socket, expected_len: int, send: object, reply: bytes
) -> tuple[bytes, object]:
    """Run a store on the link while the peer end captures bytes and replies."""
    captured: dict[str, bytes] = {}

    def serve() -> None:
        captured["wire"] = _read_exactly(peer, expected_len)
        peer.sendall(reply)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        result = send()  # type: ignore[operator]
    finally:
        thread.join(10)
    return captured["wire"], result


@pytest.mark.parametrize("max_pdu", [4096, 16384, 65536])
@pytest.mark.parametrize("size", [0, 1, 100, 4090, 4091, 16378, 16379, 70_000, 3_000_001])
def test_streamed_file_matches_pynetdicom(tmp_path: Path, max_pdu: int, size: int) -> None:
    """A data set streamed from disk is fragmented and framed exactly like pynetdicom."""
    data = bytes((i * 7 + 3) % 256 for i in range(size))
    offset = 132 + 50  # pretend there is a meta header before the data set
    path = tmp_path / "f.bin"
    path.write_bytes(b"\xee" * offset + data + b"")
    link, peer = _make_link(max_pdu)
    expected = pynetdicom_c_store_bytes(data, 1, max_pdu, 1, wire.PRIORITY_MEDIUM)
    if size == 0:
        # pynetdicom sends no data set PDV for an empty data set; we always
        # send one (empty, last) so the peer sees the data set it was promised.
        expected += wire.pdata_header(1, wire.MCH_LAST, 0)
    with path.open("rb") as f:
        wire_bytes, reply = _exchange(
            link,
            peer,
            len(expected),
            lambda: link.store_file(1, CT, INSTANCE, f.fileno(), offset, size),
            pynetdicom_c_store_rsp(1, 0x0000),
        )
    assert wire_bytes == expected
    assert reply.status == 0x0000  # type: ignore[attr-defined]
    peer.close()


def test_unlimited_peer_pdu_sends_whole_dataset_in_order(tmp_path: Path) -> None:
    """Max PDU 0 (no limit): pynetdicom sends one PDV; we fragment at our own
    buffer size (PS3.8 lets the sender fragment as it likes). The PDVs must
    still carry the data set in order, with only the final one marked last."""
    data = bytes((i * 13) % 251 for i in range(1_500_000))
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    link, peer = _make_link(0)
    command_len = len(pynetdicom_c_store_bytes(b"", 1, 0, 1, 0))
    fragments = -(-len(data) // (256 * 1024))
    expected_len = command_len + len(data) + 12 * fragments
    with path.open("rb") as f:
        wire_bytes, _ = _exchange(
            link,
            peer,
            expected_len,
            lambda: link.store_file(1, CT, INSTANCE, f.fileno(), 0, len(data)),
            pynetdicom_c_store_rsp(1, 0),
        )
    pos, payload, controls = command_len, b"", []
    while pos < len(wire_bytes):
        _, _, length = wire.PDU_HEADER.unpack_from(wire_bytes, pos)
        for _, control, chunk in wire.iter_pdvs(wire_bytes[pos + 6 : pos + 6 + length]):
            payload += chunk
            controls.append(control)
        pos += 6 + length
    assert payload == data
    assert controls == [0] * (fragments - 1) + [wire.MCH_LAST]
    peer.close()


def test_in_memory_dataset_matches_pynetdicom() -> None:
    data = bytes(range(256)) * 300
    link, peer = _make_link(16384)
    expected = pynetdicom_c_store_bytes(data, 1, 16384, 1, wire.PRIORITY_MEDIUM)
    wire_bytes, reply = _exchange(
        link,
        peer,
        len(expected),
        lambda: link.store_bytes(1, CT, INSTANCE, data),
        pynetdicom_c_store_rsp(1, 0xB000, "coerced"),
    )
    assert wire_bytes == expected
    assert reply.status == 0xB000  # type: ignore[attr-defined]
    assert reply.error_comment == "coerced"  # type: ignore[attr-defined]
    peer.close()


def test_command_set_matches_pynetdicom_with_move_originator() -> None:
    ours = wire.encode_c_store_rq(7, CT, INSTANCE, 2, "MOVER", 99)
    primitive = C_STORE()
    primitive.MessageID = 7
    primitive.AffectedSOPClassUID = UID(CT)
    primitive.AffectedSOPInstanceUID = UID(INSTANCE)
    primitive.Priority = 2
    primitive.MoveOriginatorApplicationEntityTitle = "MOVER"
    primitive.MoveOriginatorMessageID = 99
    primitive.DataSet = io.BytesIO(b"\x00\x00")
    message = C_STORE_RQ()
    message.primitive_to_message(primitive)
    pdata = next(message.encode_msg(1, 16384))
    theirs = pdata.presentation_data_value_list[0][1][1:]  # drop the control byte
    assert ours == theirs


def test_response_for_another_instance_is_not_success() -> None:
    """A response naming a different SOP Instance UID never counts as sent."""
    link, peer = _make_link(16384)
    primitive = C_STORE()
    primitive.MessageIDBeingRespondedTo = 1
    primitive.AffectedSOPClassUID = UID(CT)
    primitive.AffectedSOPInstanceUID = UID("1.2.3.4")
    primitive.Status = 0
    message = C_STORE_RSP()
    message.primitive_to_message(primitive)
    pdu = P_DATA_TF()
    pdu.from_primitive(next(message.encode_msg(1, 16384)))
    expected_len = len(pynetdicom_c_store_bytes(b"abcd", 1, 16384, 1, 0))
    with pytest.raises(LinkBroken, match="names SOP Instance"):
        _exchange(
            link,
            peer,
            expected_len,
            lambda: link.store_bytes(1, CT, INSTANCE, b"abcd"),
            pdu.encode(),
        )
    assert link.closed
    peer.close()


def test_peer_abort_is_unknown_outcome() -> None:
    link, peer = _make_link(16384)
    expected_len = len(pynetdicom_c_store_bytes(b"abcd", 1, 16384, 1, 0))
    with pytest.raises(LinkBroken, match="aborted"):
        _exchange(
            link,
            peer,
            expected_len,
            lambda: link.store_bytes(1, CT, INSTANCE, b"abcd"),
            wire.abort_pdu(0, 0),
        )
    peer.close()


def test_decode_command_roundtrip_of_pynetdicom_response() -> None:
    raw = pynetdicom_c_store_rsp(5, 0xA700, "disk full")
    pdvs = wire.iter_pdvs(raw[6:])
    command = wire.decode_command(b"".join(d for _, _, d in pdvs))
    assert command.command_field == wire.C_STORE_RSP
    assert command.status == 0xA700
    assert command.message_id_responded == 5
    assert command.affected_sop_instance_uid == INSTANCE
    assert command.error_comment == "disk full"


def test_decode_command_rejects_truncation() -> None:
    with pytest.raises(wire.CommandDecodeError):
        wire.decode_command(b"\x00\x00\x00\x09\x02\x00\x00\x00\x01")


# -- C-ECHO ----------------------------------------------------------------------------


VERIFICATION = "1.2.840.10008.1.1"


def pynetdicom_c_echo_pdus(message_id: int, context_id: int, max_pdu: int) -> bytes:
    """What pynetdicom's ``send_c_echo`` puts on the wire."""
    primitive = C_ECHO()
    primitive.MessageID = message_id
    primitive.AffectedSOPClassUID = UID(VERIFICATION)
    message = C_ECHO_RQ()
    message.primitive_to_message(primitive)
    out = b""
    for pdata in message.encode_msg(context_id, max_pdu):
        pdu = P_DATA_TF()
        pdu.from_primitive(pdata)
        out += pdu.encode()
    return out


def pynetdicom_c_echo_rsp(message_id: int, status: int) -> bytes:
    primitive = C_ECHO()
    primitive.MessageIDBeingRespondedTo = message_id
    primitive.AffectedSOPClassUID = UID(VERIFICATION)
    primitive.Status = status
    message = C_ECHO_RSP()
    message.primitive_to_message(primitive)
    pdu = P_DATA_TF()
    pdu.from_primitive(next(message.encode_msg(1, 16384)))
    return pdu.encode()


@pytest.mark.parametrize("max_pdu", [0, 40, 4096, 16382])
@pytest.mark.parametrize("message_id", [1, 7, 0xFFFF])
def test_c_echo_rq_matches_pynetdicom(message_id: int, max_pdu: int) -> None:
    """Command set and its P-DATA framing, byte for byte (40: the command is fragmented)."""
    ours = wire.encode_command_pdus(3, wire.encode_c_echo_rq(message_id), max_pdu)
    assert ours == pynetdicom_c_echo_pdus(message_id, 3, max_pdu)


def _make_echo_link() -> tuple[Link, socket.socket]:
    ours, peer = socket.socketpair()
    peer.settimeout(5)
    contexts = (
        ContextResult(1, CT, EXPLICIT, True, "Accepted"),
        ContextResult(3, VERIFICATION, EXPLICIT, False, "User Rejected"),
        ContextResult(5, VERIFICATION, "1.2.840.10008.1.2", True, "Accepted"),
    )
    settings = LinkSettings("127.0.0.1", 104, "PEER", "US", dimse_timeout=5, network_timeout=5)
    return Link(ours, settings, 16382, contexts), peer


def test_echo_goes_on_the_accepted_verification_context_and_returns_the_status() -> None:
    link, peer = _make_echo_link()
    link.next_message_id()  # a C-STORE went first: the echo is message 2
    expected = pynetdicom_c_echo_pdus(2, 5, 16382)
    wire_bytes, status = _exchange(
        link, peer, len(expected), link.echo, pynetdicom_c_echo_rsp(2, 0x0110)
    )
    assert wire_bytes == expected
    assert status == 0x0110
    assert not link.closed
    peer.close()


def test_echo_answered_with_a_store_response_breaks_the_link() -> None:
    link, peer = _make_echo_link()
    expected_len = len(pynetdicom_c_echo_pdus(1, 5, 16382))
    with pytest.raises(LinkBroken, match="instead of a C-ECHO response") as caught:
        _exchange(link, peer, expected_len, link.echo, pynetdicom_c_store_rsp(1, 0))
    assert caught.value.kind is FailureKind.PROTOCOL
    assert link.closed
    peer.close()


def test_echo_aborted_by_the_peer() -> None:
    link, peer = _make_echo_link()
    expected_len = len(pynetdicom_c_echo_pdus(1, 5, 16382))
    with pytest.raises(LinkBroken, match="aborted") as caught:
        _exchange(link, peer, expected_len, link.echo, wire.abort_pdu(2, 0))
    assert caught.value.kind is FailureKind.ABORTED
    peer.close()


def test_echo_without_verification_is_a_programming_error() -> None:
    link, peer = _make_link(16384)
    with pytest.raises(ValueError, match="Verification"):
        link.echo()
    peer.close()
