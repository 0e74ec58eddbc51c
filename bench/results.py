"""One run's numbers, the delivery verdict, and the medians and ratios over repeats.

Rates use the bytes of the files on disk (the same for every sender of a
set) in decimal megabytes, and the files a run was given, over the wall time
of the sender's processes (start of the first to the end of the last).
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, replace
from typing import Any

from bench.children import MeasuredRun
from bench.senders import BASELINE, SenderSpec, SendPlan


@dataclass(frozen=True)
class RunResult:
    """One sender sending one set to one receiver once."""

    dataset: str
    receiver: str
    sender: str
    label: str
    repeat: int
    files: int
    bytes: int
    subset: bool
    wall_s: float
    cpu_s: float
    rss_sum_mb: float
    rss_max_mb: float
    processes: int
    exit_codes: tuple[int, ...]
    timed_out: bool
    sender_reported: int | None
    receiver_stored: int | None
    problems: tuple[str, ...]
    load_1min: float = 0.0
    """The machine's 1-minute load average when the run started (others' work skews rates)."""
    session_s: float | None = None
    """tui-sender only: the session's own duration from its summary (no start-up, no keys)."""
    key_latency_ms: tuple[float, ...] = ()
    """Through the app only: key press to screen, sampled while files were sent."""
    key_latency_at_end_ms: tuple[float, ...] = ()
    """Through the app only: keys that met the session's end (shown apart, not in the bar)."""

    @property
    def delivered(self) -> bool:
        return not self.problems

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def images_per_s(self) -> float:
        return self.files / self.wall_s if self.wall_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            delivered=self.delivered,
            mb_per_s=round(self.mb_per_s, 3),
            images_per_s=round(self.images_per_s, 2),
        )
        return data


def judge_run(
    *,
    dataset: str,
    receiver: str,
    spec: SenderSpec,
    repeat: int,
    plan: SendPlan,
    measured: MeasuredRun,
    receiver_stored: int | None,
    load_1min: float = 0.0,
) -> RunResult:
    """The run's numbers plus every reason to doubt that it delivered every file."""
    reported = plan.reported(measured)
    details = plan.details()
    problems: list[str] = []
    if measured.timed_out:
        problems.append("timed out")
    codes = tuple(c.exit_code for c in measured.children)
    if any(codes):
        problems.append(f"exit codes {list(codes)}")
    if reported is None:
        problems.append("sender report missing")
    elif reported != plan.files:
        problems.append(f"sender reports {reported}/{plan.files} stored")
    if receiver_stored is not None and receiver_stored != plan.files:
        problems.append(f"receiver has {receiver_stored}/{plan.files}")
    return RunResult(
        dataset=dataset,
        receiver=receiver,
        sender=spec.key,
        label=spec.label,
        repeat=repeat,
        files=plan.files,
        bytes=plan.bytes,
        subset=plan.subset,
        wall_s=round(measured.wall_s, 4),
        cpu_s=round(measured.cpu_s, 3),
        rss_sum_mb=round(measured.rss_sum_mb, 1),
        rss_max_mb=round(measured.rss_max_mb, 1),
        processes=len(measured.children),
        exit_codes=codes,
        timed_out=measured.timed_out,
        sender_reported=reported,
        receiver_stored=receiver_stored,
        problems=tuple(problems),
        load_1min=load_1min,
        session_s=details.get("session_s"),
        key_latency_ms=tuple(details.get("key_latency_ms", ())),
        key_latency_at_end_ms=tuple(details.get("key_latency_at_end_ms", ())),
    )


@dataclass(frozen=True)
class SummaryRow:
    """The median over repeats of one (set, receiver, sender), with ratios to the baseline."""

    dataset: str
    receiver: str
    sender: str
    label: str
    runs: int
    rated_runs: int
    """Runs the medians are taken over: those that delivered everything."""
    files: int
    subset: bool
    mb_per_s: float
    images_per_s: float
    cpu_s: float
    rss_sum_mb: float
    delivered: bool
    problems: tuple[str, ...]
    mb_ratio: float | None = None
    images_ratio: float | None = None
    session_s: float | None = None
    """tui-sender only: median session duration from the summaries."""
    key_latency_ms: tuple[float, ...] = ()
    """Through the app only: every key latency sampled, over all runs."""
    key_latency_at_end_ms: tuple[float, ...] = ()
    """Through the app only: keys that met a session's end, over all runs."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def summarize(results: list[RunResult]) -> list[SummaryRow]:
    """Median rows in first-seen order, each with its ratio to storescu (1 process)."""
    grouped: dict[tuple[str, str, str], list[RunResult]] = {}
    for result in results:
        grouped.setdefault((result.dataset, result.receiver, result.sender), []).append(result)
    rows = {key: _median_row(runs) for key, runs in grouped.items()}
    out = []
    for (dataset, receiver, _), row in rows.items():
        baseline = rows.get((dataset, receiver, BASELINE))
        if baseline is not None and baseline.mb_per_s > 0 and baseline.images_per_s > 0:
            row = replace(
                row,
                mb_ratio=row.mb_per_s / baseline.mb_per_s,
                images_ratio=row.images_per_s / baseline.images_per_s,
            )
        out.append(row)
    return out


def _median_row(runs: list[RunResult]) -> SummaryRow:
    """Medians over the runs that delivered everything (over all runs when none did).

    A run that failed early has a meaningless rate (its files over a short
    wall time); it must not pull the median. Its failure still shows:
    ``delivered`` is false and ``problems`` says which run and why.
    """
    first = runs[0]
    problems = tuple(f"run {r.repeat + 1}: {p}" for r in runs for p in r.problems)
    measured = [r for r in runs if r.delivered] or runs
    sessions = [r.session_s for r in measured if r.session_s is not None]
    return SummaryRow(
        dataset=first.dataset,
        receiver=first.receiver,
        sender=first.sender,
        label=first.label,
        runs=len(runs),
        rated_runs=len(measured),
        files=first.files,
        subset=first.subset,
        mb_per_s=statistics.median(r.mb_per_s for r in measured),
        images_per_s=statistics.median(r.images_per_s for r in measured),
        cpu_s=statistics.median(r.cpu_s for r in measured),
        rss_sum_mb=statistics.median(r.rss_sum_mb for r in measured),
        delivered=all(r.delivered for r in runs),
        problems=problems,
        session_s=statistics.median(sessions) if sessions else None,
        key_latency_ms=tuple(v for r in measured for v in r.key_latency_ms),
        key_latency_at_end_ms=tuple(v for r in measured for v in r.key_latency_at_end_ms),
    )
