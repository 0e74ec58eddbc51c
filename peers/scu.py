"""pynetdicom's own SCU, to prove a peer works independently of the product's sender.

Contexts are proposed per (SOP class, transfer syntax) pair so a file can be
sent exactly as it is on disk (``raw=True`` streams the file's bytes without
decoding them; pynetdicom then needs an exactly matching accepted context).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pydicom.dataset import Dataset
from pynetdicom import AE, _config, build_context, evt
from pynetdicom.association import Association
from pynetdicom.presentation import PresentationContext

from peers.dcmtk import file_pairs
from peers.processes import LOOPBACK
from tui_sender.demo.receiver import set_tcp_nodelay

_raw_send_lock = threading.Lock()


def contexts_for(pairs: Iterable[tuple[str, str | Sequence[str]]]) -> list[PresentationContext]:
    """One presentation context per (SOP class, syntax or list of syntaxes)."""
    contexts = []
    for sop_class, syntaxes in pairs:
        ts_list = [syntaxes] if isinstance(syntaxes, str) else list(syntaxes)
        contexts.append(build_context(sop_class, ts_list))
    return contexts


@contextmanager
def associate(
    port: int,
    contexts: Sequence[PresentationContext],
    *,
    called_ae: str = "ANY-SCP",
    calling_ae: str = "TEST_SCU",
    max_pdu: int = 16382,
    timeout: float = 10.0,
) -> Iterator[Association]:
    """An association to 127.0.0.1:``port``; released (or aborted) on exit.

    Yields the association whatever its state: check ``is_established``.
    ACSE, DIMSE and network timeouts are all ``timeout`` so nothing waits
    unbounded.
    """
    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = timeout
    ae.dimse_timeout = timeout
    ae.network_timeout = timeout
    ae.connection_timeout = timeout
    association = ae.associate(
        LOOPBACK,
        port,
        contexts=list(contexts),
        ae_title=called_ae,
        max_pdu=max_pdu,
        evt_handlers=[(evt.EVT_CONN_OPEN, set_tcp_nodelay)],
    )
    try:
        yield association
    finally:
        if association.is_established:
            association.release()
        if association.is_established:
            association.abort()
        for thread in (association, association.dul):
            if thread.is_alive():  # the reactor never starts when rejected
                thread.join(timeout)


def send_file(association: Association, path: Path, *, raw: bool = True) -> int | None:
    """C-STORE one file; return the status, or ``None`` when no response came.

    ``raw=True`` streams the file's data set bytes unchanged
    (``STORE_SEND_CHUNKED_DATASET``, a process-wide pynetdicom switch, is
    turned on just for this call).
    """
    if raw:
        with _raw_send_lock:
            previous = _config.STORE_SEND_CHUNKED_DATASET
            _config.STORE_SEND_CHUNKED_DATASET = True
            try:
                response = association.send_c_store(path)
            finally:
                _config.STORE_SEND_CHUNKED_DATASET = previous
    else:
        response = association.send_c_store(path)
    return status_of(response)


def send_dataset(association: Association, dataset: Dataset) -> int | None:
    """C-STORE one in-memory data set; the status, or ``None`` without a response."""
    return status_of(association.send_c_store(dataset))


def status_of(response: Dataset) -> int | None:
    """The Status of a C-STORE response; ``None`` for pynetdicom's empty "no response"."""
    return int(response.Status) if "Status" in response else None


def send_files(
    port: int,
    files: Sequence[Path],
    *,
    called_ae: str = "ANY-SCP",
    calling_ae: str = "TEST_SCU",
    raw: bool = True,
    max_pdu: int = 16382,
    timeout: float = 10.0,
) -> list[int | None]:
    """Send ``files`` on one association with one context per file pair; statuses in order.

    Raises ``ConnectionError`` when the association is not established.
    """
    with associate(
        port,
        contexts_for(file_pairs(files)),
        called_ae=called_ae,
        calling_ae=calling_ae,
        max_pdu=max_pdu,
        timeout=timeout,
    ) as association:
        if not association.is_established:
            raise ConnectionError(f"association to port {port} not established")
        return [send_file(association, path, raw=raw) for path in files]
