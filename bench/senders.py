"""The senders: their command lines, and how to read what each says it delivered.

* ``storescu`` / ``storescu-xN``: DCMTK ``storescu +sd +r`` with an ``-xf``
  association profile holding the data's (SOP class, syntax) pairs, so it
  sends compressed files unchanged; ``-xN`` splits the study folders into N
  groups of similar size, one storescu per group (how DCMTK users go
  parallel). ``TCP_NODELAY=1`` in its environment, as DCMTK needs.
* ``pynetdicom``: pynetdicom's bundled ``python -m pynetdicom storescu ... -cx``
  (one association, the files' own contexts). It is tens of times slower, so
  it sends an evenly spread subset of the set and its rate is what counts.
  ``pynetdicom-nodelay`` runs the same app with ``TCP_NODELAY`` on its socket
  (:mod:`bench.pynetdicom_nodelay`), which the shipped app never sets.
* ``tui-t1``, ``tui-t2``, ``tui-tN``: ``tui-sender send -t N``, its summary
  JSON read for the counts; ``tui-tN-pP`` adds ``--processes P`` (``-p1``: the
  workers as threads of one process, as before worker processes).
* ``tui-tN-commit`` / ``tui-tN-find`` (also after ``-pP``): the same send with
  ``--verify commitment`` (our listener declared to Orthanc as a modality) or
  ``--verify find``, to show what proof of delivery adds to the wall time.
* ``app-t1``, ``app-tN``: the same send through the app, driven by keys in a
  pseudo-terminal (:mod:`bench.tui_driver`), which also times key presses
  while files are sent.

Every sender's own report is parsed: the storescu-style log lines
"Received Store Response (Success ...)" for DCMTK and pynetdicom (``-v``),
the summary's ``sent + warning`` for tui-sender. Whether the receiver really
has the files is checked separately (see :mod:`bench.receivers`).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import REPO_ROOT
from bench.children import MeasuredRun
from bench.datasets import DataSet, balanced_groups, sample_subset
from bench.receivers import ReceiverRun
from peers.dcmtk import dcmtk_environment, storescu_command, storescu_profile
from peers.processes import free_port

COMMIT_AE = "TUI_SENDER"
"""The calling AE (and listener AE) of ``-commit`` senders, declared to the receiver."""

DEFAULT_SENDERS = (
    "storescu",
    "storescu-x2",
    "storescu-x4",
    "pynetdicom",
    "tui-t1",
    "tui-t2",
    "tui-t4",
    "app-t1",
    "app-t2",
    "app-t4",
)
BASELINE = "storescu"
"""The reference every ratio is taken against: DCMTK storescu, one process."""

_STORE_SUCCESS = re.compile(
    r"Received Store Response \((?:Status: 0x[0-9A-Fa-f]{4} - )?(?:Success|Warning)"
)
_SENDER_KEY = re.compile(
    r"^(storescu|tui|app)(?:-[xt](\d+))?(?:-p(\d+))?(?:-(commit|find))?$"
    r"|^pynetdicom(?:-nodelay)?$"
)


@dataclass(frozen=True)
class SenderSpec:
    """One sender configuration, by its command-line key (``storescu-x2``, ``tui-t4``)."""

    key: str
    family: str
    """``storescu``, ``pynetdicom`` or ``tui-sender``."""
    parallel: int
    processes: int | None = None
    """tui-sender's ``--processes`` (None: its default, one per core)."""
    verify: str = ""
    """tui-sender's ``--verify`` (``commitment`` or ``find``; empty: none)."""

    @property
    def label(self) -> str:
        if self.family == "storescu":
            n = self.parallel
            return f"DCMTK storescu, {n} process" + ("es" if n > 1 else "")
        if self.key == "pynetdicom-nodelay":
            return "pynetdicom storescu+NODELAY (subset)"
        if self.family == "pynetdicom":
            return "pynetdicom storescu (subset)"
        if self.family == "tui-app":
            return f"tui-sender app, {self.parallel} worker" + ("s" if self.parallel > 1 else "")
        verified = f", --verify {self.verify}" if self.verify else ""
        if self.processes is not None:
            plural = "es" if self.processes > 1 else ""
            return f"tui-sender -t {self.parallel}, {self.processes} process{plural}{verified}"
        return f"tui-sender -t {self.parallel}{verified}"


def parse_sender(key: str) -> SenderSpec:
    """``storescu``, ``storescu-xN``, ``pynetdicom``, ``tui-tN`` (``tui`` alone is ``tui-t1``)."""
    match = _SENDER_KEY.match(key.strip())
    if match is None:
        raise ValueError(f"unknown sender {key!r}: use storescu, storescu-xN, pynetdicom or tui-tN")
    if key.startswith("pynetdicom"):
        return SenderSpec(key, "pynetdicom", 1)
    family, count = match.group(1), int(match.group(2) or 1)
    processes = int(match.group(3)) if match.group(3) else None
    verify = {"commit": "commitment", "find": "find"}.get(match.group(4) or "", "")
    if count < 1 or processes == 0:
        raise ValueError(f"sender {key!r}: the count must be at least 1")
    if (processes is not None or verify) and family != "tui":
        raise ValueError(f"sender {key!r}: -pN and -commit/-find are for tui-tN only")
    if verify:
        shown = f"tui-t{count}" + (f"-p{processes}" if processes is not None else "")
        return SenderSpec(f"{shown}-{match.group(4)}", "tui-sender", count, processes, verify)
    if family == "storescu":
        return SenderSpec("storescu" if count == 1 else f"storescu-x{count}", "storescu", count)
    if family == "app":
        return SenderSpec(f"app-t{count}", "tui-app", count)
    if processes is not None:
        return SenderSpec(f"tui-t{count}-p{processes}", "tui-sender", count, processes)
    return SenderSpec(f"tui-t{count}", "tui-sender", count)


@dataclass(frozen=True)
class SubsetLimits:
    """How much of a set the slow sender (pynetdicom) gets."""

    max_files: int = 200
    max_bytes: int = 200_000_000


@dataclass(frozen=True)
class SendPlan:
    """Everything needed to run one sender once, and to read its report afterwards."""

    commands: list[list[str]]
    env: dict[str, str]
    files: int
    bytes: int
    subset: bool
    reported: Callable[[MeasuredRun], int | None]
    """Files the sender says were stored (success or warning), from its logs."""
    details: Callable[[], dict[str, Any]] = dict
    """Extra figures read after the run (tui-sender: session seconds, key latencies)."""


def plan_send(
    spec: SenderSpec,
    dataset: DataSet,
    receiver: ReceiverRun,
    work_dir: Path,
    *,
    limits: SubsetLimits,
) -> SendPlan:
    """The commands that send ``dataset`` to ``receiver`` with ``spec``."""
    work_dir.mkdir(parents=True, exist_ok=True)
    if spec.family == "storescu":
        return _storescu_plan(spec.parallel, dataset, receiver, work_dir)
    if spec.family == "pynetdicom":
        return _pynetdicom_plan(
            dataset, receiver, work_dir, limits, nodelay=spec.key != "pynetdicom"
        )
    if spec.family == "tui-app":
        return _app_plan(spec.parallel, dataset, receiver, work_dir)
    return _tui_plan(spec.parallel, dataset, receiver, work_dir, spec.processes, spec.verify)


def _storescu_plan(parallel: int, dataset: DataSet, receiver: ReceiverRun, work: Path) -> SendPlan:
    profile = work / "storescu-profile.cfg"
    profile.write_text(storescu_profile(dataset.pairs))
    if parallel == 1:
        groups = [[dataset.root]]
    else:
        units = balanced_groups(dataset.units(parallel), parallel)
        groups = [[unit.path for unit in group] for group in units]
    commands = [
        storescu_command(
            receiver.port,
            paths,
            profile_path=profile,
            called_ae=receiver.ae_title,
            calling_ae="STORESCU",
            host=receiver.host,
            extra_args=["-v"],
        )
        for paths in groups
    ]
    return SendPlan(
        commands=commands,
        env=dcmtk_environment(),
        files=len(dataset.files),
        bytes=dataset.total_bytes,
        subset=False,
        reported=_count_store_successes,
    )


def _pynetdicom_plan(
    dataset: DataSet, receiver: ReceiverRun, work: Path, limits: SubsetLimits, *, nodelay: bool
) -> SendPlan:
    files = sample_subset(dataset, limits.max_files, limits.max_bytes)
    app = ["bench.pynetdicom_nodelay"] if nodelay else ["pynetdicom", "storescu"]
    command = [
        sys.executable,
        "-m",
        *app,
        receiver.host,
        str(receiver.port),
        *[str(p) for p in files],
        "-cx",
        "-v",
        "-aet",
        "PYNETDICOM",
        "-aec",
        receiver.ae_title,
    ]
    return SendPlan(
        commands=[command],
        env=tui_environment(work) if nodelay else dict(os.environ),
        files=len(files),
        bytes=sum(p.stat().st_size for p in files),
        subset=len(files) < len(dataset.files),
        reported=_count_store_successes,
    )


def _verify_flags(verify: str, receiver: ReceiverRun) -> list[str]:
    """``--verify`` and, for storage commitment, our listener (declared to the receiver)."""
    if not verify:
        return []
    if receiver.declare_listener is None:
        raise ValueError(f"{receiver.name} answers neither storage commitment nor C-FIND")
    port = free_port()
    receiver.declare_listener(COMMIT_AE, port)  # Orthanc answers C-FIND from modalities only
    flags = ["--verify", verify, "-c", COMMIT_AE]
    if verify == "commitment":
        flags += ["--commit-port", str(port), "--commit-host", receiver.host]
    return flags


def _tui_plan(
    threads: int,
    dataset: DataSet,
    receiver: ReceiverRun,
    work: Path,
    processes: int | None,
    verify: str = "",
) -> SendPlan:
    logs = work / "tui-logs"
    command = [
        sys.executable,
        "-m",
        "tui_sender.cli",
        "send",
        "-i",
        str(dataset.root),
        "-r",
        "-a",
        receiver.ae_title,
        "-H",
        receiver.host,
        "-p",
        str(receiver.port),
        "-t",
        str(threads),
        "-q",
        "--logs-dir",
        str(logs),
        *(["--processes", str(processes)] if processes is not None else []),
        *_verify_flags(verify, receiver),
    ]
    env = tui_environment(work)
    return SendPlan(
        commands=[command],
        env=env,
        files=len(dataset.files),
        bytes=dataset.total_bytes,
        subset=False,
        reported=lambda run: tui_summary_stored(logs),
        details=lambda: {
            "session_s": tui_session_seconds(logs),
            **({"verified": tui_summary_verified(logs)} if verify else {}),
        },
    )


def _app_plan(workers: int, dataset: DataSet, receiver: ReceiverRun, work: Path) -> SendPlan:
    app_work = work / "app"
    out = work / "app-run.json"
    command = [
        sys.executable, "-m", "bench.tui_runner", "--data", str(dataset.root), "--ae",
        receiver.ae_title, "--port", str(receiver.port), "--workers", str(workers),
        "--work", str(app_work), "--out", str(out),
    ]  # fmt: skip

    def details() -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(out.read_text())
            return data
        except (OSError, ValueError):
            return {}

    return SendPlan(
        commands=[command],
        env={**tui_environment(work), "PYTHONPATH": str(REPO_ROOT)},
        files=len(dataset.files),
        bytes=dataset.total_bytes,
        subset=False,
        reported=lambda run: tui_summary_stored(app_work / "logs"),
        details=details,
    )


def tui_session_seconds(logs_dir: Path) -> float | None:
    """The session's own duration (``total_time_ms``) from its summary."""
    summaries = sorted(logs_dir.glob("dicom_sender_summary_*.json"), key=os.path.getmtime)
    if not summaries:
        return None
    return float(json.loads(summaries[-1].read_text())["total_time_ms"]) / 1000


def tui_environment(work: Path) -> dict[str, str]:
    """The environment for a tui-sender process: this tree's code, no user settings.

    ``PYTHONPATH`` puts the source tree next to this bench first, ahead of
    whatever ``tui_sender`` the interpreter has installed, so running the
    bench from a snapshot of the tree measures that snapshot. The address book,
    settings and stored-instance index of the machine's user are kept out: with
    the user's index, a run whose fresh receiver got a port an earlier run's had
    skipped all 10,000 files as "already stored at this destination".
    """
    path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {
        **os.environ,
        "PYTHONPATH": path,
        "TUI_SENDER_CONFIG": str(work / "no-config.toml"),
        "TUI_SENDER_STATE_DIR": str(work / "state"),
        "NO_COLOR": "1",
    }


def _count_store_successes(run: MeasuredRun) -> int | None:
    """Successful or warning C-STORE responses in the children's ``-v`` logs."""
    total = 0
    for child in run.children:
        try:
            text = child.log_path.read_text(errors="replace")
        except OSError:
            return None
        total += len(_STORE_SUCCESS.findall(text))
    return total


def tui_summary_verified(logs_dir: Path) -> int | None:
    """Instances the newest summary says the archive committed or found."""
    summaries = sorted(logs_dir.glob("dicom_sender_summary_*.json"), key=os.path.getmtime)
    if not summaries:
        return None
    verified = json.loads(summaries[-1].read_text())["totals"].get("verified", {})
    return int(verified.get("committed", 0)) + int(verified.get("found", 0))


def tui_summary_stored(logs_dir: Path) -> int | None:
    """``sent + warning`` from the newest tui-sender summary in ``logs_dir``, if any."""
    summaries = sorted(logs_dir.glob("dicom_sender_summary_*.json"), key=os.path.getmtime)
    if not summaries:
        return None
    totals = json.loads(summaries[-1].read_text())["totals"]
    return int(totals["sent"]) + int(totals["warning"])
