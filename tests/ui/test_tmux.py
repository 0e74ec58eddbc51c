"""The real app in a real terminal: tmux, keys, and what a scripted SCP received.

``python -m tui_sender.cli samples`` runs in a detached tmux session of
100x30 (a private tmux server, so a user's tmux is never touched), with the
address book and the state folder in temporary places. The test presses the
keys an operator would (choose the destination, select one study, send,
confirm), reads the summary off the screen with ``capture-pane``, and checks
that the SCP received exactly the files the screen counts as sent. This
covers what headless pilot tests cannot: the terminal driver, escape-key
timing, and the exit back to the shell.

Skipped when tmux is missing, except with ``CI=true``, where it fails.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from peers.pynetdicom_scp import ScriptedSCP
from tests.tmux_terminal import FINISHED, TmuxTerminal, tmux_or_skip
from tui_sender.core.config.destinations import AddressBook, Destination
from tui_sender.core.scan.scanner import scan_paths
from tui_sender.demo.samples.data import generate_samples

ROOT = Path(__file__).resolve().parents[2]
SEND_TIMEOUT = 30.0


@pytest.fixture
def terminal() -> Iterator[TmuxTerminal]:
    term = TmuxTerminal(tmux_or_skip())
    yield term
    term.kill()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """``samples/`` (tiny profile) plus room for ``logs/``, the config and the state."""
    generate_samples(tmp_path / "samples", profile="tiny", seed=11)
    return tmp_path


def app_environment(workdir: Path, scps: dict[str, ScriptedSCP]) -> dict[str, str]:
    """The app's environment: an address book of ``scps`` and a private state folder."""
    config = workdir / "config.toml"
    destinations = [
        Destination(name=name, ae_title=scp.ae_title, host="127.0.0.1", port=scp.port, workers=2)
        for name, scp in scps.items()
    ]
    AddressBook(config, destinations).save()
    env = dict(os.environ)
    env.update(
        TUI_SENDER_CONFIG=str(config),
        TUI_SENDER_STATE_DIR=str(workdir / "state"),
        PYTHONPATH=str(ROOT),
        # The tree lists patients in set order, which follows the hash seed:
        # fix it so every run selects the same study.
        PYTHONHASHSEED="0",
    )
    return env


def start_app(terminal: TmuxTerminal, workdir: Path, env: dict[str, str]) -> None:
    """The app on ``samples/``, waited for until the scan has finished."""
    app = f"{shlex.quote(sys.executable)} -m tui_sender.cli samples"
    terminal.start(f"{app}; echo tui-sender exit status $?; sleep 60", cwd=workdir, env=env)
    terminal.wait_for(r"16 studies, 532 files, 0 skipped")


def finished_counts(terminal: TmuxTerminal) -> dict[str, int]:
    """The summary screen's counts, once the send has finished."""
    found = terminal.wait_for(FINISHED, SEND_TIMEOUT)
    return {k: int(v) for k, v in found.groupdict().items()}


def quit_app(terminal: TmuxTerminal) -> None:
    terminal.press("q")
    terminal.wait_for(r"tui-sender exit status 0")
    terminal.kill()


def all_sample_uids(workdir: Path) -> set[str]:
    studies = scan_paths([workdir / "samples"], recursive=True).studies.values()
    return {i.sop_instance_uid for s in studies for i in s.instances()}


@dataclass
class RunningApp:
    """The app in tmux on ``samples/``, scan finished, its one destination ``scp``."""

    terminal: TmuxTerminal
    scp: ScriptedSCP
    workdir: Path


@pytest.fixture
def running_app(
    terminal: TmuxTerminal, workdir: Path, scp_factory: Callable[..., ScriptedSCP]
) -> RunningApp:
    scp = scp_factory()
    start_app(terminal, workdir, app_environment(workdir, {"scripted": scp}))
    return RunningApp(terminal, scp, workdir)


def test_send_one_study_in_a_real_terminal(running_app: RunningApp) -> None:
    terminal, scp, workdir = running_app.terminal, running_app.scp, running_app.workdir
    # The address book's only destination is chosen at start, and the status line says why.
    terminal.wait_for(r"to: scripted \(the only destination\)")
    # One key at a time, each after the last one's effect shows, so a failure
    # says which key went wrong (typing ahead works too: see test_ui_flow).
    terminal.press("Right")
    terminal.wait_for(r"▼ \[ \]")
    terminal.press("Down")
    terminal.wait_for(r"acc\.")  # the details pane shows a study
    terminal.press("Space")
    terminal.wait_for(r"selected 1 studies")
    terminal.press("s")
    terminal.wait_for(r"Confirm send")
    terminal.press("Enter")
    counts = finished_counts(terminal)

    received = set(scp.stored())
    assert counts["sent"] == len(received) > 0
    assert counts["warning"] == counts["failed"] == counts["skipped"] == 0
    assert counts["found"] == counts["sent"]
    studies = scan_paths([workdir / "samples"], recursive=True).studies.values()
    whole_studies = [s for s in studies if {i.sop_instance_uid for i in s.instances()} == received]
    assert len(whole_studies) == 1, "the SCP should hold exactly the one selected study"

    summaries = list((workdir / "logs").glob("dicom_sender_summary_*.json"))
    assert len(summaries) == 1
    totals: dict[str, Any] = json.loads(summaries[0].read_text())["totals"]
    assert totals["sent"] == counts["sent"]
    quit_app(terminal)


def test_a_s_enter_sends_everything_to_the_only_destination(running_app: RunningApp) -> None:
    terminal, scp, workdir = running_app.terminal, running_app.scp, running_app.workdir
    terminal.press("a")
    terminal.wait_for(r"selected 16 studies, 532 files")
    terminal.press("s")
    terminal.wait_for(r"Confirm send")
    terminal.press("Enter")
    counts = finished_counts(terminal)
    assert counts == {"sent": 532, "warning": 0, "failed": 0, "skipped": 0, "found": 532}
    assert set(scp.stored()) == all_sample_uids(workdir)
    quit_app(terminal)


def test_the_destination_picked_at_send_is_chosen_again_next_run(
    workdir: Path, scp_factory: Callable[..., ScriptedSCP]
) -> None:
    first, second = scp_factory(ae_title="FIRST_SCP"), scp_factory(ae_title="SECOND_SCP")
    env = app_environment(workdir, {"archive-a": first, "archive-b": second})

    # First run: nothing chosen, so s opens the picker; enter on archive-b goes
    # straight on to the confirmation.
    terminal = TmuxTerminal(tmux_or_skip())
    start_app(terminal, workdir, env)
    terminal.wait_for(r"to: none \(press d\)")
    terminal.press("Right")
    terminal.wait_for(r"▼ \[ \]")
    terminal.press("Down")
    terminal.wait_for(r"acc\.")
    terminal.press("Space")
    terminal.wait_for(r"selected 1 studies")
    terminal.press("s")
    terminal.wait_for(r"Enter sends to the highlighted destination")
    terminal.press("Down")
    terminal.wait_for(r"archive-b: SECOND_SCP@")
    terminal.press("Enter")
    terminal.wait_for(r"→ archive-b")
    terminal.press("Enter")
    one_study = finished_counts(terminal)["sent"]
    quit_app(terminal)
    assert one_study == len(second.stored()) > 0

    # Second run: archive-b is chosen again, and a, s, enter sends the rest there.
    terminal = TmuxTerminal(tmux_or_skip())
    start_app(terminal, workdir, env)
    terminal.wait_for(r"to: archive-b \(chosen last time\)")
    terminal.press("a")
    terminal.wait_for(r"selected 16 studies")
    terminal.press("s")
    terminal.wait_for(r"→ archive-b")
    terminal.press("Enter")
    counts = finished_counts(terminal)
    quit_app(terminal)
    # The study sent in the first run is already stored there (the stored-instance index).
    assert counts["sent"] + counts["skipped"] == counts["found"] == 532
    assert counts["skipped"] == one_study
    assert set(second.stored()) == all_sample_uids(workdir)
    assert first.received == []
