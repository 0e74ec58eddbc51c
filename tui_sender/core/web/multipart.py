"""A STOW-RS request body: ``multipart/related; type="application/dicom"``, streamed from disk.

Each part is a whole Part-10 file, read in 1 MiB slices with ``os.pread``
while the body is sent, so memory stays bounded whatever the file's size.
The length is known in advance (part sizes plus the boundary lines), so the
request carries a Content-Length: servers that refuse chunked uploads take it.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from tui_sender.core.net.pacing import Pacer

SLICE = 1 << 20
"""Bytes read and handed to the socket at a time."""

ByteCounter = Callable[[int], None]


class BodyCancelled(Exception):
    """The body stopped because the worker was interrupted."""


@dataclass(slots=True)
class Part:
    """One instance in the body: an open file (our own descriptor) or bytes in memory."""

    size: int
    fd: int = -1
    """A descriptor of our own (``os.dup``), closed by :meth:`close`; -1 for :attr:`data`."""
    data: bytes = b""
    on_bytes: ByteCounter | None = field(default=None, repr=False)

    @classmethod
    def of_file(cls, fd: int, on_bytes: ByteCounter | None = None) -> Part:
        """The whole file ``fd`` is open on, from its first byte (the caller keeps ``fd``)."""
        size = os.fstat(fd).st_size
        return cls(size=size, fd=os.dup(fd), on_bytes=on_bytes)

    def slices(self) -> Iterator[bytes]:
        if self.fd < 0:
            yield self.data
            return
        offset = 0
        while offset < self.size:
            chunk = os.pread(self.fd, min(SLICE, self.size - offset), offset)
            if not chunk:
                raise OSError(f"the file ended at byte {offset} of {self.size} while being sent")
            offset += len(chunk)
            yield chunk

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class MultipartBody:
    """The parts of one request, with the headers and length that describe them."""

    def __init__(self, parts: list[Part]) -> None:
        self.parts = parts
        self.boundary = "tui-sender-" + secrets.token_hex(12)
        self._opening = f"--{self.boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        self._closing = f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def content_type(self) -> str:
        return f'multipart/related; type="application/dicom"; boundary={self.boundary}'

    @property
    def length(self) -> int:
        """Bytes of the whole body: the Content-Length."""
        between = len(b"\r\n") * (len(self.parts) - 1)
        return (
            sum(p.size for p in self.parts)
            + len(self._opening) * len(self.parts)
            + between
            + len(self._closing)
        )

    def chunks(self, cancel: threading.Event, pacer: Pacer | None = None) -> Iterator[bytes]:
        """The body, slice by slice; stops with :class:`BodyCancelled` once ``cancel`` is set."""
        for index, part in enumerate(self.parts):
            yield (b"\r\n" if index else b"") + self._opening
            for chunk in part.slices():
                if cancel.is_set() or (
                    pacer is not None and not pacer.wait_for(len(chunk), cancel)
                ):
                    raise BodyCancelled("cancelled while sending")
                yield chunk
                if part.on_bytes is not None:
                    part.on_bytes(len(chunk))
        yield self._closing

    def close(self) -> None:
        for part in self.parts:
            part.close()
