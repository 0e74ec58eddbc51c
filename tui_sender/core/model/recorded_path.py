"""File paths in the session record: exact for scripts, escaped for people.

The record (journal lines, JSON summary, CSV export) keeps each file's real
path, so a script can open the file again:

* a path that is valid UTF-8 is stored as it is in ``"path"``, newlines, tabs
  and other control characters included (JSON and CSV escape them
  themselves);
* a path that is not valid UTF-8 (its bytes are kept in memory as surrogate
  escapes by :func:`os.fsdecode`) cannot be JSON or UTF-8 text: ``"path"``
  then holds its escaped display form (for people, ``\\xff`` for a byte 0xFF)
  and ``"path_bytes_b64"`` the path's raw bytes in base64, the lossless form.

To get a path back: if ``path_bytes_b64`` is present and not empty, the path is
``base64.b64decode(entry["path_bytes_b64"])`` (bytes, for ``open()``); else it
is ``entry["path"]``. :func:`path_from_record` does that and returns the
``str`` that :func:`os.fsdecode` gives, the form the rest of the code uses.

Escaping for display (:func:`display_path`) stays in the log, the console,
the screens and the HTML report.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping

PATH_KEY = "path"
PATH_BYTES_KEY = "path_bytes_b64"
"""The key holding a non-UTF-8 path's raw bytes, base64 (absent otherwise)."""


def display_path(path: str) -> str:
    """A path safe to print: one line, valid UTF-8.

    Non-UTF-8 bytes (kept as surrogate escapes by ``os.fsdecode``) and control
    characters such as newlines are shown escaped, so a hostile file name can
    neither break a log line nor forge one: ``\\n`` for a newline, ``\\xff``
    for a byte 0xFF that is not UTF-8, ``\\\\`` for a backslash in such a name.
    This is for people; the record keeps the exact path (:func:`record_path`).
    """
    if path.isprintable() and is_exact_text(path):
        return path
    return "".join(_escaped(c) for c in path)


def _escaped(char: str) -> str:
    """One character as :func:`repr` shows it, an escaped byte as ``\\xNN``."""
    if "\udc80" <= char <= "\udcff":  # a byte os.fsdecode could not decode
        return f"\\x{ord(char) - 0xDC00:02x}"
    if char == "\\" or not char.isprintable():
        return repr(char)[1:-1]
    return char


def path_bytes(path: str) -> bytes:
    """The path's bytes on disk (surrogate escapes back to their bytes)."""
    try:
        return os.fsencode(path)
    except UnicodeEncodeError:  # a lone surrogate no file system decode made (no file has it)
        return path.encode("utf-8", "surrogatepass")


def is_exact_text(path: str) -> bool:
    """True when the path is valid UTF-8 text, so the record can hold it as it is."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def record_path(path: str, key: str = PATH_KEY) -> dict[str, str]:
    """The record's fields for ``path``: ``{key: exact}`` or display form plus raw bytes.

    With ``key`` other than ``"path"``, the bytes go in ``<key>_bytes_b64``.
    """
    if is_exact_text(path):
        return {key: path}
    return {key: display_path(path), bytes_key(key): b64_path(path)}


def bytes_key(key: str = PATH_KEY) -> str:
    """Where the raw bytes of the path under ``key`` are recorded."""
    return PATH_BYTES_KEY if key == PATH_KEY else f"{key}_bytes_b64"


def b64_path(path: str) -> str:
    """Base64 of the path's bytes when it is not valid UTF-8, else ``""``."""
    if is_exact_text(path):
        return ""
    return base64.b64encode(path_bytes(path)).decode("ascii")


def path_from_fields(text: object, b64: object) -> str:
    """The exact path from a recorded ``path`` and ``path_bytes_b64`` pair."""
    if isinstance(b64, str) and b64:
        try:
            return os.fsdecode(base64.b64decode(b64, validate=True))
        except (binascii.Error, ValueError):
            pass  # not ours: fall back to the text
    return text if isinstance(text, str) else ("" if text is None else str(text))


def path_from_record(entry: Mapping[str, object], key: str = PATH_KEY) -> str:
    """The exact path of a record entry (journal line, summary file, CSV row).

    Returns the ``str`` form :func:`os.fsdecode` gives (surrogate escapes for
    non-UTF-8 bytes), which ``open()`` and ``os.stat()`` accept as is.
    """
    return path_from_fields(entry.get(key), entry.get(bytes_key(key)))
