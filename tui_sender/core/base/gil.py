"""Long pure-Python passes that hand the GIL over as they go.

CPython gives the GIL to a waiting thread only once it has waited a switch
interval (5 ms), and then for one step only: a screen thread that needs the
GIL a dozen times to answer a key waits that long at each step while another
thread runs a long pure-Python pass. Building and writing the summary of
20,000 files at a session's end (about 0.2 s) kept a key on the app's
dashboard waiting up to 136 ms, and a 10 ms Textual timer up to 40 ms late.
A 0.2 ms sleep every 500 items lets a waiting thread in at once (that timer
then ran within a few ms of its time) and cost the pass no measurable time.
A shorter switch interval did not help: the waiting thread still lost the
GIL again at its next step.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

HAND_OVER_EVERY = 500
"""Items between two hand-overs (500 summary entries: about 3 ms of work)."""
PAUSE = 0.0002
"""Seconds slept at a hand-over: long enough for a waiting thread to take the GIL."""


def handing_over(items: Iterable[T], every: int = HAND_OVER_EVERY) -> Iterator[T]:
    """The items, in order, with a short sleep (GIL released) after every ``every`` of them."""
    for n, item in enumerate(items, 1):
        yield item
        if n % every == 0:
            time.sleep(PAUSE)
