"""QIDO-RS verification of a DICOMweb destination, as :mod:`find` verifies a DIMSE one.

Each series the session stored into is listed once (paged); each stored
instance is then ``found`` or ``missing``, and the series' related-instance
count is compared as for C-FIND. A query that fails leaves its series
``unconfirmed`` with the reason; the others go on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tui_sender.core.model.verification import StoredInstance, Verification
from tui_sender.core.verify.association import VerificationError
from tui_sender.core.verify.find import SeriesCount, by_series, series_verdicts
from tui_sender.core.web.client import WebClient
from tui_sender.core.web.qido import QidoError, series_instances, series_related_count
from tui_sender.core.web.settings import WebSettings
from tui_sender.core.web.stow import probe


def query_instances(
    settings: WebSettings,
    instances: Sequence[StoredInstance],
    *,
    progress: Callable[[int, int], None] = lambda _done, _total: None,
) -> tuple[dict[str, Verification], list[SeriesCount]]:
    """Look every instance up by QIDO-RS; the verdict per SOP Instance UID and per-series counts.

    Raises :class:`VerificationError` when the server cannot be reached or refuses us.
    """
    series = by_series(instances)
    results: dict[str, Verification] = {}
    counts: list[SeriesCount] = []
    client = WebClient(settings)
    try:
        try:
            probe(client)
        except Exception as exc:  # AssociationError: worded for the administrator
            raise VerificationError(str(exc)) from exc
        for done, ((study_uid, series_uid), members) in enumerate(series.items(), 1):
            try:
                if not study_uid or not series_uid:
                    raise QidoError("its Study or Series Instance UID is not recorded")
                listed = series_instances(client, study_uid, series_uid)
            except QidoError as exc:
                results |= series_verdicts(members, None, str(exc))
                progress(done, len(series))
                continue
            related = series_related_count(client, study_uid, series_uid)
            counts.append(SeriesCount(study_uid, series_uid, len(listed), related))
            missing = "a QIDO-RS query of its series did not list it"
            results |= series_verdicts(members, listed, missing)
            progress(done, len(series))
    finally:
        client.close()
    return results, counts
