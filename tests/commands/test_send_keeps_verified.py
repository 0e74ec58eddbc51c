"""A resumed session (or a re-send of the same folder) keeps what was verified.

Files the destination already holds are skipped; their summary entries carry
what the archive last said about them (``verified``, ``verified_reason``,
``verified_at``), from the stored-instance index, which remembers the last
verdict of ``send --verify`` and ``tui-sender verify`` (and reads it back from
the journals). The archive is the scripted storage commitment and C-FIND SCP
(``peers/commitment_scp.py``) on 127.0.0.1; each send is the real CLI.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from peers.commitment_scp import ArchiveSCP
from peers.processes import free_port
from tests.sending import SendRun, check_counts_add_up, run_cli
from tui_sender.core.model.verification import VERIFIED_VALUES
from tui_sender.core.record.journal import journal_path, read_journal
from tui_sender.demo.samples.data import SampleSet, generate_tiny_files

US = "TUI_SENDER"
FILES = 6


@pytest.fixture
def samples(tmp_path: Path) -> SampleSet:
    return generate_tiny_files(tmp_path / "in", FILES)


@pytest.fixture
def listener_port() -> int:
    return free_port()


@pytest.fixture
def archive(listener_port: int) -> Iterator[ArchiveSCP]:
    scp = ArchiveSCP(report_to=("127.0.0.1", listener_port, US)).start()
    yield scp
    scp.stop()


def _send(cwd: Path, scp: ArchiveSCP, *extra: str) -> SendRun:
    return run_cli(
        ["send", "-i", str(cwd / "in"), "-r", "-a", scp.ae_title, "-H", "127.0.0.1",
         "-p", str(scp.port), "-c", US, "-t", "2", *extra],
        cwd,
        timeout=90,
    )  # fmt: skip


def _commitment(port: int, timeout: float = 10) -> list[str]:
    return [
        "--verify", "commitment", "--commit-port", str(port), "--commit-host", "127.0.0.1",
        "--commit-timeout", str(timeout),
    ]  # fmt: skip


def _by_uid(files: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f["sop_instance_uid"]: f for f in files}


def _verdicts(files: list[dict[str, Any]]) -> dict[str, tuple[str, str, str | None]]:
    return {
        f["sop_instance_uid"]: (f["verified"], f["verified_reason"], f["verified_at"])
        for f in files
    }


def _check_verified_counts(summary: dict[str, Any]) -> None:
    """The verified totals, overall and per destination, are the entries counted."""
    counted = Counter(f["verified"] for f in summary["files"])
    expected = {value: counted.get(value, 0) for value in VERIFIED_VALUES}
    assert summary["totals"]["verified"] == expected
    (dest,) = summary["destinations"]
    assert dest["verified"] == expected


def _seconds(iso: str | None) -> float:
    assert iso is not None
    return dt.datetime.fromisoformat(iso).timestamp()


def test_a_resumed_session_keeps_what_was_committed(
    samples: SampleSet, archive: ArchiveSCP, listener_port: int, tmp_path: Path
) -> None:
    first = _send(tmp_path, archive, *_commitment(listener_port))
    assert first.exit_code == 0, first.stderr
    assert {f["verified"] for f in first.files()} == {"committed"}
    assert len(first.files("sent")) == FILES
    earlier = _verdicts(first.files())

    # One more file in the folder; the resumed session sends it, and only it.
    extra = generate_tiny_files(tmp_path / "extra", 1, seed=5).files[0]
    shutil.copy(extra, tmp_path / "in" / "extra.dcm")
    asked_before = len(archive.n_actions)
    resumed = run_cli(["send", "--resume", first.summary["session_id"]], tmp_path, timeout=90)

    assert resumed.exit_code == 0, resumed.stderr
    check_counts_add_up(resumed.summary)
    totals = resumed.summary["totals"]
    assert (totals["sent"], totals["skipped"], totals["failed"]) == (1, FILES, 0)
    assert resumed.summary["destinations"][0]["verify"] == "commitment"
    skipped = resumed.files("skipped")
    assert all("already stored" in f["reason"] for f in skipped)
    # The held files say what the first session's commitment said, reason and time.
    assert _verdicts(skipped) == earlier
    # The new file was asked about now, alone.
    (sent,) = resumed.files("sent")
    assert sent["verified"] == "committed"
    assert _seconds(sent["verified_at"]) > max(_seconds(at) for _, _, at in earlier.values())
    new_requests = archive.n_actions[asked_before:]
    assert [r.sop_instance_uids for r in new_requests] == [[sent["sop_instance_uid"]]]
    assert totals["verified"]["committed"] == FILES + 1
    _check_verified_counts(resumed.summary)
    # The journal says it too (what `tui-sender verify` of a killed session reads).
    journal = read_journal(journal_path(tmp_path / "logs", resumed.summary["session_id"]))
    journaled = {uid: line["verified"] for (_, uid), line in journal.verified.items()}
    assert journaled == {uid: "committed" for uid in [*earlier, sent["sop_instance_uid"]]}


def test_a_resend_carries_an_unconfirmed_verdict_and_the_journal_rebuilds_it(
    samples: SampleSet, listener_port: int, tmp_path: Path
) -> None:
    """An archive that never reports: unconfirmed, carried as such by the re-send (whose
    exit code, having stored and asked nothing, stays 0), even after the index is lost."""
    scp = ArchiveSCP(commitment="never", report_to=("127.0.0.1", listener_port, US)).start()
    try:
        first = _send(tmp_path, scp, *_commitment(listener_port, timeout=1))
        assert first.exit_code == 4, first.stderr
        assert {f["verified"] for f in first.files()} == {"unconfirmed"}
        earlier = _verdicts(first.files())

        asked_before = len(scp.n_actions)
        again = _send(tmp_path, scp, *_commitment(listener_port, timeout=1))
        assert again.exit_code == 0, again.stderr
        check_counts_add_up(again.summary)
        assert again.summary["totals"]["skipped"] == FILES
        assert _verdicts(again.files("skipped")) == earlier
        assert again.summary["totals"]["verified"]["unconfirmed"] == FILES
        _check_verified_counts(again.summary)
        assert len(scp.n_actions) == asked_before, "nothing stored, nothing asked"
        carried = f"{FILES} skipped as already stored carry an earlier verification"
        assert f"{carried}: {FILES} unconfirmed" in again.stdout

        # The index is lost (another machine, a wiped state folder): the journals in the
        # logs folder bring back both what was stored and what was verified.
        shutil.rmtree(tmp_path / "state")
        rebuilt = _send(tmp_path, scp)
        assert rebuilt.exit_code == 0, rebuilt.stderr
        check_counts_add_up(rebuilt.summary)
        assert rebuilt.summary["totals"]["skipped"] == FILES
        carried = _verdicts(rebuilt.files("skipped"))
        assert carried.keys() == earlier.keys()
        for uid, (verified, reason, at) in carried.items():
            assert (verified, reason) == earlier[uid][:2]
            # The journal keeps times to the millisecond.
            assert abs(_seconds(at) - _seconds(earlier[uid][2])) <= 0.0015
        assert rebuilt.summary["totals"]["verified"]["unconfirmed"] == FILES
        _check_verified_counts(rebuilt.summary)
    finally:
        scp.stop()


def test_verify_later_is_what_a_resend_carries_and_never_verified_stays_not_asked(
    samples: SampleSet, archive: ArchiveSCP, tmp_path: Path
) -> None:
    first = _send(tmp_path, archive)
    assert first.exit_code == 0, first.stderr

    # Stored, never verified: a re-send under --verify skips them all and asks nothing.
    unverified = _send(tmp_path, archive, "--verify", "find")
    assert unverified.exit_code == 0, unverified.stderr
    assert unverified.summary["totals"]["skipped"] == FILES
    assert {f["verified"] for f in unverified.files()} == {"not-asked"}
    _check_verified_counts(unverified.summary)
    assert archive.finds == []

    # The archive loses one; the next morning's verify of the first record says so.
    lost = first.files("sent")[0]["sop_instance_uid"]
    assert archive.forget(lost)
    summary_path = tmp_path / "logs" / f"dicom_sender_summary_{first.summary['session_id']}.json"
    checked = run_cli(["verify", str(summary_path), "--method", "find"], tmp_path)
    assert checked.exit_code == 4, checked.stderr
    verified_summary = json.loads(summary_path.with_suffix(".verified.json").read_text())
    later = _verdicts(verified_summary["files"])
    assert Counter(v for v, _, _ in later.values()) == {"found": FILES - 1, "missing": 1}
    assert later[lost][0] == "missing"

    # A plain re-send (no --verify) carries what that verify said, and sends the lost one
    # again: the archive said it does not hold it.
    resent = _send(tmp_path, archive)
    assert resent.exit_code == 0, resent.stderr
    check_counts_add_up(resent.summary)
    assert resent.summary["totals"]["skipped"] == FILES - 1
    assert [f["sop_instance_uid"] for f in resent.files("sent")] == [lost]
    assert lost in archive.held
    del later[lost]
    assert _verdicts(resent.files("skipped")) == later
    assert resent.files("sent")[0]["verified"] == "not-asked"
    assert resent.summary["totals"]["verified"]["found"] == FILES - 1
    assert resent.summary["totals"]["verified"]["missing"] == 0
    _check_verified_counts(resent.summary)


def test_a_forced_resend_that_is_not_verified_drops_the_earlier_proof(
    samples: SampleSet, archive: ArchiveSCP, listener_port: int, tmp_path: Path
) -> None:
    """The proof was about the copy stored then: after a ``--force`` re-send that was not
    verified, a later skip says not-asked, not committed."""
    first = _send(tmp_path, archive, *_commitment(listener_port))
    assert first.exit_code == 0, first.stderr
    assert {f["verified"] for f in first.files()} == {"committed"}
    forced = _send(tmp_path, archive, "--force")
    assert forced.exit_code == 0, forced.stderr
    assert forced.summary["totals"]["sent"] == FILES

    again = _send(tmp_path, archive, *_commitment(listener_port))
    assert again.exit_code == 0, again.stderr
    assert again.summary["totals"]["skipped"] == FILES
    assert {f["verified"] for f in again.files()} == {"not-asked"}
    _check_verified_counts(again.summary)
