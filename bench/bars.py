"""The bars the issues set, checked against the median rows.

Within one set every full-set sender moves the same files, so its MB/s and
images/s ratios to the baseline are equal; a bar is checked on the metric
the issue names (MB/s for ``large``, images/s for ``tiny``). Only pynetdicom
runs on a subset, so for it both rates are compared.

A bar whose rows are missing (a sender or receiver not in this run) is not
reported; a bar whose rows did not deliver every file fails, whatever the
speed.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from bench.results import SummaryRow

TUI_PREFIX = "tui-t"
DCMTK_FAMILY = "storescu"


@dataclass(frozen=True)
class BarCheck:
    """One bar on one set: what was compared, the ratio, what was needed."""

    bar: str
    dataset: str
    receiver: str
    compared: str
    metric: str
    ratio: float
    needed: float
    passed: bool
    note: str = ""
    unit: str = "x"
    """How ``ratio`` and ``needed`` read: a ratio (x), or milliseconds."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def check_bars(rows: list[SummaryRow]) -> list[BarCheck]:
    """Every bar that this run's rows allow to check."""
    checks: list[BarCheck] = []
    for dataset in dict.fromkeys(r.dataset for r in rows):
        of_set = [r for r in rows if r.dataset == dataset]
        checks += _vs_pynetdicom(of_set, dataset)
        checks += _orthanc_two_workers(of_set, dataset)
        checks += _ignore_vs_storescu(of_set, dataset)
        checks += _orthanc_best_vs_best(of_set, dataset)
        checks += _app_vs_headless(of_set, dataset)
        checks += _web_best_vs_best(of_set, dataset)
    return checks


TUI_WEB_PREFIX = "tui-web-"
DICOMWEB_CLIENT_PREFIX = "dicomweb-client"
WEB_FASTER_AT_LEAST = 1.5


def _web_best_vs_best(rows: list[SummaryRow], dataset: str) -> list[BarCheck]:
    """By STOW-RS, tui-sender's best wall time at least 1.5x faster than dicomweb-client's
    best, into the same DICOMweb receiver: its best of one process (batch sizes as run), and
    its best of all, parallel processes included (when any ran).

    Both send the whole set, so the ratio of their images/s is that of their wall times.
    """
    checks = []
    for receiver in dict.fromkeys(r.receiver for r in rows):
        into = [r for r in rows if r.receiver == receiver]
        ours = _best((r for r in into if r.sender.startswith(TUI_WEB_PREFIX)), _images)
        clients = [r for r in into if r.sender.startswith(DICOMWEB_CLIENT_PREFIX)]
        single = _best((r for r in clients if "-x" not in r.sender), _images)
        overall = _best(clients, _images)
        for theirs, which in ((single, "1 process"), (overall, "any N")):
            if ours is None or theirs is None or (which == "any N" and theirs is single):
                continue
            bar = f"tui-web >= {WEB_FASTER_AT_LEAST}x dicomweb-client ({which})"
            checks.append(
                _check(
                    bar, dataset, receiver, ours, theirs, WEB_FASTER_AT_LEAST, _images, "wall time"
                )
            )
    return checks


APP_SLOWER_AT_MOST = 1.10
KEY_LATENCY_MS = 100.0


def _app_vs_headless(rows: list[SummaryRow], dataset: str) -> list[BarCheck]:
    """Through the app at most 10% slower than headless; keys answered within 100 ms.

    Both sides use the session's own duration from its summary, so neither
    start-up nor the keys typed to start the send count.
    """
    checks: list[BarCheck] = []
    for app in (r for r in rows if r.sender.startswith("app-t")):
        headless = _find(rows, app.receiver, "tui-t" + app.sender.removeprefix("app-t"))
        if headless is None or not app.session_s or not headless.session_s:
            continue
        ratio = headless.session_s / app.session_s
        checks.append(
            BarCheck(
                bar="app >= 0.9x headless speed",
                dataset=dataset,
                receiver=app.receiver,
                compared=f"{app.sender} / {headless.sender}",
                metric="session time",
                ratio=ratio,
                needed=1 / APP_SLOWER_AT_MOST,
                passed=ratio >= 1 / APP_SLOWER_AT_MOST and app.delivered and headless.delivered,
            )
        )
        if app.key_latency_ms:
            worst = max(app.key_latency_ms)
            checks.append(
                BarCheck(
                    bar="keys answered <= 100 ms",
                    dataset=dataset,
                    receiver=app.receiver,
                    compared=f"{app.sender}, {len(app.key_latency_ms)} keys",
                    metric="worst ms",
                    ratio=worst,
                    needed=KEY_LATENCY_MS,
                    passed=worst <= KEY_LATENCY_MS,
                    note=f"median {statistics.median(app.key_latency_ms):.0f} ms"
                    + (
                        f"; {len(app.key_latency_at_end_ms)} at the session's end, "
                        f"worst {max(app.key_latency_at_end_ms):.0f} ms"
                        if app.key_latency_at_end_ms
                        else ""
                    ),
                    unit=" ms",
                )
            )
    return checks


def _metric(dataset: str) -> tuple[str, Callable[[SummaryRow], float]]:
    """The metric a bar on ``dataset`` is about: bytes for the large set, files otherwise."""
    return ("MB/s", _mb) if dataset == "large" else ("images/s", _images)


def _find(rows: Iterable[SummaryRow], receiver: str, sender: str) -> SummaryRow | None:
    return next((r for r in rows if r.receiver == receiver and r.sender == sender), None)


def _check(
    bar: str,
    dataset: str,
    receiver: str,
    ours: SummaryRow,
    theirs: SummaryRow,
    needed: float,
    value: Callable[[SummaryRow], float],
    metric: str,
) -> BarCheck:
    ratio = value(ours) / value(theirs) if value(theirs) > 0 else 0.0
    undelivered = [r.sender for r in (ours, theirs) if not r.delivered]
    note = ("not delivered: " + ", ".join(undelivered)) if undelivered else ""
    return BarCheck(
        bar=bar,
        dataset=dataset,
        receiver=receiver,
        compared=f"{ours.sender} / {theirs.sender}",
        metric=metric,
        ratio=ratio,
        needed=needed,
        passed=ratio >= needed and not undelivered,
        note=note,
    )


def _vs_pynetdicom(rows: list[SummaryRow], dataset: str) -> list[BarCheck]:
    """tui-sender (one association, like pynetdicom) at least 10x pynetdicom's storescu."""
    checks = []
    for receiver in dict.fromkeys(r.receiver for r in rows):
        ours, theirs = _find(rows, receiver, "tui-t1"), _find(rows, receiver, "pynetdicom")
        if ours and theirs:
            for metric, value in (("MB/s", _mb), ("images/s", _images)):
                checks.append(
                    _check(
                        "tui-t1 >= 10x pynetdicom",
                        dataset,
                        receiver,
                        ours,
                        theirs,
                        10.0,
                        value,
                        metric,
                    )
                )
    return checks


def _mb(row: SummaryRow) -> float:
    return row.mb_per_s


def _images(row: SummaryRow) -> float:
    return row.images_per_s


def _orthanc_two_workers(rows: list[SummaryRow], dataset: str) -> list[BarCheck]:
    """Into Orthanc, tui-sender with 2 workers at least 0.9x storescu (1 process)."""
    ours, theirs = _find(rows, "orthanc", "tui-t2"), _find(rows, "orthanc", "storescu")
    if not (ours and theirs):
        return []
    metric, value = _metric(dataset)
    return [
        _check(
            "tui-t2 >= 0.9x storescu",
            dataset,
            "orthanc",
            ours,
            theirs,
            0.9,
            value,
            metric,
        )
    ]


def _best(rows: Iterable[SummaryRow], value: Callable[[SummaryRow], float]) -> SummaryRow | None:
    return max(rows, key=value, default=None)


def _ignore_vs_storescu(rows: list[SummaryRow], dataset: str) -> list[BarCheck]:
    """Into storescp --ignore: >= 1.0x storescu MB/s (large), >= 0.5x its images/s (tiny)."""
    needed = {"large": 1.0, "tiny": 0.5}.get(dataset)
    theirs = _find(rows, "storescp-ignore", "storescu")
    metric, value = _metric(dataset)
    ours = _best(
        (r for r in rows if r.receiver == "storescp-ignore" and r.sender.startswith(TUI_PREFIX)),
        value,
    )
    if needed is None or not (ours and theirs):
        return []
    bar = f"best tui >= {needed}x storescu"
    return [_check(bar, dataset, "storescp-ignore", ours, theirs, needed, value, metric)]


def _orthanc_best_vs_best(rows: list[SummaryRow], dataset: str) -> list[BarCheck]:
    """Into Orthanc, the best tui-sender configuration at least the best DCMTK one."""
    metric, value = _metric(dataset)
    into = [r for r in rows if r.receiver == "orthanc"]
    ours = _best((r for r in into if r.sender.startswith(TUI_PREFIX)), value)
    theirs = _best((r for r in into if r.sender.startswith(DCMTK_FAMILY)), value)
    if not (ours and theirs):
        return []
    bar = "best tui >= best storescu-xN"
    return [_check(bar, dataset, "orthanc", ours, theirs, 1.0, value, metric)]
