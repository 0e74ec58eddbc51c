"""``python -m bench.soak``: a long run that must leave memory, threads and files flat.

Sends the tiny set again and again (``--rounds``) from one process to DCMTK
``storescp --ignore``, with a new association every ``--per-association``
files, so thousands of associations open and close. Between rounds it reads
the process's resident memory, thread count and open file descriptors from
``/proc``. A leak shows as growth from round to round: the verdict allows a
few MB of noise after the first round (caches warm up there) and nothing
for threads and descriptors.
"""

from __future__ import annotations

import argparse
import gc
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.datasets import DataSetSpec, ensure_dataset
from peers.dcmtk import DcmtkStoreSCP
from tui_sender.core.config.destinations import Destination
from tui_sender.core.engine.session import Session, SessionOptions
from tui_sender.core.engine.targets import transfer_target
from tui_sender.core.scan.scanner import scan_paths

RSS_GROWTH_MB = 15.0


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


@dataclass(frozen=True)
class Sample:
    """The process after one round."""

    round: int
    files_sent: int
    associations: int
    seconds: float
    rss_mb: float
    threads: int
    fds: int


def take_sample(n: int, files: int, associations: int, seconds: float) -> Sample:
    """Memory, threads and descriptors now (after a garbage collection)."""
    gc.collect()
    return Sample(
        round=n,
        files_sent=files,
        associations=associations,
        seconds=seconds,
        rss_mb=_status("VmRSS") / 1024,
        threads=threading.active_count(),
        fds=len(list(Path("/proc/self/fd").iterdir())),
    )


def main(argv: list[str] | None = None) -> int:
    """Run the soak; exit 0 when memory, threads and descriptors stayed flat."""
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--files", type=int, default=10_000, help="files per round")
    parser.add_argument("--per-association", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--data-dir", type=Path, default=Path("bench/data"))
    parser.add_argument("--logs-dir", type=Path, default=Path("/tmp/tui-sender-soak-logs"))
    args = parser.parse_args(argv)

    dataset = ensure_dataset(DataSetSpec("tiny", scale=args.files / 10_000), args.data_dir)
    catalog = scan_paths([dataset.root], recursive=True)
    samples: list[Sample] = []
    with DcmtkStoreSCP(None, ignore=True, fork=True) as scp:
        dest = Destination.from_cli(
            scp.ae_title,
            "127.0.0.1",
            scp.port,
            workers=args.workers,
            max_per_association=args.per_association,
        )
        samples.append(take_sample(0, 0, 0, 0.0))
        sent = associations = 0
        for n in range(1, args.rounds + 1):
            started = time.monotonic()
            result = Session(
                catalog,
                [transfer_target(dest)],
                options=SessionOptions(logs_dir=args.logs_dir),
            ).run()
            sent += result.counts["sent"]
            associations += len(result.summary["associations"])
            if result.counts["sent"] != catalog.instance_count():
                print(f"round {n}: only {result.counts['sent']} sent", file=sys.stderr)
                return 1
            samples.append(take_sample(n, sent, associations, time.monotonic() - started))
            s = samples[-1]
            print(
                f"round {n}: {s.files_sent:,} files, {s.associations:,} associations in all; "
                f"{s.seconds:.1f} s; RSS {s.rss_mb:.1f} MB, {s.threads} threads, {s.fds} fds",
                flush=True,
            )
    first, last = samples[1], samples[-1]
    growth = last.rss_mb - first.rss_mb
    flat = (
        growth <= RSS_GROWTH_MB
        and all(s.threads == samples[0].threads for s in samples[1:])
        and all(s.fds == samples[0].fds for s in samples[1:])
    )
    print(
        f"\nRSS after round 1 {first.rss_mb:.1f} MB, after round {last.round} "
        f"{last.rss_mb:.1f} MB ({growth:+.1f} MB over {last.files_sent - first.files_sent:,} files "
        f"and {last.associations - first.associations:,} associations); threads "
        f"{samples[0].threads} -> {last.threads}; fds {samples[0].fds} -> {last.fds}: "
        + ("flat" if flat else "NOT FLAT")
    )
    return 0 if flat else 1


if __name__ == "__main__":
    sys.exit(main())
