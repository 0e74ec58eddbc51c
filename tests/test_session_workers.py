"""How many workers a session starts, and that screens can know it beforehand."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fault_runs import CALLING_AE, QUICK_RETRY, write_study
from tests.peers.pynetdicom_scp import ScriptedSCP
from tui_sender.core.link import LinkSettings
from tui_sender.core.scan import scan_paths
from tui_sender.core.session import Session, SessionOptions
from tui_sender.core.transfer import TransferTarget


@pytest.mark.parametrize(("studies", "workers"), [(3, 4), (5, 2), (1, 1)])
def test_expected_workers_is_what_run_starts(
    scp_factory: Callable[..., ScriptedSCP], tmp_path: Path, studies: int, workers: int
) -> None:
    for study in range(studies):
        write_study(tmp_path / "in" / f"s{study}", 2, study=study)
    scp = scp_factory()
    settings = LinkSettings("127.0.0.1", scp.port, "ANY_SCP", CALLING_AE)
    target = TransferTarget("pacs", settings, workers=workers, retry=QUICK_RETRY)
    catalog = scan_paths([str(tmp_path / "in")], recursive=True)
    session = Session(catalog, [target], options=SessionOptions(logs_dir=tmp_path / "logs"))

    expected = session.expected_workers
    result = session.run()

    assert expected == min(studies, workers)
    assert len(session.progress) == expected
    assert result.counts["sent"] == 2 * studies
