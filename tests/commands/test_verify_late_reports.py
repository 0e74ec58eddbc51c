"""A storage commitment report that comes after the send's timeout is taken by a later ``verify``.

The archive is the scripted pynetdicom SCP (``peers/commitment_scp.py``) on
127.0.0.1, set to withhold every report: ``send --verify commitment`` waits
a second and leaves each stored file ``unconfirmed`` (exit 4), its request's
Transaction UID recorded. ``tui-sender verify`` on the summary or the
journal asks again, and while it listens the archive sends the report for
the OLD request only (the new one is never answered): every file ends
``committed`` by that old request, exit 0.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from peers.commitment_scp import ArchiveSCP
from peers.processes import free_port
from tests.sending import SendRun, run_cli
from tui_sender.demo.samples.data import SampleSet, generate_samples

LISTENER_AE = "TUI_SENDER"


@pytest.fixture
def samples(tmp_path_factory: pytest.TempPathFactory) -> SampleSet:
    return generate_samples(tmp_path_factory.mktemp("samples"), profile="tiny", seed=31)


@pytest.fixture
def archive() -> Iterator[tuple[ArchiveSCP, int]]:
    """The archive, and the port of our listener it reports to."""
    port = free_port()
    scp = ArchiveSCP(commitment="withhold", report_to=("127.0.0.1", port, LISTENER_AE)).start()
    try:
        yield scp, port
    finally:
        scp.stop()


def _commit_flags(port: int, timeout: float) -> list[str]:
    return ["--commit-port", str(port), "--commit-host", "127.0.0.1",
            "--commit-timeout", str(timeout)]  # fmt: skip


@pytest.mark.parametrize("source", ["summary", "journal"])
def test_a_later_verify_takes_the_late_report_for_the_first_request(
    samples: SampleSet, archive: tuple[ArchiveSCP, int], tmp_path: Path, source: str
) -> None:
    scp, port = archive
    run = run_cli(
        ["send", "-i", str(samples.root), "-r", "-a", scp.ae_title, "-H", "127.0.0.1",
         "-p", str(scp.port), "-c", LISTENER_AE, "-t", "1", "--verify", "commitment",
         *_commit_flags(port, 1)],
        tmp_path,
    )  # fmt: skip
    files = len(samples.files)
    assert run.exit_code == 4, run.stderr + run.stdout
    assert run.summary["totals"]["sent"] == files
    assert run.summary["totals"]["verified"]["unconfirmed"] == files
    first = set(scp.withheld)
    assert first and {f["verified_transaction"] for f in run.summary["files"]} == first
    logs = tmp_path / "logs"
    journal = next(logs.glob("dicom_sender_journal_*.jsonl"))
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    verified_lines = [line for line in lines if line["kind"] == "verified"]
    assert len(verified_lines) == files
    assert {line["transaction"] for line in verified_lines} == first
    summary_path = logs / f"dicom_sender_summary_{run.summary['session_id']}.json"
    record = summary_path if source == "summary" else journal

    def later_verify() -> SendRun:
        return run_cli(["verify", str(record), *_commit_flags(port, 4)], tmp_path)

    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(later_verify)
        # its new requests have come: its listener is up (they stay unanswered)
        scp.wait_for_n_actions(2 * len(first), timeout=60)
        for uid in first:
            assert scp.release(uid), scp.report_errors
        again = running.result(timeout=120)

    assert again.exit_code == 0, again.stderr + again.stdout
    for uid in first:
        assert f"took a late report for the earlier request {uid}" in again.stderr
    verified = json.loads(summary_path.with_name(summary_path.stem + ".verified.json").read_text())
    stored = [f for f in verified["files"] if f["state"] in ("sent", "warning")]
    assert len(stored) == files
    assert {f["verified"] for f in stored} == {"committed"}
    assert {f["verified_transaction"] for f in stored} == first, "proven by the first request"
    assert all(f["verified_at"] for f in stored)
    assert verified["totals"]["verified"]["committed"] == files
    assert verified["totals"]["verified"]["unconfirmed"] == 0
    assert verified["exit_code"] == 0, "the record says what the command said: all proven"
    (dest,) = verified["destinations"]
    assert dest["verified"]["committed"] == files
    new = set(dest["commitment_transactions"])
    assert new and not new & first, "it asked again, under new Transaction UIDs"
    assert set(scp.withheld) == first | new
