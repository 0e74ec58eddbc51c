"""``tui-sender sop-classes`` and ``tui-sender transfer-syntaxes``: the registries, by category.

They replace the Rust tool's ``show_sop_classes`` and ``show_transfer_syntaxes``
binaries, which printed a sample of 20 entries; these list everything the
engine knows (``tui_sender.core.dicom.registry``), so an administrator can check a
UID or a name before blaming a destination.

Options (both commands): ``--json`` for scripts, ``--category NAME`` (a key
such as ``CT`` or ``lossless``, a title, or any unique part of one,
case-insensitive) and ``--search TEXT`` (case-insensitive substring of the
UID, name, keyword or short name). Filters combine.

Human output: one table per category with its count, then a total. Colour
only on a terminal, and none at all (no ANSI codes) when ``NO_COLOR`` is set.
Piped output is never truncated or wrapped.

JSON output (stable; scripts depend on it)::

    {
      "kind": "sop-classes",            # or "transfer-syntaxes"
      "count": 3,                       # entries listed, after filters
      "total": 208,                     # entries in the registry
      "filters": {"category": "CT", "search": null},
      "categories": [
        {"key": "CT", "name": "Computed Tomography", "count": 3,
         "items": [
           {"uid": "1.2.840.10008.5.1.4.1.1.2", "name": "CT Image Storage",
            "keyword": "CTImageStorage", "short_name": "CT", "category": "CT",
            "retired": false}
         ]}
      ]
    }

Category keys are ``SopClassCategory`` member names (``CT``, ``MR``,
``STRUCTURED_REPORT``...) and ``TransferSyntaxCategory`` values
(``uncompressed``, ``lossless``, ``lossy``, ``video``, ``retired``).
Transfer-syntax items add the booleans ``lossless``, ``encapsulated``,
``deflated``, ``uncompressed`` and ``network``. Categories left empty by the
filters are omitted; categories and items keep registry order (numeric UID).

Exit codes: 0, also when the filters match nothing (the output says so);
2 for an unknown ``--category`` (argparse reports it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from rich.console import Console
from rich.text import Text

from tui_sender.commands.common import silence_stdout_after_broken_pipe
from tui_sender.core.dicom.registry import (
    SopClassCategory,
    SopClassInfo,
    TransferSyntaxCategory,
    TransferSyntaxInfo,
    all_sop_classes,
    all_transfer_syntaxes,
    sop_classes_by_category,
    transfer_syntaxes_by_category,
)

_TRANSFER_SYNTAX_TITLES = {
    TransferSyntaxCategory.UNCOMPRESSED: "Uncompressed",
    TransferSyntaxCategory.LOSSLESS: "Lossless compression",
    TransferSyntaxCategory.LOSSY: "Lossy compression",
    TransferSyntaxCategory.VIDEO: "Video",
    TransferSyntaxCategory.RETIRED: "Retired",
    TransferSyntaxCategory.UNKNOWN: "Unknown",
}

_CategoryT = TypeVar("_CategoryT", bound=Enum)
_InfoT = TypeVar("_InfoT", SopClassInfo, TransferSyntaxInfo)


@dataclass(frozen=True, slots=True)
class _Group:
    """One category as listed: its stable key, its title and the entries kept."""

    key: str
    title: str
    items: tuple[SopClassInfo, ...] | tuple[TransferSyntaxInfo, ...]


@dataclass(frozen=True, slots=True)
class _Column:
    header: str
    cell: Callable[[Any], str]


# --------------------------------------------------------------------------
# argument parsing
# --------------------------------------------------------------------------


def _category_parser(
    members: Sequence[_CategoryT],
    key: Callable[[_CategoryT], str],
    title: Callable[[_CategoryT], str],
) -> Callable[[str], _CategoryT]:
    """An argparse ``type=`` that accepts a key, a title or a unique part of either."""

    def parse(text: str) -> _CategoryT:
        wanted = text.strip().casefold().replace("-", "_").replace(" ", "_")
        labels = {
            member: (
                key(member).casefold(),
                title(member).casefold().replace("-", "_").replace(" ", "_"),
            )
            for member in members
        }
        for member, (k, t) in labels.items():
            if wanted in (k, t):
                return member
        partial = [m for m, (k, t) in labels.items() if wanted and (wanted in k or wanted in t)]
        if len(partial) == 1:
            return partial[0]
        choices = ", ".join(key(m) for m in members)
        problem = "is ambiguous" if partial else "is not a category"
        raise argparse.ArgumentTypeError(f"{text!r} {problem}; choose from: {choices}")

    return parse


def _add_common_options(
    parser: argparse.ArgumentParser, category_type: Callable[[str], Any], keys: Sequence[str]
) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--category",
        type=category_type,
        metavar="NAME",
        help=f"only this category: {', '.join(keys)} (or a unique part of a key or title)",
    )
    parser.add_argument(
        "--search",
        metavar="TEXT",
        help="only entries whose UID, name, keyword or short name contains TEXT",
    )


def _sop_key(category: SopClassCategory) -> str:
    return category.name


def _sop_title(category: SopClassCategory) -> str:
    return category.value


def _ts_key(category: TransferSyntaxCategory) -> str:
    return category.value


def _ts_title(category: TransferSyntaxCategory) -> str:
    return _TRANSFER_SYNTAX_TITLES[category]


def configure_sop_classes(parser: argparse.ArgumentParser) -> None:
    """Declare ``sop-classes`` options: ``--json``, ``--category``, ``--search``."""
    members = [c for c in SopClassCategory if c is not SopClassCategory.PRIVATE]
    keys = [_sop_key(member) for member in members]
    _add_common_options(parser, _category_parser(members, _sop_key, _sop_title), keys)


def configure_transfer_syntaxes(parser: argparse.ArgumentParser) -> None:
    """Declare ``transfer-syntaxes`` options: ``--json``, ``--category``, ``--search``."""
    members = [c for c in TransferSyntaxCategory if c is not TransferSyntaxCategory.UNKNOWN]
    keys = [_ts_key(member) for member in members]
    _add_common_options(parser, _category_parser(members, _ts_key, _ts_title), keys)


# --------------------------------------------------------------------------
# filtering
# --------------------------------------------------------------------------


def _matches(info: SopClassInfo | TransferSyntaxInfo, needle: str) -> bool:
    haystacks = (info.uid, info.name, info.keyword, info.short_name)
    return any(needle in text.casefold() for text in haystacks)


def _select(
    groups: Mapping[_CategoryT, tuple[_InfoT, ...]],
    category: _CategoryT | None,
    search: str | None,
    key: Callable[[_CategoryT], str],
    title: Callable[[_CategoryT], str],
) -> list[_Group]:
    needle = search.casefold() if search else ""
    selected = []
    for member, items in groups.items():
        if category is not None and member is not category:
            continue
        kept = tuple(i for i in items if not needle or _matches(i, needle))
        if kept:
            selected.append(_Group(key=key(member), title=title(member), items=kept))
    return selected


# --------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------


def _sop_class_json(info: SopClassInfo) -> dict[str, object]:
    return {
        "uid": info.uid,
        "name": info.name,
        "keyword": info.keyword,
        "short_name": info.short_name,
        "category": info.category.name,
        "retired": info.retired,
    }


def _transfer_syntax_json(info: TransferSyntaxInfo) -> dict[str, object]:
    return {
        "uid": info.uid,
        "name": info.name,
        "keyword": info.keyword,
        "short_name": info.short_name,
        "category": info.category.value,
        "retired": info.retired,
        "lossless": info.lossless,
        "encapsulated": info.encapsulated,
        "deflated": info.deflated,
        "uncompressed": info.uncompressed,
        "network": info.network,
    }


def _transfer_syntax_flags(info: TransferSyntaxInfo) -> str:
    flags = [
        "lossless" if info.lossless else "",
        "encapsulated" if info.encapsulated else "",
        "deflated" if info.deflated else "",
        "never proposed" if not info.network else "",
    ]
    return ", ".join(flag for flag in flags if flag)


def _sop_class_name_cell(info: SopClassInfo) -> str:
    return f"{info.name} (retired)" if info.retired else info.name


# The long name goes last: a narrow terminal then wraps only the end of a
# line, and no line carries padding after its last word.
_SOP_COLUMNS = (
    _Column("UID", lambda i: i.uid),
    _Column("Short", lambda i: i.short_name),
    _Column("Name", _sop_class_name_cell),
)

_TS_COLUMNS = (
    _Column("UID", lambda i: i.uid),
    _Column("Short", lambda i: i.short_name),
    _Column("Flags", _transfer_syntax_flags),
    _Column("Name", lambda i: i.name),
)

_INDENT = "  "
_GAP = "  "


class _ListingConsole(Console):
    """Rich's console, except that a closed pipe is left to :func:`_run_listing`.

    Rich's own handler exits with status 1; ``tui-sender sop-classes | head``
    is a normal use, so the listing ends quietly with 0 instead.
    """

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def _console() -> Console:
    """Rich on stdout as it is now: colour only on a terminal, no ANSI at all with NO_COLOR.

    ``soft_wrap`` leaves long lines to the terminal, so piped output is never
    cut or broken at an assumed width.
    """
    no_color = bool(os.environ.get("NO_COLOR"))
    return _ListingConsole(
        file=sys.stdout,
        highlight=False,
        soft_wrap=True,
        no_color=no_color,
        color_system=None if no_color else "auto",
    )


def _aligned_line(cells: Sequence[str], widths: Sequence[int], style: str = "") -> Text:
    """Cells padded to their column width, the last one unpadded, the first one styled."""
    line = Text(_INDENT)
    for index, cell in enumerate(cells):
        last = index == len(cells) - 1
        text = cell if last else cell.ljust(widths[index]) + _GAP
        line.append(text, style=style or ("dim" if index == 0 else ""))
    line.rstrip()
    return line


def _print_human(
    groups: list[_Group],
    columns: Sequence[_Column],
    noun: str,
    total: int,
) -> None:
    console = _console()
    if not groups:
        console.print(Text(f"No {noun} match these filters (the registry holds {total})."))
        return
    rows = [(group, [[c.cell(item) for c in columns] for item in group.items]) for group in groups]
    widths = [
        max([len(column.header)] + [len(cells[i]) for _, table in rows for cells in table])
        for i, column in enumerate(columns)
    ]
    console.print(_aligned_line([c.header for c in columns], widths, style="bold"))
    for group, table in rows:
        console.print()
        console.print(Text(f"{group.title} [{group.key}]: {len(table)}", style="bold"))
        for cells in table:
            console.print(_aligned_line(cells, widths))
    listed = sum(len(group.items) for group in groups)
    categories = "category" if len(groups) == 1 else "categories"
    counted = f"{total}" if listed == total else f"{listed} of {total}"
    console.print()
    console.print(Text(f"{counted} {noun} in {len(groups)} {categories}", style="bold"))


def _print_json(
    kind: str,
    groups: list[_Group],
    to_json: Callable[[Any], dict[str, object]],
    args: argparse.Namespace,
    category_key: str | None,
    total: int,
) -> None:
    document = {
        "kind": kind,
        "count": sum(len(group.items) for group in groups),
        "total": total,
        "filters": {"category": category_key, "search": args.search},
        "categories": [
            {
                "key": group.key,
                "name": group.title,
                "count": len(group.items),
                "items": [to_json(item) for item in group.items],
            }
            for group in groups
        ],
    }
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
    sys.stdout.flush()


def _run_listing(write: Callable[[], None]) -> int:
    try:
        write()
    except BrokenPipeError:
        silence_stdout_after_broken_pipe()
    return 0


def run_sop_classes(args: argparse.Namespace) -> int:
    """List storage SOP classes by modality family; returns the exit code."""
    category: SopClassCategory | None = args.category
    groups = _select(sop_classes_by_category(), category, args.search, _sop_key, _sop_title)
    total = len(all_sop_classes())

    def write() -> None:
        if args.json:
            key = _sop_key(category) if category is not None else None
            _print_json("sop-classes", groups, _sop_class_json, args, key, total)
        else:
            _print_human(groups, _SOP_COLUMNS, "SOP classes", total)

    return _run_listing(write)


def run_transfer_syntaxes(args: argparse.Namespace) -> int:
    """List transfer syntaxes by category with their flags; returns the exit code."""
    category: TransferSyntaxCategory | None = args.category
    groups = _select(transfer_syntaxes_by_category(), category, args.search, _ts_key, _ts_title)
    total = len(all_transfer_syntaxes())

    def write() -> None:
        if args.json:
            key = _ts_key(category) if category is not None else None
            _print_json("transfer-syntaxes", groups, _transfer_syntax_json, args, key, total)
        else:
            _print_human(groups, _TS_COLUMNS, "transfer syntaxes", total)

    return _run_listing(write)
