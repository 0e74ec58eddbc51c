"""``python -m bench.run``: tui-sender against DCMTK storescu and pynetdicom, side by side.

Generates (or reuses) the data sets in ``bench/data``, then for each repeat,
set and receiver runs every sender once against a freshly started receiver
(sender order rotated between repeats), prints one table per set with the
medians and the ratios to DCMTK storescu (1 process), checks the issues'
bars, and writes the raw results as JSON (plus the printed text next to it).
See ``bench/README.md``.

Exit codes: 0 every run delivered every file, 1 some run did not,
2 bad options or a missing peer program, 130 interrupted (partial results
are still printed and written).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from bench import REPO_ROOT
from bench.bars import check_bars
from bench.datasets import SET_NAMES, DataSet, DataSetSpec, ensure_dataset, warm_page_cache
from bench.extras import (
    BIG_SENDERS,
    BIG_WEB_RECEIVER,
    BigFileResult,
    ScanSpeed,
    big_file_dataset,
    big_sender,
    measure_big_file,
    measure_scan_speed,
)
from bench.machine import describe_machine, short_summary
from bench.receivers import RECEIVER_NAMES, known_receiver
from bench.report import (
    make_console,
    print_bars,
    print_big_file,
    print_dataset_table,
    print_scan_speed,
    print_web_table,
)
from bench.results import RunResult, summarize
from bench.runner import RunSettings, run_one
from bench.senders import (
    DEFAULT_SENDERS,
    SenderSpec,
    SubsetLimits,
    parse_sender,
    runs_against,
)
from peers.dcmtk import find_dcmtk_tool
from peers.orthanc import DICOMWEB_PLUGIN, find_orthanc, has_dicomweb_plugin

BENCH_DIR = REPO_ROOT / "bench"
QUICK_SCALE = 0.1
PYNETDICOM_FILES = 200
QUICK_PYNETDICOM_FILES = 50
EXIT_OK, EXIT_UNDELIVERED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Benchmark tui-sender against DCMTK storescu and pynetdicom's storescu "
        "on 127.0.0.1.",
    )
    parser.add_argument(
        "--sets", default=",".join(SET_NAMES), help="data sets, comma-separated (large,tiny)"
    )
    parser.add_argument(
        "--scale",
        type=float,
        help="fraction of each set: patients of 'large', files of 'tiny' (default 1)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a short run: --scale {QUICK_SCALE}, pynetdicom sends {QUICK_PYNETDICOM_FILES} files",
    )
    parser.add_argument(
        "--profile",
        default="large",
        help="sample profile of the 'large' set (large; 'tiny' or 'demo' for tests)",
    )
    parser.add_argument("--seed", type=int, default=0, help="data set seed (default 0)")
    parser.add_argument(
        "--receivers",
        default="storescp,storescp-ignore,orthanc",
        help="comma-separated: storescp (writes to disk), storescp-ram (writes to tmpfs), "
        "storescp-ignore, orthanc, orthanc-web (Orthanc with its DICOMweb plugin), "
        "stow-server (scripted STOW-RS server), wanN (storescp --ignore behind N ms each way, "
        "e.g. wan25)",
    )
    parser.add_argument(
        "--senders",
        default=",".join(DEFAULT_SENDERS),
        help="comma-separated: storescu, storescu-xN (N processes), pynetdicom, "
        "pynetdicom-nodelay, tui-tN; STOW-RS (into orthanc-web, stow-server): tui-web-tN, "
        "tui-web-tN-iB (B instances per request), dicomweb-client-1, dicomweb-client-bB-xN "
        "(B per store_instances call, N processes)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each combination")
    parser.add_argument(
        "--out", type=Path, help="results JSON (default bench/results/<timestamp>.json)"
    )
    parser.add_argument("--data-dir", type=Path, default=BENCH_DIR / "data", help="data set cache")
    parser.add_argument("--orthanc-threads", type=int, default=4, help="DicomThreadsCount")
    parser.add_argument(
        "--pynetdicom-files",
        type=int,
        help=f"subset size for pynetdicom (files; default {PYNETDICOM_FILES}, "
        f"{QUICK_PYNETDICOM_FILES} with --quick)",
    )
    parser.add_argument(
        "--pynetdicom-mb", type=float, default=200.0, help="subset size for pynetdicom (MB)"
    )
    parser.add_argument(
        "--run-timeout", type=float, help="seconds a sender may take (default: scales with set)"
    )
    parser.add_argument("--no-scan", action="store_true", help="skip the scan-speed measurement")
    parser.add_argument(
        "--big",
        action="store_true",
        help="also send one multi-frame file of --big-gb GB (needs that much disk)",
    )
    parser.add_argument("--big-gb", type=float, default=2.0, help="size of the --big file")
    parser.add_argument(
        "--big-senders",
        default=",".join(BIG_SENDERS),
        help="senders of the --big file: DIMSE ones into storescp --ignore, STOW-RS ones "
        "(tui-web-tN, dicomweb-client-1) into --big-web-receiver; KEY@RECEIVER for another "
        f"receiver (default {','.join(BIG_SENDERS)})",
    )
    parser.add_argument(
        "--big-web-receiver",
        default=BIG_WEB_RECEIVER,
        choices=("orthanc-web", "stow-server"),
        help="where STOW-RS senders send the --big file (default stow-server; "
        "KEY@RECEIVER in --big-senders sends one sender elsewhere)",
    )
    return parser


def _pynetdicom_files(args: argparse.Namespace) -> int:
    if args.pynetdicom_files is not None:
        return int(args.pynetdicom_files)
    return QUICK_PYNETDICOM_FILES if args.quick else PYNETDICOM_FILES


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _check_options(args: argparse.Namespace) -> tuple[list[str], list[str], list[SenderSpec]]:
    """Validated sets, receivers and senders; ``ValueError`` with a message otherwise."""
    sets, receivers = _names(args.sets), _names(args.receivers)
    for name in sets:
        if name not in SET_NAMES:
            raise ValueError(f"unknown set {name!r}; known: {', '.join(SET_NAMES)}")
    for name in receivers:
        if not known_receiver(name):
            raise ValueError(f"unknown receiver {name!r}; known: {', '.join(RECEIVER_NAMES)}")
    senders = list({spec.key: spec for spec in map(parse_sender, _names(args.senders))}.values())
    if not (sets and receivers and senders):
        raise ValueError("need at least one set, one receiver and one sender")
    for spec in senders:
        if not any(runs_against(spec, name) for name in receivers):
            kind = "a DICOMweb receiver (orthanc-web, stow-server)" if spec.web else "a DICOM one"
            raise ValueError(f"sender {spec.key} needs {kind} among --receivers")
    big_runs = [big_sender(e, args.big_web_receiver) for e in _names(args.big_senders)]
    web_orthanc = "orthanc-web" in receivers or (
        args.big and any(name == "orthanc-web" for _, name in big_runs)
    )
    if args.repeat < 1:
        raise ValueError("--repeat must be at least 1")
    needed = set()
    if args.big or any(name.startswith(("storescp", "wan")) for name in receivers):
        needed.add("storescp")
    if args.big or any(spec.family == "storescu" for spec in senders):
        needed.add("storescu")
    missing = [tool for tool in sorted(needed) if not find_dcmtk_tool(tool)]
    if ("orthanc" in receivers or web_orthanc) and not find_orthanc():
        missing.append("Orthanc")
    if web_orthanc and not has_dicomweb_plugin():
        missing.append(f"Orthanc's DICOMweb plugin ({DICOMWEB_PLUGIN})")
    if missing:
        raise ValueError(
            f"not installed: {', '.join(missing)} (apt-get install dcmtk orthanc orthanc-dicomweb)"
        )
    return sets, receivers, senders


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        sets, receivers, senders = _check_options(args)
    except ValueError as exc:
        err.print(f"bench: {exc}", markup=False)
        return EXIT_USAGE
    scale = args.scale if args.scale is not None else (QUICK_SCALE if args.quick else 1.0)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or BENCH_DIR / "results" / f"{stamp}.json"
    work_dir = Path(tempfile.mkdtemp(prefix="tui-sender-bench-"))
    settings = RunSettings(
        work_dir=work_dir,
        failed_logs_dir=out.with_name(out.stem + "-failed-logs"),
        limits=SubsetLimits(_pynetdicom_files(args), int(args.pynetdicom_mb * 1e6)),
        orthanc_threads=args.orthanc_threads,
        timeout=args.run_timeout,
    )
    console = make_console()
    machine = describe_machine()
    console.print(short_summary(machine), style="dim", soft_wrap=True)
    datasets: list[DataSet] = []
    results: list[RunResult] = []
    scan: list[ScanSpeed] = []
    big: list[BigFileResult] = []
    interrupted = False
    try:
        for name in sets:
            spec = DataSetSpec(name, seed=args.seed, scale=scale, profile=args.profile)
            err.print(f"data set {name}: {args.data_dir / spec.cache_key()}", markup=False)
            datasets.append(ensure_dataset(spec, args.data_dir))
        _run_matrix(datasets, receivers, senders, args.repeat, settings, results, err)
        tiny = next((d for d in datasets if d.name == "tiny"), None)
        if tiny is not None and not args.no_scan:
            err.print("scan speed ...", markup=False)
            scan = measure_scan_speed(tiny, work_dir / "scan")
        if args.big:
            err.print(f"big file ({args.big_gb:g} GB) ...", markup=False)
            big = measure_big_file(
                big_file_dataset(args.data_dir, args.big_gb),
                settings,
                senders=_names(args.big_senders),
                web_receiver=args.big_web_receiver,
            )
    except KeyboardInterrupt:
        interrupted = True
        err.print("interrupted: reporting what was measured so far", markup=False)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    rows = summarize(results)
    for dataset in datasets:
        of_set = [r for r in rows if r.dataset == dataset.name]
        if of_set:
            print_dataset_table(console, dataset, of_set, args.repeat)
    checks = check_bars(rows)
    print_web_table(console, datasets, rows)
    print_bars(console, checks)
    print_scan_speed(console, scan)
    print_big_file(console, big)
    document: dict[str, Any] = {
        "kind": "tui-sender-bench",
        "machine": machine,
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "scale": scale,
        "interrupted": interrupted,
        "datasets": [
            {"name": d.name, "root": str(d.root), "files": len(d.files), "bytes": d.total_bytes}
            for d in datasets
        ],
        "runs": [r.to_json() for r in results],
        "summary": [r.to_json() for r in rows],
        "bars": [c.to_json() for c in checks],
        "scan_speed": [s.to_json() for s in scan],
        "big_file": [b.to_json() for b in big],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")
    out.with_suffix(".txt").write_text(console.export_text())
    err.print(f"results: {out} (and {out.with_suffix('.txt').name})", markup=False)
    if interrupted:
        return EXIT_INTERRUPTED
    undelivered = [r for r in results if not r.delivered] + [b for b in big if not b.delivered]
    if undelivered:
        err.print(f"bench: {len(undelivered)} run(s) did NOT deliver every file", style="bold red")
        return EXIT_UNDELIVERED
    return EXIT_OK


def _run_matrix(
    datasets: list[DataSet],
    receivers: list[str],
    senders: list[SenderSpec],
    repeats: int,
    settings: RunSettings,
    results: list[RunResult],
    err: Console,
) -> None:
    """Every (set, receiver, sender) once per repeat; results appended as they come.

    Repeats are the outer loop (so a slow drift of the machine spreads over
    every sender), and the sender order rotates by one each repeat.
    """
    pairs = sum(runs_against(spec, name) for name in receivers for spec in senders)
    total = repeats * len(datasets) * pairs
    done = 0
    for repeat in range(repeats):
        shift = repeat % len(senders)
        order = senders[shift:] + senders[:shift]
        for dataset in datasets:
            warm_page_cache(dataset.files)
            for receiver in receivers:
                for spec in (s for s in order if runs_against(s, receiver)):
                    done += 1
                    result = run_one(dataset, receiver, spec, repeat, settings)
                    results.append(result)
                    verdict = (
                        "ok" if result.delivered else "NOT DELIVERED: " + "; ".join(result.problems)
                    )
                    err.print(
                        f"[{done}/{total}] {dataset.name} -> {receiver}: {spec.label}: "
                        f"{result.mb_per_s:.1f} MB/s, {result.images_per_s:.0f} images/s, "
                        f"{result.wall_s:.1f} s, {verdict}",
                        markup=False,
                        style=None if result.delivered else "bold red",
                    )


if __name__ == "__main__":
    sys.exit(main())
