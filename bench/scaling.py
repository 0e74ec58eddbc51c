"""``python -m bench.scaling``: time grows linearly with the work, memory does not grow.

Two series, each sent with ``tui-sender send -t 2`` to DCMTK ``storescp
--ignore`` (the sender is the limit there):

* more files: 2,500 to 20,000 small files; the time per file must stay
  about constant (a quadratic step anywhere, a list scanned per file, would
  show as a rising column);
* bigger files: one multi-frame file of 64 MB up to 1 GB; the time per MB
  must stay about constant and peak memory flat.

Times are the session's own (from its summary: no start-up, no scan); peak
memory is the sender's ``VmHWM``, read by the sender itself at exit (a child
inherits its parent's ``ru_maxrss`` on Linux, so rusage would mislead).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.datasets import DataSetSpec, ensure_dataset, warm_page_cache
from peers.dcmtk import DcmtkStoreSCP
from tui_sender.demo.samples.data import write_large_multiframe

SPREAD_LIMIT = 1.5
"""Largest over smallest per-unit time allowed across a series."""
MEMORY_SPREAD_MB = 30.0

_SEND = (
    "import sys\n"
    "from tui_sender.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
    "print('VMHWM', int(hwm.split()[1]), file=sys.stderr)\n"
    "sys.exit(code)\n"
)


@dataclass(frozen=True)
class Point:
    """One send of the series."""

    label: str
    units: float
    seconds: float
    peak_mb: float

    @property
    def per_unit_ms(self) -> float:
        return self.seconds / self.units * 1000


def send(path: Path, scp: DcmtkStoreSCP, work: Path) -> tuple[float, float]:
    """Session seconds and peak memory (MB) of one ``tui-sender send``."""
    logs = work / f"logs-{path.name}-{os.getpid()}"
    proc = subprocess.run(
        [sys.executable, "-c", _SEND, "send", "-i", str(path), "-r", "-a", scp.ae_title,
         "-H", "127.0.0.1", "-p", str(scp.port), "-t", "2", "-q", "--force",
         "--logs-dir", str(logs)],
        capture_output=True, text=True, timeout=1800,
        env={**os.environ, "TUI_SENDER_STATE_DIR": str(work / "state")},
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"send failed: {proc.stderr[-2000:]}")
    summary = json.loads(next(logs.glob("dicom_sender_summary_*.json")).read_text())
    if summary["totals"]["failed"] or not summary["totals"]["sent"]:
        raise RuntimeError(f"send of {path} did not deliver: {summary['totals']}")
    peak_kib = int(proc.stderr.split("VMHWM")[1].split()[0])
    shutil.rmtree(logs, ignore_errors=True)
    return summary["total_time_ms"] / 1000, peak_kib / 1024


def measure(path: Path, scp: DcmtkStoreSCP, work: Path, repeat: int) -> tuple[float, float]:
    """Median session seconds and the largest peak over ``repeat`` sends, warm cache."""
    warm_page_cache([path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()))
    runs = [send(path, scp, work) for _ in range(repeat)]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def _verdict(points: list[Point], unit: str, *, memory_flat: bool) -> bool:
    """Print the series; True when time per unit is flat (and memory too, if asked)."""
    per = [p.per_unit_ms for p in points]
    peaks = [p.peak_mb for p in points]
    spread = max(per) / min(per)
    memory = max(peaks) - min(peaks)
    ok = spread <= SPREAD_LIMIT and (memory <= MEMORY_SPREAD_MB or not memory_flat)
    for p in points:
        print(
            f"  {p.label:>12}  {p.seconds:7.2f} s  {p.per_unit_ms:8.3f} ms/{unit}  "
            f"peak {p.peak_mb:6.1f} MB"
        )
    if memory_flat:
        memory_text = f"peak memory spread {memory:.1f} MB (limit {MEMORY_SPREAD_MB:g})"
    else:
        first, last = points[0], points[-1]
        per_kb = (last.peak_mb - first.peak_mb) * 1024 / (last.units - first.units)
        memory_text = f"memory holds the record: {per_kb:.1f} KB per file"
    print(
        f"  time per {unit}: largest/smallest {spread:.2f} (limit {SPREAD_LIMIT}); "
        f"{memory_text}: "
        + ("linear" if ok else "NOT linear")
        + (" and flat" if ok and memory_flat else "")
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    """Run both series; exit 0 when both are linear with flat memory."""
    parser = argparse.ArgumentParser(prog="python -m bench.scaling", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path("bench/data"))
    parser.add_argument("--max-mb", type=int, default=1024, help="largest single file, MB")
    parser.add_argument("--repeat", type=int, default=3, help="sends per point (median)")
    args = parser.parse_args(argv)
    ok = True
    with tempfile.TemporaryDirectory(prefix="tui-sender-scaling-") as tmp:
        work = Path(tmp)
        with DcmtkStoreSCP(None, ignore=True, fork=True) as scp:
            print("More files (small CT images):")
            points = []
            for count in (2_500, 5_000, 10_000, 20_000):
                spec = DataSetSpec("tiny", scale=count / 10_000)
                dataset = ensure_dataset(spec, args.data_dir)
                seconds, peak = measure(dataset.root, scp, work, args.repeat)
                points.append(Point(f"{count:,} files", count, seconds, peak))
            # Memory grows with the number of files (the catalog and the per-file
            # record are kept until the summary is written); it must not grow
            # with the size of a file.
            ok &= _verdict(points, "file", memory_flat=False)
            print("Bigger files (one multi-frame file each):")
            points = []
            size = 64
            while size <= args.max_mb:
                path = work / f"mf-{size}MB.dcm"
                write_large_multiframe(path, target_bytes=size * 2**20)
                os.sync()  # let writeback finish: it would compete with the reads
                seconds, peak = measure(path, scp, work, args.repeat)
                points.append(Point(f"{size:,} MB", size, seconds, peak))
                path.unlink()
                size *= 2
            ok &= _verdict(points, "MB", memory_flat=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
