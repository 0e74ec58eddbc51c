"""Read what sending needs from one DICOM file, without touching its pixel data.

The scan has to keep up with folders of tens of thousands of files, and
``pydicom.dcmread(stop_before_pixels=True)`` builds a full ``Dataset`` per
file (about 4,300 small files/s here). Sending needs much less: the file meta
(to know the transfer syntax and where the data set starts), a dozen
top-level values, and the certainty that the file is complete. So the header
reader reads the first chunk of the file once and walks the element
*headers* itself. This module is its entry point: it opens the file safely,
runs the steps below in order and turns their results into the catalog's
:class:`Instance` and :class:`HeaderFields`. The steps, one module each:

* :mod:`~tui_sender.core.scan.file_window`: the file's bytes, read once in a
  chunk and further with ``pread`` only when a walk goes past it;
* :mod:`~tui_sender.core.scan.file_meta`: preamble, ``DICM`` and the file
  meta group, walked element by element, so :attr:`Instance.dataset_offset`
  is the exact byte where the data set starts, whatever the group length
  claims;
* :mod:`~tui_sender.core.scan.data_set_reader`: the byte order and VR rule
  of the transfer syntax (deflated data sets are inflated in memory first;
  Explicit VR Big Endian and Implicit VR Little Endian are walked with the
  matching rules), checked against the bytes;
* :mod:`~tui_sender.core.scan.element_walk`: the hot loop, the top level of
  the data set, values sliced out for the wanted tags and skipped for
  everything else, sequences followed, stopped at Pixel Data, which must be
  complete;
* :mod:`~tui_sender.core.scan.header_values`: which tags are wanted and how
  their bytes are decoded (with pydicom's character set handling).

The element rules mirror pydicom's reader (per-element switch to Implicit VR
when the VR bytes are not letters, Implicit VR items inside an Explicit VR
data set, the top-level VR check), so this reads what ``dcmread`` reads.

Failures are :class:`ScanError` with a :class:`SkipReason`; nothing here ever
opens a FIFO (files are opened non-blocking and checked with ``fstat``) or
uses ``force=True``.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from tui_sender.core.model.catalog import HeaderFields, Instance, SkipReason
from tui_sender.core.scan.data_set_reader import read_data_set
from tui_sender.core.scan.file_meta import DICOMDIR_SOP_CLASS, read_file_meta
from tui_sender.core.scan.file_window import CHUNK, FileWindow
from tui_sender.core.scan.header_errors import ScanError
from tui_sender.core.scan.header_values import (
    FRAMES,
    INSTANCE_NUMBER,
    SERIES_UID,
    SOP_CLASS,
    SOP_INSTANCE,
    STUDY_UID,
    WANTED,
    header_fields,
    integer_value,
    uid_value,
)

__all__ = [
    "CHUNK",
    "DICOMDIR_SOP_CLASS",
    "ScanError",
    "ScannedFile",
    "read_header",
    "scan_file",
]


@dataclass(frozen=True, slots=True)
class ScannedFile:
    """A sendable file: the catalog entry, its descriptive values, and remarks.

    ``notes`` lists oddities that did not stop the file from being sent but an
    administrator may want to know about, such as a file meta SOP Instance UID
    that differs from the data set's (the data set's values are used: they are
    what the receiver stores).
    """

    instance: Instance
    fields: HeaderFields
    notes: tuple[str, ...] = ()


def read_header(path: str) -> tuple[Instance, HeaderFields]:
    """Read one file's instance record and descriptive values.

    Raises :class:`ScanError` for anything that cannot be sent. Anything that
    is not a regular file is refused from ``stat`` alone, without opening it.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise ScanError(SkipReason.UNREADABLE, _os_error_text(exc)) from None
    if not stat.S_ISREG(mode):
        raise ScanError(SkipReason.SPECIAL_FILE, "not a regular file")
    scanned = scan_file(path)
    return scanned.instance, scanned.fields


def scan_file(path: str, seen: dict[tuple[int, int], str] | None = None) -> ScannedFile:
    """Read one file like :func:`read_header`, keeping the notes.

    ``seen`` maps ``(st_dev, st_ino)`` to the first path of every file read
    so far in this scan: a second path to the same file (a hard link, a
    link, a path given twice) is rejected right after ``fstat``, before any
    parsing, and the new file is added.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ScanError(SkipReason.UNREADABLE, _os_error_text(exc)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ScanError(SkipReason.SPECIAL_FILE, "not a regular file")
        if seen is not None:
            identity = (st.st_dev, st.st_ino)
            first = seen.get(identity)
            if first is not None:
                raise ScanError(SkipReason.ALREADY_SEEN, f"same file as {first!r}")
            seen[identity] = path
        if st.st_size == 0:
            raise ScanError(SkipReason.EMPTY)
        head = os.read(fd, min(st.st_size, CHUNK))
        return _parse(path, FileWindow(fd, st.st_size, head), st.st_mtime_ns)
    except OSError as exc:
        raise ScanError(SkipReason.UNREADABLE, _os_error_text(exc)) from None
    finally:
        os.close(fd)


def _os_error_text(exc: OSError) -> str:
    """The OS message without the path (the skip record carries the path)."""
    return exc.strerror or str(exc)


def _parse(path: str, window: FileWindow, mtime_ns: int) -> ScannedFile:
    """Read the file in ``window``: file meta, then data set, then the checks on both."""
    declared_syntax, meta_sop_class, meta_sop_instance, offset, notes = read_file_meta(window)
    values, transfer_syntax = read_data_set(window, offset, declared_syntax, WANTED, notes)

    sop_class = uid_value(values.get(SOP_CLASS))
    sop_instance = uid_value(values.get(SOP_INSTANCE))
    if sop_class == DICOMDIR_SOP_CLASS:
        raise ScanError(SkipReason.DICOMDIR)
    study_uid = uid_value(values.get(STUDY_UID))
    series_uid = uid_value(values.get(SERIES_UID))
    missing = [
        name
        for name, value in (
            ("SOP Class UID", sop_class),
            ("SOP Instance UID", sop_instance),
            ("Study Instance UID", study_uid),
            ("Series Instance UID", series_uid),
        )
        if not value
    ]
    if missing:
        raise ScanError(SkipReason.INVALID, "no " + ", ".join(missing))
    if meta_sop_instance and meta_sop_instance != sop_instance:
        notes.append(
            f"file meta SOP Instance UID {meta_sop_instance} differs from the data set's;"
            " the data set's is used"
        )
    if meta_sop_class and meta_sop_class != sop_class:
        notes.append(
            f"file meta SOP Class UID {meta_sop_class} differs from the data set's;"
            " the data set's is used"
        )

    instance = Instance(
        path=path,
        size=window.size,
        mtime_ns=mtime_ns,
        dataset_offset=offset,
        sop_class_uid=sop_class,
        sop_instance_uid=sop_instance,
        transfer_syntax_uid=transfer_syntax,
        study_uid=study_uid,
        series_uid=series_uid,
        instance_number=integer_value(values.get(INSTANCE_NUMBER)),
        frames=max(1, integer_value(values.get(FRAMES)) or 1),
    )
    return ScannedFile(instance, header_fields(values), tuple(notes))
