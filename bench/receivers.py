"""The receivers, started fresh for every run on free ports of 127.0.0.1.

* ``storescp``: DCMTK ``storescp +xa --fork -od DIR`` writing every file to
  disk; what it stored is the number of files in that run's own folder.
* ``storescp-ram``: the same, writing into a folder of ``/dev/shm`` (tmpfs):
  every file is still written, without the disk's writeback. On this VM a
  disk-bound send of 20,000 small files took 6.6 s or 12 s from one run
  to the next, which hides any difference between two senders.
* ``storescp-ignore``: ``storescp +xa --fork --ignore``, which receives and
  discards: the sender-bound case. It keeps nothing, so delivery is judged
  by the sender's own report.
* ``wanN`` (``wan25``, ``wan40``, ...): ``storescp --ignore`` behind a loopback
  proxy that delays every byte N ms each way (:class:`~peers.wan_proxy.WanProxy`,
  a delay line: the stream is not serialised), so a round trip costs 2N ms as
  on a WAN to a remote archive.
* ``wanN-windowG``: the same proxy in front of a scripted pynetdicom SCP that
  grants G outstanding operations (the Asynchronous Operations Window;
  storescp and Orthanc grant 1). It keeps nothing; what it answered with
  success is its stored count.
* ``orthanc``: Orthanc with a temporary configuration (``DicomThreadsCount``
  4 by default) and an empty storage and index; what it stored is its
  ``CountInstances``.
* ``orthanc-web``: the same Orthanc with its DICOMweb plugin loaded
  (``libOrthancDicomWeb.so``, root ``/dicom-web/``): STOW-RS senders post to
  ``{base_url}/dicom-web``, DIMSE senders still reach its DICOM port, and
  ``CountInstances`` counts both.
* ``stow-server``: the scripted STOW-RS server of the tests
  (:class:`~peers.stow_server.StowServer`, ``keep_files=False``), in the
  bench's own process: it streams each part to disk, hashes it, reads its
  UIDs and deletes it. For STOW-RS senders only; what it stored is the
  instances it answered as stored.

A fresh receiver per run costs a few seconds for Orthanc but keeps runs
independent: no run indexes into a database the previous one filled, and
the delivered count needs no subtraction.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from peers.dcmtk import DcmtkStoreSCP
from peers.orthanc import DICOMWEB_ROOT, OrthancServer
from peers.processes import LOOPBACK
from peers.pynetdicom_scp import ScriptedSCP
from peers.stow_server import StowServer
from peers.wan_proxy import WanProxy

RECEIVER_NAMES = (
    "storescp",
    "storescp-ram",
    "storescp-ignore",
    "orthanc",
    "orthanc-web",
    "stow-server",
    "wanN",
    "wanN-windowG",
)
_WAN = re.compile(r"^wan(\d+)(?:-window(\d+))?$")
WEB_RECEIVERS = frozenset({"orthanc-web", "stow-server"})
"""Receivers with a DICOMweb (STOW-RS) URL."""
WEB_ONLY_RECEIVERS = frozenset({"stow-server"})
"""Receivers without a DICOM port."""


def known_receiver(name: str) -> bool:
    """True for a name :func:`open_receiver` can start (``wanN`` for any N)."""
    return name in RECEIVER_NAMES[:-2] or _WAN.match(name) is not None


RAM_DIR = Path("/dev/shm")
FILES_SETTLE_SECONDS = 10.0


@dataclass
class ReceiverRun:
    """A started receiver: where to send, and how to ask what it stored."""

    name: str
    port: int
    ae_title: str
    description: str
    stored_count: Callable[[int], int | None] = field(repr=False)
    """Given the expected count, what the receiver stored (``None``: it keeps nothing)."""
    host: str = LOOPBACK
    declare_listener: Callable[[str, int], None] | None = field(default=None, repr=False)
    """Tell the receiver where our storage commitment listener is (AE title, port on
    127.0.0.1); None: the receiver is no storage commitment SCP."""
    url: str = ""
    """The DICOMweb base URL STOW-RS senders post to (empty: the receiver has none)."""


@contextmanager
def open_receiver(name: str, work_dir: Path, *, orthanc_threads: int = 4) -> Iterator[ReceiverRun]:
    """Start receiver ``name`` for one run; stop it (by PID) and delete what it stored on exit."""
    if name in ("orthanc", "orthanc-web"):
        with _orthanc(orthanc_threads, web=name == "orthanc-web") as run:
            yield run
    elif name == "stow-server":
        with StowServer(keep_files=False) as server:
            yield ReceiverRun(
                name,
                server.port,
                "",
                "scripted STOW-RS server (peers.stow_server, keep_files=False), in-process",
                lambda expected: len(server.received),
                url=server.url,
            )
    elif name in ("storescp", "storescp-ignore"):
        with _storescp(work_dir, ignore=name == "storescp-ignore") as run:
            yield run
    elif name == "storescp-ram":
        if not RAM_DIR.is_dir():
            raise ValueError(f"storescp-ram needs {RAM_DIR} (a tmpfs)")
        with (
            tempfile.TemporaryDirectory(dir=RAM_DIR, prefix="bench-") as ram,
            _storescp(Path(ram), name=name) as run,
        ):
            yield run
    elif (wan := _WAN.match(name)) is not None and wan.group(2) is not None:
        delay, window = int(wan.group(1)) / 1000, int(wan.group(2))
        window_scp = ScriptedSCP(
            grant_outstanding=window, keep_in_memory=False, max_associations=64
        )
        with window_scp, WanProxy(window_scp.port, delay=delay) as proxy:
            yield ReceiverRun(
                name,
                proxy.port,
                window_scp.ae_title,
                f"pynetdicom SCP granting {window} outstanding, "
                f"behind {delay * 1000:g} ms each way",
                lambda expected: len(window_scp.stored()),
            )
    elif (wan := _WAN.match(name)) is not None:
        delay = int(wan.group(1)) / 1000
        with _storescp(work_dir, ignore=True) as scp, WanProxy(scp.port, delay=delay) as proxy:
            yield ReceiverRun(
                name,
                proxy.port,
                scp.ae_title,
                f"{scp.description}, behind {delay * 1000:g} ms each way",
                scp.stored_count,
            )
    else:
        raise ValueError(f"unknown receiver {name!r}; known: {', '.join(RECEIVER_NAMES)}")


@contextmanager
def _storescp(
    work_dir: Path, *, ignore: bool = False, name: str | None = None
) -> Iterator[ReceiverRun]:
    output = work_dir / "storescp-out"
    shutil.rmtree(output, ignore_errors=True)
    # What the previous run wrote and deleted is committed before this one starts,
    # so its writeback does not land in this run's time.
    os.sync()
    scp = DcmtkStoreSCP(output, fork=True, ignore=ignore)
    try:
        with scp:
            name = name or ("storescp-ignore" if ignore else "storescp")
            counter = _no_count if ignore else _folder_counter(output)
            yield ReceiverRun(name, scp.port, scp.ae_title, " ".join(scp.command), counter)
    finally:
        shutil.rmtree(output, ignore_errors=True)


def _no_count(expected: int) -> int | None:
    return None


def _folder_counter(folder: Path) -> Callable[[int], int | None]:
    """Count the files in ``folder``, waiting a little for the last forked child to finish."""

    def count(expected: int) -> int | None:
        deadline = time.monotonic() + FILES_SETTLE_SECONDS
        while True:
            found = sum(1 for p in folder.rglob("*") if p.is_file())
            if found >= expected or time.monotonic() >= deadline:
                return found
            time.sleep(0.1)

    return count


@contextmanager
def _orthanc(threads: int, *, web: bool = False) -> Iterator[ReceiverRun]:
    server = OrthancServer(dicom_threads=threads, dicomweb=web)
    try:
        # Orthanc's DICOM side is DCMTK: without TCP_NODELAY=1 in its environment
        # every C-STORE response waits for a delayed ACK (1,000 small files: 44 s
        # instead of 1.6 s). OrthancServer passes our environment on, so set it there.
        with _environment("TCP_NODELAY", "1"):
            server.start()
        description = f"Orthanc (DicomThreadsCount {threads}, fresh storage, TCP_NODELAY=1)"
        if web:
            description += f", DICOMweb plugin at {DICOMWEB_ROOT}/"
        yield ReceiverRun(
            "orthanc-web" if web else "orthanc",
            server.dicom_port,
            server.ae_title,
            description,
            lambda expected: server.instance_count(),
            declare_listener=lambda ae, port: server.declare_modality("tui", ae, port),
            url=server.dicomweb_url if web else "",
        )
    finally:
        server.cleanup()


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """``os.environ[name] = value`` for the duration, then as it was."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous
