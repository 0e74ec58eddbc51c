"""Forward access to a file's bytes through one buffer, refilled with ``pread``.

The header reader reads each file's first :data:`CHUNK` once and nearly
always finds everything there. A large SR or presentation state needs more;
then the window is refilled at the position asked for, reading ahead a full
chunk when the walk goes on sequentially and only a little after a jump over
a large value, where read-ahead would be wasted.
"""

from __future__ import annotations

import os

from tui_sender.core.scan.header_errors import Truncated

CHUNK = 64 * 1024
"""First read of every file; enough for the header of nearly all images."""
SMALL_READ = 4096
"""Read size after a jump (skipping a large value), where read-ahead is wasted."""


class FileWindow:
    """Forward access to a file's bytes through one buffer refilled with ``pread``.

    ``fd`` is ``None`` when all the bytes are in memory (an inflated data set).
    """

    __slots__ = ("base", "buf", "fd", "size")

    def __init__(self, fd: int | None, size: int, buf: bytes, base: int = 0) -> None:
        self.fd = fd
        self.size = size
        self.buf = buf
        self.base = base

    def get(self, pos: int, n: int) -> tuple[bytes, int]:
        """Return ``(buf, base)`` such that ``buf[pos - base:][:n]`` are the bytes at ``pos``."""
        end = pos + n
        if end > self.size:
            raise Truncated
        buf, base = self.buf, self.base
        if base <= pos and end <= base + len(buf):
            return buf, base
        if self.fd is None:
            raise Truncated  # pragma: no cover - in-memory windows hold everything
        sequential = pos - (base + len(buf)) < CHUNK
        want = max(n, CHUNK if sequential else SMALL_READ)
        data = os.pread(self.fd, min(want, self.size - pos), pos)
        if len(data) < n:
            raise Truncated  # the file shrank while being read
        self.buf, self.base = data, pos
        return data, pos

    def value(self, pos: int, n: int) -> bytes:
        """The ``n`` bytes at ``pos``."""
        buf, base = self.get(pos, n)
        i = pos - base
        return buf[i : i + n]
