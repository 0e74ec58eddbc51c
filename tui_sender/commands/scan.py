"""``tui-sender scan PATH [PATH ...] [-r] [--json] [--include-phi]``: what would be sent.

Reads the headers of every file under the paths (a folder's direct files, or
its whole tree with ``-r``) exactly as ``send`` would, and prints, per study:
patient, date, modalities, description, series and image counts, size, SOP
classes and transfer syntaxes; then a totals line, the files that would be
skipped grouped by reason (at most 20 paths per reason; ``--json`` lists
all), and remarks about files that will be sent despite an oddity (such as a
file meta SOP Instance UID that differs from the data set's).

Human output is a Rich table on a terminal, and plain text (no colour, no
box drawing, one block per study) when piped or when ``NO_COLOR`` is set.
Patient names appear in the human output (the operator needs them to pick
studies) but in JSON only with ``--include-phi``. Paths are printed with
control characters and undecodable bytes escaped (``\\n``, ``\\xff``).
While scanning, a progress line goes to stderr if stderr is a terminal.

JSON output (stable; scripts depend on it)::

    {
      "kind": "scan",
      "paths": ["/data/in"], "recursive": true, "include_phi": false,
      "totals": {"files": 12, "instances": 10, "skipped": 2, "patients": 1,
                 "studies": 1, "series": 2, "bytes": 5263360},
      "studies": [
        {"study_instance_uid": "1.2.3", "date": "20240131", "time": "101500",
         "description": "CT Chest", "modalities": ["CT", "SR"],
         "series_count": 2, "instance_count": 10, "bytes": 5263360,
         "sop_classes": [{"uid": "1.2.840.10008.5.1.4.1.1.2",
                          "name": "CT Image Storage", "count": 9}, ...],
         "transfer_syntaxes": [{"uid": "1.2.840.10008.1.2.1",
                                "name": "Explicit VR Little Endian", "count": 10}],
         "series": [{"series_instance_uid": "1.2.3.4", "number": 1, "modality": "CT",
                     "description": "Axial", "instance_count": 9, "bytes": 5242880}, ...],
         # only with --include-phi:
         "patient": {"name": "DOE^JANE", "id": "12345", "birth_date": "19700101", "sex": "F"},
         "accession_number": "A1", "study_id": "1"}
      ],
      "skipped": [
        {"reason": "not_dicom", "explanation": "not a DICOM file (...)", "count": 2,
         "files": [{"path": "/data/in/readme.txt", "detail": ""}, ...]}
      ],
      "notes": [{"path": "/data/in/x.dcm", "notes": ["file meta SOP Instance UID ..."]}]
    }

``totals.files == totals.instances + totals.skipped``: every path met is
counted once. Studies and series are in the order they were found; skip
reasons in the order of ``SkipReason``. Dates and times are DICOM strings
(``YYYYMMDD``, ``HHMMSS``), empty when absent; ``number`` is ``null`` when
absent. Paths that are not valid UTF-8 appear with their undecodable bytes
as lone surrogates (``"\\udcff"``, Python's ``surrogateescape``).

Exit codes: 0, also when some files were skipped; 2 when a given path does
not exist (nothing is scanned then); 130 when interrupted.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rich.console import Console, JustifyMethod
from rich.table import Table
from rich.text import Text

from tui_sender.commands.common import silence_stdout_after_broken_pipe
from tui_sender.core.base import wording
from tui_sender.core.dicom.registry import sop_class_name, transfer_syntax_name
from tui_sender.core.model.catalog import Catalog, SkippedFile, SkipReason, Study
from tui_sender.core.scan.discovery import as_path_str
from tui_sender.core.scan.scanner import ScanProgress, iter_scan_batches

PROG = "tui-sender scan"
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
PATHS_PER_REASON = 20
"""How many skipped paths per reason the human output lists."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the ``scan`` subcommand's arguments."""
    parser.add_argument("paths", nargs="+", metavar="PATH", help="DICOM files and folders")
    parser.add_argument("-r", "--recursive", action="store_true", help="descend into sub-folders")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--include-phi",
        action="store_true",
        help="put patient name, ID, birth date, sex and accession number in the JSON",
    )


@dataclass(slots=True)
class ScanReport:
    """A finished scan as the command prints it."""

    catalog: Catalog
    notes: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)


def run(args: argparse.Namespace) -> int:
    """Scan the paths and print the report; returns the exit code."""
    paths = [as_path_str(p) for p in args.paths]
    missing = [p for p in paths if not _exists(p)]
    if missing:
        for path in missing:
            print(f"{PROG}: error: {_printable(path)}: no such file or directory", file=sys.stderr)
        return EXIT_USAGE
    try:
        report = _scan(paths, recursive=args.recursive)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    try:
        if args.json:
            _print_json(report, paths, recursive=args.recursive, include_phi=args.include_phi)
        elif _plain_output():
            _print_plain(report)
        else:
            _print_rich(report)
    except BrokenPipeError:
        silence_stdout_after_broken_pipe()
    return EXIT_OK


def _exists(path: str) -> bool:
    """True unless the path is missing (a broken link exists: it is scanned and reported)."""
    try:
        os.lstat(path)
    except OSError as exc:
        return exc.errno not in (errno.ENOENT, errno.ENOTDIR)
    return True


def _scan(paths: Sequence[str], *, recursive: bool) -> ScanReport:
    report = ScanReport(Catalog())
    status = _ProgressLine() if sys.stderr.isatty() else None
    try:
        for batch in iter_scan_batches(paths, recursive=recursive, interval=0.1):
            for result in batch.results:
                if isinstance(result, SkippedFile):
                    report.catalog.skip(result)
                elif report.catalog.add(result.instance, result.fields) is None and result.notes:
                    report.notes.append((result.instance.path, result.notes))
            if status is not None:
                status.update(batch.progress)
    finally:
        if status is not None:
            status.close()
    return report


class _ProgressLine:
    """A one-line counter on stderr while the scan runs (terminal only)."""

    def __init__(self) -> None:
        self._console = Console(stderr=True, highlight=False)
        self._status = self._console.status("Scanning...")
        self._status.start()

    def update(self, progress: ScanProgress) -> None:
        self._status.update(
            f"Scanning... {progress.files_seen:,} files, {progress.instances:,} DICOM,"
            f" {wording.size(progress.bytes)}"
        )

    def close(self) -> None:
        self._status.stop()


# --------------------------------------------------------------------------
# what to show
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Counted:
    uid: str
    name: str
    count: int


def _sop_classes(study: Study) -> list[_Counted]:
    counts = Counter(i.sop_class_uid for i in study.instances())
    return [_Counted(uid, sop_class_name(uid), n) for uid, n in counts.most_common()]


def _transfer_syntaxes(study: Study) -> list[_Counted]:
    counts = Counter(i.transfer_syntax_uid for i in study.instances())
    return [_Counted(uid, transfer_syntax_name(uid), n) for uid, n in counts.most_common()]


def _skipped_by_reason(skipped: Iterable[SkippedFile]) -> dict[SkipReason, list[SkippedFile]]:
    groups: dict[SkipReason, list[SkippedFile]] = {reason: [] for reason in SkipReason}
    for item in skipped:
        groups[item.reason].append(item)
    return {reason: items for reason, items in groups.items() if items}


def _date(value: str) -> str:
    """``20240131`` as ``2024-01-31``; anything else unchanged."""
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


def _printable(text: str) -> str:
    """A path or value safe for a terminal: undecodable bytes and control characters escaped."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


def _counted_text(items: Sequence[_Counted]) -> str:
    return ", ".join(f"{c.name} ({c.count:,})" for c in items)


def _totals_line(catalog: Catalog) -> str:
    series = sum(len(s.series) for s in catalog.studies.values())
    instances = catalog.instance_count()
    files = instances + len(catalog.skipped)
    return (
        f"Total: {wording.count(len(catalog.studies), 'study', 'studies')},"
        f" {wording.count(series, 'series', 'series')}, {wording.count(instances, 'image')},"
        f" {wording.size(catalog.total_bytes())},"
        f" {wording.count(len(catalog.patients), 'patient')};"
        f" {wording.count(len(catalog.skipped), 'file')} skipped of {files:,} found"
    )


# --------------------------------------------------------------------------
# output: plain text
# --------------------------------------------------------------------------


def _print_plain(report: ScanReport) -> None:
    catalog = report.catalog
    out: list[str] = []
    for study in catalog.studies.values():
        patient = catalog.patients[study.patient_key]
        heading = "  ".join(
            part
            for part in (
                _printable(patient.name) or "(no name)",
                _date(study.date) or "(no date)",
                ", ".join(study.modalities) or "(no modality)",
                _printable(study.description) or "(no description)",
            )
        )
        out.append(heading)
        out.append(
            f"  {wording.count(len(study.series), 'series', 'series')},"
            f" {wording.count(study.count, 'image')},"
            f" {wording.size(study.bytes)}; study {_printable(study.uid)}"
        )
        out.append(f"  SOP classes: {_counted_text(_sop_classes(study))}")
        out.append(f"  transfer syntaxes: {_counted_text(_transfer_syntaxes(study))}")
        out.append("")
    if not catalog.studies:
        out.append("No DICOM instances to send.")
        out.append("")
    out.append(_totals_line(catalog))
    for reason, items in _skipped_by_reason(catalog.skipped).items():
        out.append("")
        out.append(f"Skipped, {reason.explanation}: {len(items):,}")
        out.extend(f"  {line}" for line in _skipped_lines(items))
    if report.notes:
        out.append("")
        out.append(f"Sent despite a remark: {wording.count(len(report.notes), 'file')}")
        out.extend(f"  {line}" for line in _note_lines(report.notes))
    sys.stdout.write("\n".join(out) + "\n")
    sys.stdout.flush()


def _skipped_lines(items: Sequence[SkippedFile]) -> list[str]:
    lines = [
        _printable(item.path) + (f"  ({_printable(item.detail)})" if item.detail else "")
        for item in items[:PATHS_PER_REASON]
    ]
    if len(items) > PATHS_PER_REASON:
        lines.append(f"... and {len(items) - PATHS_PER_REASON:,} more")
    return lines


def _note_lines(notes: Sequence[tuple[str, tuple[str, ...]]]) -> list[str]:
    lines = [
        f"{_printable(path)}: {'; '.join(_printable(n) for n in remarks)}"
        for path, remarks in notes[:PATHS_PER_REASON]
    ]
    if len(notes) > PATHS_PER_REASON:
        lines.append(f"... and {len(notes) - PATHS_PER_REASON:,} more")
    return lines


def _plain_output() -> bool:
    return bool(os.environ.get("NO_COLOR")) or not sys.stdout.isatty()


# --------------------------------------------------------------------------
# output: Rich table on a terminal
# --------------------------------------------------------------------------


_COLUMNS: tuple[tuple[str, JustifyMethod], ...] = (
    ("Patient", "left"),
    ("Date", "left"),
    ("Modality", "left"),
    ("Description", "left"),
    ("Series", "right"),
    ("Images", "right"),
    ("Size", "right"),
    ("SOP classes", "left"),
    ("Transfer syntaxes", "left"),
)


def _print_rich(report: ScanReport) -> None:
    catalog = report.catalog
    console = Console(file=sys.stdout, highlight=False)
    if catalog.studies:
        table = Table(title="Studies found", title_justify="left", show_lines=True)
        for header, justify in _COLUMNS:
            table.add_column(header, justify=justify)
        for study in catalog.studies.values():
            patient = catalog.patients[study.patient_key]
            table.add_row(
                Text(_printable(patient.name)),
                Text(_date(study.date)),
                Text(", ".join(study.modalities)),
                Text(_printable(study.description)),
                f"{len(study.series):,}",
                f"{study.count:,}",
                wording.size(study.bytes),
                Text("\n".join(f"{c.name} ({c.count:,})" for c in _sop_classes(study))),
                Text("\n".join(f"{c.name} ({c.count:,})" for c in _transfer_syntaxes(study))),
            )
        console.print(table)
    else:
        console.print(Text("No DICOM instances to send.", style="yellow"))
    console.print(Text(_totals_line(catalog), style="bold"))
    for reason, items in _skipped_by_reason(catalog.skipped).items():
        console.print()
        console.print(Text(f"Skipped, {reason.explanation}: {len(items):,}", style="bold yellow"))
        for line in _skipped_lines(items):
            console.print(Text(f"  {line}"), soft_wrap=True)
    if report.notes:
        console.print()
        console.print(
            Text(f"Sent despite a remark: {wording.count(len(report.notes), 'file')}", style="bold")
        )
        for line in _note_lines(report.notes):
            console.print(Text(f"  {line}"), soft_wrap=True)


# --------------------------------------------------------------------------
# output: JSON
# --------------------------------------------------------------------------


def scan_document(
    report: ScanReport, paths: Sequence[str], *, recursive: bool, include_phi: bool
) -> dict[str, object]:
    """The ``--json`` document (see the module docstring for its shape)."""
    catalog = report.catalog
    studies: list[dict[str, object]] = []
    for study in catalog.studies.values():
        entry: dict[str, object] = {
            "study_instance_uid": study.uid,
            "date": study.date,
            "time": study.time,
            "description": study.description,
            "modalities": study.modalities,
            "series_count": len(study.series),
            "instance_count": study.count,
            "bytes": study.bytes,
            "sop_classes": [
                {"uid": c.uid, "name": c.name, "count": c.count} for c in _sop_classes(study)
            ],
            "transfer_syntaxes": [
                {"uid": c.uid, "name": c.name, "count": c.count} for c in _transfer_syntaxes(study)
            ],
            "series": [
                {
                    "series_instance_uid": s.uid,
                    "number": s.number,
                    "modality": s.modality,
                    "description": s.description,
                    "instance_count": s.count,
                    "bytes": s.bytes,
                }
                for s in study.series.values()
            ],
        }
        if include_phi:
            patient = catalog.patients[study.patient_key]
            entry["patient"] = {
                "name": patient.name,
                "id": patient.patient_id,
                "birth_date": patient.birth_date,
                "sex": patient.sex,
            }
            entry["accession_number"] = study.accession_number
            entry["study_id"] = study.study_id
        studies.append(entry)
    instances = catalog.instance_count()
    return {
        "kind": "scan",
        "paths": list(paths),
        "recursive": recursive,
        "include_phi": include_phi,
        "totals": {
            "files": instances + len(catalog.skipped),
            "instances": instances,
            "skipped": len(catalog.skipped),
            "patients": len(catalog.patients),
            "studies": len(catalog.studies),
            "series": sum(len(s.series) for s in catalog.studies.values()),
            "bytes": catalog.total_bytes(),
        },
        "studies": studies,
        "skipped": [
            {
                "reason": reason.value,
                "explanation": reason.explanation,
                "count": len(items),
                "files": [{"path": i.path, "detail": i.detail} for i in items],
            }
            for reason, items in _skipped_by_reason(catalog.skipped).items()
        ],
        "notes": [{"path": path, "notes": list(remarks)} for path, remarks in report.notes],
    }


def _print_json(
    report: ScanReport, paths: Sequence[str], *, recursive: bool, include_phi: bool
) -> None:
    document = scan_document(report, paths, recursive=recursive, include_phi=include_phi)
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
    sys.stdout.flush()
