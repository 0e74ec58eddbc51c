"""DICOM TLS end to end: verified by default, mutual TLS, plain failures, no fallback."""

from __future__ import annotations

import shutil
import ssl
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pynetdicom import AE, evt
from pynetdicom.presentation import AllStoragePresentationContexts

from tests.conftest import require_peer
from tests.sending import check_counts_add_up, run_cli
from tests.tls_certs import Certificates, make_certificates
from tui_sender.demo.samples.data import SampleSet, generate_samples


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    openssl = require_peer(shutil.which("openssl"), "openssl")
    return make_certificates(tmp_path_factory.mktemp("pki"), openssl)


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> SampleSet:
    root = tmp_path_factory.mktemp("tls-samples")
    full = generate_samples(root / "all", profile="tiny", seed=5)
    # Two studies are plenty for TLS.
    keep = root / "two"
    keep.mkdir()
    studies = sorted({p.parent.parent for p in full.files})[:2]
    for study in studies:
        shutil.copytree(study, keep / study.name)
    files = tuple(sorted(p for p in keep.rglob("*") if p.is_file()))
    return SampleSet(keep, files, sum(p.stat().st_size for p in files), {}, {}, 2, 1)


class TlsSCP:
    """A pynetdicom storage SCP behind TLS that counts plain-text attempts too."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.stored: dict[str, bytes] = {}
        self.associations = 0
        self._lock = threading.Lock()
        ae = AE(ae_title="TLS_SCP")
        ae.supported_contexts = AllStoragePresentationContexts
        handlers = [
            (evt.EVT_C_STORE, self._store),
            (evt.EVT_ESTABLISHED, self._established),
        ]
        self.server = ae.start_server(
            ("127.0.0.1", 0), block=False, evt_handlers=handlers, ssl_context=context
        )
        self.port = self.server.server_address[1]

    def _store(self, event: Any) -> int:
        with self._lock:
            self.stored[str(event.request.AffectedSOPInstanceUID)] = event.request.DataSet.read()
        return 0x0000

    def _established(self, event: Any) -> None:
        with self._lock:
            self.associations += 1

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture
def tls_scp(pki: Certificates) -> Iterator[Any]:
    started: list[TlsSCP] = []

    def start(require_client: bool = False) -> TlsSCP:
        scp = TlsSCP(pki.server_context(require_client=require_client))
        started.append(scp)
        return scp

    yield start
    for scp in started:
        scp.stop()


def _send(samples: SampleSet, port: int, cwd: Path, *tls: str) -> Any:
    return run_cli(
        ["send", "-i", str(samples.root), "-r", "-a", "TLS_SCP", "-H", "localhost", "-p",
         str(port), "--connect-timeout", "3", "--acse-timeout", "3", *tls],
        cwd,
    )  # fmt: skip


def test_send_over_tls_verifies_the_server(
    samples: SampleSet, pki: Certificates, tls_scp: Any, tmp_path: Path
) -> None:
    scp = tls_scp()
    run = _send(samples, scp.port, tmp_path, "--tls", "--ca-file", str(pki.ca))
    assert run.exit_code == 0, run.stderr
    assert len(scp.stored) == len(samples.files)
    assert run.summary["destinations"][0]["tls"] is True
    check_counts_add_up(run.summary)


def test_mutual_tls_with_a_client_certificate(
    samples: SampleSet, pki: Certificates, tls_scp: Any, tmp_path: Path
) -> None:
    scp = tls_scp(require_client=True)
    run = _send(
        samples, scp.port, tmp_path, "--ca-file", str(pki.ca), "--client-cert",
        str(pki.client_cert), "--client-key", str(pki.client_key),
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert len(scp.stored) == len(samples.files)


def test_missing_client_certificate_fails_plainly_without_fallback(
    samples: SampleSet, pki: Certificates, tls_scp: Any, tmp_path: Path
) -> None:
    scp = tls_scp(require_client=True)
    run = _send(samples, scp.port, tmp_path, "--ca-file", str(pki.ca))
    assert run.exit_code == 3
    reasons = {f["reason"] for f in run.files("failed")}
    # One verdict per worker process (each learns it from its own attempt; the TLS
    # library's words for the refusal can differ between the two), every one saying what
    # to do.
    assert 1 <= len(reasons) <= 2
    assert all("client certificate" in reason for reason in reasons), reasons
    assert len([a for a in run.summary["associations"]]) == 0
    assert scp.associations == 0 and not scp.stored


def test_untrusted_certificate_is_refused_and_not_retried(
    samples: SampleSet, pki: Certificates, tls_scp: Any, tmp_path: Path
) -> None:
    scp = tls_scp()
    run = _send(samples, scp.port, tmp_path, "--ca-file", str(pki.other_ca))
    assert run.exit_code == 3
    reason = run.files("failed")[0]["reason"]
    assert "certificate" in reason and "no plain-TCP fallback" in reason
    assert len(run.summary["associations"]) == 0
    assert not scp.stored


def test_host_name_must_match_the_certificate(
    samples: SampleSet, pki: Certificates, tls_scp: Any, tmp_path: Path
) -> None:
    scp = tls_scp()
    run = _send(
        samples, scp.port, tmp_path, "--ca-file", str(pki.ca), "--tls-server-name",
        "pacs.example.org",
    )  # fmt: skip
    assert run.exit_code == 3
    assert "certificate" in run.files("failed")[0]["reason"]


def test_tls_client_against_a_plain_port_fails_without_fallback(
    samples: SampleSet, pki: Certificates, scp_factory: Any, tmp_path: Path
) -> None:
    plain = scp_factory(timeout=2.0)
    run = _send(samples, plain.port, tmp_path, "--tls", "--ca-file", str(pki.ca))
    assert run.exit_code == 3
    assert "TLS" in run.files("failed")[0]["reason"]
    assert plain.association_requests == 0 and not plain.stored()


def test_tls_below_1_2_is_refused(samples: SampleSet, pki: Certificates, tmp_path: Path) -> None:
    context = pki.server_context()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ValueError, ssl.SSLError):
        pytest.skip("this OpenSSL cannot serve TLS 1.1 at all")
    scp = TlsSCP(context)
    try:
        run = _send(samples, scp.port, tmp_path, "--ca-file", str(pki.ca))
    finally:
        scp.stop()
    assert run.exit_code == 3
    assert "TLS" in run.files("failed")[0]["reason"]
    assert not scp.stored
