"""STOW-RS behind the engine's transport seam: a worker's "association" is one HTTP connection.

The worker drives a :class:`StowAssociation` exactly as it drives a DIMSE
link (:mod:`tui_sender.core.engine.transport`): it submits instances and
collects one answer per instance. Here the instances submitted are gathered
into one ``POST {url}/studies`` (up to ``max_instances`` and ``max_bytes``,
the association's window) and the request goes out when the worker first
collects, or when the next instance would make it too large. The answers are
read from the response (:mod:`tui_sender.core.web.stow_response`), one per
instance:

* 200, 202 and 409: each instance as the response data set says (Referenced:
  stored, or a warning with its WarningReason; Failed: its FailureReason);
  an instance the response does not mention is not taken as stored;
* 429 and 503: every instance refused for lack of resources, with the
  server's Retry-After, so the worker's status retry and the breaker back off;
* 401 and 403: refused, not authorised, no retry; 400, 404, 413, 415 and the
  other 4xx: failed with the HTTP status in words, no retry;
* other 5xx, a reset, a timeout: the outcome is unknown (``LinkBroken``), so
  the worker resends on a new connection within its bounded attempts.

Opening asks QIDO-RS for one study (``GET {url}/studies?limit=1``) so that a
wrong password or URL stops the destination before any file is sent.
"""

from __future__ import annotations

import io
import itertools
import os
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import httpx

from tui_sender.core.base import wording
from tui_sender.core.model.events import ContextResult
from tui_sender.core.net.failures import FailureKind, LinkBroken
from tui_sender.core.net.link import StoreReply
from tui_sender.core.net.opening import ProposedContext
from tui_sender.core.web.client import WebClient
from tui_sender.core.web.http_errors import (
    connection_failure,
    http_words,
    probe_failure,
    retry_after_seconds,
)
from tui_sender.core.web.multipart import BodyCancelled, MultipartBody, Part
from tui_sender.core.web.settings import WebSettings
from tui_sender.core.web.stow_response import StowResponseError, parse_stow_response

ACCEPT = "application/dicom+json"
"""Orthanc 1.10 logs an error for a q-valued Accept; a server that only speaks XML still
answers XML, which is read too."""
PROCESSING_FAILURE = 0x0110
NOT_AUTHORISED = 0x0124
OUT_OF_RESOURCES = 0xA700
REFUSED_RETRY_LATER = frozenset({429, 503})
_REQUEST_NUMBERS = itertools.count(1)
"""Numbers the requests of this process (``next`` on it is atomic in CPython)."""
ANSWERED_PER_INSTANCE = frozenset({200, 202, 409})


@dataclass(frozen=True, slots=True)
class StowTransport:
    """STOW-RS to one DICOMweb server; each :meth:`open` is one worker's connection."""

    settings: WebSettings

    def open(
        self,
        proposed: Sequence[ProposedContext],
        on_socket: Callable[..., None] | None = None,
    ) -> StowAssociation:
        client = WebClient(self.settings, on_socket)
        try:
            probe(client)
        except BaseException:
            client.close()
            raise
        return StowAssociation(client, proposed)


def probe(client: WebClient) -> int:
    """One QIDO-RS request for one study; the HTTP status. Raises AssociationError when the
    server cannot be reached, refuses our credentials, or is busy.

    A server that offers STOW-RS without QIDO-RS (404, 405, 501) passes: its first STOW-RS
    response will tell.
    """
    try:
        response = client.http.get(
            client.url("studies"),
            params={"limit": "1"},
            headers={"Accept": "application/dicom+json"},
        )
    except httpx.HTTPError as exc:
        raise connection_failure(exc, client.settings.base) from exc
    client.server = response.headers.get("server", "")
    failure = probe_failure(response, client.settings)
    if failure is not None:
        raise failure
    return response.status_code


@dataclass(slots=True)
class _Queued:
    message_id: int
    sop_instance_uid: str
    part: Part


class StowAssociation:
    """One worker's connection to a DICOMweb server, speaking the :class:`Association` protocol."""

    def __init__(self, client: WebClient, proposed: Sequence[ProposedContext]) -> None:
        self._client = client
        settings = client.settings
        # STOW-RS has no negotiation: the server takes any SOP class and transfer syntax
        # it can store, and says per instance in its response. Every file goes as it is.
        self.contexts = tuple(
            ContextResult(2 * n + 1, p.sop_class_uid, p.transfer_syntax_uid, True, "Accepted")
            for n, p in enumerate(proposed)
        )
        self.accepted = {
            (c.sop_class_uid, c.transfer_syntax_uid): c.context_id for c in self.contexts
        }
        self.peer_max_pdu = 0
        self.stores = 0
        self.bytes_sent = 0
        self.window = settings.max_instances
        self._queued: list[_Queued] = []
        self._answers: deque[tuple[int, StoreReply]] = deque()
        self._message_id = 0
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    # -- the Association protocol ---------------------------------------------------

    def submit_file(
        self,
        context_id: int,
        sop_class_uid: str,
        sop_instance_uid: str,
        fd: int,
        offset: int,
        length: int,
        on_bytes: Callable[[int], None] | None = None,
    ) -> int:
        """Queue the whole Part-10 file (STOW-RS sends the file, meta header included)."""
        return self._queue(sop_instance_uid, Part.of_file(fd, on_bytes))

    def submit_bytes(
        self,
        context_id: int,
        sop_class_uid: str,
        sop_instance_uid: str,
        data: bytes,
        on_bytes: Callable[[int], None] | None = None,
    ) -> int:
        """Queue a data set re-encoded in memory, as a Part-10 file in its context's syntax."""
        syntax = next(c.transfer_syntax_uid for c in self.contexts if c.context_id == context_id)
        whole = _part10(sop_class_uid, sop_instance_uid, syntax, data)
        return self._queue(sop_instance_uid, Part(size=len(whole), data=whole, on_bytes=on_bytes))

    def collect(self) -> tuple[int, StoreReply]:
        if not self._answers:
            if not self._queued:
                raise LinkBroken("collect() with no instance submitted", FailureKind.PROTOCOL)
            self._send_queued()
        return self._answers.popleft()

    def still_open(self) -> bool:
        return not self._closed and not self._client.interrupted.is_set()

    def release(self) -> bool:
        self._close()
        return True

    def abort(self) -> None:
        self._close()

    def interrupt(self) -> None:
        self._client.interrupt()

    # -- requests ---------------------------------------------------------------------

    def _queue(self, sop_instance_uid: str, part: Part) -> int:
        if self._closed:
            part.close()
            raise LinkBroken("the connection is closed", FailureKind.ABORTED)
        queued_bytes = sum(q.part.size for q in self._queued)
        if self._queued and queued_bytes + part.size > self._client.settings.max_bytes:
            try:
                self._send_queued()
            except BaseException:
                part.close()
                raise
        self._message_id = self._message_id % 0xFFFF + 1
        self._queued.append(_Queued(self._message_id, sop_instance_uid, part))
        self.bytes_sent += part.size
        return self._message_id

    def _send_queued(self) -> None:
        """POST the queued instances as one request; queue one answer per instance."""
        queued, self._queued = self._queued, []
        body = MultipartBody([q.part for q in queued])
        client = self._client
        try:
            response = client.http.post(
                client.url("studies"),
                content=body.chunks(client.interrupted, client.settings.pacer),
                headers={
                    "Content-Type": body.content_type,
                    "Content-Length": str(body.length),
                    "Accept": ACCEPT,
                },
            )
        except BodyCancelled as exc:
            self._close()
            raise LinkBroken(str(exc), FailureKind.CANCELLED) from exc
        except httpx.TimeoutException as exc:
            self._close()
            raise LinkBroken(
                f"no STOW-RS answer within {client.settings.response_timeout:g} s "
                f"({type(exc).__name__})",
                FailureKind.TIMEOUT,
            ) from exc
        except (httpx.HTTPError, OSError) as exc:
            self._close()
            kind = FailureKind.CANCELLED if client.interrupted.is_set() else FailureKind.ABORTED
            raise LinkBroken(f"the connection broke during a STOW-RS request: {exc}", kind) from exc
        finally:
            body.close()
        key = f"STOW-RS request {os.getpid()}-{next(_REQUEST_NUMBERS)}"
        self._answers.extend(
            (message_id, replace(reply, request=key))
            for message_id, reply in self._read_answers(response, queued)
        )
        self.stores += len(queued)

    def _read_answers(
        self, response: httpx.Response, queued: list[_Queued]
    ) -> list[tuple[int, StoreReply]]:
        """One reply per queued instance, from the response (see the module docstring)."""
        status = response.status_code
        words = http_words(response)
        if status in REFUSED_RETRY_LATER:
            pause = retry_after_seconds(response, self._client.settings.retry_after_cap)
            busy = StoreReply(OUT_OF_RESOURCES, words, "", http_status=status, retry_after=pause)
            return [(q.message_id, busy) for q in queued]
        if status >= 500:
            self._close()
            raise LinkBroken(
                f"{words}: the server failed; whether it stored anything is unknown",
                http_status=status,
            )
        # The rest answer the request as a whole (401, 413, ...), but a server may still list
        # what it stored and refused (Orthanc's 400 for a request with one bad part does).
        per_instance = status in ANSWERED_PER_INSTANCE or 200 <= status < 300
        if status == 401:
            unlisted = _reply(
                NOT_AUTHORISED,
                status,
                f"{words}: the server refused our credentials; check the destination's "
                "username and password or token",
            )
        elif status == 403:
            unlisted = _reply(
                NOT_AUTHORISED,
                status,
                f"{words}: the server does not let these credentials store instances; check "
                "the account's permissions on the server",
            )
        elif per_instance:
            # A 2xx without a body (or a 204) names no instance: the server said nothing
            # about any file, so none is taken as stored.
            unsaid = (
                "the response does not mention this instance"
                if response.content.strip()
                else "the response has no body saying which instances were stored"
            )
            unlisted = _reply(
                PROCESSING_FAILURE, status, f"{words}, but {unsaid}; not taken as stored"
            )
        else:
            hint = self._refusal_hint(status, queued)
            unlisted = _reply(PROCESSING_FAILURE, status, f"{words}{hint}; not retried")
        try:
            parsed = parse_stow_response(response.content, response.headers.get("content-type", ""))
        except StowResponseError as exc:
            if per_instance:
                unread = f"{words}, but its body is not a STOW-RS response ({exc})"
                unlisted = _reply(PROCESSING_FAILURE, status, f"{unread}; not taken as stored")
            return [(q.message_id, unlisted) for q in queued]
        answers = []
        for q in queued:
            result = parsed.result_for(q.sop_instance_uid)
            reply = unlisted if result is None else _reply(result.status, status)
            answers.append((q.message_id, reply))
        return answers

    def _refusal_hint(self, status: int, queued: list[_Queued]) -> str:
        """What to change when the server refuses a request as a whole ("" when we cannot say)."""
        settings = self._client.settings
        if status == 413:
            size = wording.size(sum(q.part.size for q in queued))
            if len(queued) == 1:
                return (
                    f": the server (or a proxy in front of it) takes no request this large "
                    f"(one file of {size}); raise its limit on request size"
                )
            return (
                f": the server (or a proxy in front of it) takes no request this large "
                f"({wording.count(len(queued), 'instance')}, {size}); lower stow_megabytes "
                f"(now {settings.max_bytes >> 20}) or stow_instances (now "
                f"{settings.max_instances}) for this destination, or raise the server's limit "
                "on request size"
            )
        if status in (404, 405):
            return (
                f": nothing takes STOW-RS at {settings.base}/studies; is the URL the DICOMweb "
                "base of the server (for example https://host/dicom-web)?"
            )
        if status == 415:
            return (
                f": {settings.base}/studies does not take multipart/related; "
                'type="application/dicom"; is the URL the DICOMweb (STOW-RS) base of the server?'
            )
        return ""

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for q in self._queued:
            q.part.close()
        self._queued = []
        self._client.close()


def _reply(dicom_status: int, http_status: int, explanation: str = "") -> StoreReply:
    return StoreReply(dicom_status, "", "", http_status=http_status, explanation=explanation)


def _part10(sop_class_uid: str, sop_instance_uid: str, syntax: str, dataset: bytes) -> bytes:
    """A Part-10 file around a data set already encoded in ``syntax``."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.filewriter import write_file_meta_info
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class_uid)
    meta.MediaStorageSOPInstanceUID = UID(sop_instance_uid)
    meta.TransferSyntaxUID = UID(syntax)
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    out = io.BytesIO()
    out.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(out, meta, enforce_standard=True)  # type: ignore[arg-type]
    out.write(dataset)
    return out.getvalue()
