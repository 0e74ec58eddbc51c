"""Command-line entry points: ``tui-sender`` and ``dicom-sender``.

``tui-sender [PATH ...]`` opens the app; ``tui-sender COMMAND ...`` runs a
subcommand (see DESIGN.md for the stable list). Each subcommand lives in
``tui_sender.commands`` and is imported only when used, so ``send`` under
cron never pays for loading the UI.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tui_sender import __version__


@dataclass(frozen=True)
class Command:
    """A subcommand: where it lives and what it says about itself."""

    module: str
    help: str
    configure: str = "configure"
    run: str = "run"


COMMANDS: dict[str, Command] = {
    "send": Command("send", "send DICOM files to a PACS (headless; flags of dicom-sender)"),
    "scan": Command("scan", "show what would be sent: studies, series, SOP classes, skipped"),
    "echo": Command("echo", "C-ECHO a destination (round-trip time)"),
    "verify": Command(
        "verify", "prove an archive holds what a session sent (storage commitment or C-FIND)"
    ),
    "report": Command("report", "write the CSV table and HTML report of a session's summary"),
    "scp": Command("scp", "run a small storage SCP that writes what it receives"),
    "demo": Command("demo", "generate sample studies, start an SCP and send to it"),
    "sop-classes": Command(
        "registries",
        "list storage SOP classes by category",
        "configure_sop_classes",
        "run_sop_classes",
    ),
    "transfer-syntaxes": Command(
        "registries",
        "list transfer syntaxes by category",
        "configure_transfer_syntaxes",
        "run_transfer_syntaxes",
    ),
}


def _load(command: Command) -> tuple[Callable[..., None], Callable[[argparse.Namespace], int]]:
    module = importlib.import_module(f"tui_sender.commands.{command.module}")
    return getattr(module, command.configure), getattr(module, command.run)


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tui-sender",
        description="Browse DICOM studies and send them to PACS destinations with C-STORE. "
        "Without a command, opens the terminal app on PATHs.",
        epilog="commands: "
        + "; ".join(f"{name}: {c.help}" for name, c in COMMANDS.items())
        + ". Run 'tui-sender COMMAND --help' for a command's options.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="folders or files to browse")
    parser.add_argument("--config", metavar="FILE", help="config file (address book, settings)")
    parser.add_argument(
        "--dest",
        action="append",
        default=[],
        metavar="NAME",
        help="destination from the address book to choose at start (repeatable)",
    )
    parser.add_argument("--logs-dir", metavar="DIR", help="session records (default ./logs)")
    parser.add_argument("--version", action="version", version=f"tui-sender {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``tui-sender``: a subcommand, or the app."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in COMMANDS:
        name = args[0]
        configure, run = _load(COMMANDS[name])
        parser = argparse.ArgumentParser(prog=f"tui-sender {name}", description=COMMANDS[name].help)
        configure(parser)
        return run(parser.parse_intermixed_args(args[1:]))
    parsed = _top_parser().parse_args(args)
    from tui_sender.ui.launch import run_app

    return run_app(parsed.paths, config=parsed.config, chosen=parsed.dest, logs_dir=parsed.logs_dir)


def dicom_sender_main(argv: Sequence[str] | None = None) -> int:
    """``dicom-sender``: ``tui-sender send`` with the Rust tool's defaults."""
    from tui_sender.commands import send

    parser = argparse.ArgumentParser(
        prog="dicom-sender",
        description="Send DICOM files to a PACS (drop-in for the Rust dicom-sender).",
    )
    send.configure_rust(parser)
    return send.run(parser.parse_args(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
