"""Shared fixtures: real DICOM peers on 127.0.0.1, and a guard against leaks.

A test that needs DCMTK or Orthanc is skipped, with the reason, when the
program is not installed; with ``CI=true`` in the environment it fails
instead, so a CI image that lost a peer cannot pass by skipping.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    # ``peers`` is imported by its full name (bench/ uses it too).
    sys.path.insert(0, str(ROOT))

from pynetdicom.association import Association  # noqa: E402
from pynetdicom.dul import DULServiceProvider  # noqa: E402

from peers.availability import require_peer  # noqa: E402
from peers.dcmtk import DcmtkStoreSCP, find_dcmtk_tool  # noqa: E402
from peers.orthanc import OrthancServer, find_orthanc  # noqa: E402
from peers.pynetdicom_scp import ScriptedSCP  # noqa: E402

DCMTK_TOOLS = ("storescp", "storescu", "dcmdump", "echoscu", "dcmqrscp")
LEAK_GRACE_SECONDS = 5.0


# -- markers ---------------------------------------------------------------

_PEER_MARKERS = {
    "dcmtk": {"dcmtk_available", "storescp"},
    "orthanc": {"orthanc_available", "orthanc"},
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests by the peers their fixtures need, so ``-m "not orthanc"`` works."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        for marker, needs in _PEER_MARKERS.items():
            if fixtures & needs:
                item.add_marker(getattr(pytest.mark, marker))


# -- isolation ----------------------------------------------------------------


@pytest.fixture(autouse=True)
def private_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read or write the user's real config or stored-instance index."""
    monkeypatch.setenv("TUI_SENDER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TUI_SENDER_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


# -- peers -------------------------------------------------------------------


@pytest.fixture(scope="session")
def dcmtk_available() -> dict[str, str]:
    """Paths of the DCMTK programs the tests use; skip (or fail in CI) if missing."""
    return {tool: require_peer(find_dcmtk_tool(tool), f"DCMTK {tool}") for tool in DCMTK_TOOLS}


@pytest.fixture(scope="session")
def orthanc_available() -> str:
    """Path of the Orthanc binary; skip (or fail in CI) if missing."""
    return require_peer(find_orthanc(), "Orthanc")


@pytest.fixture
def storescp(
    dcmtk_available: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., DcmtkStoreSCP]]:
    """Factory: ``storescp(fork=True, ...)`` returns a started storescp.

    Keyword arguments are those of :class:`DcmtkStoreSCP`; the output
    directory defaults to a fresh one under ``tmp_path``. Every storescp
    started is stopped by PID when the test ends, pass or fail.
    """
    started: list[DcmtkStoreSCP] = []

    def start(**options: Any) -> DcmtkStoreSCP:
        output_dir = options.pop("output_dir", None) or tmp_path / f"storescp-{len(started)}"
        scp = DcmtkStoreSCP(output_dir, executable=dcmtk_available["storescp"], **options)
        started.append(scp)
        return scp.start()

    yield start
    for scp in started:
        scp.cleanup()


@pytest.fixture(scope="session")
def orthanc(orthanc_available: str) -> Iterator[OrthancServer]:
    """One Orthanc for the whole session (it takes ~4 s to stop).

    Shared: tests compare counts before and after, or look up their own
    unique SOP Instance UIDs.
    """
    with OrthancServer(executable=orthanc_available) as server:
        yield server


@pytest.fixture
def scp_factory() -> Iterator[Callable[..., ScriptedSCP]]:
    """Factory: ``scp_factory(replies=[0xA700, 0])`` returns a started :class:`ScriptedSCP`."""
    started: list[ScriptedSCP] = []

    def start(**options: Any) -> ScriptedSCP:
        scp = ScriptedSCP(**options)
        started.append(scp)
        return scp.start()

    yield start
    for scp in started:
        scp.stop()


# -- leak guard ----------------------------------------------------------------


def _network_threads() -> set[threading.Thread]:
    """Threads that belong to a pynetdicom association or server."""
    return {
        t
        for t in threading.enumerate()
        if isinstance(t, DULServiceProvider | Association) or t.name.startswith("AcceptorServer@")
    }


def _child_processes() -> set[int]:
    """PIDs of this process's live children (Linux ``/proc``; empty elsewhere)."""
    children: set[int] = set()
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{os.getpid()}/task").iterdir():
            with contextlib.suppress(OSError, ValueError):
                children.update(int(pid) for pid in (task / "children").read_text().split())
    return {pid for pid in children if not _is_zombie(pid)} - _helper_processes()


def _helper_processes() -> set[int]:
    """multiprocessing's resource tracker: started once, it lives as long as we do."""
    from multiprocessing import resource_tracker

    pid = getattr(resource_tracker._resource_tracker, "_pid", None)
    return {pid} if isinstance(pid, int) else set()


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


@pytest.fixture(autouse=True)
def no_leaked_peers() -> Iterator[None]:
    """Fail a test that leaves association threads, servers or child processes running.

    Things started before the test (session fixtures) are not counted; what
    the test started gets a few seconds to wind down.
    """
    threads_before = _network_threads()
    children_before = _child_processes()
    yield
    deadline = time.monotonic() + LEAK_GRACE_SECONDS
    while True:
        threads = {t for t in _network_threads() - threads_before if t.is_alive()}
        children = _child_processes() - children_before
        if not threads and not children:
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    leaks = [f"thread {t.name} ({type(t).__name__})" for t in threads]
    leaks += [f"child process {pid}" for pid in sorted(children)]
    pytest.fail("test left running: " + ", ".join(leaks), pytrace=False)
