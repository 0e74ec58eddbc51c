"""The deferred-import lock survives a fork: a worker process can still import pydicom.

A child forked while its parent held the lock (or from inside a ``with``
block, as multiprocessing's fork start does) would otherwise wait for it
for ever: the first conversion in a worker process hung the whole send.
"""

from __future__ import annotations

import os
import threading
import time

from tui_sender.core.base.deferred_imports import IMPORT_LOCK


def _child_can_take_the_lock() -> tuple[int, float]:
    """Fork; the child takes the lock from another thread (bounded) and exits 0 if it could.

    Returns its exit code and when the fork returned in the parent.
    """
    pid = os.fork()
    forked_at = time.monotonic()
    if pid == 0:  # the child: exit at once, whatever happens
        got = threading.Event()

        def take() -> None:
            with IMPORT_LOCK:
                got.set()

        threading.Thread(target=take, daemon=True).start()
        os._exit(0 if got.wait(5) else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), forked_at


def test_a_child_forked_inside_the_lock_can_take_it() -> None:
    with IMPORT_LOCK:
        assert _child_can_take_the_lock()[0] == 0


def test_a_fork_waits_for_another_thread_to_finish_its_deferred_import() -> None:
    inside = threading.Event()
    released_at: list[float] = []

    def hold() -> None:
        with IMPORT_LOCK:
            inside.set()
            time.sleep(0.3)
            released_at.append(time.monotonic())

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(5)
    code, forked_at = _child_can_take_the_lock()
    holder.join(5)
    assert code == 0
    assert released_at and released_at[0] <= forked_at, "forked while the import ran"
