"""How tui-sender words sizes, rates, durations and counts: one voice everywhere.

The console, the screens, the plan and the HTML report all word numbers
here, so "667.4 kB" on the dashboard is "667.4 kB" in the report and in the
log. Decimal units throughout (kB, MB, GB: what the summary's ``mb_per_s``
means, and what storescu and Orthanc print), through humanize.

Paths are worded for display by
:func:`~tui_sender.core.model.recorded_path.display_path` (escaped, one
line); the record keeps them exact.
"""

from __future__ import annotations

import humanize


def size(n: float) -> str:
    """Bytes with a decimal unit and one decimal: '667.4 kB', '1.5 GB', '12 Bytes'."""
    return humanize.naturalsize(n, format="%.1f")


def rate(bytes_per_second: float) -> str:
    """'48.2 MB/s'."""
    return f"{size(bytes_per_second)}/s"


def throughput(mb_per_s: float, images_per_s: float) -> str:
    """The summary's two rates together: '48.2 MB/s, 310 img/s'."""
    return f"{mb_per_s:.1f} MB/s, {images_per_s:.0f} img/s"


def duration(seconds: float) -> str:
    """'0.42 s' under a second, '4.2 s' under a minute, then '3 min 07 s' and '1 h 02 min 05 s'."""
    if seconds < 1:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min {secs:02d} s" if hours else f"{minutes} min {secs:02d} s"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """'1 file', '12,345 files', '2 studies' (``plural`` when adding an s is wrong)."""
    word = noun if n == 1 else plural or f"{noun}s"
    return f"{n:,} {word}"


def scan_result(
    files_seen: int, instances: int, total_bytes: int, studies: int, skipped: int, seconds: float
) -> str:
    """What a scan found, in one line (``send`` prints it, whether it scans before or while
    sending)."""
    return (
        f"scanned {files_seen} files in {seconds:.1f} s: {instances} DICOM instances "
        f"({size(total_bytes)}) in {count(studies, 'study', 'studies')}, {skipped} skipped"
    )


def verification_result(counts: dict[str, int], method: str) -> str:
    """A destination's verification in one line: '9,999 of 10,000 committed, 1 commit-failed'."""
    asked = sum(n for value, n in counts.items() if value != "not-asked")
    proven = counts.get("committed", 0) + counts.get("found", 0)
    word = "committed" if method == "commitment" else "found"
    rest = [
        f"{counts[value]:,} {value}"
        for value in ("commit-failed", "missing", "unconfirmed")
        if counts.get(value)
    ]
    return f"{proven:,} of {asked:,} {word}" + (f", {', '.join(rest)}" if rest else "")
