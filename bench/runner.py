"""One benchmark run: a fresh receiver, one sender, the measurement and the verdict.

The receiver is started before the clock starts and stopped after it
stopped; what it stored is asked in between. Everything the run wrote
(receiver output, sender logs) is deleted afterwards, except the logs of a
run that did not deliver every file: those are kept for investigation.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bench.children import run_measured
from bench.datasets import DataSet
from bench.receivers import open_receiver
from bench.results import RunResult, judge_run
from bench.senders import SenderSpec, SubsetLimits, plan_send


@dataclass(frozen=True)
class RunSettings:
    """What every run shares: scratch space, subset limits, Orthanc's threads, time bound."""

    work_dir: Path
    failed_logs_dir: Path
    limits: SubsetLimits = field(default_factory=SubsetLimits)
    orthanc_threads: int = 4
    timeout: float | None = None
    """Seconds a sender may take; ``None`` scales with the set (see :func:`default_timeout`)."""


def default_timeout(dataset: DataSet) -> float:
    """Generous for the slowest sender: 2 MB/s and 20 files/s, plus two minutes."""
    return 120.0 + dataset.total_bytes / 2e6 + len(dataset.files) / 20


def run_one(
    dataset: DataSet, receiver_name: str, spec: SenderSpec, repeat: int, settings: RunSettings
) -> RunResult:
    """Send ``dataset`` with ``spec`` to a fresh ``receiver_name`` once; judge the delivery."""
    run_dir = settings.work_dir / f"run-{uuid.uuid4().hex[:8]}"
    load = round(os.getloadavg()[0], 2)
    timeout = settings.timeout or default_timeout(dataset)
    try:
        with open_receiver(
            receiver_name, run_dir, orthanc_threads=settings.orthanc_threads
        ) as receiver:
            plan = plan_send(spec, dataset, receiver, run_dir / "sender", limits=settings.limits)
            measured = run_measured(
                plan.commands,
                log_dir=run_dir / "logs",
                timeout=timeout,
                env=plan.env,
                cwd=run_dir / "sender",
            )
            stored = receiver.stored_count(plan.files)
            result = judge_run(
                load_1min=load,
                dataset=dataset.name,
                receiver=receiver_name,
                spec=spec,
                repeat=repeat,
                plan=plan,
                measured=measured,
                receiver_stored=stored,
            )
        if not result.delivered:
            _keep_logs(run_dir, settings.failed_logs_dir / _run_name(result))
        return result
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def _run_name(result: RunResult) -> str:
    return f"{result.dataset}-{result.receiver}-{result.sender}-run{result.repeat + 1}"


def _keep_logs(run_dir: Path, destination: Path) -> None:
    """Copy the sender's logs (and tui-sender's session files) out of the scratch folder."""
    destination.mkdir(parents=True, exist_ok=True)
    for folder in (run_dir / "logs", run_dir / "sender" / "tui-logs"):
        if folder.is_dir():
            shutil.copytree(folder, destination / folder.name, dirs_exist_ok=True)
