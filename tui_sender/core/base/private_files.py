"""Files only their owner may read: logs, journals, summaries, exports.

Created with mode 0600 whatever the umask (``open`` then ``fchmod``), and
JSON documents are written atomically (temp file, then rename) so a reader
never sees half a summary.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from tui_sender.core.base.gil import handing_over

OWNER_ONLY = 0o600


def open_private(path: Path, mode: str = "a") -> IO[str]:
    """Open a text file that only its owner can read, whatever the umask."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, OWNER_ONLY)
    os.fchmod(fd, OWNER_ONLY)
    return os.fdopen(fd, mode, encoding="utf-8", errors="backslashreplace")


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
    tmp = path.with_name(path.name + ".tmp")
    with open_private(tmp, "w") as f:
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
    os.replace(tmp, path)
