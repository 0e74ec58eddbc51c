"""``python -m bench.tui_runner``: one send through the app, for the bench's runner.

Runs :func:`bench.tui_driver.send_through_tui` and writes its timings as
JSON (session seconds from the session's own summary, key latencies), so
the bench measures this process (and the app, its child) like any sender.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.tui_driver import send_through_tui


def main(argv: list[str] | None = None) -> int:
    """Drive one send; exit 0 when the app ended and every file was stored."""
    parser = argparse.ArgumentParser(prog="python -m bench.tui_runner")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--ae", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--timeout", type=float, default=1200)
    args = parser.parse_args(argv)
    run = send_through_tui(
        args.data, args.ae, args.port, args.workers, args.work, timeout=args.timeout
    )
    args.out.write_text(
        json.dumps(
            {
                "session_s": run.session_seconds,
                "key_latency_ms": [round(v, 1) for v in run.key_latencies_ms],
                "key_latency_at_end_ms": [round(v, 1) for v in run.end_key_latencies_ms],
                "app_exit_code": run.exit_code,
            }
        )
    )
    totals = run.summary.get("totals", {})
    stored_all = isinstance(totals, dict) and totals.get("failed", 1) == 0
    return 0 if run.exit_code == 0 and stored_all else 1


if __name__ == "__main__":
    sys.exit(main())
