"""Resume over STOW-RS: after kill -9, ``send --resume`` delivers the rest, and only the
instances whose request was in flight can arrive twice."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
from pathlib import Path

from peers.stow_server import Behaviour, StowServer
from tests.sending import check_counts_add_up, child_pids, is_running, run_cli, wait_until
from tui_sender.core.record.journal import list_journals, read_journal
from tui_sender.demo.samples.data import generate_samples

PER_REQUEST = 10


def test_kill_9_then_resume_by_stow_rs_delivers_everything(tmp_path: Path) -> None:
    samples = generate_samples(tmp_path / "in", profile="tiny", seed=41)
    with StowServer(keep_files=False) as server:
        server.default = Behaviour(delay=0.05)
        book = tmp_path / "no-config.toml"  # the config run_cli points the resumed send at
        book.write_text(
            f'[[destinations]]\nname = "web"\nurl = "{server.url}"\n'
            f"stow_instances = {PER_REQUEST}\n"
        )
        env = {
            **os.environ,
            "NO_COLOR": "1",
            "TUI_SENDER_CONFIG": str(book),
            "TUI_SENDER_STATE_DIR": str(tmp_path / "state"),
        }
        code = "import sys; from tui_sender.cli import main; sys.exit(main())"
        proc = subprocess.Popen(
            [sys.executable, "-c", code, "send", "-i", str(samples.root), "-r", "--dest", "web",
             "-t", "2", "--processes", "2"],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_until(lambda: len(server.received) >= 150, 60)
            workers = child_pids(proc.pid)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            wait_until(lambda: not any(is_running(w) for w in workers), 10)
        finally:
            if proc.poll() is None:
                proc.kill()
        killed_at = len(server.received)
        assert 150 <= killed_at < len(samples.files), "killed mid-way"
        journal = read_journal(list_journals(tmp_path / "logs")[0])
        assert not journal.complete
        journaled = {f.sop_instance_uid for f in journal.stored()}
        held = {r.sop_instance_uid for r in server.received}
        assert journaled <= held, "the journal never claims more than the server confirmed"
        in_doubt = held - journaled

        server.default = Behaviour()
        resumed = run_cli(["send", "--resume", journal.session_id], tmp_path)
        assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
        check_counts_add_up(resumed.summary)
        assert resumed.summary["destinations"][0]["kind"] == "dicomweb"
        held = {r.sop_instance_uid for r in server.received}
        assert len(held) == len(samples.files)
        twice = {u for u, n in collections.Counter(
            r.sop_instance_uid for r in server.received).items() if n > 1}  # fmt: skip
        assert twice <= in_doubt
        # At most one request in flight per worker (two workers), plus answers on their way
        # through the pipe from the worker processes to the parent's journal.
        assert len(twice) <= 2 * 2 * PER_REQUEST
        assert resumed.summary["totals"]["sent"] == len(samples.files) - len(journaled)
