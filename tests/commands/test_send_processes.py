"""``send --processes P``: a destination's associations in worker processes (issue 14, item 3).

The session stays in the parent (journal, log, index, summary); each child
runs some of the workers and reports every event back. These tests run the
real command against a scripted SCP and check what matters to a user: every
file arrives once and byte for byte, the record adds up as with threads,
Ctrl-C and ``kill -9`` leave no process behind, and a child that dies costs
its files, not the session.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from peers.pynetdicom_scp import ScriptedSCP
from tests.sending import check_counts_add_up, child_pids, is_running, run_cli, wait_until
from tui_sender.core.record.journal import list_journals, read_journal
from tui_sender.demo.samples.data import SampleSet, generate_samples

CODE = "import sys; from tui_sender.cli import main; sys.exit(main())"


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> SampleSet:
    return generate_samples(tmp_path_factory.mktemp("samples"), profile="tiny", seed=11)


def _args(samples: SampleSet, scp: ScriptedSCP, *extra: str) -> list[str]:
    return ["send", "-i", str(samples.root), "-r", "-a", scp.ae_title, "-H", "127.0.0.1",
            "-p", str(scp.port), *extra]  # fmt: skip


def _dataset_bytes(path: Path) -> bytes:
    """A Part-10 file's data set: what travels in its C-STORE (after the file meta)."""
    data = path.read_bytes()
    meta_length = int.from_bytes(data[140:144], "little")  # (0002,0000) UL, explicit VR
    return data[144 + meta_length :]


def _wait_for_children(pid: int, count: int, timeout: float = 30) -> set[int]:
    assert wait_until(lambda: len(child_pids(pid)) >= count, timeout), (
        f"{count} worker processes never appeared"
    )
    return child_pids(pid)


def test_four_associations_in_two_processes_deliver_every_file_once_byte_for_byte(
    samples: SampleSet, scp_factory: Any, tmp_path: Path
) -> None:
    scp: ScriptedSCP = scp_factory()
    run = run_cli(_args(samples, scp, "-t", "4", "--processes", "2"), tmp_path)
    assert run.exit_code == 0, run.stderr + run.stdout
    check_counts_add_up(run.summary)
    assert run.summary["totals"]["sent"] == len(samples.files)
    received = collections.Counter(r.sop_instance_uid for r in scp.received)
    assert len(received) == len(samples.files) and set(received.values()) == {1}
    stored = scp.stored()
    by_path = {f["path"]: f for f in run.files("sent")}
    for path in samples.files:
        record = by_path[str(path)]
        assert stored[record["sop_instance_uid"]].dataset == _dataset_bytes(path), path
    # Four workers, in two processes, each association recorded apart (ids unique).
    associations = run.summary["associations"]
    assert {a["worker"] for a in associations} == {"w1", "w2", "w3", "w4"}
    ids = [a["id"] for a in associations]
    assert len(ids) == len(set(ids)) >= 4
    assert sum(a["files"] for a in associations) == len(samples.files)
    assert run.summary["configuration"]["processes"] == 2
    journal = read_journal(list_journals(tmp_path / "logs")[0])
    assert journal.complete and len(list(journal.stored())) == len(samples.files)


def _start(samples: SampleSet, scp: ScriptedSCP, tmp_path: Path, *extra: str) -> Any:
    def own_group_with_default_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.setpgid(0, 0)  # Ctrl-C at a terminal reaches the whole group: the workers too

    return subprocess.Popen(
        [sys.executable, "-c", CODE, *_args(samples, scp, *extra)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "TUI_SENDER_CONFIG": str(tmp_path / "none.toml"),
             "TUI_SENDER_STATE_DIR": str(tmp_path / "state")},
        preexec_fn=own_group_with_default_sigint,
    )  # fmt: skip


def test_ctrl_c_reaches_every_process_and_the_parent_still_writes_the_record(
    samples: SampleSet, scp_factory: Any, tmp_path: Path
) -> None:
    scp: ScriptedSCP = scp_factory(sleep=0.05)
    proc = _start(samples, scp, tmp_path, "-t", "4", "--processes", "2")
    try:
        children = _wait_for_children(proc.pid, 2)
        wait_until(lambda: len(scp.stored()) >= 20, 30, 0.05)
        os.killpg(proc.pid, signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert proc.returncode == 1, err
    assert "Traceback" not in err, err[-3000:]
    assert not any(is_running(c) for c in children), "a worker process outlived the send"
    summary = json.loads(next((tmp_path / "logs").glob("dicom_sender_summary_*.json")).read_text())
    assert summary["cancelled"] is True
    check_counts_add_up(summary)
    states = collections.Counter(f["state"] for f in summary["files"])
    assert states["sent"] >= 20 and states["failed"] > 0
    assert all(f["reason"].startswith("cancelled") for f in summary["files"]
               if f["state"] == "failed")  # fmt: skip
    assert len(scp.stored()) == states["sent"]
    assert all(a["released"] for a in summary["associations"]), "associations released"


def test_kill_9_of_the_parent_stops_the_workers_and_resume_finishes_the_job(
    samples: SampleSet, scp_factory: Any, tmp_path: Path
) -> None:
    scp: ScriptedSCP = scp_factory(sleep=0.01)
    proc = _start(samples, scp, tmp_path, "-t", "2", "--processes", "2")
    try:
        children = _wait_for_children(proc.pid, 2)
        wait_until(lambda: len(scp.received) >= 100, 30)
        proc.kill()
        proc.wait(10)
        wait_until(lambda: not any(is_running(c) for c in children), 10, 0.05)
        assert not any(is_running(c) for c in children), "workers kept sending for a dead parent"
    finally:
        os.killpg(proc.pid, signal.SIGKILL) if is_running(proc.pid) else None
    stopped_at = len(scp.received)
    time.sleep(0.3)
    assert len(scp.received) == stopped_at, "C-STOREs still arrive after the workers stopped"
    assert stopped_at < len(samples.files), "killed mid-way"
    journal = read_journal(list_journals(tmp_path / "logs")[0])
    journaled = {f.sop_instance_uid for f in journal.stored()}
    assert journaled <= set(scp.stored()), "the journal never claims more than the SCP holds"

    resumed = run_cli(["send", "--resume", journal.session_id], tmp_path)
    assert resumed.exit_code == 0, resumed.stderr
    check_counts_add_up(resumed.summary)
    assert len(set(scp.stored())) == len(samples.files)


def test_a_worker_process_that_dies_costs_its_files_not_the_session(
    samples: SampleSet, scp_factory: Any, tmp_path: Path
) -> None:
    scp: ScriptedSCP = scp_factory(sleep=0.02)
    proc = _start(samples, scp, tmp_path, "-t", "2", "--processes", "2")
    try:
        children = sorted(_wait_for_children(proc.pid, 2))
        wait_until(lambda: len(scp.received) >= 20, 30)
        os.kill(children[0], signal.SIGKILL)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    summary = json.loads(next((tmp_path / "logs").glob("dicom_sender_summary_*.json")).read_text())
    check_counts_add_up(summary)
    states = collections.Counter(f["state"] for f in summary["files"])
    assert states["sent"] + states["failed"] == len(samples.files)
    assert states["failed"] > 0 and states["sent"] > 20
    assert len(set(scp.stored())) >= states["sent"]
    log = next((tmp_path / "logs").glob("dicom_sender_2*.log")).read_text()
    assert "ended unexpectedly (exit code -9)" in log
