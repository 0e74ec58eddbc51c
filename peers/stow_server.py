"""A scripted DICOMweb server for tests: STOW-RS in, QIDO-RS out, on 127.0.0.1 only.

:class:`StowServer` plays what cloud DICOM stores do, the good and the bad:

* **STOW-RS** ``POST {root}/studies`` and ``POST {root}/studies/{StudyUID}``
  with ``multipart/related; type="application/dicom"``, the body sent with a
  Content-Length or ``Transfer-Encoding: chunked``. The body is parsed as it
  arrives: each part goes to a file in ``store_dir`` (or in a temporary
  folder the server owns) while its SHA-256 and size are computed, so no
  part is ever held in memory (tests send 2 GB parts). The UIDs are then
  read from the file with pydicom. The answer is the PS3.18 response data
  set (RetrieveURL, ReferencedSOPSequence, FailedSOPSequence) in the DICOM
  JSON model, or in the PS3.19 Native DICOM Model (XML) when the request
  accepts only ``application/dicom+xml``.
* **QIDO-RS** ``GET`` at study, series and instance level over what was
  stored (see :meth:`StowServer._qido_results`), so a sender can check that
  its instances arrived or probe the server before sending.
* **Authentication**: HTTP Basic (``users``), a bearer token (``token``),
  either, or none. A request without the right credentials gets 401 with a
  ``WWW-Authenticate`` header, after its body is read and discarded (an
  answer before the body would be a different test: see
  :attr:`Behaviour.answer_before_body`).
* **Misbehaviour**, scripted per STOW request: :attr:`StowServer.script` is
  a list of :class:`Behaviour`, one consumed per STOW request (first in,
  first out); when it is empty :attr:`StowServer.default` applies. A
  behaviour sets the HTTP status, failed / warned / omitted instances, a
  Retry-After, a delay, a connection reset part way through the body, or a
  raw body (an HTML error page from a proxy).

HTTP/1.1 with keep-alive: a client may send many requests on one
connection; :attr:`StowServer.connections` counts the connections accepted.
TLS when ``ssl_context`` is given; the handshake runs in the connection's own
thread, so a client that never finishes it cannot hold up the others.

Records for tests: :attr:`StowServer.received` (every instance stored, in
order), :attr:`StowServer.requests` (every request and what it was
answered, without credentials) and :attr:`StowServer.errors` (server-side
exceptions: a test can assert there were none).

Everything is bounded in time: every socket read and write by ``timeout``
(30 s), a scripted delay by :data:`MAX_DELAY` and by :meth:`StowServer.stop`,
which stops accepting, shuts every open connection, and joins the threads
within its own timeout. Only the standard library serves; pydicom reads the
UIDs of each stored part.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import io
import json
import os
import secrets
import socket
import socketserver
import ssl
import struct
import sys
import tempfile
import threading
import time
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Final, Self
from urllib.parse import parse_qs, quote, unquote, urlsplit

from pydicom import dcmread

from peers.processes import LOOPBACK

MAX_DELAY: Final = 60.0
"""Longest :attr:`Behaviour.delay` honoured (seconds); :meth:`StowServer.stop` cuts it short."""

CANNOT_UNDERSTAND: Final = 0xC000
"""FailureReason of a part pydicom cannot read, or that has no SOP Instance UID."""
STUDY_MISMATCH: Final = 0xA900
"""FailureReason of an instance whose Study Instance UID is not the one in the
request target (``POST .../studies/{StudyUID}``)."""
OUT_OF_RESOURCES: Final = 0xA700
PROCESSING_FAILURE: Final = 0x0110
INSTANCE_EXISTS: Final = 0xB00E
"""45070, what the Azure DICOM service answers for an instance it already holds;
use it with ``reject_duplicates``."""
COERCED: Final = 0xB000
"""A WarningReason: the stored instance's attributes were coerced."""

DICOM_JSON: Final = "application/dicom+json"
DICOM_XML: Final = "application/dicom+xml"
NATIVE_DICOM_NS: Final = "http://dicom.nema.org/PS3.19/models/NativeDICOM"

_CHUNK: Final = 1 << 20
"""Bytes read from the socket at a time: the most of a part held in memory at once."""
_MAX_PART_HEADERS: Final = 16 * 1024
_MAX_CHUNK_LINE: Final = 1024
_MAX_TRAILER_LINES: Final = 100
_LINGER_SECONDS: Final = 2.0
_ACCEPT_POLL: Final = 0.05
_RST: Final = struct.pack("ii", 1, 0)
"""SO_LINGER on, 0 s: close() sends RST instead of FIN."""

_UIDS: Final = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
_KEYWORDS: Final = {
    "00080016": "SOPClassUID",
    "00080018": "SOPInstanceUID",
    "00081150": "ReferencedSOPClassUID",
    "00081155": "ReferencedSOPInstanceUID",
    "00081190": "RetrieveURL",
    "00081196": "WarningReason",
    "00081197": "FailureReason",
    "00081198": "FailedSOPSequence",
    "00081199": "ReferencedSOPSequence",
    "0020000D": "StudyInstanceUID",
    "0020000E": "SeriesInstanceUID",
    "00201206": "NumberOfStudyRelatedSeries",
    "00201208": "NumberOfStudyRelatedInstances",
    "00201209": "NumberOfSeriesRelatedInstances",
}
_QIDO_KEYS: Final = {
    "study": ("StudyInstanceUID", "0020000D"),
    "series": ("SeriesInstanceUID", "0020000E"),
    "sop_instance": ("SOPInstanceUID", "00080018"),
    "sop_class": ("SOPClassUID", "00080016"),
}


# -- what tests script and read ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How the server answers one STOW request; the defaults: a good server.

    Statuses 2xx and 409 are "answered per instance": the parts are stored
    (except failed ones) and the body is the response data set. Any other
    status stores nothing (the parts are still read, hashed and counted,
    not written) and answers a short text/plain error.
    """

    status: int | None = None
    """HTTP status answered. None: what the outcome says, as a good server
    would: 200 when every instance was stored without warning, 202 when some
    failed or have warnings, 409 when all failed, 400 for a body without parts."""
    fail: Mapping[str, int] = field(default_factory=dict)
    """SOP Instance UID to FailureReason: in FailedSOPSequence, not stored."""
    fail_all: int | None = None
    """Every instance failed with this FailureReason (as in a 409)."""
    warn: Mapping[str, int] = field(default_factory=dict)
    """SOP Instance UID to WarningReason (``00081196`` in its referenced item); stored."""
    omit: frozenset[str] | set[str] = frozenset()
    """Instances silently left out of the response data set."""
    omit_stored: bool = True
    """Whether the omitted instances are stored all the same (a response that
    forgets some) or not (instances dropped without a word)."""
    retry_after: str | None = None
    """Value of a Retry-After header (with 429 or 503): seconds or an HTTP date."""
    delay: float = 0.0
    """Seconds to wait after the body is read, before answering (at most :data:`MAX_DELAY`)."""
    reset_after_bytes: int | None = None
    """Read this many body bytes, then reset the connection (RST) without answering."""
    answer_before_body: bool = False
    """Answer at once, before reading the body, then close the connection after a
    short lingering read, as a proxy does with a 413 (use with ``status``)."""
    body: bytes | None = None
    """Raw body to answer with instead of the usual one (say, a proxy's HTML page)."""
    content_type: str = "text/html; charset=utf-8"
    """Content-Type of ``body``."""
    close_connection: bool = False
    """Answer with ``Connection: close`` and close, instead of keeping the connection."""

    @property
    def answers_per_instance(self) -> bool:
        return self.status is None or 200 <= self.status < 300 or self.status == 409


@dataclass(frozen=True, slots=True)
class ReceivedInstance:
    """An instance the server stored (a STOW part it kept)."""

    sop_class_uid: str
    sop_instance_uid: str
    study_uid: str
    series_uid: str
    sha256: str
    """Hex digest of the part's bytes as received (the Part-10 file sent)."""
    size: int
    path: Path | None
    """The part's file; None with ``keep_files=False``. Files in the server's own
    temporary folder are gone after :meth:`StowServer.stop`."""


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request as received and what it was answered; credentials are not kept."""

    method: str
    path: str
    """The request target as sent, query included."""
    headers: dict[str, str]
    """Header names in lower case, without Authorization."""
    authorization: bool
    """Whether an Authorization header was present."""
    parts: int
    """Multipart parts read (0 for QIDO and for bodies not parsed)."""
    body_bytes: int
    """Body bytes read (after de-chunking)."""
    status: int | None
    """HTTP status answered; None when none was (reset, or the client went away)."""
    sop_instance_uids: tuple[str, ...] = ()
    """SOP Instance UID of every part read, stored or not: "" for a part that is
    not DICOM, and for every part of a request whose status stores nothing
    (those parts are hashed and counted, never written, so never read)."""
    behaviour: Behaviour | None = None
    """The behaviour that answered a STOW request."""


# -- the server --------------------------------------------------------------------------


class StowServer:
    """``with StowServer() as server:``, then POST to ``server.url + "/studies"``; see above.

    ``root`` is the path of the DICOMweb base (``/dicom-web``; ``/`` for none).
    ``store_dir`` receives one file per part (default: a temporary folder
    removed at :meth:`stop`); with ``keep_files=False`` each file is deleted
    as soon as its UIDs are read, for multi-gigabyte tests. ``timeout``
    bounds every socket read and write, including the wait for the next
    request on an idle keep-alive connection.

    The settings below are public attributes, read at each request, so a
    test may change them while the server runs:

    ``script`` and ``default``
        the :class:`Behaviour` of each STOW request;
    ``qido_status``
        when set, every QIDO request is answered with this status (404: a
        server without QIDO-RS);
    ``qido_no_content``
        an empty QIDO result is 204 without a body instead of 200 ``[]``;
    ``reject_duplicates``
        FailureReason for an instance already stored (None: store it again,
        as Orthanc does; :data:`INSTANCE_EXISTS`: as the Azure DICOM service);
    ``empty_sequences``
        include a ReferencedSOPSequence / FailedSOPSequence with no items
        instead of leaving it out (Orthanc includes them).
    """

    def __init__(
        self,
        root: str = "/dicom-web",
        ssl_context: ssl.SSLContext | None = None,
        users: Mapping[str, str] | None = None,
        token: str | None = None,
        store_dir: Path | None = None,
        *,
        keep_files: bool = True,
        timeout: float = 30.0,
    ) -> None:
        root = "/" + root.strip("/")
        self.root = "" if root == "/" else root
        self.ssl_context = ssl_context
        self.users: dict[str, str] | None = dict(users) if users is not None else None
        self.token = token
        self.keep_files = keep_files
        self.timeout = timeout
        """Seconds any one socket read or write may take."""
        self.script: list[Behaviour] = []
        self.default = Behaviour()
        self.qido_status: int | None = None
        self.qido_no_content = False
        self.reject_duplicates: int | None = None
        self.empty_sequences = False
        self._store_dir = store_dir
        self._own_dir: tempfile.TemporaryDirectory[str] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _HTTPServer | None = None
        self._accept_thread: threading.Thread | None = None
        self._handlers: dict[threading.Thread, socket.socket] = {}
        self._received: list[ReceivedInstance] = []
        self._requests: list[RecordedRequest] = []
        self._errors: list[str] = []
        self._connections = 0
        self._handshake_failures = 0

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> Self:
        """Listen on 127.0.0.1, a free port, and serve in daemon threads."""
        if self._server is not None:
            return self
        if self._store_dir is None:
            self._own_dir = tempfile.TemporaryDirectory(prefix="stow-server-")
            self._store_dir = Path(self._own_dir.name)
        self._store_dir.mkdir(parents=True, exist_ok=True)
        self._stopping.clear()
        self._server = _HTTPServer(self)
        self._accept_thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _ACCEPT_POLL},
            name=f"StowServer@{self.port} accept",
            daemon=True,
        )
        self._accept_thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, shut every open connection, join the threads; bounded by ``timeout``."""
        deadline = time.monotonic() + timeout
        self._stopping.set()
        server, self._server = self._server, None
        if server is None:
            return
        # The accept loop checks for shutdown every _ACCEPT_POLL s and does
        # nothing slow (handshakes run in the connections' threads).
        server.shutdown()
        server.server_close()
        if self._accept_thread is not None:
            self._accept_thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            handlers = dict(self._handlers)
        for sock in handlers.values():
            _shut(sock)
        for thread in handlers:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._own_dir is not None:
            with self._lock:
                busy = any(t.is_alive() for t in self._handlers)
            if not busy:
                self._own_dir.cleanup()
                self._own_dir = None
                self._store_dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- where ---------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("StowServer is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http(s)://127.0.0.1:PORT{root}``, the base a DICOMweb client is given."""
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{LOOPBACK}:{self.port}{self.root}"

    @property
    def store_dir(self) -> Path:
        if self._store_dir is None:
            raise RuntimeError("StowServer is not running")
        return self._store_dir

    # -- what happened -------------------------------------------------------------------

    @property
    def received(self) -> list[ReceivedInstance]:
        """Every instance stored, in the order received (a copy)."""
        with self._lock:
            return list(self._received)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request, recorded just before its answer went out (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def stow_requests(self) -> list[RecordedRequest]:
        """The STOW requests (POSTs) among :attr:`requests`."""
        return [r for r in self.requests if r.method == "POST"]

    @property
    def errors(self) -> list[str]:
        """Tracebacks of exceptions raised while serving (a server bug, or a test's)."""
        with self._lock:
            return list(self._errors)

    @property
    def connections(self) -> int:
        """Connections accepted so far."""
        with self._lock:
            return self._connections

    @property
    def handshake_failures(self) -> int:
        """TLS handshakes that failed (a client that does not trust the certificate)."""
        with self._lock:
            return self._handshake_failures

    def forget(self) -> None:
        """Drop every stored instance (QIDO then finds nothing); the files stay."""
        with self._lock:
            self._received.clear()

    # -- called by the HTTP machinery ----------------------------------------------------

    def _accepted(self) -> None:
        with self._lock:
            self._connections += 1

    def _track(self, thread: threading.Thread, sock: socket.socket) -> None:
        with self._lock:
            for done in [t for t in self._handlers if not t.is_alive() and t.ident is not None]:
                del self._handlers[done]
            self._handlers[thread] = sock

    def _note_handshake_failure(self) -> None:
        with self._lock:
            self._handshake_failures += 1

    def _note_error(self, text: str) -> None:
        with self._lock:
            self._errors.append(text)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_behaviour(self) -> Behaviour:
        with self._lock:
            return self.script.pop(0) if self.script else self.default

    def _serve(self, handler: _Handler) -> None:
        """Answer one request (in its connection's thread)."""
        exchange = _Exchange(self, handler)
        try:
            self._dispatch(exchange)
        except _ClientGone:
            exchange.record_once(None)
            handler.close_connection = True
        except _BadFraming as exc:
            # The body's own framing is broken: the next request cannot be found.
            handler.close_connection = True
            with contextlib.suppress(OSError):
                exchange.answer(400, _text(f"bad request body: {exc}"), close=True)
        except OSError:
            exchange.record_once(None)
            handler.close_connection = True
        except Exception:
            self._note_error(traceback.format_exc())
            with contextlib.suppress(OSError):
                if not exchange.answered:
                    exchange.answer(500, _text("internal error in StowServer"), close=True)
            handler.close_connection = True

    # -- routing -------------------------------------------------------------------------

    def _dispatch(self, exchange: _Exchange) -> None:
        path = exchange.target.path
        if path != self.root and not path.startswith(self.root + "/"):
            exchange.body.drain()
            exchange.answer(404, _text(f"nothing at {path}"))
            return
        segments = [unquote(s) for s in path[len(self.root) :].split("/") if s]
        if not self._authorised(exchange.handler.headers):
            exchange.body.drain()
            exchange.answer(401, _text("unauthorised"), headers=self._challenges())
            return
        method = exchange.method
        if method == "POST" and segments[:1] == ["studies"] and len(segments) <= 2:
            self._stow(exchange, segments[1] if len(segments) == 2 else None)
        elif method == "GET" and _qido_level(segments) is not None:
            self._qido(exchange, segments)
        elif method in ("GET", "POST"):
            exchange.body.drain()
            exchange.answer(404, _text(f"no {method} resource at {path}"))
        else:
            exchange.body.drain()
            exchange.answer(405, _text(f"{method} not allowed"), headers=[("Allow", "GET, POST")])

    def _authorised(self, headers: Message) -> bool:
        if self.users is None and self.token is None:
            return True
        scheme, _, credentials = str(headers.get("Authorization", "")).strip().partition(" ")
        credentials = credentials.strip()
        if self.users is not None and scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
            user, colon, password = decoded.partition(":")
            expected = self.users.get(user)
            return bool(colon) and expected is not None and _same(password, expected)
        if self.token is not None and scheme.lower() == "bearer":
            return _same(credentials, self.token)
        return False

    def _challenges(self) -> list[tuple[str, str]]:
        challenges = []
        if self.users is not None:
            challenges.append(("WWW-Authenticate", 'Basic realm="stow-server", charset="UTF-8"'))
        if self.token is not None:
            challenges.append(("WWW-Authenticate", 'Bearer realm="stow-server"'))
        return challenges

    # -- STOW-RS -------------------------------------------------------------------------

    def _stow(self, exchange: _Exchange, target_study: str | None) -> None:
        behaviour = self._next_behaviour()
        exchange.behaviour = behaviour
        status = behaviour.status
        if behaviour.reset_after_bytes is not None:
            exchange.body.drain(limit=behaviour.reset_after_bytes)
            exchange.reset()
            return
        if behaviour.answer_before_body:
            code = status if status is not None else 413
            exchange.answer(code, *self._error_body(behaviour, code), close=True)
            exchange.linger()
            return
        headers = exchange.handler.headers
        root_type = headers.get_param("type")
        if headers.get("Content-Type") is None or headers.get_content_type() != "multipart/related":
            exchange.body.drain()
            exchange.answer(415, _text("expected multipart/related"))
            return
        if not isinstance(root_type, str) or root_type.lower() != "application/dicom":
            exchange.body.drain()
            exchange.answer(415, _text('expected multipart/related; type="application/dicom"'))
            return
        boundary = headers.get_param("boundary")
        if not isinstance(boundary, str) or not boundary:
            exchange.body.drain()
            exchange.answer(400, _text("multipart/related without a boundary"))
            return

        store = behaviour.answers_per_instance
        sinks: list[_Sink] = []
        directory = self.store_dir if store else None
        try:
            _read_multipart(
                exchange.body, boundary.encode("latin-1"), lambda: _Sink(directory), sinks
            )
        except _BadMultipart as exc:
            _discard(sinks)
            exchange.body.drain()
            exchange.parts = len(sinks)
            exchange.answer(400, _text(f"bad multipart body: {exc}"))
            return
        except BaseException:
            _discard(sinks)
            raise
        exchange.parts = len(sinks)
        parts = [_Part.of(sink) for sink in sinks]
        exchange.sop_instance_uids = tuple(p.sop_instance_uid for p in parts)

        if not store:
            _discard(sinks)
            self._pause(behaviour.delay)
            if self._stopping.is_set():  # stopped while it waited: leave without an answer
                exchange.reset()
                return
            code = status if status is not None else 500
            exchange.answer(
                code, *self._error_body(behaviour, code), headers=self._retry_after(behaviour)
            )
            return

        referenced, failed = self._settle(parts, behaviour, target_study)
        if status is None:
            if not parts:
                status = 400
            elif all(p.failure is not None for p in parts):
                status = 409
            elif any(p.failure is not None or p.warning is not None for p in parts):
                status = 202
            else:
                status = 200
        self._pause(behaviour.delay)
        if self._stopping.is_set():
            exchange.reset()
            return
        extra = self._retry_after(behaviour)
        close = behaviour.close_connection
        if behaviour.body is not None:
            exchange.answer(status, behaviour.body, behaviour.content_type, extra, close=close)
        elif status == 204:
            exchange.answer(204, b"", headers=extra, close=close)
        elif not parts and behaviour.status is None:
            exchange.answer(400, _text("no parts in the multipart body"), close=close)
        else:
            response = self._stow_response(referenced, failed, target_study)
            if _wants_xml(str(exchange.handler.headers.get("Accept", ""))):
                body, content_type = _to_xml(response), DICOM_XML
            else:
                body, content_type = _to_json(response), DICOM_JSON
            exchange.answer(status, body, content_type, extra, close=close)

    def _settle(
        self, parts: list[_Part], behaviour: Behaviour, target_study: str | None
    ) -> tuple[list[_Part], list[_Part]]:
        """Decide each part's fate, store the kept ones; the parts to reference and to fail."""
        referenced: list[_Part] = []
        failed: list[_Part] = []
        for part in parts:
            uid = part.sop_instance_uid
            with self._lock:
                held = any(r.sop_instance_uid == uid for r in self._received)
            if behaviour.fail_all is not None:
                part.failure = behaviour.fail_all
            elif uid in behaviour.fail:
                part.failure = behaviour.fail[uid]
            elif not part.readable:
                part.failure = CANNOT_UNDERSTAND
            elif target_study is not None and part.study_uid != target_study:
                part.failure = STUDY_MISMATCH
            elif held and self.reject_duplicates is not None:
                part.failure = self.reject_duplicates
            if part.failure is None:
                part.warning = behaviour.warn.get(uid)
            omitted = uid in behaviour.omit
            if part.failure is None and (behaviour.omit_stored or not omitted):
                self._keep(part)
            else:
                part.sink.discard()
            if omitted:
                continue
            (referenced if part.failure is None else failed).append(part)
        return referenced, failed

    def _keep(self, part: _Part) -> None:
        path = part.sink.path
        if not self.keep_files:
            part.sink.discard()
            path = None
        instance = ReceivedInstance(
            part.sop_class_uid,
            part.sop_instance_uid,
            part.study_uid,
            part.series_uid,
            part.sink.sha256,
            part.sink.size,
            path,
        )
        with self._lock:
            self._received.append(instance)

    def _stow_response(
        self, referenced: list[_Part], failed: list[_Part], target_study: str | None
    ) -> list[_Attr]:
        attrs: list[_Attr] = []
        studies = {p.study_uid for p in referenced}
        study = target_study or (studies.pop() if len(studies) == 1 else None)
        if study and referenced:
            attrs.append(_Attr("00081190", "UR", (self._retrieve_url(study),)))
        items: list[tuple[_Attr, ...]] = []
        for part in failed:
            items.append(
                (
                    _Attr("00081150", "UI", _one(part.sop_class_uid)),
                    _Attr("00081155", "UI", _one(part.sop_instance_uid)),
                    _Attr("00081197", "US", (part.failure or 0,)),
                )
            )
        if items or self.empty_sequences:
            attrs.append(_Attr("00081198", "SQ", items=tuple(items)))
        items = []
        for part in referenced:
            item = [
                _Attr("00081150", "UI", _one(part.sop_class_uid)),
                _Attr("00081155", "UI", _one(part.sop_instance_uid)),
                _Attr("00081190", "UR", (self._retrieve_url(*part.uids),)),
            ]
            if part.warning is not None:
                item.append(_Attr("00081196", "US", (part.warning,)))
            items.append(tuple(item))
        if items or self.empty_sequences:
            attrs.append(_Attr("00081199", "SQ", items=tuple(items)))
        return attrs

    def _retrieve_url(self, study: str, series: str = "", instance: str = "") -> str:
        url = f"{self.url}/studies/{quote(study, safe='')}"
        if series:
            url += f"/series/{quote(series, safe='')}"
        if instance:
            url += f"/instances/{quote(instance, safe='')}"
        return url

    def _error_body(self, behaviour: Behaviour, status: int) -> tuple[bytes, str]:
        if behaviour.body is not None:
            return behaviour.body, behaviour.content_type
        return _text(f"{status} {_phrase(status)}"), "text/plain; charset=utf-8"

    @staticmethod
    def _retry_after(behaviour: Behaviour) -> list[tuple[str, str]]:
        return [("Retry-After", behaviour.retry_after)] if behaviour.retry_after else []

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(min(seconds, MAX_DELAY))

    # -- QIDO-RS -------------------------------------------------------------------------

    def _qido(self, exchange: _Exchange, segments: list[str]) -> None:
        exchange.body.drain()
        if self.qido_status is not None:
            code = self.qido_status
            exchange.answer(code, _text(f"{code} {_phrase(code)}"))
            return
        query = parse_qs(exchange.target.query, keep_blank_values=True)
        results = self._qido_results(segments, query)
        if not results and self.qido_no_content:
            exchange.answer(204, b"")
            return
        body = json.dumps([_json_dataset(r) for r in results]).encode()
        exchange.answer(200, body, DICOM_JSON)

    def _qido_results(
        self, segments: list[str], query: Mapping[str, list[str]]
    ) -> list[list[_Attr]]:
        """The QIDO-RS answer to ``{root}/{segments...}?{query}``, as attribute lists.

        Levels: ``studies``, ``studies/{st}/series``, ``series``,
        ``studies/{st}/series/{se}/instances``, ``studies/{st}/instances``,
        ``instances``. Matching on StudyInstanceUID, SeriesInstanceUID,
        SOPInstanceUID and SOPClassUID (by keyword or tag), single value or
        a list separated by commas or backslashes, ``*`` or empty universal;
        ``limit`` and ``offset`` apply; other keys are ignored. The latest
        copy of an instance stored twice counts once.
        """
        level = _qido_level(segments)
        if level is None:
            raise ValueError(f"not a QIDO-RS path: {'/'.join(segments)}")
        wanted = {k: _uid_filter(query, *keys) for k, keys in _QIDO_KEYS.items()}
        if len(segments) >= 2:
            wanted["study"] = {segments[1]}
        if len(segments) >= 4:
            wanted["series"] = {segments[3]}
        latest: dict[str, ReceivedInstance] = {}
        for instance in self.received:
            latest.pop(instance.sop_instance_uid, None)
            latest[instance.sop_instance_uid] = instance
        matching = [
            i
            for i in latest.values()
            if _matches(wanted["study"], i.study_uid)
            and _matches(wanted["series"], i.series_uid)
            and _matches(wanted["sop_instance"], i.sop_instance_uid)
            and _matches(wanted["sop_class"], i.sop_class_uid)
        ]
        results: list[list[_Attr]] = []
        if level == "instances":
            for i in matching:
                results.append(
                    [
                        _Attr("00080016", "UI", (i.sop_class_uid,)),
                        _Attr("00080018", "UI", (i.sop_instance_uid,)),
                        _Attr("00081190", "UR", (self._retrieve_url(*_uids(i)),)),
                        _Attr("0020000D", "UI", (i.study_uid,)),
                        _Attr("0020000E", "UI", (i.series_uid,)),
                    ]
                )
        elif level == "series":
            series: dict[tuple[str, str], int] = {}
            for i in matching:
                key = (i.study_uid, i.series_uid)
                series[key] = series.get(key, 0) + 1
            for (study_uid, series_uid), count in series.items():
                results.append(
                    [
                        _Attr("00081190", "UR", (self._retrieve_url(study_uid, series_uid),)),
                        _Attr("0020000D", "UI", (study_uid,)),
                        _Attr("0020000E", "UI", (series_uid,)),
                        _Attr("00201209", "IS", (count,)),
                    ]
                )
        else:
            studies: dict[str, set[str]] = {}
            counts: dict[str, int] = {}
            for i in matching:
                studies.setdefault(i.study_uid, set()).add(i.series_uid)
                counts[i.study_uid] = counts.get(i.study_uid, 0) + 1
            for study_uid, series_uids in studies.items():
                results.append(
                    [
                        _Attr("00081190", "UR", (self._retrieve_url(study_uid),)),
                        _Attr("0020000D", "UI", (study_uid,)),
                        _Attr("00201206", "IS", (len(series_uids),)),
                        _Attr("00201208", "IS", (counts[study_uid],)),
                    ]
                )
        offset = _int_param(query, "offset", 0)
        limit = _int_param(query, "limit", len(results))
        return results[offset : offset + max(0, limit)]


# -- HTTP machinery ----------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    """The listener: 127.0.0.1 only, named daemon threads the owner can shut and join."""

    daemon_threads = True

    def __init__(self, owner: StowServer) -> None:
        self.owner = owner
        super().__init__((LOOPBACK, 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind asks the resolver for a fully qualified name,
        # which can take seconds where reverse DNS is slow or absent.
        socketserver.TCPServer.server_bind(self)
        self.server_name = LOOPBACK
        self.server_port = int(self.server_address[1])

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        sock, address = self.socket.accept()
        self.owner._accepted()
        context = self.owner.ssl_context
        if context is not None:
            # The handshake runs later, in the connection's thread.
            sock = context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def process_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: object
    ) -> None:
        assert isinstance(request, socket.socket)
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"StowServer@{self.server_port} {client_address}",
            daemon=True,
        )
        self.owner._track(thread, request)
        thread.start()

    def handle_error(self, request: object, client_address: object) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError | ssl.SSLError):
            return  # the client's doing, not a server fault
        self.owner._note_error(traceback.format_exc())


class _Handler(BaseHTTPRequestHandler):
    """One connection: HTTP/1.1 requests, one after another, each handed to the owner."""

    protocol_version = "HTTP/1.1"
    server_version = "StowServer/1.0"
    disable_nagle_algorithm = True
    """Headers and body go out in two writes; with Nagle and delayed ACKs a
    keep-alive client would wait 40 ms for every answer."""
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.owner.timeout)

    def handle(self) -> None:
        if isinstance(self.connection, ssl.SSLSocket):
            try:
                self.connection.do_handshake()
            except (ssl.SSLError, OSError):
                self.server.owner._note_handshake_failure()
                self.close_connection = True
                return
        super().handle()

    def do_GET(self) -> None:
        self.server.owner._serve(self)

    do_POST = do_GET
    do_PUT = do_GET
    do_DELETE = do_GET

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read :attr:`StowServer.requests` instead of a log."""


class _ClientGone(Exception):
    """The connection ended, or a read timed out, before the body did."""


class _BadFraming(Exception):
    """The body's length or chunked framing is invalid: the connection cannot go on."""


class _BadMultipart(Exception):
    """The multipart body is malformed (its HTTP framing is intact)."""


class _Body:
    """The request body as a stream: Content-Length or chunked, counted as read."""

    def __init__(self, rfile: io.BufferedIOBase, headers: Message) -> None:
        self._rfile = rfile
        encoding = str(headers.get("Transfer-Encoding", "")).lower()
        self._chunked = encoding.rsplit(",", 1)[-1].strip() == "chunked"
        self._remaining = 0
        self._chunk_left = 0
        self._done = False
        self._error: str | None = None
        self.read_bytes = 0
        if encoding and not self._chunked:
            self._error = f"unsupported Transfer-Encoding {encoding!r}"
        elif not self._chunked:
            length = str(headers.get("Content-Length", "0")).strip()
            if not length.isdigit():
                self._error = f"bad Content-Length {length!r}"
            else:
                self._remaining = int(length)

    def read(self, limit: int = _CHUNK) -> bytes:
        """Up to ``limit`` bytes of the body; ``b""`` at its end."""
        if self._error is not None:
            raise _BadFraming(self._error)
        if self._done or limit <= 0:
            return b""
        if self._chunked:
            data = self._read_chunked(limit)
        elif self._remaining == 0:
            data = b""
        else:
            data = self._raw_read(min(limit, self._remaining))
            self._remaining -= len(data)
        if not data:
            self._done = True
        self.read_bytes += len(data)
        return data

    def drain(self, limit: int | None = None) -> None:
        """Read and discard the rest of the body (or up to ``limit`` bytes of the whole)."""
        while limit is None or self.read_bytes < limit:
            want = _CHUNK if limit is None else min(_CHUNK, limit - self.read_bytes)
            if not self.read(want):
                return

    def _raw_read(self, size: int) -> bytes:
        try:
            data = self._rfile.read(size)
        except (OSError, ValueError) as exc:  # ValueError: read from a closed file at stop
            raise _ClientGone(str(exc)) from exc
        if not data:
            raise _ClientGone("connection closed in the body")
        return data

    def _line(self) -> bytes:
        try:
            line = self._rfile.readline(_MAX_CHUNK_LINE)
        except (OSError, ValueError) as exc:
            raise _ClientGone(str(exc)) from exc
        if not line:
            raise _ClientGone("connection closed in the chunked framing")
        if not line.endswith(b"\n"):
            raise _BadFraming("chunked framing line too long")
        return line

    def _read_chunked(self, limit: int) -> bytes:
        if self._chunk_left == 0:
            size_field = self._line().split(b";", 1)[0].strip()
            try:
                size = int(size_field, 16)
            except ValueError:
                raise _BadFraming(f"bad chunk size {size_field[:20]!r}") from None
            if size == 0:
                for _ in range(_MAX_TRAILER_LINES):
                    if self._line() in (b"\r\n", b"\n"):
                        return b""
                raise _BadFraming("too many trailer lines")
            self._chunk_left = size
        data = self._raw_read(min(limit, self._chunk_left))
        self._chunk_left -= len(data)
        if self._chunk_left == 0 and self._line().strip():
            raise _BadFraming("chunk not followed by CRLF")
        return data


class _Exchange:
    """One request and its answer, as the connection's thread sees it."""

    def __init__(self, owner: StowServer, handler: _Handler) -> None:
        self.owner = owner
        self.handler = handler
        self.method = handler.command
        self.target = urlsplit(handler.path)
        self.body = _Body(handler.rfile, handler.headers)
        self.parts = 0
        self.sop_instance_uids: tuple[str, ...] = ()
        self.behaviour: Behaviour | None = None
        self.answered = False
        self._recorded = False

    def record_once(self, status: int | None) -> None:
        if self._recorded:
            return
        self._recorded = True
        headers: dict[str, str] = {}
        for name, value in self.handler.headers.items():
            key = name.lower()
            if key != "authorization":
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
        self.owner._record(
            RecordedRequest(
                method=self.method,
                path=self.handler.path,
                headers=headers,
                authorization="Authorization" in self.handler.headers,
                parts=self.parts,
                body_bytes=self.body.read_bytes,
                status=status,
                sop_instance_uids=self.sop_instance_uids,
                behaviour=self.behaviour,
            )
        )

    def answer(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        headers: Iterable[tuple[str, str]] = (),
        *,
        close: bool = False,
    ) -> None:
        """Send the answer; recorded first, so a test that has the answer sees the record."""
        self.record_once(status)
        self.answered = True
        handler = self.handler
        handler.send_response(status)
        if status != 204:
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            handler.send_header(name, value)
        if close:
            handler.send_header("Connection", "close")  # also sets close_connection
        handler.end_headers()
        if body and status != 204:
            handler.wfile.write(body)

    def reset(self) -> None:
        """Close the connection with RST, answering nothing."""
        self.record_once(None)
        handler = self.handler
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RST)
        with contextlib.suppress(OSError):
            handler.rfile.close()  # drops makefile's reference, so close() really closes
        with contextlib.suppress(OSError):
            handler.connection.close()

    def linger(self) -> None:
        """After an early answer: half-close, read what the client still sends (bounded), close.

        Closing at once with unread bytes would reset the connection and could
        destroy the answer before the client reads it (as nginx's lingering close avoids).
        """
        handler = self.handler
        handler.close_connection = True
        sock = handler.connection
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_WR)
        deadline = time.monotonic() + _LINGER_SECONDS
        with contextlib.suppress(OSError, ValueError):
            sock.settimeout(0.25)
            while time.monotonic() < deadline and not self.owner._stopping.is_set():
                try:
                    if not handler.rfile.read1(_CHUNK):
                        return
                except TimeoutError:
                    continue


# -- multipart, streaming ----------------------------------------------------------------


class _Sink:
    """Where one part's bytes go: a file (or nowhere), hashed and counted on the way."""

    def __init__(self, directory: Path | None) -> None:
        self._hash = hashlib.sha256()
        self.size = 0
        self.path: Path | None = None
        self._file: BinaryIO | None = None
        if directory is not None:
            fd, name = tempfile.mkstemp(prefix="part-", suffix=".dcm", dir=directory)
            self.path = Path(name)
            self._file = os.fdopen(fd, "wb")

    def write(self, data: bytes | bytearray) -> None:
        self._hash.update(data)
        self.size += len(data)
        if self._file is not None:
            self._file.write(data)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def discard(self) -> None:
        self.close()
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            self.path = None

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


def _discard(sinks: list[_Sink]) -> None:
    for sink in sinks:
        sink.discard()


def _read_multipart(
    body: _Body, boundary: bytes, new_sink: Callable[[], _Sink], sinks: list[_Sink]
) -> None:
    """Stream each part of ``body`` into a new sink (appended to ``sinks`` at once).

    At most one read (:data:`_CHUNK`) plus a delimiter's length is buffered.
    The body is read to its end (epilogue included) on success.
    """
    delimiter = b"\r\n--" + boundary
    keep = len(delimiter) + 1
    buffer = bytearray(b"\r\n")  # so that a delimiter at the very start matches too

    def fill() -> bool:
        data = body.read()
        buffer.extend(data)
        return bool(data)

    def need(count: int) -> None:
        while len(buffer) < count:
            if not fill():
                raise _BadMultipart("body ends inside a delimiter")

    def copy_to_delimiter(sink: _Sink | None, what: str) -> None:
        while True:
            at = buffer.find(delimiter)
            if at >= 0:
                if sink is not None and at:
                    sink.write(buffer[:at])
                del buffer[: at + len(delimiter)]
                return
            if len(buffer) > keep:
                if sink is not None:
                    sink.write(buffer[:-keep])
                del buffer[:-keep]
            if not fill():
                raise _BadMultipart(f"body ends in {what}, before the next delimiter")

    copy_to_delimiter(None, "the preamble")
    while True:
        need(2)
        if buffer[:2] == b"--":
            body.drain()  # the epilogue
            return
        while (end := buffer.find(b"\r\n")) < 0:  # transport padding, then CRLF
            if len(buffer) > 1024 or not fill():
                raise _BadMultipart("no CRLF after a delimiter")
        del buffer[: end + 2]
        need(2)
        if buffer[:2] == b"\r\n":
            del buffer[:2]  # no part headers
        else:
            while (end := buffer.find(b"\r\n\r\n")) < 0:
                if len(buffer) > _MAX_PART_HEADERS or not fill():
                    raise _BadMultipart("part headers too long or not ended")
            del buffer[: end + 4]
        sink = new_sink()
        sinks.append(sink)
        copy_to_delimiter(sink, "a part")
        sink.close()


@dataclass(slots=True, eq=False)
class _Part:
    """A part read, its UIDs and its fate."""

    sink: _Sink
    readable: bool
    sop_class_uid: str = ""
    sop_instance_uid: str = ""
    study_uid: str = ""
    series_uid: str = ""
    failure: int | None = None
    warning: int | None = None

    @classmethod
    def of(cls, sink: _Sink) -> _Part:
        """Read the UIDs of a stored part; a part not written to a file has none."""
        if sink.path is None:
            return cls(sink, readable=False)
        try:
            ds = dcmread(
                sink.path, stop_before_pixels=True, defer_size=1024, specific_tags=list(_UIDS)
            )
            uids = [str(ds.get(keyword, "") or "") for keyword in _UIDS]
        except Exception:  # pydicom raises many kinds on a part that is not DICOM
            return cls(sink, readable=False)
        sop_class, sop_instance, study, series = uids
        return cls(sink, bool(sop_instance), sop_class, sop_instance, study, series)

    @property
    def uids(self) -> tuple[str, str, str]:
        return self.study_uid, self.series_uid, self.sop_instance_uid


# -- DICOM JSON and XML ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Attr:
    """One attribute of a data set to answer: tag, VR, values (or, for SQ, items)."""

    tag: str
    vr: str
    values: tuple[str | int, ...] = ()
    items: tuple[tuple[_Attr, ...], ...] = ()


def _json_dataset(attrs: Iterable[_Attr]) -> dict[str, object]:
    """PS3.18 F.2: ``{"TTTTTTTT": {"vr": VR, "Value": [...]}}``, attributes in tag order."""
    dataset: dict[str, object] = {}
    for attr in sorted(attrs, key=lambda a: a.tag):
        element: dict[str, object] = {"vr": attr.vr}
        if attr.vr == "SQ":
            if attr.items:
                element["Value"] = [_json_dataset(item) for item in attr.items]
        elif attr.values:
            element["Value"] = list(attr.values)
        dataset[attr.tag] = element
    return dataset


def _to_json(attrs: list[_Attr]) -> bytes:
    return json.dumps(_json_dataset(attrs)).encode()


def _to_xml(attrs: list[_Attr]) -> bytes:
    """PS3.19 Native DICOM Model: ``<NativeDicomModel><DicomAttribute tag= vr= keyword=>``."""
    root = ET.Element("NativeDicomModel", {"xmlns": NATIVE_DICOM_NS, "xml:space": "preserve"})
    _xml_into(root, attrs)
    text = ET.tostring(root, encoding="unicode")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + text.encode()


def _xml_into(parent: ET.Element, attrs: Iterable[_Attr]) -> None:
    for attr in sorted(attrs, key=lambda a: a.tag):
        element = ET.SubElement(parent, "DicomAttribute", {"tag": attr.tag, "vr": attr.vr})
        if attr.tag in _KEYWORDS:
            element.set("keyword", _KEYWORDS[attr.tag])
        if attr.vr == "SQ":
            for number, item in enumerate(attr.items, start=1):
                _xml_into(ET.SubElement(element, "Item", {"number": str(number)}), item)
        else:
            for number, value in enumerate(attr.values, start=1):
                ET.SubElement(element, "Value", {"number": str(number)}).text = str(value)


def _wants_xml(accept: str) -> bool:
    """True when the Accept header asks for the XML response only.

    ``multipart/related; type="application/dicom+xml"`` (PS3.18 before 2018)
    counts as XML.
    """
    types = set()
    for item in accept.split(","):
        media, *params = (p.strip() for p in item.split(";"))
        media = media.lower()
        if media == "multipart/related":
            for param in params:
                name, _, value = param.partition("=")
                if name.strip().lower() == "type":
                    media = value.strip().strip('"').lower()
        if media:
            types.add(media)
    return types == {DICOM_XML}


# -- small helpers -----------------------------------------------------------------------


def _qido_level(segments: list[str]) -> str | None:
    shapes = {
        ("studies",): "studies",
        ("studies", "", "series"): "series",
        ("series",): "series",
        ("studies", "", "series", "", "instances"): "instances",
        ("studies", "", "instances"): "instances",
        ("instances",): "instances",
    }
    shape = tuple("" if n % 2 else s for n, s in enumerate(segments))
    return shapes.get(shape)


def _uid_filter(query: Mapping[str, list[str]], keyword: str, tag: str) -> set[str] | None:
    """The UIDs a query key asks for; None: any (absent, empty or ``*``)."""
    values = [v for key in (keyword, tag, tag.lower()) for v in query.get(key, [])]
    uids = {u.strip() for v in values for u in v.replace("\\", ",").split(",") if u.strip()}
    return None if not uids or "*" in uids else uids


def _matches(wanted: set[str] | None, value: str) -> bool:
    return wanted is None or value in wanted


def _int_param(query: Mapping[str, list[str]], name: str, default: int) -> int:
    values = query.get(name)
    if not values or not values[0].strip().isdigit():
        return default
    return int(values[0])


def _uids(instance: ReceivedInstance) -> tuple[str, str, str]:
    return instance.study_uid, instance.series_uid, instance.sop_instance_uid


def _one(value: str) -> tuple[str, ...]:
    return (value,) if value else ()


def _same(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode(), expected.encode())


def _text(message: str) -> bytes:
    return (message + "\n").encode()


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _shut(sock: socket.socket) -> None:
    """Wake a thread blocked on ``sock``; the plain socket's shutdown, even under TLS."""
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
