"""One lock for imports deferred to first use, so two threads never import pydicom at once.

pydicom, numpy and pynetdicom take about 0.2 s to import here, and a send
needs none of them before its first association, so the modules that use
them import them inside the functions that do. Those functions can run in
several threads at once (a worker process's reader threads recording
events, the scan, the workers), and CPython's per-module import locks let
a second thread see a package that is still being initialised when its
modules import each other in a circle, as pydicom's do: "cannot import
name 'convert_numbers' from partially initialized module 'pydicom.values'".
Every deferred import takes this lock first (re-entrant: a deferred import
may run another), so the first thread finishes the import and the others
find it done.
"""

from __future__ import annotations

import os
import threading
from types import TracebackType


class _ImportLock:
    """A re-entrant lock that a fork leaves usable in the child.

    A fork waits until no other thread is inside a deferred import (the lock
    is taken around it), and the child starts with a fresh lock: the forking
    thread may have held it, and in the child it never gives it back.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(
                before=self._before_fork,
                after_in_parent=self._after_fork_in_parent,
                after_in_child=self._after_fork_in_child,
            )

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._lock.release()

    def _before_fork(self) -> None:
        self._lock.acquire()

    def _after_fork_in_parent(self) -> None:
        self._lock.release()

    def _after_fork_in_child(self) -> None:
        self._lock = threading.RLock()


IMPORT_LOCK = _ImportLock()
"""Hold while running a deferred ``import`` of pydicom, numpy or pynetdicom."""
