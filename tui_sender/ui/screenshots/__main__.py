"""``python -m tui_sender.ui.screenshots [--out screenshots/] [--profile demo]``.

Generates the sample studies in a temporary folder, runs the staged app there
(so only relative paths show) on a frozen dashboard clock, and writes one SVG
per README picture at 120x40. The same seed and profile give the same files.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from tui_sender.demo.samples.data import PROFILES, generate_samples
from tui_sender.ui.screenshots.clock import FrozenClock, frozen_dashboard_clock
from tui_sender.ui.screenshots.scenes import (
    Scene,
    browse_scene,
    dashboard_scene,
    destinations_scene,
    summary_scene,
)
from tui_sender.ui.screenshots.showcase import SAMPLES, SEED, ShowcaseApp

SIZE = (120, 40)
"""Columns and rows of the README pictures."""
PROFILE = "demo"
"""Sample profile of the README pictures: realistic sizes (the snapshot tests use "tiny")."""
PICTURES: dict[str, Scene] = {
    "browser": browse_scene,
    "destinations": destinations_scene,
    "dashboard": dashboard_scene,
    "summary": summary_scene,
}
"""README picture name -> the scene it shows."""


async def render(scene: Scene, clock: FrozenClock, size: tuple[int, int] = SIZE) -> str:
    """The SVG of ``scene``; run it where :data:`SAMPLES` is in the working directory."""
    app = ShowcaseApp(clock)
    async with app.run_test(size=size) as pilot:
        await scene(pilot)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        svg = app.export_screenshot(title="tui-sender")
        if app.staged is not None:
            app.staged.release()
    return svg


@contextlib.contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def write_screenshots(out: Path, profile: str = PROFILE) -> list[Path]:
    """Write every README picture into ``out``; return the files written."""
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with (
        tempfile.TemporaryDirectory(prefix="tui-sender-screenshots-") as work,
        _working_directory(Path(work)),
        frozen_dashboard_clock() as clock,
    ):
        generate_samples(Path(SAMPLES), profile=profile, seed=SEED)
        for name, scene in PICTURES.items():
            target = out / f"{name}.svg"
            target.write_text(asyncio.run(render(scene, clock)), encoding="utf-8")
            written.append(target)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, write the pictures, print their paths."""
    parser = argparse.ArgumentParser(
        prog="python -m tui_sender.ui.screenshots",
        description="Regenerate the README screenshots (SVG, 120x40) from the app itself.",
    )
    parser.add_argument("--out", default="screenshots", help="folder to write (screenshots)")
    parser.add_argument(
        "--profile", default=PROFILE, choices=sorted(PROFILES), help=f"samples ({PROFILE})"
    )
    args = parser.parse_args(argv)
    for path in write_screenshots(Path(args.out), args.profile):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
