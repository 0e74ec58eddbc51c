"""QIDO-RS queries (PS3.18 10.6): what a DICOMweb server holds, for verification.

One query per series lists its instances (``GET
{url}/studies/{study}/series/{series}/instances``), paged with ``limit`` and
``offset`` because servers cap their answers; a second asks the series'
Number of Series Related Instances, as the C-FIND verification does.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from tui_sender.core.web.client import WebClient
from tui_sender.core.web.http_errors import http_words

PAGE = 1000
"""Instances asked for per query; a server may return fewer (then we ask on from there)."""
MAX_PAGES = 10_000
SOP_INSTANCE_UID = "00080018"
SERIES_RELATED_INSTANCES = "00201209"
JSON = {"Accept": "application/dicom+json"}


class QidoError(Exception):
    """A QIDO-RS query failed; the message says how."""


def series_instances(client: WebClient, study_uid: str, series_uid: str) -> set[str]:
    """The SOP Instance UIDs the server lists for one series."""
    found: set[str] = set()
    path = f"studies/{study_uid}/series/{series_uid}/instances"
    for page in range(MAX_PAGES):
        matches = _get(client, path, {"limit": str(PAGE), "offset": str(page * PAGE)})
        before = len(found)
        found.update(uid for m in matches if (uid := first_value(m, SOP_INSTANCE_UID)))
        if len(matches) < PAGE or len(found) == before:
            # A short page is the last; a server that ignores offset repeats itself.
            return found
    return found


def series_related_count(client: WebClient, study_uid: str, series_uid: str) -> int | None:
    """Number of Series Related Instances, when the server returns it."""
    try:
        matches = _get(
            client,
            f"studies/{study_uid}/series",
            {"SeriesInstanceUID": series_uid, "includefield": SERIES_RELATED_INSTANCES},
        )
    except QidoError:
        return None
    for match in matches:
        value = first_value(match, SERIES_RELATED_INSTANCES)
        if value:
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _get(client: WebClient, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
    try:
        response = client.http.get(client.url(path), params=params, headers=JSON)
    except httpx.HTTPError as exc:
        raise QidoError(f"the QIDO-RS query failed: {exc}") from exc
    if response.status_code == 204 or (response.status_code == 404 and not response.content):
        return []
    if response.status_code != 200:
        raise QidoError(f"the QIDO-RS query was answered {http_words(response)}")
    if not response.content.strip():
        return []
    try:
        matches = json.loads(response.content)
    except ValueError as exc:
        raise QidoError(f"the QIDO-RS answer is not JSON ({exc})") from exc
    if not isinstance(matches, list):
        raise QidoError("the QIDO-RS answer is not a list of data sets")
    return [m for m in matches if isinstance(m, dict)]


def first_value(dataset: dict[str, Any], tag: str) -> str:
    """The first value of ``tag`` in a DICOM JSON data set, as text ("" when absent)."""
    element = dataset.get(tag) or dataset.get(tag.lower())
    if not isinstance(element, dict):
        return ""
    values = element.get("Value")
    if not isinstance(values, list) or not values:
        return ""
    return str(values[0])
