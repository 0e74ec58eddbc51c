"""``tui-sender scp``: run the small storage SCP in the foreground until Ctrl-C.

For trying the sender out without a PACS: it prints one line when it starts,
one per association that ends (who sent, how many instances, how many bytes)
and a total when it stops. SIGINT and SIGTERM both stop it cleanly with exit
code 0.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from tui_sender.demo.receiver import DEFAULT_SCP_AE_TITLE, AssociationReport, StorageSCP

EXIT_OK = 0
EXIT_USAGE = 2

DEFAULT_PORT = 11112
DEFAULT_OUTPUT = Path("received")

_print_lock = threading.Lock()


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the ``scp`` subcommand's arguments."""
    parser.add_argument(
        "--port",
        "-p",
        type=_port,
        default=DEFAULT_PORT,
        help=f"TCP port to listen on (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)",
    )
    parser.add_argument(
        "--ae-title",
        "-a",
        default=DEFAULT_SCP_AE_TITLE,
        help=f"this SCP's AE title (default {DEFAULT_SCP_AE_TITLE})",
    )
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="directory for received files, <SOPInstanceUID>.dcm (default ./received)",
    )
    parser.add_argument(
        "--ignore",
        action="store_true",
        help="receive and discard (nothing is written): a receiver for benchmarks",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; return the exit code."""
    try:
        scp = StorageSCP(
            host=args.host,
            port=args.port,
            ae_title=args.ae_title,
            output_dir=None if args.ignore else args.output,
            ignore=args.ignore,
            on_association_end=_print_association,
        )
        scp.start()
    except (ValueError, OSError) as exc:
        print(f"tui-sender scp: {exc}", file=sys.stderr)
        return EXIT_USAGE

    stop = threading.Event()
    restore = _stop_on_signals(stop)
    where = "discarding received data" if args.ignore else f"writing to {scp.output_dir}"
    _say(f"Listening on {scp.host}:{scp.port} as {scp.ae_title}, {where} (Ctrl-C to stop)")
    try:
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        restore()
        scp.stop()
    _say(
        f"Stopped: {scp.received_count} instances, {scp.received_bytes} bytes "
        f"in {scp.association_count} associations"
        + (f", {scp.failed_count} could not be stored" if scp.failed_count else "")
    )
    return EXIT_OK


def _print_association(report: AssociationReport) -> None:
    failed = f", {report.failed} failed" if report.failed else ""
    _say(
        f"Association from {report.calling_ae_title} ({report.peer}) {report.outcome}: "
        f"{report.instances} instances, {report.bytes} bytes{failed} "
        f"in {report.seconds:.2f} s"
    )


def _say(line: str) -> None:
    """One line to stdout, flushed, never interleaved with another thread's."""
    with _print_lock:
        print(line, flush=True)


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """Make SIGINT and SIGTERM set ``stop`` while serving; return the undo.

    Handling SIGINT here rather than as ``KeyboardInterrupt`` also stops a
    server started in the background by a non-interactive shell, which
    starts it with SIGINT ignored. Signal handlers can only be installed
    from the main thread; elsewhere (``run`` in a test thread) the caller
    stops it by other means.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range 0-65535: {value}")
    return value
