"""Whole PDUs from a blocking socket, refusing bytes that cannot be DICOM."""

from __future__ import annotations

import errno
import socket

from tui_sender.core.net import wire
from tui_sender.core.net.failures import ForeignBytes

MAX_PDU_BYTES = 64 * 1024 * 1024
"""A larger PDU length from the peer means it is not speaking DICOM to us."""


class PduReader:
    """Reads whole PDUs from a blocking socket, through a small buffer.

    One ``recv`` usually brings a whole response PDU (a C-STORE-RSP is
    about 200 bytes), instead of one call for the header and one for the
    body.
    """

    CHUNK = 65536

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = bytearray()

    @property
    def buffered(self) -> bool:
        """True when bytes already received wait to be read."""
        return bool(self._buf)

    def _need(self, n: int) -> None:
        while len(self._buf) < n:
            chunk = self._sock.recv(max(self.CHUNK, n - len(self._buf)))
            if not chunk:
                raise ConnectionResetError(errno.ECONNRESET, "connection closed by the peer")
            self._buf += chunk

    def read_pdu(self) -> tuple[int, bytes]:
        """The next PDU's type and its bytes after the 6-byte header.

        A header that cannot start a DICOM PDU (unknown type, absurd length)
        raises at once rather than waiting for a body that never comes.
        """
        self._need(wire.PDU_HEADER.size)
        pdu_type, _, length = wire.PDU_HEADER.unpack_from(self._buf)
        if not wire.A_ASSOCIATE_RQ <= pdu_type <= wire.A_ABORT or length > MAX_PDU_BYTES:
            raise ForeignBytes(bytes(self._buf[: wire.PDU_HEADER.size]))
        end = wire.PDU_HEADER.size + length
        self._need(end)
        body = bytes(self._buf[wire.PDU_HEADER.size : end])
        del self._buf[:end]
        return pdu_type, body
