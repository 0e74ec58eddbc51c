"""A scriptable in-process storage SCP: the misbehaving peer of reliability tests.

It records what arrived (SOP Instance UID, the transfer syntax of the
accepted context, the raw data set bytes) and can be told to

* answer with chosen statuses: one for all, one per SOP class, a sequence
  (``[0xA700, 0xA700, 0x0000]``: out of resources twice, then success; the
  last entry repeats) or a function of the call;
* abort instead of answering (the reply :data:`ABORT`, or ``abort_after=N``
  stores per association), or abort while a data set is still arriving
  (``abort_during_store``, ``abort_during_instances``);
* sleep before answering (to trip the sender's DIMSE timeout), always or
  as a function of the call (only the first attempt of each file, say);
* accept only some SOP classes or transfer syntaxes;
* reject associations (``reject=(result, source, reason)`` or a function of
  the request number; ``require_calling_aet``; ``max_associations``);
* use a given maximum PDU.

Its own ACSE, DIMSE and network timeouts are ``timeout`` (10 s), so an
abandoned association cannot keep it busy for long.

Built directly on pynetdicom, with TCP_NODELAY on like the product's SCP.
Every wait is bounded; :meth:`ScriptedSCP.stop` wakes sleeping handlers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from types import TracebackType
from typing import Final, Literal, cast

from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.association import Association
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.dsutils import decode, encode_file_meta
from pynetdicom.events import Event, EventHandlerType
from pynetdicom.pdu import P_DATA_TF
from pynetdicom.pdu_primitives import AsynchronousOperationsWindowNegotiation
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from pynetdicom.status import code_to_category
from pynetdicom.transport import ThreadedAssociationServer

from tui_sender.demo.receiver import (
    instance_file_name,
    part10_dataset_offset,
    serve_in_background,
    set_tcp_nodelay,
    shutdown_server,
)

ABORT: Final = "abort"
"""A reply that aborts the association instead of answering the C-STORE."""

Reply = int | Literal["abort"]
RejectCodes = tuple[int, int, int]
"""(result, source, reason) of an A-ASSOCIATE-RJ, e.g. (1, 1, 3) calling AE not recognised."""

_C_STORE_RQ = 0x0001
_NO_DATASET = 0x0101


@dataclass(frozen=True, slots=True)
class StoreCall:
    """One C-STORE request as the script sees it."""

    index: int
    """0-based, over the SCP's lifetime."""
    index_in_association: int
    """0-based, within its association."""
    association_index: int
    """0-based number of the association it came on."""
    attempt: int
    """1 for the first request for this SOP Instance UID, 2 for a resend, ..."""
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    calling_ae_title: str


@dataclass(frozen=True, slots=True)
class ReceivedStore:
    """A C-STORE request that reached the handler, and how it was answered."""

    call: StoreCall
    reply: Reply
    dataset: bytes | None
    """The data set bytes as sent (no file meta), when kept in memory."""
    path: Path | None
    """The Part-10 file written, when an output directory was given."""

    @property
    def sop_instance_uid(self) -> str:
        return self.call.sop_instance_uid

    @property
    def transfer_syntax_uid(self) -> str:
        return self.call.transfer_syntax_uid


@dataclass(slots=True)
class _AssociationState:
    index: int
    calling_ae_title: str
    stores: int = 0
    command: BytesIO = field(default_factory=BytesIO)
    incoming_uid: str | None = None
    incoming_checked: bool = False
    aborted_by_script: bool = False


class ScriptedSCP:
    """A pynetdicom storage SCP on 127.0.0.1 that does what the test says.

    Keyword arguments are described in the module docstring; all default to
    a well-behaved SCP that accepts every storage SOP class in every syntax,
    answers 0x0000 and keeps the data sets in memory.
    """

    def __init__(
        self,
        *,
        ae_title: str = "SCRIPTED_SCP",
        replies: Reply | Sequence[Reply] | Callable[[StoreCall], Reply] = 0x0000,
        replies_by_sop_class: Mapping[str, Reply] | None = None,
        abort_after: int | None = None,
        abort_during_store: int | None = None,
        abort_during_instances: Collection[str] = (),
        sleep: float | Callable[[StoreCall], float] = 0.0,
        sop_classes: Iterable[str] | None = None,
        rejected_sop_classes: Collection[str] = (),
        transfer_syntaxes: Sequence[str] | None = None,
        reject: RejectCodes | Callable[[int], RejectCodes | None] | None = None,
        require_calling_aet: Sequence[str] = (),
        require_called_aet: bool = False,
        max_pdu: int = 16382,
        max_associations: int = 10,
        output_dir: Path | None = None,
        keep_in_memory: bool = True,
        timeout: float = 10.0,
        host: str = "127.0.0.1",
        grant_outstanding: int | None = None,
    ) -> None:
        self._grant_outstanding = grant_outstanding
        """Operations the requestor may keep in flight, answered to its Asynchronous Operations
        Window (None: not answered, so the window stays 1 as with storescp and Orthanc)."""
        self._replies = replies
        self._replies_by_sop_class = dict(replies_by_sop_class or {})
        self._abort_after = abort_after
        self._abort_during_store = abort_during_store
        self._abort_during_instances = frozenset(abort_during_instances)
        self._sleep = sleep
        self._reject = reject
        self._output_dir = output_dir
        self._keep_in_memory = keep_in_memory
        self._host = host
        self._ae = _build_ae(
            ae_title,
            sop_classes=sop_classes,
            rejected=rejected_sop_classes,
            transfer_syntaxes=list(transfer_syntaxes or ALL_TRANSFER_SYNTAXES),
        )
        self._ae.maximum_pdu_size = max_pdu
        self._ae.acse_timeout = timeout
        self._ae.dimse_timeout = timeout
        self._ae.network_timeout = timeout
        self._ae.maximum_associations = max_associations
        self._ae.require_calling_aet = list(require_calling_aet)
        self._ae.require_called_aet = require_called_aet
        self._server: ThreadedAssociationServer | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._received: list[ReceivedStore] = []
        self._calls = 0
        self._attempts: dict[str, int] = {}
        self._datasets_started = 0
        self._requests = 0
        self._associations: dict[Association, _AssociationState] = {}
        self._association_total = 0
        self._aborts_sent = 0

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> ScriptedSCP:
        if self._server is not None:
            return self
        if self._output_dir is not None:
            self._output_dir.mkdir(parents=True, exist_ok=True)
        handlers: list[EventHandlerType] = [
            (evt.EVT_CONN_OPEN, set_tcp_nodelay),
            (evt.EVT_REQUESTED, self._on_requested),
            (evt.EVT_ESTABLISHED, self._on_established),
            (evt.EVT_C_STORE, self._on_store),
            *([(evt.EVT_CONN_OPEN, self._grant_window)] if self._grant_outstanding else []),
        ]
        if self._abort_during_store is not None or self._abort_during_instances:
            handlers.append((evt.EVT_PDU_RECV, self._on_pdu))
        self._server = serve_in_background(self._ae, (self._host, 0), handlers)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Wake sleeping handlers, abort associations, stop listening; bounded."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        shutdown_server(server, timeout)

    def __enter__(self) -> ScriptedSCP:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what happened -----------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("ScriptedSCP is not running")
        return int(self._server.server_address[1])

    @property
    def ae_title(self) -> str:
        return str(self._ae.ae_title)

    @property
    def received(self) -> list[ReceivedStore]:
        """Every C-STORE request that reached the handler, in order."""
        with self._lock:
            return list(self._received)

    def stored(self) -> dict[str, ReceivedStore]:
        """SOP Instance UID to its last request answered with success or warning."""
        return {
            r.sop_instance_uid: r
            for r in self.received
            if r.reply != ABORT and code_to_category(int(r.reply)) in ("Success", "Warning")
        }

    @property
    def replies(self) -> list[Reply]:
        return [r.reply for r in self.received]

    @property
    def association_requests(self) -> int:
        """A-ASSOCIATE-RQs seen (rejected ones included)."""
        with self._lock:
            return self._requests

    @property
    def association_count(self) -> int:
        """Associations established."""
        with self._lock:
            return self._association_total

    @property
    def open_associations(self) -> int:
        """Associations still running (a sender that leaves none behind makes this 0)."""
        server = self._server
        if server is None:
            return 0
        return sum(1 for a in server.active_associations if a.is_alive())

    def wait_until_idle(self, timeout: float = 5.0) -> int:
        """Wait (bounded) until no association is open; return how many still are."""
        deadline = time.monotonic() + timeout
        while self.open_associations and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.open_associations

    @property
    def aborts_sent(self) -> int:
        with self._lock:
            return self._aborts_sent

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedStore]:
        """Wait until ``count`` requests reached the handler; return them."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{len(self.received)} of {count} C-STOREs after {timeout} s")
            time.sleep(0.01)
        return self.received

    # -- handlers (pynetdicom threads) ---------------------------------------

    def _on_requested(self, event: Event) -> None:
        with self._lock:
            request_index = self._requests
            self._requests += 1
        codes = self._reject(request_index) if callable(self._reject) else self._reject
        if codes is not None:
            # As pynetdicom's own rejects do: send, then wait (bounded by the
            # ARTIM timer) for the requestor to close, so the socket is not
            # shut before the A-ASSOCIATE-RJ is out.
            event.assoc.acse.send_reject(*codes)
            event.assoc.kill()

    def _grant_window(self, event: Event) -> None:
        """Answer the requestor's operations window with ours.

        pynetdicom as an acceptor always answers (1, 1) ("async ops is not
        supported", acse.py) while it serves requests one after another anyway;
        for a test peer that grants a window, its answer is replaced here.
        """
        granted = self._grant_outstanding

        def answer() -> AsynchronousOperationsWindowNegotiation:
            item = AsynchronousOperationsWindowNegotiation()
            item.maximum_number_operations_invoked = granted
            item.maximum_number_operations_performed = 1
            return item

        event.assoc.acse._check_async_ops = answer  # type: ignore[method-assign]

    def _on_established(self, event: Event) -> None:
        state = self._state(event.assoc)
        with self._lock:
            state.index = self._association_total
            state.calling_ae_title = str(event.assoc.requestor.ae_title).strip()
            self._association_total += 1

    def _on_store(self, event: Event) -> int:
        request = cast(C_STORE, event.request)
        state = self._state(event.assoc)
        if state.aborted_by_script:
            return 0xA700  # never sent: the association is already aborted
        uid = str(request.AffectedSOPInstanceUID)
        with self._lock:
            self._attempts[uid] = self._attempts.get(uid, 0) + 1
            call = StoreCall(
                index=self._calls,
                index_in_association=state.stores,
                association_index=state.index,
                attempt=self._attempts[uid],
                sop_class_uid=str(request.AffectedSOPClassUID),
                sop_instance_uid=uid,
                transfer_syntax_uid=str(event.context.transfer_syntax),
                calling_ae_title=state.calling_ae_title,
            )
            self._calls += 1
            state.stores += 1
        reply = self._reply_for(call)
        dataset, path = self._keep(event, uid)
        with self._lock:
            self._received.append(ReceivedStore(call, reply, dataset, path))
        pause = self._sleep(call) if callable(self._sleep) else self._sleep
        if pause:
            self._stopping.wait(pause)
        if reply == ABORT:
            self._abort(event.assoc, state)
            return 0xA700
        return int(reply)

    def _reply_for(self, call: StoreCall) -> Reply:
        if self._abort_after is not None and call.index_in_association >= self._abort_after:
            return ABORT
        if call.sop_class_uid in self._replies_by_sop_class:
            return self._replies_by_sop_class[call.sop_class_uid]
        replies = self._replies
        if callable(replies):
            return replies(call)
        if isinstance(replies, int | str):
            return replies
        return replies[min(call.index, len(replies) - 1)]

    def _keep(self, event: Event, uid: str) -> tuple[bytes | None, Path | None]:
        """The data set bytes (memory) and/or the file written, as configured."""
        data = _dataset_bytes(event)
        path = None
        if self._output_dir is not None:
            path = self._output_dir / instance_file_name(uid)
            path.write_bytes(b"\x00" * 128 + b"DICM" + encode_file_meta(event.file_meta) + data)
        return (data if self._keep_in_memory else None), path

    def _on_pdu(self, event: Event) -> None:
        """Abort mid data set: P-DATA fragments are seen here before reassembly."""
        pdu = event.pdu
        if not isinstance(pdu, P_DATA_TF):
            return
        state = self._state(event.assoc)
        for item in pdu.presentation_data_value_items:
            data = item.data or b"\x00"
            header = data[0]
            if header & 0x01:  # command fragment
                state.command.write(data[1:])
                if header & 0x02:
                    self._command_complete(state)
            elif state.incoming_uid is not None and not state.incoming_checked:
                state.incoming_checked = True
                if self._abort_during(state.incoming_uid):
                    self._abort(event.assoc, state)
                    return

    def _command_complete(self, state: _AssociationState) -> None:
        command = decode(BytesIO(state.command.getvalue()), True, True)
        state.command = BytesIO()
        is_store = command.CommandField == _C_STORE_RQ
        has_data = command.CommandDataSetType != _NO_DATASET
        state.incoming_uid = str(command.AffectedSOPInstanceUID) if is_store and has_data else None
        state.incoming_checked = False

    def _abort_during(self, uid: str) -> bool:
        with self._lock:
            self._datasets_started += 1
            nth = self._datasets_started
        return nth == self._abort_during_store or uid in self._abort_during_instances

    def _abort(self, association: Association, state: _AssociationState) -> None:
        state.aborted_by_script = True
        with self._lock:
            self._aborts_sent += 1
        association.abort()

    def _state(self, association: Association) -> _AssociationState:
        with self._lock:
            state = self._associations.get(association)
            if state is None:  # PDUs can arrive before EVT_ESTABLISHED fires
                state = _AssociationState(index=-1, calling_ae_title="")
                self._associations[association] = state
            return state


def _build_ae(
    ae_title: str,
    *,
    sop_classes: Iterable[str] | None,
    rejected: Collection[str],
    transfer_syntaxes: list[str],
) -> AE:
    ae = AE(ae_title=ae_title)
    if sop_classes is None:
        classes = [str(cx.abstract_syntax) for cx in AllStoragePresentationContexts]
        classes.append(Verification)
    else:
        classes = [str(uid) for uid in sop_classes]
    for uid in classes:
        if uid not in rejected:
            ae.add_supported_context(uid, transfer_syntaxes)
    return ae


def _dataset_bytes(event: Event) -> bytes:
    """The data set as sent, whether pynetdicom kept it in memory or in a file.

    ``pynetdicom._config.STORE_RECV_CHUNKED_DATASET`` is process-wide and the
    product's :class:`~tui_sender.demo.receiver.StorageSCP` turns it on, so both
    cases happen in one test run.
    """
    temp_path = cast("Path | None", event.dataset_path)
    if temp_path is not None:
        return temp_path.read_bytes()[part10_dataset_offset(temp_path) :]
    return cast(BytesIO, cast(C_STORE, event.request).DataSet).getvalue()
