"""``park_reactor``: pynetdicom's reactor thread takes nothing off the queue until released.

Storage commitment still sends its N-ACTION through pynetdicom. Its reactor
could take a fast archive's N-ACTION response first (pydicom/pynetdicom#875):
the request then waited out the DIMSE timeout. After ``park_reactor`` a
message placed on the association's queue must still be there a while later,
for ``send_n_action`` to read; without it the reactor takes it within a
millisecond or two.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from peers.commitment_scp import ArchiveSCP
from tui_sender.core.net.endpoint import LinkSettings
from tui_sender.core.verify.association import associated, park_reactor
from tui_sender.core.verify.commitment import STORAGE_COMMITMENT

pytestmark = pytest.mark.timeout(30)


def _taken_within(assoc: Any, seconds: float) -> bool:
    """Put a marker on the DIMSE queue; True once the reactor took it, False if it was
    still there after ``seconds`` (then it is taken back)."""
    queue = assoc.dimse.msg_queue
    queue.put((1, None))  # no message: the reactor takes it and serves nothing
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if queue.empty():
            return True
        time.sleep(0.005)
    assert queue.get_nowait() == (1, None)
    return False


def test_a_parked_reactor_leaves_the_queue_alone_until_released() -> None:
    scp = ArchiveSCP().start()
    try:
        link = LinkSettings("127.0.0.1", scp.port, scp.ae_title, "PARKING_SCU", acse_timeout=5)
        with associated(link, [STORAGE_COMMITMENT]) as assoc:
            assert _taken_within(assoc, 5.0)  # the reactor runs: it takes it
            park_reactor(assoc)
            assert not _taken_within(assoc, 0.3)  # parked: it waits for send_n_action
            assoc._reactor_checkpoint.set()  # what send_* does once answered
            assert _taken_within(assoc, 5.0)
    finally:
        scp.stop()
