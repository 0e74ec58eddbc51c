"""The core must stay importable without Textual (DESIGN.md: the core never draws)."""

import subprocess
import sys
from pathlib import Path

import tui_sender.core

CORE = Path(tui_sender.core.__file__).parent


def test_core_modules_do_not_load_textual() -> None:
    """Importing every core module in a fresh interpreter leaves textual unloaded."""
    modules = sorted(f"tui_sender.core.{p.stem}" for p in CORE.glob("*.py") if p.stem != "__init__")
    assert modules, "no core modules found"
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')"
        " or m.startswith('tui_sender.ui'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "", f"core pulled in: {out.stdout.strip()}"


def test_core_sources_never_mention_textual_imports() -> None:
    """A static check too, so a lazy import inside a function cannot sneak in."""
    offenders = []
    for path in CORE.rglob("*.py"):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith(("import textual", "from textual", "from tui_sender.ui")):
                offenders.append(f"{path.name}:{n}: {stripped}")
    assert offenders == []
