"""Measurements beside the send table: scan speed, and sending one 2 GB file.

Scan speed (files per second over a warm page cache) is measured three
ways on the many-small-files set: ``tui-sender scan DIR -r --json`` as a
user runs it (Python start-up included), the in-process
:func:`~tui_sender.core.scan.scanner.scan_paths` (the scanner alone), and DCMTK's
``dcmdump +sd +r -M`` printing one tag per file, a C++ header reader for
scale.

The big-file run (``--big``) writes one multi-frame XA object of about
2 GB (cached like the data sets) and sends it to ``storescp --ignore`` with
``tui-sender -t 1`` and DCMTK ``storescu``: the point is peak memory, which
must stay at a few megabytes of buffers, not the file's size. STOW-RS
senders among ``--big-senders`` (``tui-web-t1``, ``dicomweb-client-1``) send
it to the scripted ``stow-server`` instead (``KEY@orthanc-web``: to Orthanc's
DICOMweb plugin).
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.children import run_measured
from bench.datasets import DataSet, warm_page_cache
from bench.receivers import known_receiver
from bench.runner import RunSettings, run_one
from bench.senders import SenderSpec, parse_sender, runs_against, tui_environment
from peers.dcmtk import dcmtk_environment, file_pairs, find_dcmtk_tool
from tui_sender.core.scan.scanner import scan_paths
from tui_sender.demo.samples.data import write_large_multiframe

SCAN_TIMEOUT = 600.0
BIG_SENDERS = ("tui-t1", "storescu")
BIG_DIMSE_RECEIVER = "storescp-ignore"
BIG_WEB_RECEIVER = "stow-server"
"""Where STOW-RS senders send the big file by default: Orthanc 1.10 took tui-sender's
2 GB request (Content-Length) in about 30 s, but dicomweb-client's (chunked transfer
encoding, 1 MB chunks) for 6.5 minutes and then answered without storing it."""
_DCMDUMP_TAG_LINE = re.compile(r"^\(0008,0018\) UI ", re.MULTILINE)


@dataclass(frozen=True)
class ScanSpeed:
    tool: str
    files: int
    seconds: float
    ok: bool
    note: str = ""

    @property
    def files_per_s(self) -> float:
        return self.files / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "files_per_s": round(self.files_per_s, 1)}


def measure_scan_speed(dataset: DataSet, work_dir: Path) -> list[ScanSpeed]:
    """Files/s of tui-sender's scan (CLI and in-process) and of dcmdump, warm cache."""
    warm_page_cache(dataset.files)
    speeds = [_scan_cli(dataset, work_dir / "scan-cli"), _scan_in_process(dataset)]
    if find_dcmtk_tool("dcmdump"):
        speeds.append(_dcmdump(dataset, work_dir / "dcmdump"))
    return speeds


def _scan_cli(dataset: DataSet, log_dir: Path) -> ScanSpeed:
    command = [sys.executable, "-m", "tui_sender.cli", "scan", str(dataset.root), "-r", "--json"]
    env = tui_environment(log_dir)
    run = run_measured([command], log_dir=log_dir, timeout=SCAN_TIMEOUT, env=env, cwd=log_dir)
    ok = run.all_exited_zero
    note = "" if ok else f"exit codes {[c.exit_code for c in run.children]}"
    if ok:
        found = _json_instances(run.children[0].log_path)
        ok = found == len(dataset.files)
        note = "" if ok else f"found {found}/{len(dataset.files)}"
    return ScanSpeed("tui-sender scan -r --json (CLI)", len(dataset.files), run.wall_s, ok, note)


def _json_instances(log_path: Path) -> int | None:
    """The ``totals.instances`` of the scan document (stdout, possibly after stderr lines)."""
    match = re.search(r'"instances":\s*(\d+)', log_path.read_text(errors="replace"))
    return int(match.group(1)) if match else None


def _scan_in_process(dataset: DataSet) -> ScanSpeed:
    started = time.perf_counter()
    catalog = scan_paths([dataset.root], recursive=True)
    seconds = time.perf_counter() - started
    found = catalog.instance_count()
    ok = found == len(dataset.files)
    note = "" if ok else f"found {found}/{len(dataset.files)}"
    return ScanSpeed(
        "tui_sender.core.scan.scanner.scan_paths", len(dataset.files), seconds, ok, note
    )


def _dcmdump(dataset: DataSet, log_dir: Path) -> ScanSpeed:
    exe = find_dcmtk_tool("dcmdump") or "dcmdump"
    command = [exe, "+sd", "+r", "-q", "-M", "+P", "0008,0018", str(dataset.root)]
    run = run_measured([command], log_dir=log_dir, timeout=SCAN_TIMEOUT, env=dcmtk_environment())
    found = len(_DCMDUMP_TAG_LINE.findall(run.children[0].log_path.read_text(errors="replace")))
    ok = run.all_exited_zero and found == len(dataset.files)
    note = "" if ok else f"printed {found}/{len(dataset.files)}"
    return ScanSpeed("dcmdump +sd +r -M +P 0008,0018", len(dataset.files), run.wall_s, ok, note)


@dataclass(frozen=True)
class BigFileResult:
    label: str
    receiver: str
    mb: float
    wall_s: float
    mb_per_s: float
    cpu_s: float
    rss_mb: float
    delivered: bool
    problems: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def big_file_dataset(data_dir: Path, gigabytes: float, seed: int = 0) -> DataSet:
    """The cached multi-frame file of about ``gigabytes`` GB, written when missing."""
    folder = data_dir / f"big-{gigabytes:g}GB-seed{seed}"
    path = folder / "files" / "XA_LONG_RUN.dcm"
    done = folder / "complete"
    if not (done.exists() and path.is_file()):
        done.unlink(missing_ok=True)
        write_large_multiframe(path, target_bytes=int(gigabytes * 1e9), seed=seed)
        done.write_text("written\n")
    return DataSet(
        name="big",
        root=path.parent,
        files=(path,),
        total_bytes=path.stat().st_size,
        pairs=tuple(file_pairs([path])),
    )


def big_sender(entry: str, web_receiver: str) -> tuple[SenderSpec, str]:
    """``KEY`` or ``KEY@RECEIVER`` of ``--big-senders``: the sender, and where it sends (by
    default storescp --ignore for DIMSE senders, ``web_receiver`` for STOW-RS ones)."""
    key, _, receiver = entry.partition("@")
    spec = parse_sender(key)
    receiver = receiver.strip() or (web_receiver if spec.web else BIG_DIMSE_RECEIVER)
    if not known_receiver(receiver) or not runs_against(spec, receiver):
        raise ValueError(f"--big-senders {entry!r}: {spec.key} cannot send to {receiver!r}")
    return spec, receiver


def measure_big_file(
    dataset: DataSet,
    settings: RunSettings,
    *,
    senders: Sequence[str] = BIG_SENDERS,
    web_receiver: str = BIG_WEB_RECEIVER,
) -> list[BigFileResult]:
    """Send the big file with each of ``senders`` (see :func:`big_sender`)."""
    warm_page_cache(dataset.files)
    results = []
    for entry in senders:
        spec, receiver = big_sender(entry, web_receiver)
        run = run_one(dataset, receiver, spec, 0, settings)
        results.append(
            BigFileResult(
                label=run.label,
                receiver=receiver,
                mb=dataset.mb,
                wall_s=run.wall_s,
                mb_per_s=run.mb_per_s,
                cpu_s=run.cpu_s,
                rss_mb=run.rss_sum_mb,
                delivered=run.delivered,
                problems=run.problems,
            )
        )
    return results
