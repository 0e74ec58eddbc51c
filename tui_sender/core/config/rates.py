"""Rates as people write them: ``20MB`` (per second), ``500kB/s``, ``1.5 GB``, ``100MiB``.

Decimal units as everywhere in tui-sender (kB, MB, GB), binary ones when
asked for (KiB, MiB, GiB); a bare number is bytes per second. ``20M`` is
20 MB; bits (``Mbit``) are refused rather than guessed at, with the
conversion in the message.
"""

from __future__ import annotations

import re

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1e3,
    "kb": 1e3,
    "m": 1e6,
    "mb": 1e6,
    "g": 1e9,
    "gb": 1e9,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*(?:/\s*s(?:ec)?)?\s*$", re.IGNORECASE)


def parse_rate(text: str) -> float:
    """Bytes per second in ``text``; ``ValueError`` saying what would be understood."""
    match = _RATE.match(text)
    if match is not None:
        unit = match.group(2).lower()
        if unit in ("mbit", "mbps", "kbit", "kbps", "gbit", "gbps"):
            raise ValueError(
                f"{text!r} is in bits; give bytes per second (e.g. 100 Mbit/s is 12.5MB)"
            )
        factor = _UNITS.get(unit)
        if factor is not None:
            value = float(match.group(1)) * factor
            if value > 0:
                return value
    raise ValueError(
        f"{text!r} is not a rate: give bytes per second with a unit, e.g. 20MB, 500kB, 1.5GB"
    )
