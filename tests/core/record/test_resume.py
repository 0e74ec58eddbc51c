"""Journal and resume: nothing lost after kill -9, nothing stored twice needlessly."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from peers.pynetdicom_scp import ScriptedSCP
from tests.sending import check_counts_add_up, child_pids, is_running, run_cli, wait_until
from tui_sender.core.record.journal import list_journals, read_journal
from tui_sender.demo.samples.data import SampleSet, generate_samples


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> SampleSet:
    return generate_samples(tmp_path_factory.mktemp("resume-samples"), profile="tiny", seed=11)


def _send_args(samples: SampleSet, scp: ScriptedSCP, *extra: str) -> list[str]:
    return [
        "send", "-i", str(samples.root), "-r", "-a", scp.ae_title, "-H", "127.0.0.1",
        "-p", str(scp.port), *extra,
    ]  # fmt: skip


def test_resending_the_same_folder_skips_what_the_destination_holds(
    samples: SampleSet, scp_factory: Any, tmp_path: Path
) -> None:
    scp: ScriptedSCP = scp_factory()
    first = run_cli(_send_args(samples, scp, "-t", "2"), tmp_path)
    assert first.exit_code == 0
    assert first.summary["totals"]["sent"] == len(samples.files)
    received_once = len(scp.received)

    again = run_cli(_send_args(samples, scp), tmp_path)
    assert again.exit_code == 0
    assert len(scp.received) == received_once, "nothing sent the second time"
    assert again.summary["totals"]["skipped"] == len(samples.files)
    assert all("already stored" in f["reason"] for f in again.files("skipped"))
    assert first.summary["session_id"] in again.files("skipped")[0]["reason"]
    check_counts_add_up(again.summary)

    forced = run_cli(_send_args(samples, scp, "--force"), tmp_path)
    assert forced.exit_code == 0
    assert forced.summary["totals"]["sent"] == len(samples.files)
    assert len(scp.received) == received_once + len(samples.files)


@pytest.mark.parametrize("processes", [1, 2])
def test_kill_9_then_resume_delivers_everything_once(
    samples: SampleSet, scp_factory: Any, tmp_path: Path, processes: int
) -> None:
    scp: ScriptedSCP = scp_factory(sleep=0.01)
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "TUI_SENDER_CONFIG": str(tmp_path / "none.toml"),
        "TUI_SENDER_STATE_DIR": str(tmp_path / "state"),
    }
    code = "import sys; from tui_sender.cli import main; sys.exit(main())"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            *_send_args(samples, scp, "-t", "2", "--processes", str(processes)),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: len(scp.received) >= 150, 60)
        workers = child_pids(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        # Worker processes stop by themselves once the parent is gone: wait for that, so
        # what the SCP holds is final before it is compared with the journal.
        wait_until(lambda: not any(is_running(w) for w in workers), 10)
        assert not any(is_running(w) for w in workers)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed_at = len(scp.received)
    assert 150 <= killed_at < len(samples.files), "killed mid-way"
    journal = read_journal(list_journals(tmp_path / "logs")[0])
    assert not journal.complete, "a killed session has no end line"
    journaled = {f.sop_instance_uid for f in journal.stored()}
    # The journal never claims more than the SCP confirmed.
    assert journaled <= set(scp.stored())
    in_doubt = set(scp.stored()) - journaled  # stored, but we never heard back

    resumed = run_cli(["send", "--resume", journal.session_id], tmp_path)
    assert resumed.exit_code == 0, resumed.stderr
    check_counts_add_up(resumed.summary)
    assert resumed.summary["configuration"]["resumed_from"] == journal.session_id
    # Every instance is now at the SCP.
    all_uids = {r["sop_instance_uid"] for r in resumed.files() if r["sop_instance_uid"]}
    assert all_uids <= set(scp.stored())
    assert len(set(scp.stored())) == len(samples.files)
    # Nothing stored twice except files whose outcome was unknown at the kill.
    received = collections.Counter(r.sop_instance_uid for r in scp.received)
    twice = {uid for uid, n in received.items() if n > 1}
    assert twice <= in_doubt, f"{len(twice - in_doubt)} files sent twice without need"
    # At most one file in flight per worker; in worker processes, also an outcome on its
    # way through the pipe to the parent's journal when the parent died.
    assert len(twice) <= 2 * processes, "at most one file in doubt per worker and process"
    skipped = resumed.files("skipped")
    assert len(skipped) == len(journaled)
    assert resumed.summary["totals"]["sent"] == len(samples.files) - len(journaled)


def test_the_journal_keeps_inputs_absolute_so_resume_works_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui_sender.core.record.resume import request_header

    monkeypatch.chdir(tmp_path)
    header = request_header(["samples", str(tmp_path / "other")], True, [])
    assert header["inputs"] == [str(tmp_path / "samples"), str(tmp_path / "other")]
