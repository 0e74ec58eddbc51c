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
* STOW-RS senders, only into a receiver with a DICOMweb URL (``orthanc-web``,
  ``stow-server``): ``tui-web-tN`` is ``tui-sender send --url URL -t N`` (its
  defaults: 50 instances or 32 MB per request); ``tui-web-tN-iB`` sets
  ``stow_instances = B`` through an address book file (``--config FILE
  --dest bench``). ``dicomweb-client-1`` is dicomweb-client's
  ``store_instances`` with one data set per call, one process
  (:mod:`bench.dicomweb_client_send`); ``dicomweb-client-bB`` puts B data sets
  in each call, and ``-xN`` runs N such processes, each with its share of
  the study folders (as ``storescu-xN``).

Every sender's own report is parsed: the storescu-style log lines
"Received Store Response (Success ...)" for DCMTK and pynetdicom (``-v``),
the summary's ``sent + warning`` for tui-sender, the instances the STOW-RS
responses referenced for dicomweb-client. Whether the receiver really
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
from bench.dicomweb_client_send import REPORT_PREFIX as DICOMWEB_CLIENT_REPORT
from bench.receivers import WEB_ONLY_RECEIVERS, WEB_RECEIVERS, ReceiverRun
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
_TUI_WEB_KEY = re.compile(r"^tui-web(?:-t(\d+))?(?:-i(\d+))?$")
_DICOMWEB_CLIENT_KEY = re.compile(r"^dicomweb-client(?:-1|(?:-b(\d+))?(?:-x(\d+))?)$")
WEB_FAMILIES = frozenset({"tui-web", "dicomweb-client"})
"""Sender families that send by STOW-RS (to a receiver's DICOMweb URL)."""


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
    batch: int | None = None
    """STOW-RS instances per request: dicomweb-client's data sets per ``store_instances``
    call, tui-sender's ``stow_instances`` (None: its default)."""

    @property
    def web(self) -> bool:
        """True for a STOW-RS sender."""
        return self.family in WEB_FAMILIES

    @property
    def label(self) -> str:
        if self.family == "tui-web":
            per = f", {self.batch} per request" if self.batch is not None else ""
            return f"tui-sender STOW-RS -t {self.parallel}{per}"
        if self.family == "dicomweb-client":
            procs = f", {self.parallel} processes" if self.parallel > 1 else ""
            return f"dicomweb-client, {self.batch} per request{procs}"
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


def runs_against(spec: SenderSpec, receiver: str) -> bool:
    """Can ``spec`` send to ``receiver``? STOW-RS senders need its DICOMweb URL, the others
    its DICOM port."""
    return receiver in WEB_RECEIVERS if spec.web else receiver not in WEB_ONLY_RECEIVERS


def _parse_web_sender(key: str) -> SenderSpec | None:
    """``tui-web-tN[-iB]``, ``dicomweb-client-1``, ``dicomweb-client-bB[-xN]``; None otherwise."""
    if (match := _TUI_WEB_KEY.match(key)) is not None:
        threads = int(match.group(1) or 1)
        batch = int(match.group(2)) if match.group(2) else None
        if threads < 1 or batch == 0:
            raise ValueError(f"sender {key!r}: the counts must be at least 1")
        shown = f"tui-web-t{threads}" + (f"-i{batch}" if batch is not None else "")
        return SenderSpec(shown, "tui-web", threads, batch=batch)
    if (match := _DICOMWEB_CLIENT_KEY.match(key)) is not None:
        batch, processes = int(match.group(1) or 1), int(match.group(2) or 1)
        if batch < 1 or processes < 1:
            raise ValueError(f"sender {key!r}: the counts must be at least 1")
        shown = "dicomweb-client-" + (f"b{batch}" if batch > 1 or processes > 1 else "1")
        shown += f"-x{processes}" if processes > 1 else ""
        return SenderSpec(shown, "dicomweb-client", processes, batch=batch)
    return None


def parse_sender(key: str) -> SenderSpec:
    """``storescu``, ``storescu-xN``, ``pynetdicom``, ``tui-tN`` (``tui`` alone is ``tui-t1``),
    and the STOW-RS senders ``tui-web-tN``, ``dicomweb-client-1``, ``dicomweb-client-bB-xN``."""
    web = _parse_web_sender(key.strip())
    if web is not None:
        return web
    match = _SENDER_KEY.match(key.strip())
    if match is None:
        raise ValueError(
            f"unknown sender {key!r}: use storescu, storescu-xN, pynetdicom, tui-tN, "
            "tui-web-tN or dicomweb-client-bB-xN"
        )
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
    if spec.web and not receiver.url:
        raise ValueError(f"{spec.key} sends by STOW-RS; {receiver.name} has no DICOMweb URL")
    if spec.family == "tui-web":
        return _tui_web_plan(spec, dataset, receiver, work_dir)
    if spec.family == "dicomweb-client":
        return _dicomweb_client_plan(spec, dataset, receiver, work_dir)
    if spec.family == "storescu":
        return _storescu_plan(spec.parallel, dataset, receiver, work_dir)
    if spec.family == "pynetdicom":
        return _pynetdicom_plan(
            dataset, receiver, work_dir, limits, nodelay=spec.key != "pynetdicom"
        )
    if spec.family == "tui-app":
        return _app_plan(spec.parallel, dataset, receiver, work_dir)
    return _tui_plan(spec.parallel, dataset, receiver, work_dir, spec.processes, spec.verify)


def _split(dataset: DataSet, parallel: int) -> list[list[Path]]:
    """The set's root for one process; for N, its study folders in N groups of similar size."""
    if parallel == 1:
        return [[dataset.root]]
    units = balanced_groups(dataset.units(parallel), parallel)
    return [[unit.path for unit in group] for group in units]


def _storescu_plan(parallel: int, dataset: DataSet, receiver: ReceiverRun, work: Path) -> SendPlan:
    profile = work / "storescu-profile.cfg"
    profile.write_text(storescu_profile(dataset.pairs))
    groups = _split(dataset, parallel)
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


def _tui_web_plan(
    spec: SenderSpec, dataset: DataSet, receiver: ReceiverRun, work: Path
) -> SendPlan:
    """``tui-sender send --url URL -t N``; with a batch, the URL and ``stow_instances`` come
    from an address book file instead (there is no flag for ``stow_instances``)."""
    logs = work / "tui-logs"
    if spec.batch is None:
        destination = ["--url", receiver.url]
    else:
        book = work / "web-destination.toml"
        book.write_text(
            f'[[destinations]]\nname = "bench"\nurl = "{receiver.url}"\n'
            f"stow_instances = {spec.batch}\n"
        )
        destination = ["--config", str(book), "--dest", "bench"]
    command = [
        sys.executable, "-m", "tui_sender.cli", "send", "-i", str(dataset.root), "-r",
        *destination, "-t", str(spec.parallel), "-q", "--logs-dir", str(logs),
    ]  # fmt: skip
    return SendPlan(
        commands=[command],
        env=tui_environment(work),
        files=len(dataset.files),
        bytes=dataset.total_bytes,
        subset=False,
        reported=lambda run: tui_summary_stored(logs),
        details=lambda: {"session_s": tui_session_seconds(logs)},
    )


def _dicomweb_client_plan(
    spec: SenderSpec, dataset: DataSet, receiver: ReceiverRun, work: Path
) -> SendPlan:
    """N processes of :mod:`bench.dicomweb_client_send`, each with its share of the studies."""
    batch = spec.batch or 1
    commands = [
        [sys.executable, "-m", "bench.dicomweb_client_send", receiver.url,
         *[str(p) for p in paths], "--batch", str(batch)]
        for paths in _split(dataset, spec.parallel)
    ]  # fmt: skip
    return SendPlan(
        commands=commands,
        env=tui_environment(work),
        files=len(dataset.files),
        bytes=dataset.total_bytes,
        subset=False,
        reported=_count_dicomweb_client_stored,
    )


def _count_dicomweb_client_stored(run: MeasuredRun) -> int | None:
    """The sum of the children's last ``dicomweb-client stored: N`` line; None if one is missing."""
    total = 0
    for child in run.children:
        try:
            lines = child.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return None
        reports = [line for line in lines if line.startswith(DICOMWEB_CLIENT_REPORT)]
        if not reports:
            return None
        total += int(reports[-1].removeprefix(DICOMWEB_CLIENT_REPORT).split()[0])
    return total


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
