"""The layers hold: import-linter's contracts in pyproject.toml, and the core loads no Textual.

The static contracts run in ``test_static_checks``; here a copy of the package
with one forbidden import added shows that they break when they should, and a
fresh interpreter shows that importing the whole core leaves Textual unloaded.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tui_sender.core

ROOT = Path(__file__).resolve().parents[1]
CORE = Path(tui_sender.core.__file__).parent


def _core_modules() -> list[str]:
    modules = []
    for path in sorted(CORE.rglob("*.py")):
        parts = path.relative_to(CORE.parent.parent).with_suffix("").parts
        modules.append(
            ".".join(p for p in parts if p != "__init__")
            if parts[-1] == "__init__"
            else ".".join(parts)
        )
    return modules


def test_core_modules_do_not_load_textual() -> None:
    """Importing every core module in a fresh interpreter leaves textual and the UI unloaded."""
    modules = _core_modules()
    assert len(modules) > 30, modules
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')"
        " or m.startswith(('tui_sender.ui', 'tui_sender.demo')))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "", f"core pulled in: {out.stdout.strip()}"


def _lint_copy_with(tmp_path: Path, module: str, line: str) -> subprocess.CompletedProcess[str]:
    """Run lint-imports on a copy of the package where ``module`` gains ``line`` inside a function.

    Inside a function on purpose: a lazy import is the kind a reviewer misses.
    """
    shutil.copytree(
        ROOT / "tui_sender", tmp_path / "tui_sender", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / Path(*module.split(".")).with_suffix(".py")
    target.write_text(target.read_text() + f"\n\ndef _added_by_a_test() -> None:\n    {line}\n")
    exe = Path(sys.executable).parent / "lint-imports"
    if not exe.exists():
        pytest.fail("lint-imports is not installed: install the test extra (pip install '.[test]')")
    env = {"PATH": str(exe.parent), "PYTHONPATH": str(tmp_path), "HOME": str(tmp_path)}
    return subprocess.run(
        [str(exe), "--no-cache"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        (
            "tui_sender.core.model.catalog",
            "from tui_sender.core.engine import session  # noqa",
            "The core's layers import downwards only BROKEN",
        ),
        (
            "tui_sender.core.net.link",
            "import textual  # noqa",
            "The core never imports Textual or the UI BROKEN",
        ),
        (
            "tui_sender.core.engine.session",
            "from tui_sender.demo import receiver  # noqa",
            "The core never imports the demo, the commands or the console BROKEN",
        ),
        (
            "tui_sender.ui.screens.summary",
            "from tui_sender.ui.app import SenderApp  # noqa",
            "No import circles among the siblings of any package BROKEN",
        ),
    ],
    ids=["upward-in-core", "textual-in-core", "demo-in-core", "screen-imports-app"],
)
def test_a_forbidden_import_breaks_a_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    out = _lint_copy_with(tmp_path, module, line)
    assert out.returncode != 0, out.stdout
    assert contract in out.stdout, out.stdout
