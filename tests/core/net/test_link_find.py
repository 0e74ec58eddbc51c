"""``Link.find``: C-FIND on the product's own association, as verification uses it.

A pynetdicom Query/Retrieve SCP on 127.0.0.1 answers; its Maximum Length
Received and ours are small, so the identifier we send and every match it
returns travel in several P-DATA fragments. What the SCP received and what we
decoded are compared value for value.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import BytesIO
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, evt
from pynetdicom.dsutils import decode, encode

from tests.core.net.test_link import QUICK, settings
from tui_sender.core.model.events import ContextResult
from tui_sender.core.net import wire
from tui_sender.core.net.failures import FailureKind, LinkBroken
from tui_sender.core.net.link import Link
from tui_sender.core.net.opening import ProposedContext, open_link
from tui_sender.core.verify.association import no_delay
from tui_sender.demo.receiver import serve_in_background, shutdown_server

pytestmark = pytest.mark.timeout(60)

STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
ELE = str(ExplicitVRLittleEndian)
ILE = str(ImplicitVRLittleEndian)
Answer = Callable[[Dataset], Iterator[tuple[int, Dataset | None]]]


@contextmanager
def query_scp(answer: Answer, *, max_pdu: int, syntax: str) -> Iterator[tuple[int, list[Dataset]]]:
    """A Study Root FIND SCP answering each query with ``answer``; yields its port and queries."""
    queries: list[Dataset] = []

    def on_find(event: evt.Event) -> Iterator[tuple[int, Dataset | None]]:
        queries.append(event.identifier)
        yield from answer(event.identifier)

    ae = AE(ae_title="FINDER")
    ae.add_supported_context(STUDY_ROOT_FIND, syntax)
    ae.maximum_pdu_size = max_pdu
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = QUICK
    handlers: list[Any] = [(evt.EVT_C_FIND, on_find), (evt.EVT_CONN_OPEN, no_delay)]  # quick
    server = serve_in_background(ae, ("127.0.0.1", 0), handlers)
    try:
        yield int(server.server_address[1]), queries
    finally:
        shutdown_server(server)


def _identifier(series_uid: str) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = "IMAGE"
    ds.StudyInstanceUID = "2.25.1"
    ds.SeriesInstanceUID = series_uid
    ds.SOPInstanceUID = ""
    ds.PatientComments = " ".join(["a comment long enough to need several fragments"] * 8)
    return ds


def _matches(count: int) -> Answer:
    def answer(query: Dataset) -> Iterator[tuple[int, Dataset | None]]:
        for n in range(1, count + 1):
            match = Dataset()
            match.QueryRetrieveLevel = "IMAGE"
            match.SeriesInstanceUID = query.SeriesInstanceUID
            match.SOPInstanceUID = f"{query.SeriesInstanceUID}.{n}"
            match.PatientComments = query.PatientComments
            yield 0xFF00, match

    return answer


@pytest.mark.parametrize("syntax", [ELE, ILE])
def test_every_match_arrives_through_small_fragments(syntax: str) -> None:
    implicit = syntax == ILE
    with query_scp(_matches(40), max_pdu=128, syntax=syntax) as (port, queries):
        link = open_link(
            settings(port, "FINDER", max_pdu=200),
            [ProposedContext(STUDY_ROOT_FIND, ELE), ProposedContext(STUDY_ROOT_FIND, ILE)],
        )
        context = link.context_for(STUDY_ROOT_FIND)
        assert context is not None and context.transfer_syntax_uid == syntax
        sent = _identifier("2.25.7")
        raw = encode(sent, implicit, True)
        assert raw is not None and len(raw) > 128 * 2
        status, matches = link.find(STUDY_ROOT_FIND, raw)
        assert link.release()
    assert status == 0x0000
    assert encode(queries[0], implicit, True) == raw  # the identifier arrived whole
    decoded = [decode(BytesIO(m), implicit, True) for m in matches]
    assert [str(m.SOPInstanceUID) for m in decoded] == [f"2.25.7.{n}" for n in range(1, 41)]
    assert {str(m.PatientComments) for m in decoded} == {sent.PatientComments}


def test_many_quick_queries_lose_no_match() -> None:
    """300 queries on one association, each answered whole and in order (message IDs
    count up, no response is left behind for the next query)."""
    with query_scp(_matches(3), max_pdu=16384, syntax=ELE) as (port, _queries):
        link = open_link(settings(port, "FINDER"), [ProposedContext(STUDY_ROOT_FIND, ELE)])
        counts = [
            len(link.find(STUDY_ROOT_FIND, encode(_identifier(f"2.25.{n}"), False, True) or b"")[1])
            for n in range(300)
        ]
        assert link.release()
    assert counts == [3] * 300


def test_a_failure_status_is_returned_with_the_matches_before_it() -> None:
    def answer(query: Dataset) -> Iterator[tuple[int, Dataset | None]]:
        yield from _matches(2)(query)
        yield 0xA700, None

    with query_scp(answer, max_pdu=16384, syntax=ELE) as (port, _queries):
        link = open_link(settings(port, "FINDER"), [ProposedContext(STUDY_ROOT_FIND, ELE)])
        status, matches = link.find(
            STUDY_ROOT_FIND, encode(_identifier("2.25.9"), False, True) or b""
        )
        assert link.release()
    assert (status, len(matches)) == (0xA700, 2)


def test_no_answer_within_the_dimse_timeout_breaks_the_link() -> None:
    def answer(query: Dataset) -> Iterator[tuple[int, Dataset | None]]:
        time.sleep(3.0)
        yield from _matches(1)(query)

    with query_scp(answer, max_pdu=16384, syntax=ELE) as (port, _queries):
        link = open_link(
            settings(port, "FINDER", dimse_timeout=0.5), [ProposedContext(STUDY_ROOT_FIND, ELE)]
        )
        with pytest.raises(LinkBroken) as caught:
            link.find(STUDY_ROOT_FIND, encode(_identifier("2.25.9"), False, True) or b"")
    assert caught.value.kind is FailureKind.TIMEOUT
    assert "no C-FIND response within 0.5 s" in str(caught.value)
    assert link.closed


def test_find_on_a_class_not_accepted_is_refused_before_sending() -> None:
    with query_scp(_matches(1), max_pdu=16384, syntax=ELE) as (port, queries):
        link = open_link(settings(port, "FINDER"), [ProposedContext(STUDY_ROOT_FIND, ELE)])
        with pytest.raises(ValueError, match="not accepted"):
            link.find("1.2.840.10008.5.1.4.1.2.1.1", b"")
        assert link.release()
    assert queries == []


def _find_rsp(message_id: int, status: int, with_dataset: bool) -> bytes:
    """A C-FIND-RSP command set as an archive sends it (Implicit VR Little Endian)."""
    elements = [
        (0x0002, wire._uid(STUDY_ROOT_FIND)),
        (0x0100, struct.pack("<H", wire.C_FIND_RSP)),
        (0x0120, struct.pack("<H", message_id)),
        (0x0800, struct.pack("<H", wire.DATASET_PRESENT if with_dataset else wire.NO_DATASET)),
        (0x0900, struct.pack("<H", status)),
    ]
    body = b"".join(struct.pack("<HHI", 0, e, len(v)) + v for e, v in elements)
    return struct.pack("<HHII", 0, 0, 4, len(body)) + body


def test_command_and_data_set_fragments_sharing_one_pdu_are_both_read() -> None:
    """PS3.8 lets one P-DATA-TF carry several PDVs: the end of a response's command set,
    its data set, and the next response. Nothing of them may be dropped or mixed up."""
    ours, theirs = socket.socketpair()
    link = Link(ours, settings(0), 16384, (ContextResult(1, STUDY_ROOT_FIND, ELE, True, "ok"),))
    matches = [encode(_identifier(f"2.25.{n}"), False, True) or b"" for n in (1, 2)]

    def archive() -> None:
        request = theirs.recv(65536)  # the C-FIND-RQ and its identifier, a few hundred bytes
        assert request[0] == wire.P_DATA_TF
        first, second, final = (_find_rsp(1, status, status != 0) for status in (0xFF00, 0xFF01, 0))
        cmd, last = wire.MCH_COMMAND, wire.MCH_LAST
        theirs.sendall(
            wire.encode_pdv_items(
                [(1, cmd, first[:20]), (1, cmd | last, first[20:]),
                 (1, 0, matches[0][:50]), (1, last, matches[0][50:]), (1, cmd | last, second)]
            )
            + wire.encode_pdv_items([(1, last, matches[1]), (1, cmd | last, final)])
        )  # fmt: skip

    answering = threading.Thread(target=archive, daemon=True)
    answering.start()
    status, received = link.find(STUDY_ROOT_FIND, encode(_identifier("2.25.0"), False, True) or b"")
    answering.join(5)
    link.abort()
    theirs.close()
    assert (status, received) == (0x0000, matches)
