"""The app dies on an exception: exit status non-zero, a crash file, a resumable journal.

The real app runs in tmux (``tests.tmux_terminal``) from a launcher script
written by the test: it patches one screen method to raise, then calls
``tui_sender.cli.main`` as the ``tui-sender`` entry point does. The fault is
in the test, not in the product. The shell records the exit status and
stderr in files, so the test reads exactly what a user's shell would get.
Every wait is bounded.
"""

from __future__ import annotations

import collections
import os
import re
import shlex
import stat
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from peers.pynetdicom_scp import ScriptedSCP
from tests.sending import check_counts_add_up, run_cli
from tests.tmux_terminal import TmuxTerminal, tmux_or_skip
from tui_sender.core.config.destinations import AddressBook, Destination
from tui_sender.core.record.journal import read_journal
from tui_sender.demo.samples.data import SampleSet, generate_samples
from tui_sender.ui.launch import format_error, resume_command

ROOT = Path(__file__).resolve().parents[2]
EXIT_TIMEOUT = 20.0
"""Seconds from the fault to the shell's prompt (the app stops sessions within 10 s)."""

LAUNCHER = '''\
"""tui-sender with one screen method patched to raise (TUI_SENDER_TEST_FAULT)."""
import os
import sys
import threading
import time

from tui_sender.cli import main
from tui_sender.ui import launch
from tui_sender.ui.screens.browse import BrowseScreen
from tui_sender.ui.screens.transfer import TransferScreen

fault = os.environ["TUI_SENDER_TEST_FAULT"]
if fault == "filter":
    def action_filter(self):
        raise RuntimeError("injected fault in the filter action")

    BrowseScreen.action_filter = action_filter
elif fault == "stuck-thread":
    launch.STOP_WITHIN = 1.0

    def action_filter(self):
        threading.Thread(target=time.sleep, args=(120,), name="stuck-thread").start()
        raise RuntimeError("injected fault with a thread that will not end")

    BrowseScreen.action_filter = action_filter
else:
    after = int(fault.removeprefix("after-files:"))
    on_event = TransferScreen._on_event

    def _on_event(self, event, new_lines):
        on_event(self, event, new_lines)
        if sum(self.counts.values()) >= after:
            raise RuntimeError(f"injected fault after {after} files")

    TransferScreen._on_event = _on_event
sys.exit(main())
'''

CRASH_LINE = re.compile(r"tui-sender: the app stopped on an error; traceback written to (\S+)")
RESUME_LINE = re.compile(
    r"tui-sender: session (\S+) was sending when the app stopped; resume with: (.+)"
)


@pytest.fixture
def terminal() -> Iterator[TmuxTerminal]:
    term = TmuxTerminal(tmux_or_skip())
    yield term
    term.kill()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> SampleSet:
    return generate_samples(tmp_path_factory.mktemp("crash-samples"), profile="tiny", seed=11)


def app_environment(workdir: Path, fault: str, scp: ScriptedSCP | None = None) -> dict[str, str]:
    """An address book of ``scp`` (or none), a private state folder, the fault to inject."""
    config = workdir / "config.toml"
    destinations = (
        [Destination(name="scripted", ae_title=scp.ae_title, host="127.0.0.1", port=scp.port)]
        if scp is not None
        else []
    )
    AddressBook(config, destinations).save()
    env = dict(os.environ)
    env.update(
        TUI_SENDER_CONFIG=str(config),
        TUI_SENDER_STATE_DIR=str(workdir / "state"),
        TUI_SENDER_TEST_FAULT=fault,
        PYTHONPATH=str(ROOT),
        PYTHONHASHSEED="0",
    )
    return env


def start(terminal: TmuxTerminal, workdir: Path, samples: SampleSet, env: dict[str, str]) -> None:
    """The patched app on the samples; the shell writes its exit status to a file."""
    launcher = workdir / "launcher.py"
    launcher.write_text(LAUNCHER)
    app = shlex.join([sys.executable, str(launcher), str(samples.root)])
    terminal.start(f"{app}; echo $? > status.txt; sleep 60", cwd=workdir, env=env)
    terminal.wait_for(rf"{len(samples.files)} files")  # the scan has finished


def stderr_text(terminal: TmuxTerminal) -> str:
    """What the app left in the terminal after it ended, wrapped lines joined.

    Textual draws on stderr, so stderr stays the terminal: Textual's traceback
    and the app's last lines are read from the pane's whole history.
    """
    return terminal._run("capture-pane", "-p", "-J", "-S", "-", "-t", terminal.session)


def exit_status(workdir: Path, since: float, timeout: float = EXIT_TIMEOUT) -> int:
    """The app's exit status once the shell wrote it; fail after ``timeout`` s."""
    status = workdir / "status.txt"
    while not (status.exists() and status.read_text().strip()):
        if time.monotonic() - since > timeout:
            raise AssertionError(f"the app had not exited {timeout:g} s after the fault")
        time.sleep(0.05)
    return int(status.read_text())


def crash_file(workdir: Path, stderr: str) -> Path:
    """The crash file stderr names: in the logs folder, owner-only."""
    found = CRASH_LINE.search(stderr)
    assert found, f"stderr does not name a crash file:\n{stderr}"
    path = Path(found.group(1))
    assert path.parent == (workdir / "logs").resolve()
    assert re.fullmatch(r"tui-sender-crash-\d{8}-\d{6}\.txt", path.name)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return path


def test_an_exception_in_a_screen_exits_non_zero_and_writes_a_crash_file(
    terminal: TmuxTerminal, workdir: Path, samples: SampleSet
) -> None:
    start(terminal, workdir, samples, app_environment(workdir, "filter"))
    terminal.press("/")
    pressed = time.monotonic()

    assert exit_status(workdir, pressed) == 1
    stderr = stderr_text(terminal)
    report = crash_file(workdir, stderr).read_text()
    assert report.startswith("tui-sender crash report\n")
    for field in ("time:", "version: tui-sender ", "python: ", "argv: ", "return code: 1"):
        assert f"\n{field}" in report
    assert "Traceback (most recent call last):" in report
    assert "in action_filter" in report
    assert report.rstrip().endswith("RuntimeError: injected fault in the filter action")
    assert "session sending" not in report  # nothing was being sent
    assert "resume with" not in stderr
    # The line that names the file comes last, after Textual's own traceback.
    last = stderr.rstrip().splitlines()[-1]
    assert last.startswith("tui-sender: the app stopped on an error"), stderr


def test_a_crash_mid_send_stops_the_session_and_a_resume_sends_the_rest(
    terminal: TmuxTerminal,
    workdir: Path,
    samples: SampleSet,
    scp_factory: Callable[..., ScriptedSCP],
) -> None:
    total = len(samples.files)
    scp = scp_factory(sleep=0.05)  # two workers: about 13 s for everything
    start(terminal, workdir, samples, app_environment(workdir, "after-files:30", scp))
    terminal.press("a")
    terminal.wait_for(r"selected 16 studies")
    terminal.press("s")
    terminal.wait_for(r"Confirm send")
    terminal.press("Enter")
    pressed = time.monotonic()

    # The app crashes after 30 files and the process leaves promptly: the
    # session is stopped, not left to send the rest.
    assert exit_status(workdir, pressed) == 1
    elapsed = time.monotonic() - pressed
    received_by_the_crashed_app = len(scp.received)
    assert 30 <= received_by_the_crashed_app < total, elapsed
    stderr = stderr_text(terminal)
    report = crash_file(workdir, stderr).read_text()
    assert "RuntimeError: injected fault after 30 files" in report

    resume = RESUME_LINE.search(stderr)
    assert resume, f"stderr does not say how to resume:\n{stderr}"
    session_id, command = resume.group(1), shlex.split(resume.group(2))
    assert f"session sending: {session_id}" in report
    assert command[:3] == ["tui-sender", "send", "--resume"]
    journal = read_journal(Path(command[3]))
    assert journal.session_id == session_id
    # Stopped as if cancelled: every file has its outcome, and the end line.
    assert journal.complete and journal.end is not None and journal.end["cancelled"]
    assert len(journal.files) == total
    stored_first = {f.sop_instance_uid for f in journal.stored()}
    assert 30 <= len(stored_first) < total
    assert stored_first <= set(scp.stored()), "the journal claims only what the SCP confirmed"

    # The printed command, headless, from the same folder: only what is missing.
    resumed = run_cli(command[1:], workdir)
    assert resumed.exit_code == 0, resumed.stderr
    check_counts_add_up(resumed.summary)
    assert resumed.summary["configuration"]["resumed_from"] == session_id
    assert resumed.summary["totals"]["sent"] == total - len(stored_first)
    assert len(resumed.files("skipped")) == len(stored_first)
    copies = collections.Counter(r.sop_instance_uid for r in scp.received)
    assert len(copies) == total and set(copies.values()) == {1}, "every file exactly once"


def test_a_thread_that_will_not_end_does_not_keep_the_process(
    terminal: TmuxTerminal, workdir: Path, samples: SampleSet
) -> None:
    """A thread Python would wait for (a session that does not stop) is left after the bound."""
    start(terminal, workdir, samples, app_environment(workdir, "stuck-thread"))
    terminal.press("/")
    pressed = time.monotonic()
    assert exit_status(workdir, pressed, timeout=10) == 1  # the thread sleeps 120 s
    stderr = stderr_text(terminal)
    assert "tui-sender: leaving stuck-thread behind after 1 s" in stderr
    assert "RuntimeError: injected fault with a thread" in crash_file(workdir, stderr).read_text()


def test_a_failed_worker_s_own_traceback_is_in_the_report() -> None:
    from textual.worker import WorkerFailed

    try:
        raise ValueError("deep in a worker")
    except ValueError as exc:
        error = exc
    text = format_error(WorkerFailed(error))
    assert text.startswith("Traceback (most recent call last):")
    assert "ValueError: deep in a worker" in text
    assert "in test_a_failed_worker_s_own_traceback_is_in_the_report" in text
    assert "Reported as: " in text and "WorkerFailed" in text


def test_the_resume_command_names_the_logs_folder_and_config_it_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    here = (tmp_path / "logs").resolve() / "dicom_sender_journal_x.jsonl"
    assert resume_command(here, None) == f"tui-sender send --resume {here}"
    elsewhere = tmp_path / "other logs" / "dicom_sender_journal_x.jsonl"
    assert shlex.split(resume_command(elsewhere, "my config.toml")) == [
        "tui-sender", "send", "--resume", str(elsewhere),
        "--logs-dir", str(elsewhere.parent), "--config", "my config.toml",
    ]  # fmt: skip
