"""Our A-ASSOCIATE-RQ encoder and A-ASSOCIATE-AC decoder against pynetdicom's, byte for byte.

Real peers (DCMTK storescp, Orthanc, the scripted pynetdicom SCP) answer
these PDUs in tests/core/net/test_link.py and every send test; here the
bytes themselves are compared with pynetdicom's encoder, the reference.
"""

from __future__ import annotations

import pytest
from pydicom.uid import UID
from pynetdicom.pdu import A_ASSOCIATE_AC, A_ASSOCIATE_RQ
from pynetdicom.pdu_primitives import (
    A_ASSOCIATE,
    AsynchronousOperationsWindowNegotiation,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
    MaximumLengthNotification,
    SCP_SCU_RoleSelectionNegotiation,
)
from pynetdicom.presentation import PresentationContext
from pynetdicom.transport import AddressInformation

from tui_sender.core.net.association_pdus import (
    APPLICATION_CONTEXT,
    IMPLEMENTATION_CLASS_UID,
    IMPLEMENTATION_VERSION,
    ContextAnswer,
    MalformedPdu,
    decode_associate_ac,
    encode_associate_rq,
)

CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"
RLE = "1.2.840.10008.1.2.5"


def _user_items(max_pdu: int, window: int | None) -> list[object]:
    length = MaximumLengthNotification()
    length.maximum_length_received = max_pdu
    uid = ImplementationClassUIDNotification()
    uid.implementation_class_uid = UID(IMPLEMENTATION_CLASS_UID)
    version = ImplementationVersionNameNotification()
    version.implementation_version_name = IMPLEMENTATION_VERSION
    items: list[object] = [length, uid, version]
    if window is not None:
        async_ops = AsynchronousOperationsWindowNegotiation()
        async_ops.maximum_number_operations_invoked = window
        async_ops.maximum_number_operations_performed = 1
        items.append(async_ops)
    return items


def _pynetdicom_rq(contexts: list[tuple[int, str, str]], max_pdu: int, window: int | None) -> bytes:
    primitive = A_ASSOCIATE()
    primitive.application_context_name = UID(APPLICATION_CONTEXT)
    primitive.calling_ae_title = "TUI_SENDER"
    primitive.called_ae_title = "ARCHIVE"
    primitive.calling_presentation_address = AddressInformation("127.0.0.1", 50000)
    primitive.called_presentation_address = AddressInformation("127.0.0.1", 104)
    proposed = []
    for context_id, abstract, transfer in contexts:
        cx = PresentationContext()
        cx.context_id = context_id
        cx.abstract_syntax = UID(abstract)
        cx.transfer_syntax = [UID(transfer)]
        proposed.append(cx)
    primitive.presentation_context_definition_list = proposed
    primitive.user_information = _user_items(max_pdu, window)
    pdu = A_ASSOCIATE_RQ()
    pdu.from_primitive(primitive)
    return bytes(pdu.encode())


@pytest.mark.parametrize("window", [None, 16])
def test_the_request_is_pynetdicoms_byte_for_byte(window: int | None) -> None:
    contexts = [(1, CT, EXPLICIT), (3, CT, IMPLICIT), (5, MR, RLE), (7, "1.2.3.4.555", IMPLICIT)]
    ours = encode_associate_rq(
        "ARCHIVE", "TUI_SENDER", contexts, max_pdu=16382, outstanding=window or 1
    )
    assert ours == _pynetdicom_rq(contexts, 16382, window)


def _pynetdicom_ac(answers: list[tuple[int, int, str]], window: int | None) -> bytes:
    primitive = A_ASSOCIATE()
    primitive.application_context_name = UID(APPLICATION_CONTEXT)
    primitive.calling_ae_title = "TUI_SENDER"
    primitive.called_ae_title = "ARCHIVE"
    primitive.result = 0x00
    results = []
    for context_id, result, transfer in answers:
        cx = PresentationContext()
        cx.context_id = context_id
        cx.result = result
        cx.transfer_syntax = [UID(transfer)]
        results.append(cx)
    primitive.presentation_context_definition_results_list = results
    length = MaximumLengthNotification()
    length.maximum_length_received = 28672
    uid = ImplementationClassUIDNotification()
    uid.implementation_class_uid = UID("1.2.276.0.7230010.3.0.3.6.7")
    version = ImplementationVersionNameNotification()
    version.implementation_version_name = "OFFIS_DCMTK_367"
    role = SCP_SCU_RoleSelectionNegotiation()  # an item we do not read: skipped
    role.sop_class_uid = UID(CT)
    role.scu_role = True
    role.scp_role = False
    items: list[object] = [length, uid, role, version]
    if window is not None:
        async_ops = AsynchronousOperationsWindowNegotiation()
        async_ops.maximum_number_operations_invoked = window
        async_ops.maximum_number_operations_performed = 1
        items.append(async_ops)
    primitive.user_information = items
    pdu = A_ASSOCIATE_AC()
    pdu.from_primitive(primitive)
    return bytes(pdu.encode())


def test_an_answer_is_read_as_pynetdicom_encodes_it() -> None:
    answers = [(1, 0, EXPLICIT), (3, 4, IMPLICIT), (5, 3, RLE)]
    accept = decode_associate_ac(_pynetdicom_ac(answers, window=8)[6:])
    assert accept.contexts == (
        ContextAnswer(1, 0, EXPLICIT),
        ContextAnswer(3, 4, IMPLICIT),
        ContextAnswer(5, 3, RLE),
    )
    assert accept.max_pdu == 28672
    assert accept.implementation_uid == "1.2.276.0.7230010.3.0.3.6.7"
    assert accept.implementation_version == "OFFIS_DCMTK_367"
    assert accept.invoked == 8
    # No window in the answer: one operation at a time.
    assert decode_associate_ac(_pynetdicom_ac(answers, window=None)[6:]).invoked == 1


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"\x00" * 20, "shorter than the fixed fields"),
        (b"\x00" * 68 + b"\x21\x00\x00\x10\x01", "runs past the end"),
        (b"\x00" * 68 + b"\x21\x00", "cut short"),
        (b"\x00" * 68 + b"\x21\x00\x00\x02\x01\x00", "shorter than 4 bytes"),
    ],
)
def test_a_malformed_answer_is_refused_with_where_it_went_wrong(body: bytes, where: str) -> None:
    with pytest.raises(MalformedPdu, match=where):
        decode_associate_ac(body)
