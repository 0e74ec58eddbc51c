"""``tui-sender demo``: try everything on one machine, with nothing to set up.

Generates sample studies (once; cached), starts the embedded storage SCP on
127.0.0.1 and opens the app with that SCP as a ready destination. With
``--headless`` it sends to the SCP from the console instead, like
``tui-sender send`` would.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from rich.console import Console

from tui_sender.commands.common import positive_int
from tui_sender.core.config.destinations import Destination
from tui_sender.demo.receiver import StorageSCP
from tui_sender.demo.samples.data import PROFILES, generate_samples

DEMO_AE = "DEMO_PACS"


def demo_data_dir(profile: str, seed: int) -> Path:
    """Where the demo's sample studies are cached between runs."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tui-sender" / "demo" / f"{profile}-seed{seed}"


def ensure_samples(profile: str, seed: int, console: Console) -> Path:
    """Generate the sample studies unless a complete copy is cached."""
    root = demo_data_dir(profile, seed)
    marker = root.with_name(root.name + ".complete")
    if not marker.exists():
        console.print(f"Generating {profile} sample studies in {root} ...", markup=False)
        generate_samples(root, profile=profile, seed=seed)
        marker.write_text("ok\n")
    return root


def demo_destination(scp: StorageSCP) -> Destination:
    """The address-book entry for the embedded SCP."""
    return Destination(
        name="demo-pacs",
        ae_title=scp.ae_title,
        host="127.0.0.1",
        port=scp.port,
        calling_ae="TUI_SENDER",
        workers=2,
        description="Embedded storage SCP started by 'tui-sender demo'",
    )


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the ``demo`` arguments."""
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="demo",
        help="sample set size: tiny (~500 small files), demo (default), large (~1 GB)",
    )
    parser.add_argument("--seed", type=int, default=1, help="sample data seed (default 1)")
    parser.add_argument(
        "--headless", action="store_true", help="send from the console instead of opening the app"
    )
    parser.add_argument(
        "-t", "--threads", type=positive_int, default=2, help="workers for --headless (default 2)"
    )
    parser.add_argument(
        "--logs-dir", type=Path, default=Path("logs"), help="session records (default ./logs)"
    )


def run(args: argparse.Namespace) -> int:
    """Generate, serve, and open the app (or send headless)."""
    console = Console(highlight=False)
    data = ensure_samples(args.profile, args.seed, console)
    with (
        tempfile.TemporaryDirectory(prefix="tui-sender-demo-received-") as received,
        StorageSCP(ae_title=DEMO_AE, output_dir=Path(received)) as scp,
    ):
        destination = demo_destination(scp)
        console.print(
            f"Demo PACS {destination.peer_label} is receiving into {received}", markup=False
        )
        if args.headless:
            return _send_headless(data, destination, args)
        from tui_sender.ui.launch import run_app

        # The demo's address book is its own: the embedded PACS (on a port that
        # changes every run) must not end up in the user's real one.
        return run_app(
            [str(data)], config=str(data.parent / "demo-config.toml"), demo_destination=destination
        )


def _send_headless(data: Path, destination: Destination, args: argparse.Namespace) -> int:
    from tui_sender.commands import send

    parser = argparse.ArgumentParser(prog="tui-sender demo")
    send.configure(parser)
    send_args = parser.parse_args(
        [
            "-i",
            str(data),
            "-r",
            "-a",
            destination.ae_title,
            "-H",
            destination.host,
            "-p",
            str(destination.port),
            "-t",
            str(args.threads),
            "--logs-dir",
            str(args.logs_dir),
        ]
    )
    return send.run(send_args)
