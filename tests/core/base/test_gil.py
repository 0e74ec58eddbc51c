"""Long passes hand the GIL over: a pause every ``every`` items, nothing lost or reordered.

What the pauses buy a waiting thread is measured by ``python -m bench.gil_handover``.
"""

from __future__ import annotations

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
