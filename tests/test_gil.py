"""Long passes hand the GIL over: a thread waiting for it runs within milliseconds."""

from __future__ import annotations

import statistics
import threading
import time

import pytest

from tui_sender.core.base import gil
from tui_sender.core.base.gil import handing_over


def test_every_item_comes_through_in_order_with_a_pause_every_n(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(gil.time, "sleep", pauses.append)
    assert list(handing_over(range(1_201), every=500)) == list(range(1_201))
    assert pauses == [gil.PAUSE, gil.PAUSE]


def _typical_wait_of_a_ticking_thread(pass_over_items: bool) -> float:
    """The median gap of a thread that sleeps 2 ms at a time while another runs a
    0.3 s pure-Python pass (over plain items, or through ``handing_over``)."""
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
        deadline = time.perf_counter() + 0.3
        items = range(10**9)
        for _item in handing_over(items, every=200) if pass_over_items else items:
            sum(range(20))  # a little pure-Python work per item
            if time.perf_counter() > deadline:
                break
    finally:
        stop.set()
        ticker.join(5)
    return statistics.median(gaps)


def test_a_waiting_thread_gets_the_gil_during_a_long_pass() -> None:
    """Without hand-overs the ticking thread waits out Python's 5 ms switch interval
    after each sleep (about 7 ms a tick); with them, little more than its 2 ms."""
    plain = _typical_wait_of_a_ticking_thread(pass_over_items=False)
    handed = _typical_wait_of_a_ticking_thread(pass_over_items=True)
    assert handed < 0.6 * plain, f"{handed * 1000:.1f} ms a tick against {plain * 1000:.1f} ms"
