"""Read the data set in the encoding its transfer syntax names, or the one its bytes show.

The transfer syntax decides how the walk
(:mod:`~tui_sender.core.scan.element_walk`) reads element headers: Implicit
VR Little Endian, Explicit VR Little Endian (every compressed syntax too)
or Explicit VR Big Endian (retired). Deflated data sets are inflated in
memory first (rare, usually small SR or waveform objects).

Like pydicom, the bytes win over the label: when the first element shows
the other VR rule than the file meta says, a data set labelled Implicit or
Explicit VR Little Endian is read, and sent, as what it is (with a note); any
other syntax with the wrong VR rule is refused as invalid. Walk failures
become :class:`ScanError` here, where it is known they happened in the data
set.
"""

from __future__ import annotations

import os
import zlib

from tui_sender.core.model.catalog import SkipReason
from tui_sender.core.scan.element_walk import (
    BIG_ENDIAN,
    LITTLE_ENDIAN,
    is_letter_pair,
    walk_data_set,
)
from tui_sender.core.scan.file_window import FileWindow
from tui_sender.core.scan.header_errors import Malformed, ScanError, Truncated

IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
EXPLICIT_VR_BIG_ENDIAN = "1.2.840.10008.1.2.2"
DEFLATED_TRANSFER_SYNTAXES = frozenset(
    {
        "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
        # PS3.5 A.6: the JPIP Referenced Deflate syntaxes deflate the data set
        # too (pydicom 3.0 reads them as plain Explicit VR Little Endian).
        "1.2.840.10008.1.2.4.95",
        "1.2.840.10008.1.2.4.205",
    }
)


def read_data_set(
    window: FileWindow,
    offset: int,
    transfer_syntax: str,
    wanted: frozenset[int],
    notes: list[str],
) -> tuple[dict[int, bytes], str]:
    """Walk the data set at ``offset``; return the ``wanted`` values and the syntax to send in.

    The syntax returned differs from ``transfer_syntax`` only when the bytes
    are the other uncompressed Little Endian syntax; a note saying so is
    appended to ``notes``. Walk failures are mapped to skip reasons.
    """
    order = BIG_ENDIAN if transfer_syntax == EXPLICIT_VR_BIG_ENDIAN else LITTLE_ENDIAN
    implicit = transfer_syntax == IMPLICIT_VR_LITTLE_ENDIAN
    effective = transfer_syntax
    try:
        if transfer_syntax in DEFLATED_TRANSFER_SYNTAXES:
            window, offset = _inflate(window, offset), 0
        if window.size - offset >= 6:
            # pydicom's top-level check: trust the bytes over the declared syntax.
            buf, base = window.get(offset, 6)
            found_implicit = not is_letter_pair(buf[offset - base + 4 : offset - base + 6])
            if found_implicit != implicit:
                actual = "Implicit" if found_implicit else "Explicit"
                if transfer_syntax not in (IMPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN):
                    raise ScanError(
                        SkipReason.INVALID,
                        f"data set is encoded with {actual} VR, which its transfer syntax "
                        f"{transfer_syntax} does not allow",
                    )
                # Send what the bytes are, never bytes labelled with the wrong syntax.
                effective = (
                    IMPLICIT_VR_LITTLE_ENDIAN if found_implicit else EXPLICIT_VR_LITTLE_ENDIAN
                )
                notes.append(
                    f"data set is encoded with {actual} VR Little Endian although its file meta "
                    f"says {transfer_syntax}: it is sent as {actual} VR Little Endian"
                )
                implicit = found_implicit
        return walk_data_set(window, offset, implicit, order, wanted), effective
    except Truncated as exc:
        raise ScanError(SkipReason.TRUNCATED, str(exc)) from None
    except Malformed as exc:
        raise ScanError(SkipReason.INVALID, f"malformed data set: {exc}") from None


def _inflate(window: FileWindow, offset: int) -> FileWindow:
    """Inflate a deflated data set (raw deflate, PS3.5 A.5) into an in-memory window."""
    assert window.fd is not None
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    parts: list[bytes] = []
    pos = offset
    try:
        while pos < window.size and not inflater.eof:
            chunk = os.pread(window.fd, min(1 << 20, window.size - pos), pos)
            if not chunk:
                break
            pos += len(chunk)
            parts.append(inflater.decompress(chunk))
        parts.append(inflater.flush())
    except zlib.error as exc:
        raise Malformed(f"deflated data set does not inflate ({exc})") from None
    if not inflater.eof:
        raise Truncated("the deflated data set")
    data = b"".join(parts)
    return FileWindow(None, len(data), data)
