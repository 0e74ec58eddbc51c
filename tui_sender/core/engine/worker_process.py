"""Workers in a process of their own: more associations past one GIL.

One Python process sends at most about 3,000 small files a second however
many associations it drives, because every file costs some pure Python
(classify the response, build the outcome, write the journal) and only one
thread runs Python at a time. A :class:`WorkerProcess` forks a child that
runs the same :class:`~tui_sender.core.engine.transfer.Worker` threads for
its share of a destination's associations, while the session stays in the
parent: it alone writes the journal, the log, the index and the summary,
so the record is the same whichever way the files went.

What crosses between them (a pipe, pickled):

* parent to child: ``("work", batches)``, ``("close",)`` (no more work),
  ``("cancel",)`` and ``("interrupt",)`` (the soft and the hard stop);
* child to parent: ``("event", event)`` for every engine event, at once (a
  file's outcome is journaled as soon as the response came, as with
  threads), ``("progress", snapshot)`` every :data:`PROGRESS_EVERY` seconds
  for the screens' counters, and ``("done", stats)`` at the end.

The child is forked, not spawned: it starts in a millisecond with the
engine already imported and the destination's TLS context as built. It
ignores Ctrl-C (the session tells it to stop), stops by itself when the
parent goes away (its pipe ends), and leaves with ``os._exit`` so nothing
the parent owned (the journal's buffers, the index) is flushed twice.

What each process keeps to itself: the destination's breaker and its
"destination is dead" verdict (another process learns it from its own
attempts), the hand-back of a batch when the PACS has no room for an
association (to workers of the same process), and a bandwidth cap, which
is split evenly between the processes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

from tui_sender.core.dicom.negotiation import Batch
from tui_sender.core.engine.association_keeper import AssociationKeeper
from tui_sender.core.engine.destination_queue import DestinationQueue
from tui_sender.core.engine.targets import TransferTarget
from tui_sender.core.engine.transfer import Worker
from tui_sender.core.model.events import Event, LogMessage
from tui_sender.core.model.progress import WorkerProgress
from tui_sender.core.net.pacing import Pacer

PROGRESS_EVERY = 0.05
"""Seconds between two progress snapshots from a child (the screens poll at 10 Hz)."""
JOIN_SLICE = 0.05

_parent_ends: set[Connection] = set()
"""The parent's ends of the pipes to running children. A child inherits them (its own
included) and closes them first thing: otherwise a child would keep a pipe to the parent
open itself, and would not notice that the parent has gone."""

_PROGRESS_FIELDS = tuple(
    f.name for f in dataclasses.fields(WorkerProgress) if f.name not in ("name", "destination")
)


def processes_for_this_machine() -> int:
    """How many worker processes a destination may use by default: one per core where
    fork is safe (Linux; macOS's system libraries are not fork-safe once threads run, so
    there the workers stay threads)."""
    return (os.cpu_count() or 1) if sys.platform.startswith("linux") else 1


class WorkerProcess:
    """Some of one destination's workers, running in a forked child process.

    The session uses it as it uses a :class:`DestinationQueue` with worker
    threads: :meth:`add` batches (while the scan finds them), :meth:`close`,
    then wait with :meth:`join`; :meth:`cancel` and :meth:`interrupt` from any
    thread. Events arrive through ``emit`` on a reader thread; the ``progress``
    objects are kept up to date from the child's snapshots.
    """

    def __init__(
        self,
        target: TransferTarget,
        progress: Sequence[WorkerProgress],
        emit: Callable[[Event], None],
        *,
        rate_share: int = 1,
        number: int = 1,
    ) -> None:
        self.target = target
        self.progress = list(progress)
        self.emit = emit
        self.rate_share = rate_share
        """How many processes share the destination's bandwidth cap."""
        self.number = number
        """Which of them this is (1-based): its association ids are number, number + share..."""
        self.attempted = False
        self.established = 0
        self.bytes_queued = 0
        """Bytes of the batches handed to this process (for sharing work out evenly)."""
        self._conn: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._reader: threading.Thread | None = None
        self._send_lock = threading.Lock()
        self._done = False

    @property
    def name(self) -> str:
        return "+".join(p.name for p in self.progress)

    # -- the parent's side ---------------------------------------------------------

    def fork(self) -> None:
        """Start the child (read what it reports with :meth:`listen`).

        Every child is forked before any reader thread runs: a lock another
        thread held at the fork would stay held in the child for good (the lock
        of deferred imports takes care of itself, see
        :mod:`~tui_sender.core.base.deferred_imports`).
        """
        context = multiprocessing.get_context("fork")
        ours, theirs = context.Pipe(duplex=True)
        _parent_ends.add(ours)
        names = [p.name for p in self.progress]
        self._process = context.Process(
            target=_child_main,
            args=(theirs, self.target, names, self.number, self.rate_share),
            name=f"tui-sender {self.name}",
            daemon=True,
        )
        self._process.start()
        theirs.close()
        self._conn = ours

    def listen(self) -> None:
        """Start reading what the forked child reports."""
        self._reader = threading.Thread(
            target=self._read, name=f"tui-sender reader {self.name}", daemon=True
        )
        self._reader.start()

    def add(self, batches: Sequence[Batch]) -> None:
        """Hand batches to the child's workers."""
        self._send(("work", tuple(batches)))

    def close(self) -> None:
        """No more batches: the child finishes what it has and stops."""
        self._send(("close",))

    def cancel(self) -> None:
        """The soft stop: finish the C-STOREs in flight, release, stop."""
        self._send(("cancel",))

    def interrupt(self) -> None:
        """The hard stop: shut the child's sockets now."""
        self._send(("interrupt",))

    def alive(self) -> bool:
        """True until the child has reported its end (or died)."""
        return self._reader is not None and self._reader.is_alive()

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the child to end."""
        if self._reader is not None:
            self._reader.join(timeout)
        if self._reader is not None and not self._reader.is_alive() and self._process:
            self._process.join(timeout)

    def _send(self, message: tuple[Any, ...]) -> None:
        conn = self._conn
        if conn is None or self._done:
            return
        # A child that is gone cannot take it; the reader says so.
        with self._send_lock, contextlib.suppress(OSError):
            conn.send(message)

    def _read(self) -> None:
        conn = self._conn
        assert conn is not None
        by_name = {p.name: p for p in self.progress}
        ended = False
        try:
            while True:
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    break
                kind = message[0]
                if kind == "event":
                    self.emit(message[1])
                elif kind == "progress":
                    _apply(message[1], by_name)
                elif kind == "done":
                    _apply(message[1]["progress"], by_name)
                    self.attempted = message[1]["attempted"]
                    self.established = message[1]["established"]
                    ended = True
                    break
                elif kind == "crash":
                    self.emit(
                        LogMessage(
                            level=logging.ERROR,
                            message=f"worker process {self.name} failed: {message[1]}",
                        )
                    )
        finally:
            self._done = True
            _parent_ends.discard(conn)
            conn.close()
        if not ended:
            process = self._process
            if process is not None:
                process.join(5)
            code = process.exitcode if process is not None else None
            self.emit(
                LogMessage(
                    level=logging.ERROR,
                    message=f"worker process {self.name} ended unexpectedly (exit code "
                    f"{code}): the files it held are recorded as not sent",
                )
            )


def _apply(snapshot: Sequence[tuple[str, tuple[Any, ...]]], by_name: dict[str, Any]) -> None:
    for name, values in snapshot:
        progress = by_name.get(name)
        if progress is not None:
            for field_name, value in zip(_PROGRESS_FIELDS, values, strict=True):
                setattr(progress, field_name, value)


def _snapshot(progress: Sequence[WorkerProgress]) -> list[tuple[str, tuple[Any, ...]]]:
    return [(p.name, tuple(getattr(p, f) for f in _PROGRESS_FIELDS)) for p in progress]


class DestinationProcesses:
    """A destination's workers spread over several child processes.

    Batches go to the process with the fewest bytes queued so far (largest
    batch first), so the processes finish at about the same time; within a
    process its workers share the work as threads do.
    """

    def __init__(
        self,
        target: TransferTarget,
        progress: Sequence[WorkerProgress],
        emit: Callable[[Event], None],
        processes: int,
    ) -> None:
        self.target = target
        count = max(1, min(processes, len(progress)))
        self.processes = [
            WorkerProcess(target, progress[n::count], emit, rate_share=count, number=n + 1)
            for n in range(count)
        ]

    @property
    def attempted(self) -> bool:
        return any(p.attempted for p in self.processes)

    @property
    def established(self) -> int:
        return sum(p.established for p in self.processes)

    def fork(self) -> None:
        for process in self.processes:
            process.fork()

    def listen(self) -> None:
        for process in self.processes:
            process.listen()

    def add(self, batches: Sequence[Batch]) -> None:
        shares: dict[int, list[Batch]] = {}
        for batch in sorted(batches, key=lambda b: b.bytes, reverse=True):
            n = min(range(len(self.processes)), key=lambda i: self.processes[i].bytes_queued)
            shares.setdefault(n, []).append(batch)
            self.processes[n].bytes_queued += batch.bytes
        for n, share in shares.items():
            self.processes[n].add(share)

    def close(self) -> None:
        for process in self.processes:
            process.close()

    def cancel(self) -> None:
        for process in self.processes:
            process.cancel()

    def interrupt(self) -> None:
        for process in self.processes:
            process.interrupt()

    def alive(self) -> bool:
        return any(p.alive() for p in self.processes)

    def join(self, timeout: float) -> None:
        for process in self.processes:
            process.join(timeout)


# -- the child's side ------------------------------------------------------------------


def _child_main(
    conn: Connection, target: TransferTarget, names: list[str], number: int, share: int
) -> None:
    """The forked child: run the workers, report, and leave without the parent's clean-up."""
    code = 0
    try:
        for sibling in list(_parent_ends):
            sibling.close()
        _leave_the_parents_signals()
        AssociationKeeper.number_ids(number, share)
        _Child(conn, _own_target(target, share), names).run()
    except BaseException:  # report what we can; the parent records the files as not sent
        code = 1
        with contextlib.suppress(Exception):  # the pipe may be gone too: the exit code says it
            conn.send(("crash", traceback.format_exc(limit=5)))
    finally:
        os._exit(code)


def _leave_the_parents_signals() -> None:
    """Ctrl-C and a terminal's resize reach the whole process group: they are the parent's.

    The parent's handlers are inherited, and so is the wake-up pipe of its event loop
    (the app's): a signal handled here would wake the parent's loop with a signal it never
    got. The child ignores Ctrl-C (the session tells it to stop) and takes the defaults.
    """
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in ("SIGWINCH", "SIGTERM", "SIGHUP", "SIGTSTP", "SIGCONT"):
        number = getattr(signal, name, None)
        if number is not None:
            signal.signal(number, signal.SIG_DFL)


def _own_target(target: TransferTarget, share: int) -> TransferTarget:
    """The target as this process uses it: its own pacer, with its share of the cap."""
    pacer = target.link.pacer
    if pacer is None:
        return target
    link = dataclasses.replace(target.link, pacer=Pacer(pacer.rate / max(1, share)))
    return dataclasses.replace(target, link=link)


class _Child:
    """The workers of one child process and its two threads that talk to the parent."""

    def __init__(self, conn: Connection, target: TransferTarget, names: list[str]) -> None:
        self.conn = conn
        self.queue = DestinationQueue(target, (), open_ended=True)
        self.cancel = threading.Event()
        self.progress = [WorkerProgress(name=n, destination=target.name) for n in names]
        self.workers = [
            Worker(p.name, self.queue, self.emit, self.cancel, p) for p in self.progress
        ]
        self._send_lock = threading.Lock()
        self._finished = threading.Event()

    def emit(self, event: Event) -> None:
        try:
            self._send(("event", event))
        except OSError:  # the parent has gone: nobody can record what follows
            self._stop_now()

    def _send(self, message: tuple[Any, ...]) -> None:
        with self._send_lock:
            self.conn.send(message)

    def run(self) -> None:
        threads = [
            threading.Thread(target=w.run, name=f"tui-sender {w.name}", daemon=True)
            for w in self.workers
        ]
        for t in threads:
            t.start()
        threading.Thread(target=self._listen, name="tui-sender control", daemon=True).start()
        threading.Thread(target=self._report, name="tui-sender progress", daemon=True).start()
        for t in threads:
            t.join()
        self._finished.set()
        self._send(
            (
                "done",
                {
                    "progress": _snapshot(self.progress),
                    "attempted": self.queue.attempted,
                    "established": self.queue.established,
                },
            )
        )

    def _listen(self) -> None:
        """Take the parent's messages; a parent that went away means stop at once."""
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                self._stop_now()
                return
            kind = message[0]
            if kind == "work":
                if self.queue.is_open:  # after a cancel, the session records them
                    self.queue.add(message[1])
            elif kind == "close":
                self.queue.close()
            elif kind == "cancel":
                self.cancel.set()
                self.queue.close()
            elif kind == "interrupt":
                self._stop_now()

    def _stop_now(self) -> None:
        self.cancel.set()
        self.queue.close()
        for worker in self.workers:
            worker.interrupt()

    def _report(self) -> None:
        while not self._finished.wait(PROGRESS_EVERY):
            try:
                self._send(("progress", _snapshot(self.progress)))
            except OSError:
                return
