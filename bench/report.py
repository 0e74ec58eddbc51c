"""The printed report: one table per data set, the bars, and the extras.

Rich tables, recorded as they are printed so the same text can be saved
next to the JSON (and pasted into the README). A run that did not deliver
every file is shown in bold red with the reasons, never just a number.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console, JustifyMethod
from rich.table import Table

from bench.bars import DICOMWEB_CLIENT_PREFIX, TUI_WEB_PREFIX, BarCheck
from bench.datasets import DataSet
from bench.extras import BigFileResult, ScanSpeed
from bench.receivers import WEB_RECEIVERS
from bench.results import SummaryRow

REPORT_WIDTH = 150
RECEIVER_LABELS = {
    "storescp": "storescp (disk)",
    "storescp-ram": "storescp (tmpfs)",
    "storescp-ignore": "storescp --ignore",
    "orthanc": "Orthanc",
    "orthanc-web": "Orthanc+DICOMweb",
    "stow-server": "scripted STOW-RS",
}


def make_console() -> Console:
    """A console that records what it prints, wide enough for the tables in a log."""
    return Console(record=True, width=REPORT_WIDTH, highlight=False, soft_wrap=False)


def print_dataset_table(
    console: Console, dataset: DataSet, rows: Sequence[SummaryRow], repeats: int
) -> None:
    """One table: every (receiver, sender) of ``dataset``, ratios to storescu (1 process)."""
    how = "median of " + (f"{repeats} runs" if repeats > 1 else "1 run")
    table = Table(
        title=f"{dataset.name}: {len(dataset.files):,} files, {dataset.mb:,.1f} MB ({how})",
        title_justify="left",
    )
    columns: list[tuple[str, JustifyMethod]] = [
        ("receiver", "left"),
        ("sender", "left"),
        ("MB/s", "right"),
        ("images/s", "right"),
        ("x MB/s", "right"),
        ("x img/s", "right"),
        ("CPU s", "right"),
        ("peak RSS MB", "right"),
        ("files", "right"),
        ("delivered", "left"),
    ]
    for header, justify in columns:
        table.add_column(header, justify=justify)
    previous = None
    for row in rows:
        if previous is not None and row.receiver != previous:
            table.add_section()
        previous = row.receiver
        table.add_row(
            RECEIVER_LABELS.get(row.receiver, row.receiver),
            row.label,
            f"{row.mb_per_s:,.1f}",
            f"{row.images_per_s:,.0f}",
            _ratio(row.mb_ratio),
            _ratio(row.images_ratio),
            f"{row.cpu_s:,.1f}",
            f"{row.rss_sum_mb:,.0f}",
            f"{row.files:,}",
            "ok" if row.delivered else "[bold red]NO: " + "; ".join(row.problems) + "[/]",
        )
    console.print(table)
    console.print(
        "x = ratio to DCMTK storescu, 1 process, into the same receiver. CPU s and peak RSS "
        "are the sender's own (user+sys; RSS summed over parallel processes).",
        style="dim",
        soft_wrap=True,
    )


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def print_bars(console: Console, checks: Sequence[BarCheck]) -> None:
    """The issues' bars, one line each, pass or FAIL."""
    if not checks:
        return
    table = Table(title="Bars from the issues", title_justify="left")
    for header in ("bar", "set", "receiver", "compared", "metric", "ratio", "needed", "verdict"):
        table.add_column(header)
    for check in checks:
        verdict = "pass" if check.passed else "[bold red]FAIL[/]"
        if check.note:
            verdict += f" ({check.note})"
        table.add_row(
            check.bar,
            check.dataset,
            RECEIVER_LABELS.get(check.receiver, check.receiver),
            check.compared,
            check.metric,
            f"{check.ratio:.2f}{check.unit}"
            if check.unit == "x"
            else f"{check.ratio:.0f}{check.unit}",
            f"{check.needed:.1f}{check.unit}"
            if check.unit == "x"
            else f"{check.needed:.0f}{check.unit}",
            verdict,
        )
    console.print(table)


def print_scan_speed(console: Console, speeds: Sequence[ScanSpeed]) -> None:
    if not speeds:
        return
    table = Table(title="Scan speed (warm page cache)", title_justify="left")
    for header in ("tool", "files", "seconds", "files/s", "ok"):
        table.add_column(header, justify="left" if header == "tool" else "right")
    for speed in speeds:
        table.add_row(
            speed.tool,
            f"{speed.files:,}",
            f"{speed.seconds:.2f}",
            f"{speed.files_per_s:,.0f}",
            "ok" if speed.ok else f"[bold red]NO: {speed.note}[/]",
        )
    console.print(table)


def print_web_table(
    console: Console, datasets: Sequence[DataSet], rows: Sequence[SummaryRow]
) -> None:
    """Into each DICOMweb receiver: wall time per set, and every sender's ratio to the best
    dicomweb-client configuration of the same set (DIMSE senders there are for reference)."""
    web_rows = [r for r in rows if r.receiver in WEB_RECEIVERS]
    if not web_rows:
        return
    sets = ", ".join(f"{d.name} {len(d.files):,} files" for d in datasets)
    table = Table(title=f"DICOMweb (STOW-RS) side by side ({sets})", title_justify="left")
    columns: list[tuple[str, JustifyMethod]] = [
        ("set", "left"),
        ("receiver", "left"),
        ("sender", "left"),
        ("wall s", "right"),
        ("images/s", "right"),
        ("MB/s", "right"),
        ("x best client", "right"),
        ("CPU s", "right"),
        ("peak RSS MB", "right"),
        ("delivered", "left"),
    ]
    for header, justify in columns:
        table.add_column(header, justify=justify)
    best: dict[tuple[str, str, str], float] = {}
    for row in web_rows:
        family = _web_family(row.sender)
        if family:
            key = (row.dataset, row.receiver, family)
            best[key] = max(best.get(key, 0.0), row.images_per_s)
    previous = None
    for row in web_rows:
        group = (row.dataset, row.receiver)
        if previous is not None and group != previous:
            table.add_section()
        previous = group
        client = best.get((row.dataset, row.receiver, DICOMWEB_CLIENT_PREFIX), 0.0)
        family = _web_family(row.sender)
        fastest = family and row.images_per_s == best[(row.dataset, row.receiver, family)]
        wall = row.files / row.images_per_s if row.images_per_s > 0 else 0.0
        table.add_row(
            row.dataset,
            RECEIVER_LABELS.get(row.receiver, row.receiver),
            row.label + (" (best)" if fastest else ""),
            f"{wall:,.2f}",
            f"{row.images_per_s:,.0f}",
            f"{row.mb_per_s:,.1f}",
            _ratio(row.images_per_s / client if client > 0 else None),
            f"{row.cpu_s:,.1f}",
            f"{row.rss_sum_mb:,.0f}",
            "ok" if row.delivered else "[bold red]NO: " + "; ".join(row.problems) + "[/]",
        )
    console.print(table)
    console.print(
        "x best client = the row's images/s over the best dicomweb-client row's of the same set "
        "and receiver "
        "(every sender sends the whole set: the inverse ratio of wall times). (best): the "
        "fastest tui-sender STOW-RS or dicomweb-client configuration. Wall time includes "
        "start-up and each sender's walk of the folder.",
        style="dim",
        soft_wrap=True,
    )


def _web_family(sender: str) -> str:
    """The STOW-RS family prefix of ``sender`` (empty for a DIMSE sender)."""
    for prefix in (TUI_WEB_PREFIX, DICOMWEB_CLIENT_PREFIX):
        if sender.startswith(prefix):
            return prefix
    return ""


def print_big_file(console: Console, results: Sequence[BigFileResult]) -> None:
    if not results:
        return
    first = results[0]
    table = Table(title=f"One {first.mb:,.0f} MB multi-frame file", title_justify="left")
    for header in ("sender", "receiver", "seconds", "MB/s", "CPU s", "peak RSS MB", "delivered"):
        table.add_column(header, justify="left" if header in ("sender", "receiver") else "right")
    for result in results:
        table.add_row(
            result.label,
            RECEIVER_LABELS.get(result.receiver, result.receiver),
            f"{result.wall_s:,.1f}",
            f"{result.mb_per_s:,.1f}",
            f"{result.cpu_s:,.1f}",
            f"{result.rss_mb:,.0f}",
            "ok" if result.delivered else "[bold red]NO: " + "; ".join(result.problems) + "[/]",
        )
    console.print(table)
