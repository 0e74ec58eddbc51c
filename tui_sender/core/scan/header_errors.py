"""How reading a DICOM header fails: one public error and two internal signals.

The byte-level code (:mod:`~tui_sender.core.scan.file_window`,
:mod:`~tui_sender.core.scan.element_walk`) cannot tell *which part* of the
file it was reading, so it raises :class:`Truncated` or :class:`Malformed`;
the code that knows (the file meta, the data set) turns them into a
:class:`ScanError` with the :class:`SkipReason` the catalog records. They
live in their own module so every reader module can raise them without
importing another.
"""

from __future__ import annotations

from tui_sender.core.model.catalog import SkipReason


class ScanError(Exception):
    """A file that cannot be offered, with the reason the catalog records."""

    def __init__(self, reason: SkipReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


class Truncated(Exception):
    """The bytes end before the structure being read does."""

    def __init__(self, where: str = "the data set") -> None:
        super().__init__(f"file ends inside {where}")


class Malformed(Exception):
    """The bytes do not follow the DICOM encoding rules."""
