"""Ctrl-C twice during a STOW-RS request the server is slow to answer: the send stops at
once, and the instances of that request are recorded as in doubt, not as sent."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from peers.stow_server import Behaviour, StowServer
from tests.sending import check_counts_add_up, wait_until
from tui_sender.demo.samples.data import generate_samples


def _sigint_as_at_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_a_hard_cancel_stops_a_slow_stow_request_at_once(tmp_path: Path) -> None:
    samples = generate_samples(tmp_path / "in", profile="tiny", seed=47)
    with StowServer(keep_files=False) as server:
        server.script = [Behaviour(), Behaviour(delay=30.0)]  # the second request hangs
        code = "import sys; from tui_sender.cli import main; sys.exit(main())"
        proc = subprocess.Popen(
            [sys.executable, "-c", code, "send", "-i", str(samples.root), "-r", "--url",
             server.url, "-t", "1", "--processes", "1"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "NO_COLOR": "1", "TUI_SENDER_STATE_DIR": str(tmp_path / "s")},
            preexec_fn=_sigint_as_at_a_terminal,
        )  # fmt: skip
        try:
            wait_until(lambda: len(server.stow_requests) >= 1 and len(server.received) > 0, 30)
            time.sleep(0.5)  # the second request is on its way, its answer 30 s away
            proc.send_signal(signal.SIGINT)
            time.sleep(0.3)
            sent_at = time.monotonic()
            proc.send_signal(signal.SIGINT)
            _out, err = proc.communicate(timeout=20)
            stopped_in = time.monotonic() - sent_at
        finally:
            proc.kill()
    assert "Traceback" not in err, err[-3000:]
    assert stopped_in < 5.0
    summary = json.loads(next((tmp_path / "logs").glob("dicom_sender_summary_*.json")).read_text())
    assert summary["cancelled"] is True
    check_counts_add_up(summary)
    states = collections.Counter(f["state"] for f in summary["files"])
    stored = {r.sop_instance_uid for r in server.received}
    sent = {f["sop_instance_uid"] for f in summary["files"] if f["state"] == "sent"}
    assert sent and sent <= stored
    in_doubt = [f for f in summary["files"] if "in flight" in f["reason"]]
    assert in_doubt, states
    assert all(f["state"] == "failed" for f in in_doubt)
