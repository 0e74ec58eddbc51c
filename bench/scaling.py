"""``python -m bench.scaling``: time grows linearly with the work, memory does not grow.

Two series, each sent with ``tui-sender send -t 2`` to DCMTK ``storescp
--ignore`` (the sender is the limit there):

* more files: 1,000 to 10,000 small files; the time per file must stay
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
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.datasets import DataSetSpec, ensure_dataset
from tests.peers.dcmtk import DcmtkStoreSCP
from tui_sender.core.sample_data import write_large_multiframe

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
    peak_kib = int(proc.stderr.split("VMHWM")[1].split()[0])
    return summary["total_time_ms"] / 1000, peak_kib / 1024


def _verdict(points: list[Point], unit: str) -> bool:
    per = [p.per_unit_ms for p in points]
    peaks = [p.peak_mb for p in points]
    spread = max(per) / min(per)
    memory = max(peaks) - min(peaks)
    ok = spread <= SPREAD_LIMIT and memory <= MEMORY_SPREAD_MB
    for p in points:
        print(
            f"  {p.label:>12}  {p.seconds:7.2f} s  {p.per_unit_ms:8.3f} ms/{unit}  "
            f"peak {p.peak_mb:6.1f} MB"
        )
    print(
        f"  time per {unit}: largest/smallest {spread:.2f} (limit {SPREAD_LIMIT}); "
        f"peak memory spread {memory:.1f} MB (limit {MEMORY_SPREAD_MB:g}): "
        + ("linear and flat" if ok else "NOT linear/flat")
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    """Run both series; exit 0 when both are linear with flat memory."""
    parser = argparse.ArgumentParser(prog="python -m bench.scaling", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path("bench/data"))
    parser.add_argument("--max-mb", type=int, default=1024, help="largest single file, MB")
    args = parser.parse_args(argv)
    ok = True
    with tempfile.TemporaryDirectory(prefix="tui-sender-scaling-") as tmp:
        work = Path(tmp)
        with DcmtkStoreSCP(None, ignore=True, fork=True) as scp:
            print("More files (small CT images):")
            points = []
            for count in (1_000, 2_500, 5_000, 10_000):
                spec = DataSetSpec("tiny", scale=count / 10_000)
                dataset = ensure_dataset(spec, args.data_dir)
                seconds, peak = send(dataset.root, scp, work)
                points.append(Point(f"{count:,} files", count, seconds, peak))
            ok &= _verdict(points, "file")
            print("Bigger files (one multi-frame file each):")
            points = []
            size = 64
            while size <= args.max_mb:
                path = work / f"mf-{size}MB.dcm"
                write_large_multiframe(path, target_bytes=size * 2**20)
                seconds, peak = send(path, scp, work)
                points.append(Point(f"{size:,} MB", size, seconds, peak))
                path.unlink()
                size *= 2
            ok &= _verdict(points, "MB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
