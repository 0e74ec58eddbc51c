"""What a user installs: the built sdist and wheel, in a fresh venv, outside the checkout.

Administrators install tui-sender with pipx or pip from a wheel, never from a
git checkout, so these tests build the sdist, build the wheel from that sdist
(as pip does from PyPI), install the wheel into a new venv in a temporary
folder, and run it from another temporary folder with nothing of the checkout
on ``sys.path``: ``--version``, the headless demo, and the app itself in tmux
(open, scan, quit). A file the build leaves out fails here, not on a gateway.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from peers.stow_server import StowServer
from tests.tmux_terminal import TmuxTerminal, tmux_or_skip
from tui_sender import __version__
from tui_sender.demo.samples.data import generate_samples

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
BUILD_TIMEOUT = 240
THEME_FILES = sorted(p.name for p in (ROOT / "themes").iterdir() if p.suffix in {".tcss", ".toml"})
TEMPLATES = "tui_sender/core/record/templates"
TEMPLATE_FILES = sorted(p.name for p in (ROOT / TEMPLATES).iterdir() if p.suffix in {".j2", ".css"})


def test_every_package_in_the_tree_is_listed_for_the_build() -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    in_tree = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "tui_sender").rglob("__init__.py")
    }
    mapped = PYPROJECT["tool"]["setuptools"]["package-dir"]
    assert mapped == {"tui_sender.themes": "themes"}
    assert listed == in_tree | set(mapped), "pyproject.toml's package list is out of date"


def _run(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = BUILD_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def _clean_environment(home: Path) -> dict[str, str]:
    """The user's environment without anything that points at the checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        PYTHONNOUSERSITE="1",
    )
    env.pop("TUI_SENDER_CONFIG", None)
    env.pop("TUI_SENDER_STATE_DIR", None)
    return env


class Installed:
    """The wheel installed in a fresh venv; ``tui_sender`` runs it from ``home``."""

    def __init__(self, dist: Path, venv: Path, home: Path) -> None:
        self.dist = dist
        self.venv = venv
        self.home = home
        self.env = _clean_environment(home)

    @property
    def tui_sender(self) -> Path:
        return self.venv / "bin" / "tui-sender"

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return _run(self.tui_sender, *args, cwd=self.home, env=self.env, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("wheel")
    dist, venv, home = base / "dist", base / "venv", base / "home"
    home.mkdir()
    # sdist first, then the wheel built from the unpacked sdist: what pip does.
    _run(sys.executable, "-m", "build", "--outdir", dist, ROOT, cwd=base)
    wheel = next(dist.glob("tui_sender-*.whl"))
    _run(sys.executable, "-m", "venv", venv, cwd=base)
    _run(venv / "bin" / "python", "-m", "pip", "install", "-q", wheel, cwd=base)
    yield Installed(dist, venv, home)


@pytest.mark.slow
def test_the_sdist_and_the_wheel_carry_the_themes(installed: Installed) -> None:
    wheel = next(installed.dist.glob("*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
    for name in THEME_FILES:
        assert f"tui_sender/themes/{name}" in in_wheel
    assert "tui_sender/ui/help.md" in in_wheel
    sdist = next(installed.dist.glob("*.tar.gz"))
    with tarfile.open(sdist) as archive:
        in_sdist = {Path(*Path(n).parts[1:]).as_posix() for n in archive.getnames()}
    for name in THEME_FILES:
        assert f"themes/{name}" in in_sdist
    assert TEMPLATE_FILES == ["report.css", "report.html.j2"]
    for name in TEMPLATE_FILES:
        assert f"{TEMPLATES}/{name}" in in_wheel
        assert f"{TEMPLATES}/{name}" in in_sdist


@pytest.mark.slow
def test_the_installed_command_runs_from_anywhere(installed: Installed) -> None:
    assert installed.run("--version").stdout.strip() == f"tui-sender {__version__}"
    where = _run(
        installed.venv / "bin" / "python",
        "-c",
        "import tui_sender.ui.themes as t; print(t.__file__); print(t.THEMES_DIR)",
        cwd=installed.home,
        env=installed.env,
    ).stdout.split()
    for path in where:
        assert Path(path).is_relative_to(installed.venv), f"{path} is not in the installed venv"
        assert not Path(path).is_relative_to(ROOT)


@pytest.mark.slow
def test_the_installed_headless_demo_sends_every_file(installed: Installed) -> None:
    done = installed.run("demo", "--headless", "--profile", "tiny", timeout=180)
    found = re.search(r"found (\d+): (\d+) sent, 0 warning, 0 failed, 0 skipped", done.stdout)
    assert found, done.stdout
    assert int(found[1]) == int(found[2]) > 0
    summaries = list((installed.home / "logs").glob("dicom_sender_summary_*.json"))
    assert len(summaries) == 1
    totals = json.loads(summaries[0].read_text(encoding="utf-8"))["totals"]
    assert totals["sent"] == int(found[2])


@pytest.mark.slow
def test_the_installed_app_opens_scans_and_quits_in_a_terminal(installed: Installed) -> None:
    terminal = TmuxTerminal(tmux_or_skip(), columns=80, rows=24)
    try:
        terminal.start(
            f"{installed.tui_sender} demo --profile tiny; echo tui-sender exit status $?; sleep 60",
            cwd=installed.home,
            env=installed.env,
        )
        terminal.wait_for(r"\d+ studies, \d+ files", timeout=60)
        terminal.wait_for(r"s Send")
        terminal.press("q")
        terminal.wait_for(r"tui-sender exit status 0")
        assert "Traceback" not in terminal.screen()
    finally:
        terminal.kill()


@pytest.mark.slow
def test_the_installed_package_writes_the_html_report_from_its_template(
    installed: Installed,
) -> None:
    """No command writes a report headless (the summary screen does), so the API is called."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from tui_sender.core.record import html_report\n"
        "from tui_sender.core.record.export import export_session\n"
        "summary = {'session_id': 'wheel', 'files': [{'path': '<b>x</b>.dcm', 'state': 'failed',"
        " 'reason': 'refused', 'destination': 'PACS'}]}\n"
        "result = export_session(summary, Path('exports'), 'report')\n"
        "print(result.html)\n"
        "print(html_report.__file__)\n"
    )
    done = _run(
        installed.venv / "bin" / "python", "-c", code, cwd=installed.home, env=installed.env
    )
    report, module = (Path(line) for line in done.stdout.split())
    assert module.is_relative_to(installed.venv) and not module.is_relative_to(ROOT)
    document = (installed.home / report).read_text(encoding="utf-8")
    assert document.startswith("<!DOCTYPE html>")
    assert "--sent: #116329" in document, "the CSS is not inline"
    assert '<section id="failed">' in document and "✗ Failed: 1 file" in document
    assert "&lt;b&gt;x&lt;/b&gt;.dcm" in document and "<b>x</b>" not in document


@pytest.mark.slow
def test_the_installed_package_sends_by_stow_rs(installed: Installed, tmp_path: Path) -> None:
    """httpx comes with the wheel's dependencies: a DICOMweb send works from a fresh install."""
    samples = generate_samples(tmp_path / "in", profile="tiny", seed=43)
    with StowServer(keep_files=False) as server:
        done = installed.run("send", "--url", server.url, "-i", str(samples.root), "-r", "-q")
        assert done.returncode == 0, done.stdout + done.stderr
        assert len({r.sop_instance_uid for r in server.received}) == len(samples.files)
