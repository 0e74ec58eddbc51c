"""``tui-sender echo``: C-ECHO a destination, like ``ping`` for a PACS.

Each try is a whole association (connect, negotiate, C-ECHO, release), so
``--count`` exercises what a send does first, and a flaky firewall or a PACS
that runs out of associations shows up. Results go to stdout, failures to
stderr with the reason and what to check.

Exit codes: 0 every echo succeeded; 3 the destination could not be reached
or associated (or never answered the echo); 1 it associated but answered the
C-ECHO with a non-success status; 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import sys
from statistics import mean

from tui_sender.commands.common import (
    add_destination_args,
    destination_from_args,
    positive_int,
    positive_seconds,
)
from tui_sender.core.config.destinations import DEFAULT_CALLING_AE
from tui_sender.core.config.settings import ConfigError
from tui_sender.core.engine.echo import EchoResult, FailureKind, echo

EXIT_OK = 0
EXIT_ECHO_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3

PROG = "tui-sender echo"


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the ``echo`` subcommand's arguments."""
    add_destination_args(parser, calling_default=DEFAULT_CALLING_AE)
    parser.add_argument(
        "--count",
        type=positive_int,
        default=1,
        metavar="N",
        help="number of echoes, one association each (default 1)",
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        metavar="S",
        help="cap on every network wait, in seconds (default: the destination's timeouts)",
    )


def _describe(result: EchoResult, attempt: int, count: int) -> str:
    prefix = f"[{attempt}/{count}] " if count > 1 else ""
    release = f", release {result.release_ms:.1f} ms" if result.release_ms is not None else ""
    if result.web:
        return (
            f"{prefix}{result.peer}: QIDO-RS ok in {result.echo_ms:.1f} ms "
            f"(connect and first request {result.associate_ms:.1f} ms; "
            f"{result.peer_implementation})"
        )
    return (
        f"{prefix}{result.peer}: C-ECHO ok in {result.echo_ms:.1f} ms "
        f"(association {result.associate_ms:.1f} ms{release})"
    )


def _summary(results: list[EchoResult]) -> str:
    good = [r for r in results if r.ok]
    line = f"{len(good)} of {len(results)} echoes succeeded"
    if good:
        echoes = [r.echo_ms or 0.0 for r in good]
        assocs = [r.associate_ms or 0.0 for r in good]
        line += (
            f"; echo min/avg/max {min(echoes):.1f}/{mean(echoes):.1f}/{max(echoes):.1f} ms"
            f"; association {min(assocs):.1f}/{mean(assocs):.1f}/{max(assocs):.1f} ms"
        )
    return line


def exit_code(results: list[EchoResult]) -> int:
    """0 all succeeded, 1 an echo got a bad status, 3 a try could not associate or got no answer."""
    kinds = {r.failure.kind for r in results if r.failure is not None}
    if not kinds:
        return EXIT_OK
    if kinds == {FailureKind.BAD_STATUS}:
        return EXIT_ECHO_FAILED
    return EXIT_UNREACHABLE


def run(args: argparse.Namespace) -> int:
    """Echo the destination ``--count`` times; print each round trip; return the exit code."""
    try:
        destination = destination_from_args(args)
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE

    results: list[EchoResult] = []
    for attempt in range(1, args.count + 1):
        result = echo(destination, timeout=args.timeout)
        results.append(result)
        if result.ok:
            print(_describe(result, attempt, args.count), flush=True)
        else:
            prefix = f"[{attempt}/{args.count}] " if args.count > 1 else ""
            print(f"{prefix}{PROG}: {result.reason}", file=sys.stderr, flush=True)
    if args.count > 1:
        print(_summary(results))
    return exit_code(results)
