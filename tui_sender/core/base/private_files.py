"""Files only their owner may read: logs, journals, summaries, exports, the address book.

Created with mode 0600 whatever the umask (``open`` then ``fchmod``).
Documents are written atomically by :func:`atomic_private` (a temp file
beside the target, fsynced, then renamed over it, then the folder fsynced),
the one way tui-sender replaces a file: a reader never sees half a summary,
and a crash never leaves half an address book.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal, overload

from tui_sender.core.base.gil import handing_over

OWNER_ONLY = 0o600


def open_private(path: Path, mode: str = "a") -> IO[str]:
    """Open a text file that only its owner can read, whatever the umask."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, OWNER_ONLY)
    os.fchmod(fd, OWNER_ONLY)
    return os.fdopen(fd, mode, encoding="utf-8", errors="backslashreplace")


@overload
def atomic_private(
    path: Path, *, binary: Literal[False] = False, newline: str | None = None
) -> contextlib.AbstractContextManager[IO[str]]: ...


@overload
def atomic_private(
    path: Path, *, binary: Literal[True], newline: None = None
) -> contextlib.AbstractContextManager[IO[bytes]]: ...


def atomic_private(
    path: Path, *, binary: bool = False, newline: str | None = None
) -> contextlib.AbstractContextManager[IO[Any]]:
    """A file at ``path``, owner-only, that appears complete or not at all.

    Text is UTF-8 (bytes that are not, as backslash escapes); ``newline`` as
    for :func:`open` (the CSV writer wants ``""``). The temp file has a
    unique name, so two writers never share one, and is removed when the
    block raises.
    """
    return _atomic_private(path, binary, newline)


@contextlib.contextmanager
def _atomic_private(path: Path, binary: bool, newline: str | None) -> Iterator[IO[Any]]:
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, OWNER_ONLY)
        stream: IO[Any]
        if binary:
            stream = os.fdopen(fd, "wb")
        else:
            stream = os.fdopen(
                fd, "w", encoding="utf-8", errors="backslashreplace", newline=newline
            )
        with stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable; best effort (not every filesystem allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def prepare_logs_dir(logs_dir: Path) -> Path:
    """Create the logs folder (owner-only when we create it); return it absolute.

    Absolute, so every message that says where the record is can be
    followed from any folder.
    """
    logs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return logs_dir.resolve()


def write_private_json(path: Path, document: dict[str, Any]) -> None:
    """Write JSON atomically (temp file, then rename), owner-only.

    Indented for people, except that the items of top-level lists (one per
    file, study or association) take one line each: that keeps a summary of
    100,000 files readable with grep and lets the C encoder write it (the
    indenting encoder is pure Python, about five times slower).
    """
    with atomic_private(path) as f:
        f.write("{")
        for n, (key, value) in enumerate(document.items()):
            f.write("," if n else "")
            f.write(f"\n  {json.dumps(key)}: ")
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                f.write("[")
                for m, item in enumerate(handing_over(value)):
                    f.write(",\n    " if m else "\n    ")
                    f.write(json.dumps(item, ensure_ascii=False))
                f.write("\n  ]")
            else:
                text = json.dumps(value, indent=2, ensure_ascii=False)
                f.write(text.replace("\n", "\n  "))
        f.write("\n}\n")
