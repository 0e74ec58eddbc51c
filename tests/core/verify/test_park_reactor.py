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


def _still_queued_after(assoc: Any, seconds: float) -> bool:
    """Put a marker on the DIMSE queue; True if nobody took it within ``seconds``."""
    marker = (1, None)
    assoc.dimse.msg_queue.put(marker)
    time.sleep(seconds)
    if assoc.dimse.msg_queue.empty():
        return False
    assert assoc.dimse.msg_queue.get_nowait() == marker
    return True


def test_a_parked_reactor_leaves_the_queue_alone_until_released() -> None:
    scp = ArchiveSCP().start()
    try:
        link = LinkSettings("127.0.0.1", scp.port, scp.ae_title, "PARKING_SCU", acse_timeout=5)
        with associated(link, [STORAGE_COMMITMENT]) as assoc:
            assert not _still_queued_after(assoc, 0.05)  # the reactor runs: it takes it
            park_reactor(assoc)
            assert _still_queued_after(assoc, 0.2)  # parked: it waits for send_n_action
            assoc._reactor_checkpoint.set()  # what send_* does once answered
            assert not _still_queued_after(assoc, 0.05)
    finally:
        scp.stop()
