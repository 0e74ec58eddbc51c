"""ruff, strict mypy and the import-linter contract run as part of the suite."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    exe = BIN / name
    if exe.exists():
        return str(exe)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: install the test extra (pip install -e '.[test]')")
    return found


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_lint() -> None:
    out = _run(_tool("ruff"), "check", "tui_sender", "tests", "bench", "peers")
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format() -> None:
    out = _run(_tool("ruff"), "format", "--check", "tui_sender", "tests", "bench", "peers")
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict() -> None:
    out = _run(_tool("mypy"))
    assert out.returncode == 0, out.stdout + out.stderr


def test_import_linter_contract() -> None:
    out = _run(_tool("lint-imports"))
    assert out.returncode == 0, out.stdout + out.stderr
