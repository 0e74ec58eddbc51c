"""The printed report: one table per data set, the bars, and the extras.

Rich tables, recorded as they are printed so the same text can be saved
next to the JSON (and pasted into the README). A run that did not deliver
every file is shown in bold red with the reasons, never just a number.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console, JustifyMethod
from rich.table import Table

from bench.bars import BarCheck
from bench.datasets import DataSet
from bench.extras import BigFileResult, ScanSpeed
from bench.results import SummaryRow

REPORT_WIDTH = 150
RECEIVER_LABELS = {
    "storescp": "storescp (disk)",
    "storescp-ram": "storescp (tmpfs)",
    "storescp-ignore": "storescp --ignore",
    "orthanc": "Orthanc",
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


def print_big_file(console: Console, results: Sequence[BigFileResult]) -> None:
    if not results:
        return
    first = results[0]
    table = Table(
        title=f"One {first.mb:,.0f} MB multi-frame file into storescp --ignore",
        title_justify="left",
    )
    for header in ("sender", "MB/s", "CPU s", "peak RSS MB", "delivered"):
        table.add_column(header, justify="left" if header == "sender" else "right")
    for result in results:
        table.add_row(
            result.label,
            f"{result.mb_per_s:,.1f}",
            f"{result.cpu_s:,.1f}",
            f"{result.rss_mb:,.0f}",
            "ok" if result.delivered else "[bold red]NO: " + "; ".join(result.problems) + "[/]",
        )
    console.print(table)
