"""``open_link`` against real peers: the one way the product associates (send, echo, probe).

Scripted pynetdicom SCPs (``scp_factory``, or one built here when the test
must watch the wire: PDU sizes, release versus abort) and DCMTK storescp.
Every peer listens on 127.0.0.1 on a free port and is stopped by the
fixture; every wait is a few seconds at most.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import BytesIO
from typing import Any, cast

import pytest
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEG2000Lossless
from pynetdicom import AE, evt
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.dsutils import encode
from pynetdicom.pdu import P_DATA_TF
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    CTImageStorage,
    MRImageStorage,
    Verification,
)

from peers.pynetdicom_scp import ScriptedSCP
from tui_sender.core.net.endpoint import LinkSettings
from tui_sender.core.net.failures import AssociationError, FailureKind, LinkBroken, Rejection
from tui_sender.core.net.link import Link
from tui_sender.core.net.opening import ProposedContext, open_link
from tui_sender.demo.receiver import part10_dataset_offset, serve_in_background, shutdown_server

pytestmark = pytest.mark.timeout(60)

CT = str(CTImageStorage)
MR = str(MRImageStorage)
VERIFICATION = str(Verification)
ELE = str(ExplicitVRLittleEndian)
ILE = str(ImplicitVRLittleEndian)
J2K = str(JPEG2000Lossless)
CALLING = "TEST_SCU"
QUICK = 3.0


def settings(port: int, called_ae: str = "SCRIPTED_SCP", **options: Any) -> LinkSettings:
    """Our side, with every wait short enough for a test."""
    waits = {
        "connect_timeout": QUICK,
        "acse_timeout": QUICK,
        "dimse_timeout": QUICK,
        "network_timeout": QUICK,
    }
    return LinkSettings("127.0.0.1", port, called_ae, CALLING, **{**waits, **options})


def ct_dataset(uid: str, payload_bytes: int) -> bytes:
    """A CT data set in Explicit VR Little Endian, ``payload_bytes`` of pixel data."""
    ds = Dataset()
    ds.SOPClassUID = CT
    ds.SOPInstanceUID = uid
    ds.add_new(0x7FE00010, "OB", bytes(i % 251 for i in range(payload_bytes)))
    return cast(bytes, encode(ds, False, True))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- an established association -------------------------------------------------------------


def test_established_association_reports_contexts_and_the_peer(
    scp_factory: Callable[..., ScriptedSCP],
) -> None:
    scp = scp_factory(sop_classes=[CT, VERIFICATION], transfer_syntaxes=[ELE], max_pdu=4096)
    proposed = [
        ProposedContext(CT, J2K),
        ProposedContext(CT, ELE),
        ProposedContext(CT, ILE),
        ProposedContext(MR, ELE),
        ProposedContext(VERIFICATION, ELE),
    ]
    nodelay: list[int] = []

    def on_socket(sock: socket.socket) -> None:
        nodelay.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    link = open_link(settings(scp.port), proposed, on_socket)
    try:
        assert [(c.context_id, c.accepted, c.result) for c in link.contexts] == [
            (1, False, "Transfer Syntax(es) Not Supported"),
            (3, True, "Accepted"),
            (5, False, "Transfer Syntax(es) Not Supported"),
            (7, False, "Abstract Syntax Not Supported"),
            (9, True, "Accepted"),
        ]
        assert link.accepted == {(CT, ELE): 3, (VERIFICATION, ELE): 9}
        assert link.peer_max_pdu == 4096
        assert link.peer_implementation_version.startswith("PYNETDICOM")
        assert link.peer_implementation_uid.startswith("1.2.826.0.1.3680043.9.3811.")
        assert nodelay == [1]  # no 40 ms delayed-ACK wait per small PDU
        assert link.echo() == 0x0000

        data = ct_dataset("1.2.3.4.100", 100_000)
        reply = link.store_bytes(3, CT, "1.2.3.4.100", data)
        assert reply.status == 0x0000
    finally:
        released = link.release()
    assert released and link.closed
    stored = scp.stored()["1.2.3.4.100"]
    assert stored.dataset == data
    assert stored.transfer_syntax_uid == ELE
    assert stored.call.calling_ae_title == CALLING


@contextmanager
def watching_scp(max_pdu: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """A pynetdicom storage SCP that records P-DATA sizes, data sets, release and abort."""
    seen: dict[str, Any] = {
        "pdata_lengths": [],
        "datasets": {},
        "released": threading.Event(),
        "aborted": threading.Event(),
    }

    def on_pdu(event: evt.Event) -> None:
        if isinstance(event.pdu, P_DATA_TF):
            seen["pdata_lengths"].append(event.pdu.pdu_length)

    def on_store(event: evt.Event) -> int:
        request = cast(C_STORE, event.request)
        dataset = cast(BytesIO, request.DataSet).getvalue()
        seen["datasets"][str(request.AffectedSOPInstanceUID)] = dataset
        return 0x0000

    ae = AE(ae_title="WATCHER")
    ae.add_supported_context(CT, ELE)
    ae.maximum_pdu_size = max_pdu
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = QUICK
    server = serve_in_background(
        ae,
        ("127.0.0.1", 0),
        [
            (evt.EVT_PDU_RECV, on_pdu),
            (evt.EVT_C_STORE, on_store),
            (evt.EVT_RELEASED, lambda event: seen["released"].set()),
            (evt.EVT_ABORTED, lambda event: seen["aborted"].set()),
        ],
    )
    try:
        yield int(server.server_address[1]), seen
    finally:
        shutdown_server(server)


def test_every_pdata_fits_the_peer_max_pdu_and_release_is_a_release() -> None:
    data = ct_dataset("1.2.3.4.101", 100_000)
    with watching_scp(max_pdu=4096) as (port, seen):
        link = open_link(settings(port, "WATCHER"), [ProposedContext(CT, ELE)])
        assert link.peer_max_pdu == 4096
        assert link.store_bytes(1, CT, "1.2.3.4.101", data).status == 0x0000
        assert link.release()
        assert seen["released"].wait(5)
        assert not seen["aborted"].is_set()
    assert seen["datasets"]["1.2.3.4.101"] == data
    lengths = seen["pdata_lengths"]
    assert max(lengths) <= 4096
    assert max(lengths) == 4096  # full fragments, not needlessly small ones
    assert len(lengths) == 1 + -(-len(data) // (4096 - 6))  # one command PDU, then the data


def test_abort_is_an_abort() -> None:
    with watching_scp(max_pdu=16382) as (port, seen):
        link = open_link(settings(port, "WATCHER"), [ProposedContext(CT, ELE)])
        link.abort()
        assert seen["aborted"].wait(5)
        assert not seen["released"].is_set()
    assert link.closed and not link.release()


# -- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codes", "kind", "retryable", "text"),
    [
        (
            (1, 1, 3),
            FailureKind.REJECTED_PERMANENT,
            False,
            f"calling AE title {CALLING!r} not recognised: ask the PACS administrator to "
            f"register our calling AE title {CALLING!r}",
        ),
        (
            (1, 1, 7),
            FailureKind.REJECTED_PERMANENT,
            False,
            "called AE title 'SCRIPTED_SCP' not recognised: check the destination's AE title",
        ),
        (
            (2, 3, 2),
            FailureKind.REJECTED_TRANSIENT,
            True,
            "its association limit is reached: try again later, or use fewer workers",
        ),
    ],
)
def test_rejections_say_what_to_fix(
    scp_factory: Callable[..., ScriptedSCP],
    codes: tuple[int, int, int],
    kind: FailureKind,
    retryable: bool,
    text: str,
) -> None:
    scp = scp_factory(reject=codes)
    with pytest.raises(AssociationError) as caught:
        open_link(settings(scp.port), [ProposedContext(CT, ELE)])
    error = caught.value
    assert error.kind is kind
    assert error.retryable is retryable
    assert error.rejection == Rejection(*codes)
    how = "permanently" if codes[0] == 1 else "transiently"
    assert error.message.startswith(
        f"association {how} rejected by SCRIPTED_SCP@127.0.0.1:{scp.port}: "
    )
    assert text in error.message
    assert scp.association_requests == 1 and scp.association_count == 0


def test_connection_refused_is_fast_and_says_what_to_check() -> None:
    port = free_port()
    started = time.monotonic()
    with pytest.raises(AssociationError) as caught:
        open_link(settings(port), [ProposedContext(CT, ELE)])
    assert time.monotonic() - started < 1.0
    assert caught.value.kind is FailureKind.UNREACHABLE and caught.value.retryable
    assert caught.value.message == (
        f"connection refused: nothing is listening on 127.0.0.1:{port}: is the PACS running, "
        "is the port right?"
    )


def test_listener_that_never_answers_hits_the_acse_timeout() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(AssociationError) as caught:
            open_link(settings(port, "SILENT", acse_timeout=0.5), [ProposedContext(CT, ELE)])
        elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 2.0
    assert caught.value.kind is FailureKind.TIMEOUT and caught.value.retryable
    assert caught.value.message == (
        f"SILENT@127.0.0.1:{port} accepted the connection but did not answer the association "
        "request within 0.5 s (ACSE timeout): is this port a DICOM service, is the PACS hung?"
    )


def test_shutting_the_socket_interrupts_the_association_request() -> None:
    """The cancel path before a Link exists: ``on_socket`` hands the socket to a canceller."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def cancel_soon(sock: socket.socket) -> None:
            threading.Timer(0.2, sock.shutdown, [socket.SHUT_RDWR]).start()

        started = time.monotonic()
        with pytest.raises(AssociationError):
            open_link(settings(port, acse_timeout=5), [ProposedContext(CT, ELE)], cancel_soon)
        assert time.monotonic() - started < 1.0


def test_all_contexts_rejected(scp_factory: Callable[..., ScriptedSCP]) -> None:
    scp = scp_factory(sop_classes=[CT])
    proposed = [ProposedContext(MR, ELE), ProposedContext(MR, ILE)]
    with pytest.raises(AssociationError) as caught:
        open_link(settings(scp.port), proposed)
    error = caught.value
    assert error.kind is FailureKind.NO_CONTEXTS and not error.retryable
    assert "accepted none of the 2 proposed presentation contexts" in error.message
    answers = [(c.sop_class_uid, c.transfer_syntax_uid, c.accepted) for c in error.contexts]
    assert answers == [(MR, ELE, False), (MR, ILE, False)]
    assert {c.result for c in error.contexts} == {"Abstract Syntax Not Supported"}


def test_interrupt_unblocks_a_worker_waiting_for_a_slow_scp(
    scp_factory: Callable[..., ScriptedSCP],
) -> None:
    scp = scp_factory(sleep=5)
    link = open_link(settings(scp.port, dimse_timeout=10), [ProposedContext(CT, ELE)])
    outcome: dict[str, Any] = {}

    def worker() -> None:
        try:
            outcome["reply"] = link.store_bytes(1, CT, "1.2.3.4.102", ct_dataset("1.2.3.4.102", 10))
        except LinkBroken as exc:
            outcome["error"] = exc
            outcome["at"] = time.monotonic()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        scp.wait_for(1, timeout=5)  # the SCP holds the request: the worker waits for its answer
        interrupted_at = time.monotonic()
        link.interrupt()
        thread.join(2)
    finally:
        link.abort()
        thread.join(5)
    assert "reply" not in outcome
    error = outcome["error"]
    assert isinstance(error, LinkBroken) and error.kind is FailureKind.CANCELLED
    assert str(error) == "cancelled while the C-STORE was in flight"
    assert outcome["at"] - interrupted_at < 0.5
    assert link.closed


def test_no_store_response_within_the_dimse_timeout(
    scp_factory: Callable[..., ScriptedSCP],
) -> None:
    scp = scp_factory(sleep=5)
    link = open_link(settings(scp.port, dimse_timeout=0.3), [ProposedContext(CT, ELE)])
    started = time.monotonic()
    with pytest.raises(LinkBroken) as caught:
        link.store_bytes(1, CT, "1.2.3.4.103", ct_dataset("1.2.3.4.103", 10))
    assert time.monotonic() - started < 1.5
    assert caught.value.kind is FailureKind.TIMEOUT
    assert str(caught.value) == "no C-STORE response within 0.3 s (DIMSE timeout)"
    assert link.closed


# -- DCMTK -------------------------------------------------------------------------------------


def test_dcmtk_storescp_echo_store_and_release(storescp: Any) -> None:
    scp = storescp(max_pdu=4096, extra_args=["-v", "+B"])  # +B: the file as received
    link: Link = open_link(
        settings(scp.port, scp.ae_title),
        [ProposedContext(VERIFICATION, ILE), ProposedContext(CT, ELE)],
    )
    assert link.peer_max_pdu == 4096
    assert link.peer_implementation_version.startswith("OFFIS_DCMTK")
    assert link.echo() == 0x0000
    data = ct_dataset("1.2.3.4.104", 100_000)
    assert link.store_bytes(3, CT, "1.2.3.4.104", data).status == 0x0000
    assert link.release()
    [path] = scp.wait_for_files(1)
    assert path.read_bytes()[part10_dataset_offset(path) :] == data
    scp.stop()
    log = scp.log_path.read_text()
    assert "Association Release" in log and "Aborted" not in log
