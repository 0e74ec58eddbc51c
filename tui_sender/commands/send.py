"""``tui-sender send`` (and ``dicom-sender``): the headless sender.

Flag-compatible with the Rust ``dicom-sender`` (``-i -a -H -p -r -c -t -v``),
so its users can switch by changing the program name; plus ``--dest`` from
the address book, timeouts, max PDU, the decompression policy and the logs
folder. Scans, sends, writes ``logs/dicom_sender_<id>.log`` and
``logs/dicom_sender_summary_<id>.json``, and exits with DESIGN.md's codes:
0 nothing failed, 1 some files failed, 2 usage or configuration error, 3 no
association could be established at all.

Ctrl-C stops cleanly: workers finish the C-STORE in flight (a second at
most), release their associations, the summary is written and unsent files
are marked failed (cancelled). A second Ctrl-C shuts the sockets at once.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tui_sender.commands.common import (
    add_commitment_args,
    add_destination_args,
    commitment_overrides,
    destination_from_args,
    positive_int,
    positive_seconds,
)
from tui_sender.core.base import wording
from tui_sender.core.config.destinations import AddressBook, DecompressPolicy, Destination
from tui_sender.core.config.settings import ConfigError
from tui_sender.core.engine.prepare import (
    SendRequest,
    check_destinations,
    prepare_scan_send,
    prepare_send,
)
from tui_sender.core.engine.session import EXIT_USAGE, Session, SessionResult
from tui_sender.core.engine.targets import DestinationSetupError, RetryPolicy
from tui_sender.core.engine.worker_process import processes_for_this_machine
from tui_sender.core.model.catalog import Catalog
from tui_sender.core.model.progress import WorkerState
from tui_sender.core.model.verification import VerifyMethod
from tui_sender.core.record.resume import ResumePlan, load_resume
from tui_sender.core.record.stored_index import StoredIndex
from tui_sender.core.scan.scanner import ScanProgress, scan_paths

if TYPE_CHECKING:  # Rich is imported once the first association is open
    from tui_sender.console import ConsoleSink

DEFAULT_CALLING_AE = "TUI_SENDER"
CONSOLE_WAIT = 0.5
"""Seconds the console (and Rich's import, about 35 ms of the one GIL) may wait for the
first association to open, so it does not hold up the A-ASSOCIATE-RQ."""
RUST_CALLING_AE = "RUST_SCU"


def configure(
    parser: argparse.ArgumentParser, *, calling_default: str = DEFAULT_CALLING_AE
) -> None:
    """Declare the ``send`` arguments (the Rust tool's, then ours)."""
    parser.add_argument(
        "-i",
        "--input",
        action="append",
        default=[],
        metavar="PATH",
        help="file or folder to send (repeatable; positional paths work too)",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="more files or folders")
    parser.add_argument("-r", "--recursive", action="store_true", help="descend into sub-folders")
    add_destination_args(parser, calling_default)
    parser.add_argument(
        "-t",
        "--threads",
        type=positive_int,
        metavar="N",
        help="parallel associations (default: the destination's workers, or 1)"
        if calling_default == RUST_CALLING_AE
        else "parallel associations (default: the destination's workers, or 2)",
    )
    parser.add_argument(
        "--processes",
        type=_processes,
        default="auto",
        metavar="P",
        help="spread each destination's associations over up to P worker processes, to use "
        "more than one core (default auto: one per core on Linux, at most one per "
        "association; 1: threads of one process)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="print every file and the negotiation"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the final totals")
    parser.add_argument(
        "--logs-dir",
        type=Path,
        default=Path("logs"),
        metavar="DIR",
        help="where the session log and summary go (default ./logs)",
    )
    parser.add_argument(
        "--max-pdu", type=int, metavar="BYTES", help="our maximum receive PDU (default 16382)"
    )
    parser.add_argument(
        "--connect-timeout", type=positive_seconds, metavar="S", help="TCP connect (default 10)"
    )
    parser.add_argument(
        "--acse-timeout",
        type=positive_seconds,
        metavar="S",
        help="association request and release (default 30)",
    )
    parser.add_argument(
        "--dimse-timeout",
        type=positive_seconds,
        metavar="S",
        help="wait for each C-STORE response (default 60)",
    )
    parser.add_argument(
        "--network-timeout",
        type=positive_seconds,
        metavar="S",
        help="longest a write may block on a peer that stopped reading (default 60)",
    )
    parser.add_argument(
        "--decompress",
        choices=[p.value for p in DecompressPolicy],
        help="when the PACS rejects a file's compressed syntax: never, lossless (default) or "
        "lossy (also decompress lossy-compressed files)",
    )
    parser.add_argument(
        "--retries",
        type=positive_int,
        default=3,
        metavar="N",
        help="attempts per file when the outcome is unknown or the PACS is out of resources "
        "(default 3)",
    )
    parser.add_argument(
        "--max-per-association",
        type=positive_int,
        metavar="N",
        help="release and reopen each association after N files (default: no limit)",
    )
    parser.add_argument(
        "--max-rate",
        metavar="RATE",
        help="bandwidth cap for all associations together, e.g. 20MB (per second; default: "
        "the destination's, or none)",
    )
    parser.add_argument(
        "--verify",
        choices=[m.value for m in VerifyMethod],
        help="after the send, prove the archive holds each stored instance: commitment "
        "(storage commitment), find (C-FIND) or none (default: the destination's, or none); "
        "exit code 4 when some instance is not proven",
    )
    add_commitment_args(parser)
    parser.add_argument(
        "--include-phi",
        action="store_true",
        help="put patient names and IDs in the summary (off by default)",
    )
    parser.add_argument(
        "--resume",
        metavar="SESSION",
        help="send again what session SESSION (an id from logs/) did not get stored: its "
        "failed, cancelled and unknown-outcome files",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="also send instances this destination already stored in an earlier session",
    )
    parser.set_defaults(default_threads=1 if calling_default == RUST_CALLING_AE else None)


def run(args: argparse.Namespace) -> int:
    """Scan, send, report; return the exit code.

    Start-up counts (the time to the first A-ASSOCIATE-RQ): nothing slow is
    imported before the session starts, and the console (Rich) comes once the
    first association is open (or after :data:`CONSOLE_WAIT`).
    """
    try:
        asked = _request(args)
        check_destinations(asked.request)
    except (ConfigError, DestinationSetupError) as exc:
        _say(f"tui-sender send: {exc}")
        return EXIT_USAGE
    request, resume = asked.request, asked.resume
    missing = [p for p in request.inputs if not os.path.lexists(p)]
    if missing:
        _say(f"tui-sender send: no such file or folder: {missing[0]}")
        return EXIT_USAGE
    if resume is not None and not args.quiet:
        r = resume
        _say(
            f"Resuming session {r.session_id} ({'ended' if r.complete else 'interrupted'}; "
            f"{r.stored} files stored then): sending what the destination does not hold yet"
        )

    index = StoredIndex()
    if resume is None:
        session = prepare_scan_send(request, index)  # the first C-STORE leaves mid-scan
    else:  # what to resend is chosen from the whole scan
        catalog = _scan(list(request.inputs), request.recursive, quiet=args.quiet)
        request = replace(request, instances=resume.select(catalog))
        session = prepare_send(request, catalog, index).session
    try:
        result, sink = _run_with_ctrl_c(session, verbose=args.verbose, quiet=args.quiet)
    finally:
        index.close()
    sink.report(result)
    return result.exit_code


def _say(text: str) -> None:
    """One plain line on stderr (before the console exists)."""
    print(text, file=sys.stderr, flush=True)


def _first_association_open(session: Session) -> bool:
    return any(p.association_id or p.state is WorkerState.DONE for p in session.progress)


def _console_sink(session: Session, *, verbose: bool, quiet: bool) -> ConsoleSink:
    from rich.console import Console

    from tui_sender.console import ConsoleSink

    console = Console(highlight=False, stderr=False)
    return ConsoleSink(console, session, verbose=verbose, quiet=quiet)


@dataclass(frozen=True)
class _Asked:
    """What this run sends, where: from the flags, or from a journal (--resume)."""

    request: SendRequest
    resume: ResumePlan | None


def _request(args: argparse.Namespace) -> _Asked:
    threads = args.threads if args.threads is not None else args.default_threads
    overrides: dict[str, object] = {
        "workers": threads,
        "max_pdu": args.max_pdu,
        "connect_timeout": args.connect_timeout,
        "acse_timeout": args.acse_timeout,
        "dimse_timeout": args.dimse_timeout,
        "network_timeout": args.network_timeout,
        "decompress": DecompressPolicy(args.decompress) if args.decompress else None,
        "max_per_association": args.max_per_association,
        "max_rate": args.max_rate,
        "verify": VerifyMethod(args.verify) if args.verify else None,
        **commitment_overrides(args),
    }
    paths = [os.fsdecode(p) for p in [*args.input, *args.paths]]
    plan: ResumePlan | None = None
    if args.resume:
        book = AddressBook.load(args.config)
        plan = load_resume(args.logs_dir, args.resume, book)
        if paths:
            raise ConfigError("--resume sends the inputs of that session: give no -i/PATH")
        named = args.dest is not None or args.ae_title is not None or args.url is not None
        if named:
            destinations: tuple[Destination, ...] = (destination_from_args(args, **overrides),)
        else:
            changes = {k: v for k, v in overrides.items() if v is not None}
            destinations = tuple(replace(d, **changes) for d in plan.destinations)  # type: ignore[arg-type]
        inputs, recursive = plan.inputs, plan.recursive
    else:
        if not paths:
            raise ConfigError("no input: give -i PATH (a file or folder)")
        destinations = (destination_from_args(args, **overrides),)
        inputs, recursive = tuple(paths), args.recursive
    request = SendRequest(
        inputs=inputs,
        recursive=recursive,
        destinations=destinations,
        from_book=frozenset(d.name for d in destinations) if args.dest is not None else frozenset(),
        study_uids=plan.study_uids if plan else None,
        series_uids=plan.series_uids if plan else None,
        retry=RetryPolicy(max_attempts=args.retries),
        logs_dir=args.logs_dir,
        include_phi=args.include_phi,
        skip_stored=not args.force,
        resumed_from=plan.session_id if plan else "",
        processes=_resolve_processes(args.processes),
        configuration={
            "inputs": list(inputs),
            "recursive": recursive,
            "threads": [d.workers for d in destinations],
            "processes": _resolve_processes(args.processes),
            "retries": args.retries,
            "verbose": args.verbose,
        },
    )
    return _Asked(request, plan)


def _processes(text: str) -> int | str:
    """argparse type for ``--processes``: ``auto`` or a whole number >= 1."""
    return "auto" if text == "auto" else positive_int(text)


def _resolve_processes(asked: int | str) -> int:
    return processes_for_this_machine() if asked == "auto" else int(asked)


def _scan(paths: list[str], recursive: bool, *, quiet: bool) -> Catalog:
    """Scan with a progress line on a terminal."""
    from rich.console import Console

    err = Console(stderr=True, highlight=False)
    started = time.monotonic()
    live = err.is_terminal and not quiet

    def show(p: ScanProgress) -> None:
        if live:
            err.print(
                f"scanning: {p.files_seen} files, {p.instances} DICOM, {p.skipped} skipped",
                end="\r",
                markup=False,
            )

    catalog = scan_paths(paths, recursive=recursive, on_progress=show)
    if not quiet:
        took = time.monotonic() - started
        found = catalog.instance_count()
        line = wording.scan_result(
            found + len(catalog.skipped),
            found,
            catalog.total_bytes(),
            len(catalog.studies),
            len(catalog.skipped),
            took,
        )
        err.print(line + " " * 10, markup=False, soft_wrap=True)
    return catalog


def _run_with_ctrl_c(
    session: Session, *, verbose: bool, quiet: bool
) -> tuple[SessionResult, ConsoleSink]:
    """Run the session in a thread; the main thread draws and handles Ctrl-C."""
    box: dict[str, SessionResult | BaseException] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["result"] = session.run()
        except BaseException as exc:  # reported below, in the main thread
            box["error"] = exc
        finally:
            done.set()

    # Wait on an Event, not Thread.join: a KeyboardInterrupt that lands inside
    # join() can leave the thread looking finished while it still runs.
    thread = threading.Thread(target=target, name="tui-sender session", daemon=True)
    thread.start()
    sink: ConsoleSink | None = None
    console_after = time.monotonic() + CONSOLE_WAIT
    interrupts = 0
    try:
        while sink is None or not done.is_set():
            try:
                if sink is None:
                    if (
                        not done.is_set()
                        and time.monotonic() < console_after
                        and not _first_association_open(session)
                    ):
                        done.wait(0.005)
                        continue
                    sink = _console_sink(session, verbose=verbose, quiet=quiet)
                    sink.start()
                    continue
                done.wait(0.1)
                sink.poll()
            except KeyboardInterrupt:
                interrupts += 1
                if interrupts == 1:
                    session.cancel()
                    _say(
                        "Cancelling: finishing the files in flight and releasing associations "
                        "(Ctrl-C again to stop at once)..."
                    )
                else:
                    session.cancel_now()
    finally:
        if sink is not None:
            sink.stop()
    error = box.get("error")
    if isinstance(error, BaseException):
        raise error
    result = box["result"]
    assert isinstance(result, SessionResult) and sink is not None
    return result, sink


def configure_rust(parser: argparse.ArgumentParser) -> None:
    """``dicom-sender``: same flags, the Rust tool's defaults (calling AE RUST_SCU, 1 thread)."""
    configure(parser, calling_default=RUST_CALLING_AE)
