"""``tui-sender verify RECORD``: prove, after the fact, that an archive holds what was sent.

RECORD is a session's summary JSON (or its journal, for a session that was
killed). For each destination of the record (or only ``--to NAME``) it asks
the archive about every instance the session stored, by storage commitment
or C-FIND (``--method``; default: the address book's ``verify`` for that
destination), and writes the summary with each file's ``verified`` value
beside RECORD as ``<name>.verified.json``. By storage commitment it also
takes, while it listens, a late report for a request the record left
unanswered (``verified_transaction`` of an ``unconfirmed`` file).

The destination is taken from the address book by its name in the record
(with its TLS settings), else from the record itself (AE titles, host and
port), else from ``--dest``/``-a -H -p``.

Exit codes: 0 every stored instance was committed or found; 4 some are
commit-failed, missing or unconfirmed (listed on stderr); 2 usage or
configuration error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from tui_sender.commands.common import (
    add_commitment_args,
    add_destination_args,
    commitment_overrides,
    destination_from_args,
)
from tui_sender.core.base import wording
from tui_sender.core.base.private_files import write_private_json
from tui_sender.core.config.destinations import DEFAULT_CALLING_AE, AddressBook, Destination
from tui_sender.core.config.settings import ConfigError
from tui_sender.core.engine.targets import (
    DestinationSetupError,
    link_settings,
    verify_settings,
    web_settings,
)
from tui_sender.core.model.events import Event, VerificationFinished
from tui_sender.core.model.recorded_path import display_path, path_from_record
from tui_sender.core.model.verification import VerifyMethod
from tui_sender.core.record.earlier import load_record, verified_path
from tui_sender.core.record.stored_index import remember_verdicts
from tui_sender.core.verify.stage import (
    EXIT_NOT_VERIFIED,
    VerifyJob,
    apply_to_summary,
    earlier_requests,
    not_proven,
    run_verification,
    stored_instances,
)

EXIT_OK = 0
EXIT_USAGE = 2
LISTED = 20
"""Unverified instances named on stderr (all are in the updated summary)."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the ``verify`` arguments."""
    parser.add_argument("record", type=Path, metavar="RECORD", help="summary JSON or journal")
    parser.add_argument(
        "--method",
        choices=[VerifyMethod.COMMITMENT.value, VerifyMethod.FIND.value],
        help="commitment (storage commitment) or find (C-FIND); default: the destination's "
        "verify setting",
    )
    parser.add_argument("--to", metavar="NAME", help="verify only this destination of the record")
    add_destination_args(parser, calling_default=DEFAULT_CALLING_AE)
    add_commitment_args(parser)


def run(args: argparse.Namespace) -> int:
    """Verify; write the updated summary; return the exit code."""
    try:
        record = load_record(args.record)
        jobs = _jobs(args, record.summary, record.journal_destinations)
    except (ConfigError, DestinationSetupError) as exc:
        print(f"tui-sender verify: {exc}", file=sys.stderr)
        return EXIT_USAGE
    checked = run_verification(jobs, emit=_show, log=lambda text: print(text, file=sys.stderr))
    summary = apply_to_summary(record.summary, checked)
    out = verified_path(args.record, str(summary.get("session_id", "")))
    write_private_json(out, summary)
    remember_verdicts(  # a later send that skips these instances carries the verdicts
        {c.name: c.results for c in checked},
        {j.name: j.link.peer for j in jobs},
        warn=lambda text: print(f"tui-sender verify: {text}", file=sys.stderr),
    )
    doubtful = [f for f in not_proven(summary) if f.get("destination") in {j.name for j in jobs}]
    for f in doubtful[:LISTED]:
        print(
            f"  {f.get('verified')}: {display_path(path_from_record(f))} "
            f"({f.get('sop_instance_uid')}): {f.get('verified_reason')}",
            file=sys.stderr,
        )
    if len(doubtful) > LISTED:
        print(f"  ... and {len(doubtful) - LISTED} more (in {out})", file=sys.stderr)
    print(f"Verified summary: {out}")
    return EXIT_NOT_VERIFIED if doubtful else EXIT_OK


def _show(event: Event) -> None:
    if isinstance(event, VerificationFinished):
        text = (
            f"verification failed: {event.error}"
            if event.error
            else wording.verification_result(event.counts, event.method)
        )
        print(f"{event.destination}: {text} ({event.seconds:.1f} s)")


def _jobs(
    args: argparse.Namespace,
    summary: Mapping[str, Any],
    from_journal: Mapping[str, Destination],
) -> list[VerifyJob]:
    names = [str(d.get("name", "")) for d in summary.get("destinations") or []]
    if args.to is not None:
        if args.to not in names:
            raise ConfigError(
                f"the record has no destination {args.to!r}; it has {', '.join(names) or 'none'}"
            )
        names = [args.to]
    entries = {str(d.get("name", "")): d for d in summary.get("destinations") or []}
    explicit = args.dest is not None or args.ae_title is not None or args.url is not None
    if explicit and len(names) != 1:
        raise ConfigError("--dest/-a name one archive: choose the record's destination with --to")
    jobs = []
    for name in names:
        dest = (
            destination_from_args(args)
            if explicit
            else _destination(name, entries[name], from_journal, args)
        )
        changes = {k: v for k, v in commitment_overrides(args).items() if v is not None}
        if args.method:
            changes["verify"] = VerifyMethod(args.method)
        recorded = str(entries[name].get("verify") or "none")
        if "verify" not in changes and dest.verify is VerifyMethod.NONE and recorded != "none":
            changes["verify"] = VerifyMethod(recorded)
        dest = replace(dest, **changes)  # type: ignore[arg-type]
        if dest.verify is VerifyMethod.NONE:
            raise ConfigError(
                f"how should {name!r} be verified? give --method commitment or --method find "
                "(or set verify in its address-book entry)"
            )
        problems = dest.validate()
        if problems:
            raise ConfigError(f"destination {name!r}: " + "; ".join(problems))
        files = summary.get("files") or []
        instances = tuple(stored_instances(files, name))
        web = web_settings(dest) if dest.is_web else None
        earlier = earlier_requests(files, name)  # late reports for them still count
        jobs.append(
            VerifyJob(name, link_settings(dest), verify_settings(dest), instances, web, earlier)
        )
    return jobs


def _destination(
    name: str,
    entry: Mapping[str, Any],
    from_journal: Mapping[str, Destination],
    args: argparse.Namespace,
) -> Destination:
    """The record's destination: from the address book, the journal, or the summary entry."""
    try:
        book = AddressBook.load(args.config)
        if name in book.names():
            return book.get(name)
    except ConfigError:
        if args.config:
            raise
    if name in from_journal:
        return from_journal[name]
    if entry.get("url"):
        dest = Destination.for_url(str(entry["url"]))
        return replace(dest, name=name, verify=VerifyMethod(str(entry.get("verify") or "none")))
    if entry.get("host") and entry.get("port") and entry.get("called_ae"):
        dest = Destination.from_cli(
            str(entry["called_ae"]),
            str(entry["host"]),
            int(entry["port"]),
            str(entry.get("calling_ae") or DEFAULT_CALLING_AE),
        )
        return replace(dest, name=name, verify=VerifyMethod(str(entry.get("verify") or "none")))
    raise ConfigError(
        f"the record does not say where {name!r} is, and the address book has no such name: "
        "give --dest NAME, -a AET -H HOST -p PORT, or --url URL"
    )
