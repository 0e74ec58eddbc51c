"""Scan paths into a :class:`Catalog`: what can be sent, and why the rest cannot.

Three layers, for three kinds of caller:

* :func:`iter_scan` streams one result per path met (a :class:`ScannedFile`
  or a :class:`SkippedFile`), in walk order. It is the building block.
* :func:`iter_scan_batches` groups those results into :class:`ScanBatch`
  objects at most every ``interval`` seconds, each with a
  :class:`ScanProgress`. The TUI runs it in a worker thread and hands each
  batch to the UI thread, which adds it to the catalog it owns with
  :func:`add_results`: the tree fills as studies are found, and the catalog
  is only ever touched by one thread.
* :func:`scan_paths` does it all and returns the catalog, calling
  ``on_progress`` as it goes; the headless commands use it.

Every path ends in exactly one place: an instance in the catalog, or a
``SkippedFile`` in ``catalog.skipped`` (duplicate SOP Instance UIDs become
skips inside :meth:`Catalog.add`). Cancelling (``should_stop`` returning
true) stops between files; the catalog then holds what was scanned so far.

Speed: one thread scans about 19,000-22,000 small files/s with a warm page
cache (walk, header read and catalog included; see
:mod:`tui_sender.core.scan.dicom_header`), four times the 5,000 files/s target. A
two-process pool measured 14,000 files/s on the same files, even warm: the
pickling of results costs as much as the reading, so there is none.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from tui_sender.core.model.catalog import Catalog, Instance, SkippedFile, SkipReason
from tui_sender.core.scan.dicom_header import ScannedFile, read_header, scan_file
from tui_sender.core.scan.discovery import InputPath, discover
from tui_sender.core.scan.header_errors import ScanError

__all__ = [
    "ScanBatch",
    "ScanError",
    "ScanProgress",
    "ScanResult",
    "ScannedFile",
    "add_results",
    "iter_scan",
    "iter_scan_batches",
    "read_header",
    "scan_paths",
]

ScanResult = ScannedFile | SkippedFile
"""What the scan says about one path."""

StopCheck = Callable[[], bool]


@dataclass(frozen=True, slots=True)
class ScanProgress:
    """Counts so far, for a progress line or the TUI's status bar.

    ``files_seen == instances + skipped``. From :func:`scan_paths` the counts
    are the catalog's (duplicate SOP Instance UIDs counted as skipped); from
    :func:`iter_scan_batches`, which never sees the catalog, duplicates are
    still counted as instances. ``bytes`` is the size of those instances.
    """

    files_seen: int
    instances: int
    skipped: int
    bytes: int
    current: str
    """The last path scanned."""


@dataclass(frozen=True, slots=True)
class ScanBatch:
    """Results found since the previous batch, and the counts after them."""

    results: tuple[ScanResult, ...]
    progress: ScanProgress


def iter_scan(
    paths: Iterable[InputPath], *, recursive: bool, should_stop: StopCheck | None = None
) -> Iterator[ScanResult]:
    """Yield one result per path met under ``paths``."""
    seen: dict[tuple[int, int], str] = {}
    for found in discover(paths, recursive=recursive):
        if should_stop is not None and should_stop():
            return
        if isinstance(found, SkippedFile):
            yield found
            continue
        try:
            yield scan_file(found, seen)
        except ScanError as exc:
            yield SkippedFile(found, exc.reason, exc.detail)
        except Exception as exc:  # a bug must cost one file, not the scan
            yield SkippedFile(
                found, SkipReason.INVALID, f"unexpected {type(exc).__name__} while reading: {exc}"
            )


def iter_scan_batches(
    paths: Iterable[InputPath],
    *,
    recursive: bool,
    interval: float = 0.1,
    should_stop: StopCheck | None = None,
    first_after: float | None = None,
) -> Iterator[ScanBatch]:
    """Yield the results in batches, one at most every ``interval`` seconds.

    The first comes after ``first_after`` seconds when given (a sender that
    starts on the first files found need not wait a whole interval). The
    last batch (possibly empty) always comes, with the final counts.
    """
    pending: list[ScanResult] = []
    instances = skipped = total_bytes = 0
    current = ""
    next_yield = time.monotonic() + (interval if first_after is None else first_after)
    for result in iter_scan(paths, recursive=recursive, should_stop=should_stop):
        pending.append(result)
        if isinstance(result, ScannedFile):
            instances += 1
            total_bytes += result.instance.size
            current = result.instance.path
        else:
            skipped += 1
            current = result.path
        now = time.monotonic()
        if now >= next_yield:
            next_yield = now + interval
            yield ScanBatch(
                tuple(pending),
                ScanProgress(instances + skipped, instances, skipped, total_bytes, current),
            )
            pending.clear()
    yield ScanBatch(
        tuple(pending), ScanProgress(instances + skipped, instances, skipped, total_bytes, current)
    )


def add_results(catalog: Catalog, results: Iterable[ScanResult]) -> list[Instance]:
    """Add scan results to ``catalog``; return the instances it took (not the duplicates)."""
    added: list[Instance] = []
    for result in results:
        if isinstance(result, SkippedFile):
            catalog.skip(result)
        elif catalog.add(result.instance, result.fields) is None:
            added.append(result.instance)
            if result.notes:
                catalog.notes[result.instance.path] = result.notes
    return added


def scan_paths(
    paths: Sequence[InputPath],
    *,
    recursive: bool,
    on_progress: Callable[[ScanProgress], None] | None = None,
    should_stop: StopCheck | None = None,
    progress_interval: float = 0.1,
) -> Catalog:
    """Scan ``paths`` into a new catalog, reporting progress on the way.

    ``on_progress`` is called from the scanning thread at most every
    ``progress_interval`` seconds, and once at the end.
    """
    catalog = Catalog()
    total_bytes = 0
    for batch in iter_scan_batches(
        paths, recursive=recursive, interval=progress_interval, should_stop=should_stop
    ):
        total_bytes += sum(i.size for i in add_results(catalog, batch.results))
        if on_progress is not None:
            instances = catalog.instance_count()
            skipped = len(catalog.skipped)
            on_progress(
                ScanProgress(
                    instances + skipped, instances, skipped, total_bytes, batch.progress.current
                )
            )
    return catalog
