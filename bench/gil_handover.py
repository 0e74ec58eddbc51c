"""``python -m bench.gil_handover``: what :func:`~tui_sender.core.base.gil.handing_over` buys.

A thread that sleeps 2 ms at a time (as the app's screen does between
frames) ticks while another thread runs a 0.3 s pure-Python pass, once over
plain items and once through ``handing_over``. Without hand-overs the ticking
thread waits out Python's 5 ms switch interval after each sleep (about 7 ms a
tick); with them, little more than its 2 ms. Reports the median tick of each
and their ratio, best of ``--repeat`` runs; a measurement, so it lives here
and not among the tests (which check that the pauses happen).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from tui_sender.core.base.gil import handing_over


def typical_tick(pass_over_items: bool, seconds: float = 0.3) -> float:
    """The median gap of a 2 ms ticker while another thread runs a pass of ``seconds``."""
    stop = threading.Event()
    gaps: list[float] = []

    def ticking() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            time.sleep(0.002)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = threading.Thread(target=ticking)
    ticker.start()
    try:
        deadline = time.perf_counter() + seconds
        items = range(10**9)
        for _item in handing_over(items, every=200) if pass_over_items else items:
            sum(range(20))  # a little pure-Python work per item
            if time.perf_counter() > deadline:
                break
    finally:
        stop.set()
        ticker.join(5)
    return statistics.median(gaps)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gil_handover", description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (default 3)")
    args = parser.parse_args(argv)
    plain = min(typical_tick(False) for _ in range(args.repeat))
    handed = min(typical_tick(True) for _ in range(args.repeat))
    print(
        f"median tick of a 2 ms ticker during a pure-Python pass: plain {plain * 1000:.1f} ms, "
        f"handing over {handed * 1000:.1f} ms ({handed / plain:.2f}x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
