"""A small storage SCP: the receiver of ``tui-sender scp`` and of ``tui-sender demo``.

It accepts every storage SOP class pynetdicom knows, in every transfer
syntax, plus Verification, and writes each instance it receives as a Part-10
file ``<output>/<SOPInstanceUID>.dcm`` whose file meta names the transfer
syntax the data set arrived in. The bytes are written as received: nothing
is decoded or re-encoded.

Three things pynetdicom does not do by itself:

* **Streaming to disk.** By default pynetdicom gathers a whole data set in a
  ``BytesIO``. :meth:`StorageSCP.start` turns on
  ``pynetdicom._config.STORE_RECV_CHUNKED_DATASET`` (unless in ignore mode),
  so each data set is written fragment by fragment to a temporary Part-10
  file that is then moved into place. The flag is process-wide; the handler
  here works in either mode, so another receiver in the same process is not
  broken by it.
* **TCP_NODELAY.** pynetdicom never sets it, and without it every small
  C-STORE costs ~40 ms of Nagle plus delayed ACK (notes: pynetdicom-textual
  §1.8). It is set on every accepted socket in an ``EVT_CONN_OPEN`` handler.
* **A bounded stop.** :meth:`StorageSCP.stop` stops accepting, then aborts
  the associations in progress, so it returns in a fraction of a second
  even while a peer is in the middle of sending.

An instance that cannot be written (disk full, directory gone) is answered
with 0xA700 (out of resources), which a sender retries later.

Received files are readable by their owner only, and nothing here logs
patient data: only UIDs, AE titles, addresses and counts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from hashlib import sha256
from io import BytesIO
from pathlib import Path
from types import TracebackType
from typing import Literal, cast

from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, _config, evt
from pynetdicom.association import Association
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.dsutils import encode_file_meta
from pynetdicom.events import Event, EventHandlerType
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from pynetdicom.transport import ThreadedAssociationServer

__all__ = [
    "DEFAULT_SCP_AE_TITLE",
    "AssociationReport",
    "StorageSCP",
    "instance_file_name",
    "part10_dataset_offset",
    "serve_in_background",
    "set_tcp_nodelay",
    "shutdown_server",
    "supported_transfer_syntaxes",
]

LOGGER = logging.getLogger(__name__)

DEFAULT_SCP_AE_TITLE = "TUI_SENDER_SCP"

STATUS_SUCCESS = 0x0000
STATUS_OUT_OF_RESOURCES = 0xA700
"""Returned when the received instance cannot be written (disk full, permissions)."""

_UNCOMPRESSED_PREFERENCE = (
    ExplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
)
_ACCEPT_POLL_SECONDS = 0.05
_FILE_MODE = 0o600
"""Received files hold patient data: owner only (pynetdicom's temporary files are 0600 too)."""
_VALID_UID = re.compile(r"[0-9]+(\.[0-9]+)*")
_PART10_PREFIX = 132
"""128-byte preamble plus ``DICM``."""
_GROUP_LENGTH_ELEMENT = struct.Struct("<HH2sHI")
"""(0002,0000) UL in Explicit VR Little Endian: group, element, VR, length, value."""


def supported_transfer_syntaxes() -> list[str]:
    """Every transfer syntax pynetdicom knows, compressed ones first.

    pynetdicom's acceptor picks, within one proposed presentation context, the
    first syntax of *its own* list that the requestor offered. Listing the
    compressed syntaxes first means a file offered in its own compressed
    syntax is accepted in it, so the sender never has to convert it; among
    uncompressed ones Explicit VR Little Endian is preferred because it keeps
    the VRs.
    """
    compressed = [ts for ts in ALL_TRANSFER_SYNTAXES if ts not in _UNCOMPRESSED_PREFERENCE]
    return compressed + [str(ts) for ts in _UNCOMPRESSED_PREFERENCE]


def instance_file_name(sop_instance_uid: str) -> str:
    """The file name for a received instance: ``<SOPInstanceUID>.dcm``.

    The UID comes from the network, so anything that is not a well-formed UID
    (path separators, ``..``, control characters, over 64 characters) gets a
    name derived from its hash instead of being used as a path.
    """
    uid = sop_instance_uid.strip("\x00 ")
    if len(uid) <= 64 and _VALID_UID.fullmatch(uid):
        return f"{uid}.dcm"
    digest = sha256(sop_instance_uid.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return f"invalid-uid-{digest}.dcm"


def part10_dataset_offset(path: Path) -> int:
    """Where the data set starts in a Part-10 file written by pynetdicom.

    pynetdicom writes the file meta with its group length (0002,0000) first,
    so the offset is the 132-byte prefix, that 12-byte element and the length
    it holds.
    """
    with path.open("rb") as f:
        head = f.read(_PART10_PREFIX + _GROUP_LENGTH_ELEMENT.size)
    if len(head) < _PART10_PREFIX + _GROUP_LENGTH_ELEMENT.size or head[128:132] != b"DICM":
        raise ValueError(f"{path} is not a Part-10 file")
    group, element, vr, _, value = _GROUP_LENGTH_ELEMENT.unpack_from(head, _PART10_PREFIX)
    if (group, element, vr) != (0x0002, 0x0000, b"UL"):
        raise ValueError(f"{path} has no file meta group length")
    return _PART10_PREFIX + _GROUP_LENGTH_ELEMENT.size + cast(int, value)


def set_tcp_nodelay(event: Event) -> None:
    """``EVT_CONN_OPEN`` handler: turn Nagle's algorithm off on the association socket.

    A C-STORE is two small writes (command, then data set) and the answer
    waits for both; with Nagle on, the second write waits for the peer's
    delayed ACK (~40 ms on Linux).
    """
    sock = event.assoc.dul.socket
    if sock is not None and sock.socket is not None:
        sock.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def serve_in_background(
    ae: AE, address: tuple[str, int], handlers: list[EventHandlerType]
) -> ThreadedAssociationServer:
    """Listen on ``address`` and accept associations in a daemon thread.

    Like ``AE.start_server(block=False)``, except that the accept loop checks
    for shutdown every 50 ms instead of socketserver's default 0.5 s, which
    would make every :func:`shutdown_server` take half a second.
    """
    server = cast(
        ThreadedAssociationServer,
        ae.make_server(address, evt_handlers=handlers, server_class=ThreadedAssociationServer),
    )
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": _ACCEPT_POLL_SECONDS},
        name=f"AcceptorServer@{server.server_address[1]}",
        daemon=True,
    )
    thread.start()
    return server


def shutdown_server(server: ThreadedAssociationServer, timeout: float = 5.0) -> None:
    """Stop accepting, abort the associations in progress, wait for their threads.

    Bounded by about ``timeout`` seconds; pynetdicom's own shutdown aborts
    first and then stops accepting, which leaves a window for a new
    association to slip in.
    """
    deadline = time.monotonic() + timeout
    socketserver.BaseServer.shutdown(server)
    server.server_close()
    associations = server.active_associations
    for association in associations:
        with contextlib.suppress(Exception):
            association.abort()
    for association in associations:
        association.join(max(0.0, deadline - time.monotonic()))
        association.dul.join(max(0.0, deadline - time.monotonic()))


@dataclass(frozen=True, slots=True)
class AssociationReport:
    """What one association brought, reported when it ends.

    Carries AE titles, addresses and counts only: no patient data.
    """

    calling_ae_title: str
    peer: str
    """``host:port`` of the requestor."""
    instances: int
    """C-STORE requests answered with success."""
    failed: int
    """C-STORE requests that could not be stored."""
    bytes: int
    """Data set bytes of the stored instances (file meta excluded)."""
    seconds: float
    outcome: Literal["released", "aborted", "closed"]


@dataclass(slots=True)
class _AssociationTally:
    calling_ae_title: str
    peer: str
    started: float
    instances: int = 0
    failed: int = 0
    bytes: int = 0


class StorageSCP:
    """A storage SCP on one TCP port, served by pynetdicom threads.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. The
    counters are safe to read from any thread (the demo polls them on a
    timer). ``on_association_end`` runs in a pynetdicom thread when an
    association ends; keep it short.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ae_title: str = DEFAULT_SCP_AE_TITLE,
        output_dir: Path | None = None,
        ignore: bool = False,
        max_pdu: int = 16382,
        on_association_end: Callable[[AssociationReport], None] | None = None,
    ) -> None:
        """Configure, do not start yet.

        ``port=0`` picks a free port (read it from :attr:`port` after
        :meth:`start`). Exactly one of ``output_dir`` and ``ignore=True``
        decides what happens to received data: written there, or discarded
        (a receiver that costs nothing, for benchmarks).
        """
        if output_dir is None and not ignore:
            raise ValueError("StorageSCP needs an output_dir unless ignore=True")
        self._host = host
        self._requested_port = port
        self._output_dir = None if ignore else output_dir
        self._on_association_end = on_association_end
        self._ae = self._build_ae(ae_title, max_pdu)
        self._server: ThreadedAssociationServer | None = None
        self._bound_port = 0
        self._lock = threading.Lock()
        self._received_count = 0
        self._received_bytes = 0
        self._failed_count = 0
        self._association_count = 0
        self._tallies: dict[Association, _AssociationTally] = {}

    @staticmethod
    def _build_ae(ae_title: str, max_pdu: int) -> AE:
        ae = AE(ae_title=ae_title)
        ae.maximum_pdu_size = max_pdu
        # One acceptor per sender thread; a generous cap, not a bottleneck.
        ae.maximum_associations = 64
        transfer_syntaxes = supported_transfer_syntaxes()
        for context in AllStoragePresentationContexts:
            ae.add_supported_context(cast(str, context.abstract_syntax), transfer_syntaxes)
        ae.add_supported_context(Verification, transfer_syntaxes)
        return ae

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> int:
        """Listen and return the TCP port (useful with ``port=0``)."""
        if self._server is not None:
            return self.port
        if self._output_dir is not None:
            self._output_dir.mkdir(parents=True, exist_ok=True)
            _config.STORE_RECV_CHUNKED_DATASET = True
        handlers: list[EventHandlerType] = [
            (evt.EVT_CONN_OPEN, set_tcp_nodelay),
            (evt.EVT_C_STORE, self._handle_store),
            (evt.EVT_ESTABLISHED, self._handle_established),
            (evt.EVT_RELEASED, self._handle_released),
            (evt.EVT_ABORTED, self._handle_aborted),
            (evt.EVT_CONN_CLOSE, self._handle_conn_close),
        ]
        self._server = serve_in_background(self._ae, (self._host, self._requested_port), handlers)
        self._bound_port = int(self._server.server_address[1])
        LOGGER.info("Storage SCP %s listening on %s:%d", self.ae_title, self._host, self.port)
        return self.port

    def stop(self, timeout: float = 5.0) -> None:
        """Abort open associations, stop listening, wait for their threads.

        Safe to call twice. Returns within about ``timeout`` seconds even if
        a handler is busy writing a file.
        """
        server, self._server = self._server, None
        if server is None:
            return
        shutdown_server(server, timeout)
        LOGGER.info("Storage SCP %s stopped", self.ae_title)

    def __enter__(self) -> StorageSCP:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- state -------------------------------------------------------------

    @property
    def port(self) -> int:
        """The listening port (still readable after :meth:`stop`); the requested one before."""
        return self._bound_port or self._requested_port

    @property
    def host(self) -> str:
        return self._host

    @property
    def ae_title(self) -> str:
        return str(self._ae.ae_title)

    @property
    def output_dir(self) -> Path | None:
        """Where instances are written; ``None`` in ignore mode."""
        return self._output_dir

    @property
    def is_running(self) -> bool:
        return self._server is not None

    @property
    def received_count(self) -> int:
        """Instances received and stored (or discarded, in ignore mode)."""
        with self._lock:
            return self._received_count

    @property
    def received_bytes(self) -> int:
        """Data set bytes of those instances (file meta excluded)."""
        with self._lock:
            return self._received_bytes

    @property
    def failed_count(self) -> int:
        """Instances that arrived but could not be written."""
        with self._lock:
            return self._failed_count

    @property
    def association_count(self) -> int:
        """Associations established so far."""
        with self._lock:
            return self._association_count

    # -- event handlers (pynetdicom threads) -------------------------------

    def _handle_store(self, event: Event) -> int:
        request = cast(C_STORE, event.request)
        sop_instance_uid = str(request.AffectedSOPInstanceUID or "")
        try:
            size = self._keep(event, sop_instance_uid)
        except OSError as exc:
            LOGGER.error("Could not store instance %s: %s", sop_instance_uid, exc.strerror)
            self._count(event.assoc, stored=False, size=0)
            return STATUS_OUT_OF_RESOURCES
        self._count(event.assoc, stored=True, size=size)
        return STATUS_SUCCESS

    def _keep(self, event: Event, sop_instance_uid: str) -> int:
        """Write (or discard) the data set; return its size in bytes."""
        temp_path = cast("Path | None", event.dataset_path)
        if temp_path is not None:
            size = temp_path.stat().st_size - part10_dataset_offset(temp_path)
            if self._output_dir is not None:
                _move_into_place(temp_path, self._output_dir / instance_file_name(sop_instance_uid))
            return size
        with cast(BytesIO, cast(C_STORE, event.request).DataSet).getbuffer() as buffer:
            if self._output_dir is not None:
                target = self._output_dir / instance_file_name(sop_instance_uid)
                _write_atomically(target, event, buffer)
            return buffer.nbytes

    def _count(self, association: Association, *, stored: bool, size: int) -> None:
        with self._lock:
            tally = self._tallies.get(association)
            if stored:
                self._received_count += 1
                self._received_bytes += size
            else:
                self._failed_count += 1
            if tally is not None:
                tally.instances += int(stored)
                tally.failed += int(not stored)
                tally.bytes += size

    def _handle_established(self, event: Event) -> None:
        requestor = event.assoc.requestor
        tally = _AssociationTally(
            calling_ae_title=str(requestor.ae_title).strip(),
            peer=f"{requestor.address}:{requestor.port}",
            started=time.monotonic(),
        )
        with self._lock:
            self._association_count += 1
            self._tallies[event.assoc] = tally

    def _handle_released(self, event: Event) -> None:
        self._report(event.assoc, "released")

    def _handle_aborted(self, event: Event) -> None:
        self._report(event.assoc, "aborted")

    def _handle_conn_close(self, event: Event) -> None:
        association = event.assoc
        outcome: Literal["released", "aborted", "closed"] = "closed"
        if association.is_released:
            outcome = "released"
        elif association.is_aborted:
            outcome = "aborted"
        self._report(association, outcome)

    def _report(
        self, association: Association, outcome: Literal["released", "aborted", "closed"]
    ) -> None:
        """Report an association once, on whichever end event comes first."""
        with self._lock:
            tally = self._tallies.pop(association, None)
        if tally is None or self._on_association_end is None:
            return
        report = AssociationReport(
            calling_ae_title=tally.calling_ae_title,
            peer=tally.peer,
            instances=tally.instances,
            failed=tally.failed,
            bytes=tally.bytes,
            seconds=time.monotonic() - tally.started,
            outcome=outcome,
        )
        try:
            self._on_association_end(report)
        except Exception:
            LOGGER.exception("on_association_end callback failed")


def _move_into_place(temp_path: Path, target: Path) -> None:
    """Move pynetdicom's temporary file to ``target`` without a half-written window.

    A rename when both are on one file system; otherwise copy next to the
    target first, then rename. pynetdicom deletes the temporary file after the
    handler returns and ignores it being gone.
    """
    try:
        os.replace(temp_path, target)
    except OSError:
        partial = target.with_name(target.name + ".part")
        shutil.copyfile(temp_path, partial)
        os.chmod(partial, _FILE_MODE)
        os.replace(partial, target)


def _write_atomically(target: Path, event: Event, dataset: memoryview) -> None:
    """Write preamble, file meta and data set to ``target`` via a ``.part`` file."""
    partial = target.with_name(target.name + ".part")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    with open(os.open(partial, flags, _FILE_MODE), "wb") as f:
        f.write(b"\x00" * 128 + b"DICM")
        f.write(encode_file_meta(event.file_meta))
        f.write(dataset)
    os.replace(partial, target)
