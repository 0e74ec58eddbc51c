"""Mutual TLS over STOW-RS: a server that asks for a client certificate gets ours."""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme

from peers.stow_server import StowServer
from tests.sending import run_cli
from tui_sender.demo.samples.data import generate_samples


def _server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED  # no certificate of ours, no handshake
    return context


def test_a_server_that_asks_for_a_client_certificate_gets_ours(tmp_path: Path) -> None:
    samples = generate_samples(tmp_path / "in", profile="tiny", seed=53)
    ca = trustme.CA()
    ca_pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    ours = tmp_path / "gateway.pem"
    ca.issue_cert("gateway.example.org").private_key_and_cert_chain_pem.write_to_path(str(ours))
    with StowServer(ssl_context=_server_context(ca), keep_files=False) as server:
        assert server.url.startswith("https://127.0.0.1:")
        args = [
            "send",
            "--url",
            server.url,
            "-i",
            str(samples.root),
            "-r",
            "--ca-file",
            str(ca_pem),
        ]
        for name in ("without", "with"):
            (tmp_path / name).mkdir()
        refused = run_cli(args, tmp_path / "without")
        assert refused.exit_code == 3, refused.stdout + refused.stderr
        assert not server.received
        assert all(f["state"] == "failed" for f in refused.summary["files"])
        assert "wants a client certificate" in refused.summary["files"][0]["reason"]
        run = run_cli([*args, "--client-cert", str(ours)], tmp_path / "with")
        assert run.exit_code == 0, run.stdout + run.stderr
        assert len({r.sop_instance_uid for r in server.received}) == len(samples.files)
        assert run.summary["destinations"][0]["tls"] is True
