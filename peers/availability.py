"""Skip, or fail under CI, when a peer program is not installed.

Locally a missing DCMTK or Orthanc should not block the rest of the suite,
so its tests are skipped with the reason. In CI a skip would hide a broken
image, so with ``CI=true`` in the environment the same test fails.
"""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    """True when the environment says ``CI=true`` (GitHub Actions, GitLab, ...)."""
    return os.environ.get("CI", "").strip().lower() == "true"


def require_peer(found: str | None, what: str, packages: str = "dcmtk orthanc") -> str:
    """Return ``found``; otherwise skip the calling test, or fail it under ``CI=true``."""
    if found:
        return found
    message = f"{what} is not installed (apt-get install {packages})"
    if in_ci():
        pytest.fail(f"{message}; CI=true, so this is an error, not a skip", pytrace=False)
    pytest.skip(message)
