"""How the record writes a moment: UTC, ISO 8601, to the millisecond."""

from __future__ import annotations

import datetime as dt


def utc_iso(timestamp: float) -> str | None:
    """``timestamp`` (seconds since the epoch) as the record writes it; None when unknown (0)."""
    if not timestamp:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="milliseconds")
