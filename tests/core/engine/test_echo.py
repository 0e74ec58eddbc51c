"""C-ECHO and probing against real peers on 127.0.0.1: pynetdicom SCPs started here, DCMTK.

Echo and probe associate exactly like a send (``open_link``), so the
failures checked here are the send path's: one ``FailureKind``, one message.
Every server listens on a free port and is stopped in a ``finally``; every
echo runs with a short ``timeout`` so a regression fails fast instead of
hanging.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pydicom.uid import (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
)
from pynetdicom import AE, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    CTImageStorage,
    MRImageStorage,
    Verification,
)
from pynetdicom.transport import ThreadedAssociationServer

from peers.availability import require_peer
from tui_sender.commands import echo as echo_command
from tui_sender.core.config.destinations import AddressBook, Destination
from tui_sender.core.dicom.negotiation import FALLBACKS
from tui_sender.core.engine.echo import FailureKind, echo, plan_probe, probe
from tui_sender.core.net.failures import Rejection
from tui_sender.core.net.opening import MAX_CONTEXTS
from tui_sender.demo.receiver import set_tcp_nodelay, shutdown_server

pytestmark = pytest.mark.timeout(60)

SCP_AE = "TEST_SCP"
QUICK = 3.0
"""Cap on every network wait in these tests (seconds)."""

CT = str(CTImageStorage)
MR = str(MRImageStorage)
ELE = str(ExplicitVRLittleEndian)
ILE = str(ImplicitVRLittleEndian)
J2K = str(JPEG2000Lossless)
JPEG = str(JPEGBaseline8Bit)
MIME = "1.2.840.10008.1.2.6.1"
"""RFC 2557 MIME encapsulation: a transfer syntax that never goes on the network."""


@contextmanager
def pynetdicom_scp(
    ae: AE,
    handlers: list[Any] | None = None,
    timeout: float = QUICK,
    ssl_context: ssl.SSLContext | None = None,
) -> Iterator[int]:
    """Serve ``ae`` on 127.0.0.1 on a free port (TLS with ``ssl_context``); yield the port."""
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    server = ae.make_server(
        ("127.0.0.1", 0),
        evt_handlers=[(evt.EVT_CONN_OPEN, set_tcp_nodelay), *(handlers or [])],
        ssl_context=ssl_context,
        server_class=ThreadedAssociationServer,
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        shutdown_server(server)
        thread.join(5)


def verification_scp(**options: Any) -> AE:
    ae = AE(ae_title=SCP_AE)
    ae.add_supported_context(Verification)
    for key, value in options.items():
        setattr(ae, key, value)
    return ae


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def local(port: int, ae_title: str = SCP_AE, **options: Any) -> Destination:
    return Destination.from_cli(ae_title, "127.0.0.1", port, **options)


# --- echo ----------------------------------------------------------------------------------


def test_echo_succeeds_and_times_each_step() -> None:
    with pynetdicom_scp(verification_scp()) as port:
        result = echo(local(port), timeout=QUICK)
    assert result.ok, result.reason
    assert result.status == 0x0000
    assert result.failure is None and result.reason == ""
    assert result.associate_ms is not None and 0 < result.associate_ms < QUICK * 1000
    assert result.echo_ms is not None and 0 < result.echo_ms < QUICK * 1000
    assert result.release_ms is not None
    assert result.peer == f"{SCP_AE}@127.0.0.1:{port}"
    assert result.peer_max_pdu == 16382
    assert result.peer_implementation.startswith("PYNETDICOM")
    assert "(1.2.826.0.1.3680043.9.3811." in result.peer_implementation


def test_echo_to_a_closed_port_is_fast_and_says_so() -> None:
    port = free_port()
    started = time.monotonic()
    result = echo(local(port))
    elapsed = time.monotonic() - started
    assert not result.ok
    assert result.failure is not None and result.failure.kind is FailureKind.UNREACHABLE
    assert result.reason.endswith(
        f"nothing is listening on 127.0.0.1:{port}: is the PACS running, is the port right?"
    )
    assert result.failure.retryable
    assert elapsed < 2.0


def test_wrong_called_ae_is_rejected_with_a_hint() -> None:
    with pynetdicom_scp(verification_scp(require_called_aet=True)) as port:
        result = echo(local(port, "NOT_THE_SCP"), timeout=QUICK)
    failure = result.failure
    assert failure is not None and failure.kind is FailureKind.REJECTED_PERMANENT
    assert failure.rejection == Rejection(result=1, source=1, reason=7)
    assert result.reason.startswith("association permanently rejected by NOT_THE_SCP@127.0.0.1")
    assert "called AE title 'NOT_THE_SCP' not recognised" in result.reason
    assert "check the destination's AE title" in result.reason
    assert not failure.retryable


def test_unregistered_calling_ae_is_rejected_with_a_hint() -> None:
    with pynetdicom_scp(verification_scp(require_calling_aet=["KNOWN_SCU"])) as port:
        result = echo(local(port, calling_ae="STRANGER"), timeout=QUICK)
    assert result.failure is not None and result.failure.rejection == Rejection(1, 1, 3)
    assert "ask the PACS administrator to register our calling AE title 'STRANGER'" in (
        result.reason
    )


def test_silent_peer_times_out_within_the_cap() -> None:
    """Something accepts the TCP connection but never answers the association request."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        started = time.monotonic()
        result = echo(local(port), timeout=0.5)
        elapsed = time.monotonic() - started
    assert result.failure is not None and result.failure.kind is FailureKind.TIMEOUT
    assert "did not answer the association request within 0.5 s (ACSE timeout)" in result.reason
    assert elapsed < 3.0


def test_peer_without_verification() -> None:
    ae = AE(ae_title=SCP_AE)
    ae.add_supported_context(CTImageStorage)
    with pynetdicom_scp(ae) as port:
        result = echo(local(port), timeout=QUICK)
    assert result.failure is not None and result.failure.kind is FailureKind.NO_CONTEXTS
    assert "does not support C-ECHO" in result.reason
    assert [c.result for c in result.failure.contexts] == ["Abstract Syntax Not Supported"] * 2


def test_non_success_echo_status() -> None:
    def busy(event: evt.Event) -> int:
        return 0x0110  # Processing failure

    with pynetdicom_scp(verification_scp(), [(evt.EVT_C_ECHO, busy)]) as port:
        result = echo(local(port), timeout=QUICK)
    assert result.failure is not None and result.failure.kind is FailureKind.BAD_STATUS
    assert result.status == 0x0110
    assert "status 0x0110 (Failure)" in result.reason
    assert result.release_ms is not None  # the association itself was fine


def test_unanswered_echo_is_a_dimse_timeout() -> None:
    wake = threading.Event()

    def stall(event: evt.Event) -> int:
        wake.wait(5)
        return 0x0000

    try:
        with pynetdicom_scp(verification_scp(), [(evt.EVT_C_ECHO, stall)]) as port:
            started = time.monotonic()
            result = echo(local(port), timeout=0.5)
            elapsed = time.monotonic() - started
            wake.set()
    finally:
        wake.set()
    assert result.failure is not None and result.failure.kind is FailureKind.TIMEOUT
    assert "the C-ECHO failed: no C-ECHO response within 0.5 s (DIMSE timeout)" in result.reason
    assert result.associate_ms is not None and result.echo_ms is None
    assert elapsed < 2.0


def test_peer_aborting_the_echo() -> None:
    def abort(event: evt.Event) -> int:
        event.assoc.abort()
        return 0x0000

    with pynetdicom_scp(verification_scp(), [(evt.EVT_C_ECHO, abort)]) as port:
        result = echo(local(port), timeout=QUICK)
    assert result.failure is not None and result.failure.kind is FailureKind.ABORTED
    assert "association aborted by" in result.reason
    assert result.failure.retryable


def test_invalid_destination_is_not_dialled() -> None:
    result = echo(Destination("bad", "A" * 17, "127.0.0.1", 104))
    assert result.failure is not None
    assert result.failure.kind is FailureKind.INVALID_DESTINATION
    assert "17 characters" in result.reason


# --- TLS: the one builder (targets.tls_context), as a send uses it ---------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (made with the openssl CLI)."""
    openssl = require_peer(shutil.which("openssl"), "openssl")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=scp",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def test_echo_over_tls_verifies_the_server(certificate: tuple[Path, Path]) -> None:
    with pynetdicom_scp(verification_scp(), ssl_context=server_context(certificate)) as port:
        result = echo(local(port, tls=True, ca_file=str(certificate[0])), timeout=QUICK)
    assert result.ok, result.reason
    assert result.status == 0x0000


def test_tls_with_an_untrusted_certificate(certificate: tuple[Path, Path]) -> None:
    with pynetdicom_scp(verification_scp(), ssl_context=server_context(certificate)) as port:
        result = echo(local(port, tls=True), timeout=QUICK)  # system CAs: not ours
    assert result.failure is not None and result.failure.kind is FailureKind.TLS
    assert f"the TLS certificate of 127.0.0.1:{port} was not accepted" in result.reason
    assert "no plain-TCP fallback" in result.reason
    assert not result.failure.retryable


def test_plain_association_to_a_tls_port_says_so(certificate: tuple[Path, Path]) -> None:
    with pynetdicom_scp(verification_scp(), ssl_context=server_context(certificate)) as port:
        result = echo(local(port), timeout=QUICK)
    assert result.failure is not None
    assert "TLS" in result.reason and f"127.0.0.1:{port}" in result.reason


def test_tls_against_a_plain_port_is_a_tls_failure() -> None:
    # The SCP waits out its own timeout on the garbled connection: keep it short.
    with pynetdicom_scp(verification_scp(), timeout=0.5) as port:
        result = echo(local(port, tls=True), timeout=QUICK)
    assert result.failure is not None and result.failure.kind is FailureKind.TLS
    assert "TLS" in result.reason and f"127.0.0.1:{port}" in result.reason


def test_unreadable_tls_files_are_a_tls_failure(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate\n")
    result = echo(local(free_port(), tls=True, ca_file=str(ca)), timeout=QUICK)
    assert result.failure is not None and result.failure.kind is FailureKind.TLS
    assert "cannot load CA file" in result.reason and "check ca_file" in result.reason


# --- probe ---------------------------------------------------------------------------------


def test_probe_reports_each_pair_against_an_implicit_only_ct_scp() -> None:
    ae = AE(ae_title=SCP_AE)
    ae.add_supported_context(CTImageStorage, ImplicitVRLittleEndian)
    pairs = [(CT, J2K), (CT, ELE), (CT, ILE), (MR, ELE), (MR, JPEG), (CT, MIME)]
    with pynetdicom_scp(ae) as port:
        result = probe(local(port), pairs, timeout=QUICK)
    assert result.ok and result.associations == 1
    assert [(v.sop_class_uid, v.transfer_syntax_uid) for v in result.verdicts] == pairs

    ct_j2k = result.verdict(CT, J2K)
    assert ct_j2k is not None and not ct_j2k.accepted
    assert ct_j2k.result == "Transfer Syntax(es) Not Supported"
    assert ct_j2k.chosen_transfer_syntax == ILE  # decompress, then send as Implicit VR LE

    ct_ile = result.verdict(CT, ILE)
    assert ct_ile is not None and ct_ile.accepted and ct_ile.chosen_transfer_syntax == ILE
    ct_ele = result.verdict(CT, ELE)
    assert ct_ele is not None and not ct_ele.accepted and ct_ele.chosen_transfer_syntax == ILE

    for syntax in (ELE, JPEG):
        mr = result.verdict(MR, syntax)
        assert mr is not None and not mr.accepted and not mr.sop_class_accepted
        assert mr.result == "Abstract Syntax Not Supported"

    # A send never proposes a syntax that cannot go on the network; neither does the probe.
    ct_mime = result.verdict(CT, MIME)
    assert ct_mime is not None and not ct_mime.accepted
    assert ct_mime.result.startswith("not proposed: ")
    assert ct_mime.chosen_transfer_syntax == ILE

    # As a send proposes them: CT: J2K, ELE, ILE; MR: JPEG, ELE, ILE.
    assert [(c.sop_class_uid, c.transfer_syntax_uid) for c in result.contexts] == [
        (CT, J2K), (CT, ELE), (CT, ILE), (MR, JPEG), (MR, ELE), (MR, ILE),
    ]  # fmt: skip
    assert [c.context_id for c in result.contexts] == [1, 3, 5, 7, 9, 11]
    assert sum(c.accepted for c in result.contexts) == 1


def test_probe_of_a_peer_that_accepts_nothing_is_an_answer() -> None:
    ae = AE(ae_title=SCP_AE)
    ae.add_supported_context(CTImageStorage)
    with pynetdicom_scp(ae) as port:
        result = probe(local(port), [(MR, ELE)], timeout=QUICK)
    assert result.ok and result.associations == 1
    assert len(result.contexts) == 2 and not any(c.accepted for c in result.contexts)
    verdict = result.verdict(MR, ELE)
    assert verdict is not None and not verdict.sop_class_accepted
    assert verdict.result == "Abstract Syntax Not Supported"


def test_probe_splits_more_than_128_contexts_over_associations() -> None:
    ae = AE(ae_title=SCP_AE)
    ae.supported_contexts = AllStoragePresentationContexts
    classes = [str(cx.abstract_syntax) for cx in AllStoragePresentationContexts[:70]]
    pairs = [(c, J2K) for c in classes]  # 70 x (J2K + 2 fallbacks) = 210 contexts
    with pynetdicom_scp(ae) as port:
        result = probe(local(port), pairs, timeout=QUICK)
    assert result.ok and result.associations == 2
    assert len(result.contexts) == 210
    assert len(result.verdicts) == 70
    for verdict in result.verdicts:
        assert not verdict.accepted
        assert verdict.chosen_transfer_syntax in FALLBACKS


def test_probe_plan_respects_the_limit_and_keeps_classes_together() -> None:
    many_syntaxes = [("1.2.3", f"1.2.840.99.{n}") for n in range(300)]
    plan = plan_probe([(CT, J2K), (CT, ELE), *many_syntaxes, (MR, ILE)])
    assert all(len(batch) <= MAX_CONTEXTS for batch in plan)
    own = [c for batch in plan for c in batch if c.transfer_syntax_uid not in FALLBACKS]
    assert len(own) == 1 + 300  # CT J2K and the 300; ELE/ILE pairs are the fallbacks
    # Every batch that asks about a SOP class also carries that class's fallbacks.
    for batch in plan:
        for sop_class in {c.sop_class_uid for c in batch}:
            proposed = {c.transfer_syntax_uid for c in batch if c.sop_class_uid == sop_class}
            assert set(FALLBACKS) <= proposed
    assert plan_probe([(CT, ELE), (CT, ELE)]) == plan_probe([(CT, ELE)])


def test_probe_of_an_unreachable_destination_says_not_probed() -> None:
    result = probe(local(free_port()), [(CT, ELE), (MR, JPEG)], timeout=QUICK)
    assert result.failure is not None and result.failure.kind is FailureKind.UNREACHABLE
    assert result.associations == 0
    assert [v.result for v in result.verdicts] == ["not probed: unreachable"] * 2


# --- DCMTK ---------------------------------------------------------------------------------


def test_echo_dcmtk_storescp(storescp: Any) -> None:
    scp = storescp(accept_all=False, ignore=True)  # stock storescp: uncompressed only
    result = echo(local(scp.port, scp.ae_title), timeout=QUICK)
    probed = probe(local(scp.port, scp.ae_title), [(CT, J2K), (CT, ELE)], timeout=QUICK)
    assert result.ok, result.reason
    assert result.echo_ms is not None and result.echo_ms < 1000
    assert "OFFIS_DCMTK" in result.peer_implementation
    ct_j2k = probed.verdict(CT, J2K)
    assert ct_j2k is not None and not ct_j2k.accepted and ct_j2k.chosen_transfer_syntax
    ct_ele = probed.verdict(CT, ELE)
    assert ct_ele is not None and ct_ele.accepted


# --- the command ---------------------------------------------------------------------------


def run_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tui-sender echo")
    echo_command.configure(parser)
    return echo_command.run(parser.parse_args(argv))


def test_command_echoes_count_times(capsys: pytest.CaptureFixture[str]) -> None:
    with pynetdicom_scp(verification_scp()) as port:
        argv = ["-a", SCP_AE, "-H", "127.0.0.1", "-p", str(port), "--count", "2"]
        code = run_command([*argv, "--timeout", str(QUICK)])
    out = capsys.readouterr()
    assert code == 0, out.err
    lines = out.out.splitlines()
    assert lines[0].startswith(f"[1/2] {SCP_AE}@127.0.0.1:{port}: C-ECHO ok in ")
    assert lines[1].startswith("[2/2] ")
    assert lines[2].startswith("2 of 2 echoes succeeded; echo min/avg/max ")


def test_command_uses_the_address_book(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    with pynetdicom_scp(verification_scp(require_calling_aet=["OVERRIDE"])) as port:
        AddressBook(config, [Destination("lab", SCP_AE, "127.0.0.1", port)]).save()
        refused = run_command(["--dest", "lab", "--config", str(config), "--timeout", "3"])
        accepted = run_command(["--dest", "lab", "-c", "OVERRIDE", "--config", str(config)])
    out = capsys.readouterr()
    assert refused == 3 and "register our calling AE title 'TUI_SENDER'" in out.err
    assert accepted == 0 and "C-ECHO ok" in out.out


def test_command_exit_3_when_nothing_listens(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    assert run_command(["-a", "X", "-H", "127.0.0.1", "-p", str(port)]) == 3
    assert "nothing is listening on 127.0.0.1:" in capsys.readouterr().err


def test_command_exit_1_on_a_bad_echo_status(capsys: pytest.CaptureFixture[str]) -> None:
    with pynetdicom_scp(verification_scp(), [(evt.EVT_C_ECHO, lambda event: 0xC000)]) as port:
        code = run_command(["-a", SCP_AE, "-H", "127.0.0.1", "-p", str(port), "--timeout", "3"])
    assert code == 1
    assert "0xC000" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["-a", "A" * 17, "-H", "h", "-p", "104"], "17 characters long"),
        (["-a", "PACS", "-H", "h"], "missing -p"),
        (["--dest", "x", "-a", "PACS"], "either --dest or -a"),
        (["--dest", "nope"], "no destination named 'nope'"),
    ],
)
def test_command_usage_errors_exit_2(
    argv: list[str],
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TUI_SENDER_CONFIG", str(tmp_path / "config.toml"))
    assert run_command(argv) == 2
    assert expected in capsys.readouterr().err


def test_command_malformed_config_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[[destinations]\n")
    assert run_command(["--dest", "x", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert str(config) in err and "not valid TOML" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["--count", "0"], ["--timeout", "-1"], ["-p", "70000"]])
def test_command_rejects_bad_numbers(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        run_command(argv)
    assert caught.value.code == 2
