"""``tui-sender report SUMMARY``: the CSV table and HTML report of a session, headless.

The app writes both from its summary screen (``x``); a send under cron, or a
``tui-sender verify`` the next morning, leaves only the JSON summary. This
command writes ``dicom_sender_report_<session>.csv`` and ``.html`` from that
summary (the ``.verified.json`` too, which then shows what the archive
confirmed), beside it or into ``--out DIR``, and prints where they are.

Exit codes: 0 written; 2 the record cannot be read or the folder written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tui_sender.core.config.settings import ConfigError
from tui_sender.core.record.earlier import load_record
from tui_sender.core.record.export import default_stem, export_session

EXIT_OK = 0
EXIT_USAGE = 2


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the ``report`` arguments."""
    parser.add_argument(
        "record",
        type=Path,
        metavar="SUMMARY",
        help="a session's summary JSON (or the .verified.json that tui-sender verify wrote)",
    )
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="write the report here (default: beside SUMMARY)"
    )


def run(args: argparse.Namespace) -> int:
    """Write the CSV and the HTML report; say where they and the session's files are."""
    record: Path = args.record
    if record.suffix == ".jsonl":
        print(
            f"tui-sender report: {record} is a journal; the report is drawn from a summary "
            "(a killed session has none: 'tui-sender verify JOURNAL' writes one)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        summary = load_record(record).summary
        exported = export_session(
            summary,
            args.out if args.out is not None else record.parent,
            default_stem(summary),
            summary_path=record,
        )
    except ConfigError as exc:
        print(f"tui-sender report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"tui-sender report: cannot write the report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for label, path in exported.labelled():
        print(f"{label + ':':14} {path}")
    return EXIT_OK
