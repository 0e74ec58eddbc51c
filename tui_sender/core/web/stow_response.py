"""What a STOW-RS server answered, instance by instance (PS3.18 10.5.3).

The response body is a data set: ReferencedSOPSequence (0008,1199) lists
the instances the server stored (with a WarningReason when it changed
something), FailedSOPSequence (0008,1198) those it refused, with a
FailureReason. The HTTP status alone says only "all", "some" or "none"
(200, 202, 409), so the sender reads this body to give each file its own
state, in the same status codes a C-STORE answers (words for them come from
:func:`tui_sender.core.dicom.status.classify`).

Servers disagree on the wrapping more than on the content: DICOM JSON
(PS3.18 F.2) or Native DICOM Model XML (PS3.19), sometimes a JSON array
around the object, sometimes a ``multipart/related`` around the XML, often
an empty body, and Orthanc answers a 400 with no Content-Type at all. All
of those are read here, with the standard library only. A body that is none
of them (a proxy's HTML error page, a server's own error object) raises
:class:`StowResponseError` saying what came instead, because guessing an
outcome for files from a body we cannot read would be worse than saying so.

An instance that appears in neither sequence is not mentioned by the server
at all: Orthanc, for one, leaves a part it cannot parse out of both (it has
no UIDs to report), so :meth:`StowResponse.result_for` answers ``None`` and
the caller decides from the HTTP status.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

from tui_sender.core.dicom.status import classify

REFERENCED_SOP_SEQUENCE = "00081199"
FAILED_SOP_SEQUENCE = "00081198"
OTHER_FAILURES_SEQUENCE = "0008119A"
SOP_CLASS_UID = "00081150"
SOP_INSTANCE_UID = "00081155"
RETRIEVE_URL = "00081190"
WARNING_REASON = "00081196"
FAILURE_REASON = "00081197"

PROCESSING_FAILURE = 0x0110
"""The status of a failed instance whose server gave no (or a zero) FailureReason."""

_JSON_TYPES = frozenset({"application/dicom+json", "application/json"})
_XML_TYPES = frozenset({"application/dicom+xml", "application/xml", "text/xml"})
_SNIFFED_TYPES = frozenset({"", "application/octet-stream", "text/plain"})
"""Types that say nothing about the format: the first byte decides (Orthanc's 400 has none)."""

_TAG = re.compile(r"[0-9A-Fa-f]{8}")
_PARAM = re.compile(r';\s*([^\s;=]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_SNIPPET = 80


@dataclass(frozen=True, slots=True)
class StowInstanceResult:
    """One instance as the server reported it, in C-STORE status terms."""

    sop_class_uid: str
    sop_instance_uid: str
    status: int
    """0x0000 stored; the WarningReason when one is given (0xB000, ...); the FailureReason
    of a failed one (0xA700, 0xC000, 0x0122, ...), 0x0110 when it gave none."""
    retrieve_url: str = ""


@dataclass(frozen=True, slots=True)
class StowResponse:
    """The whole answer to one STOW-RS request."""

    referenced: tuple[StowInstanceResult, ...]
    """Stored, perhaps with a warning."""
    failed: tuple[StowInstanceResult, ...]
    retrieve_url: str = ""
    """Where the study can be retrieved, when the server says."""
    other_failures: tuple[str, ...] = ()
    """Failures not tied to an instance (OtherFailuresSequence), one line each."""

    def result_for(self, sop_instance_uid: str) -> StowInstanceResult | None:
        """The server's word on one instance; ``None`` when it did not mention it.

        A failure wins over a success for an instance listed in both: a
        server that says both has not kept it in a state we can rely on.
        A linear search: a request holds a batch, not a whole session.
        """
        for result in (*self.failed, *self.referenced):
            if result.sop_instance_uid == sop_instance_uid:
                return result
        return None


_EMPTY = StowResponse((), ())


class StowResponseError(ValueError):
    """The body is not a STOW-RS response we can read.

    The message says what it was: the content type and the first bytes.
    """


class _Unreadable(Exception):
    """Why a body cannot be read, before the content type and first bytes are added."""


_Scalar: TypeAlias = str | int | float | None


@dataclass(frozen=True, slots=True)
class _Element:
    """One attribute of either encoding: its values, or its items when it is a sequence."""

    values: tuple[_Scalar, ...] = ()
    items: tuple[_Item, ...] = ()


_Item: TypeAlias = dict[str, _Element]
"""Attributes by upper-case tag ("00081199")."""


def parse_stow_response(body: bytes, content_type: str) -> StowResponse:
    """Read a STOW-RS response body; ``content_type`` is the response's Content-Type header.

    Raises :class:`StowResponseError` when the body is not a STOW-RS
    response in any encoding we know.
    """
    try:
        return _parse(body, content_type, in_multipart=False)
    except _Unreadable as exc:
        raise StowResponseError(_message(str(exc), body, content_type)) from None
    except RecursionError:
        raise StowResponseError(_message("nested too deeply", body, content_type)) from None


def _message(what: str, body: bytes, content_type: str) -> str:
    shown = content_type.strip() or "none"
    return (
        f"not a STOW-RS response: {what} (Content-Type {shown}; "
        f"{len(body)} bytes starting {_snippet(body)!r})"
    )


def _snippet(body: bytes) -> str:
    """The first printable characters, white space folded, so a message shows what came."""
    text = body[: _SNIPPET * 8].decode("utf-8", "replace")
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= _SNIPPET else text[:_SNIPPET] + "..."


def _media_type(content_type: str) -> tuple[str, dict[str, str]]:
    """The lower-case media type and its parameters (names lower-case, quotes removed)."""
    media = content_type.split(";", 1)[0].strip().lower()
    params: dict[str, str] = {}
    for name, value in _PARAM.findall(content_type):
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[name.lower()] = value
    return media, params


def _parse(body: bytes, content_type: str, *, in_multipart: bool) -> StowResponse:
    if not body.strip():
        return _EMPTY  # 200 or 204 with nothing to say: the HTTP status is the answer
    media, params = _media_type(content_type)
    if media in _JSON_TYPES or media.endswith("+json"):
        return _from_json(body)
    if media in _XML_TYPES or media.endswith("+xml"):
        return _from_xml(body)
    if media == "multipart/related" and not in_multipart:
        return _from_multipart(body, params)
    if media == "text/html" or (media in _SNIFFED_TYPES and _looks_html(body)):
        raise _Unreadable(_html_words(body))
    if media in _SNIFFED_TYPES:
        first = body.lstrip()[:1]
        if first in (b"{", b"["):
            return _from_json(body)
        if first == b"<":
            return _from_xml(body)
        raise _Unreadable("neither JSON nor XML")
    raise _Unreadable(f"a {media} body, not DICOM JSON or XML")


def _looks_html(body: bytes) -> bool:
    head = body.lstrip()[:64].lower()
    return head.startswith((b"<!doctype html", b"<html"))


def _html_words(body: bytes) -> str:
    title = _TITLE.search(body[:4096])
    if title is None:
        return "an HTML page"
    words = " ".join(title.group(1).decode("utf-8", "replace").split())
    return f"an HTML page titled {words!r}" if words else "an HTML page"


# -- multipart/related --------------------------------------------------------


def _from_multipart(body: bytes, params: dict[str, str]) -> StowResponse:
    """The first part with content, read by its own Content-Type (or the ``type`` parameter)."""
    boundary = params.get("boundary", "")
    if not boundary:
        raise _Unreadable("a multipart/related body without a boundary")
    default_type = params.get("type", "")
    for headers, content in _parts(body, boundary):
        if content.strip():
            return _parse(content, headers.get("content-type", default_type), in_multipart=True)
    return _EMPTY


def _parts(body: bytes, boundary: str) -> Iterable[tuple[dict[str, str], bytes]]:
    pieces = body.split(b"--" + boundary.encode("latin-1"))
    if len(pieces) < 2:
        raise _Unreadable(f"a multipart/related body without its boundary {boundary!r}")
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            return  # the close delimiter
        piece = piece.partition(b"\n")[2]  # the rest of the delimiter line
        if piece.endswith(b"\r\n"):
            piece = piece[:-2]  # the line break belongs to the next delimiter
        elif piece.endswith(b"\n"):
            piece = piece[:-1]
        if piece.startswith((b"\r\n", b"\n")):
            yield {}, piece.partition(b"\n")[2]
            continue
        end = _HEADER_END.search(piece)
        if end is None:
            raise _Unreadable("a multipart/related part without a blank line after its headers")
        headers: dict[str, str] = {}
        for line in piece[: end.start()].decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        yield headers, piece[end.end() :]


# -- DICOM JSON (PS3.18 F.2) ----------------------------------------------------


def _from_json(body: bytes) -> StowResponse:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise _Unreadable(f"not valid JSON ({exc})") from None
    objects = document if isinstance(document, list) else [document]
    if not all(isinstance(obj, dict) for obj in objects):
        raise _Unreadable("JSON that is neither an object nor an array of objects")
    for obj in objects:
        if obj and not any(isinstance(key, str) and _TAG.fullmatch(key) for key in obj):
            keys = ", ".join(str(key) for key in list(obj)[:4])
            raise _Unreadable(f"a JSON object without DICOM attributes (keys {keys})")
    return _merge([_response(_json_item(obj)) for obj in objects])


def _json_item(obj: object) -> _Item:
    if not isinstance(obj, dict):
        raise _Unreadable("a sequence item that is not a JSON object")
    item: _Item = {}
    for key, attribute in obj.items():
        if not isinstance(key, str) or not _TAG.fullmatch(key):
            continue
        if not isinstance(attribute, dict):
            raise _Unreadable(f"attribute {key} is not a JSON object")
        raw = attribute.get("Value")
        if raw is None:
            raw = []  # {"vr": "SQ"} is an empty sequence, {"vr": "UI"} an empty value
        if not isinstance(raw, list):
            raise _Unreadable(f"the Value of attribute {key} is not a list")
        vr = attribute.get("vr")
        if vr == "SQ" or (vr is None and raw and all(isinstance(v, dict) for v in raw)):
            items = tuple(_json_item(value) for value in raw if value is not None)
            item[key.upper()] = _Element(items=items)
        else:
            item[key.upper()] = _Element(values=tuple(_json_scalar(value) for value in raw))
    return item


def _json_scalar(value: object) -> _Scalar:
    """Strings and numbers as they are; anything else (a PN object, a bool) as no value."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str | int | float):
        return value
    return None


# -- Native DICOM Model XML (PS3.19) ---------------------------------------------


def _from_xml(body: bytes) -> StowResponse:
    if b"<!ENTITY" in body:
        # A response has no business declaring entities; refusing them keeps
        # an expanding one (the "billion laughs") out of the parser.
        raise _Unreadable("XML that declares entities")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise _Unreadable(f"not well-formed XML ({exc})") from None
    name = _local(root.tag)
    if name != "NativeDicomModel":
        raise _Unreadable(f"an XML document whose root is <{name}>, not <NativeDicomModel>")
    return _response(_xml_item(root))


def _local(tag: str) -> str:
    """An element's name without its namespace (``{http://...NativeDICOM}Item`` -> ``Item``)."""
    return tag.rpartition("}")[2]


def _xml_item(element: ET.Element) -> _Item:
    item: _Item = {}
    for attribute in element:
        if _local(attribute.tag) != "DicomAttribute":
            continue
        tag = attribute.get("tag", "")
        if not _TAG.fullmatch(tag):
            continue
        children = list(attribute)
        if attribute.get("vr") == "SQ" or any(_local(c.tag) == "Item" for c in children):
            # Only the Items: Orthanc writes a stray empty <Value number="n"/> after each.
            items = tuple(_xml_item(c) for c in _numbered(children, "Item"))
            item[tag.upper()] = _Element(items=items)
        else:
            values = tuple((c.text or "").strip() for c in _numbered(children, "Value"))
            item[tag.upper()] = _Element(values=values)
    return item


def _numbered(children: list[ET.Element], name: str) -> list[ET.Element]:
    """The children called ``name``, by their ``number`` (in document order if unnumbered)."""
    found = [c for c in children if _local(c.tag) == name]
    numbers = [c.get("number", "") for c in found]
    if all(n.isdigit() for n in numbers):
        ordered = sorted(zip(map(int, numbers), found, strict=True), key=lambda pair: pair[0])
        return [c for _, c in ordered]
    return found


# -- the response's content, whichever the encoding --------------------------------


def _response(top: _Item) -> StowResponse:
    other = top.get(OTHER_FAILURES_SEQUENCE)
    return StowResponse(
        referenced=_results(top, REFERENCED_SOP_SEQUENCE, failed=False),
        failed=_results(top, FAILED_SOP_SEQUENCE, failed=True),
        retrieve_url=_text(top, RETRIEVE_URL),
        other_failures=tuple(_other_failure(i) for i in other.items) if other else (),
    )


def _merge(responses: list[StowResponse]) -> StowResponse:
    """One response from several objects (a JSON array): some servers send one per instance."""
    if len(responses) == 1:
        return responses[0]
    return StowResponse(
        referenced=tuple(r for response in responses for r in response.referenced),
        failed=tuple(r for response in responses for r in response.failed),
        retrieve_url=next((r.retrieve_url for r in responses if r.retrieve_url), ""),
        other_failures=tuple(o for response in responses for o in response.other_failures),
    )


def _results(top: _Item, sequence: str, *, failed: bool) -> tuple[StowInstanceResult, ...]:
    element = top.get(sequence)
    if element is None:
        return ()
    results = []
    for item in element.items:
        if failed:
            # A failed instance never reads as stored, whatever reason it was given.
            status = _code(item, FAILURE_REASON) or PROCESSING_FAILURE
        else:
            status = _code(item, WARNING_REASON) or 0x0000
        results.append(
            StowInstanceResult(
                sop_class_uid=_text(item, SOP_CLASS_UID),
                sop_instance_uid=_text(item, SOP_INSTANCE_UID),
                status=status,
                retrieve_url=_text(item, RETRIEVE_URL),
            )
        )
    return tuple(results)


def _other_failure(item: _Item) -> str:
    """One OtherFailuresSequence item as a line: its reason's words, then any text it carries."""
    words = []
    reason = _code(item, FAILURE_REASON)
    if reason is not None:
        words.append(classify(reason).meaning)
    for tag in sorted(item):
        if tag != FAILURE_REASON:
            words.extend(
                str(v).strip() for v in item[tag].values if v is not None and str(v).strip()
            )
    return ": ".join(words) or "a failure the server did not describe"


def _value(item: _Item, tag: str) -> _Scalar:
    element = item.get(tag)
    return element.values[0] if element is not None and element.values else None


def _text(item: _Item, tag: str) -> str:
    value = _value(item, tag)
    return "" if value is None else str(value).strip()


def _code(item: _Item, tag: str) -> int | None:
    """A US status value: a JSON number, or the decimal (or 0x hex) text of XML and lax servers."""
    value = _value(item, tag)
    if value is None:
        return None
    code: int | None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            code = int(text, 16) if text[:2].lower() == "0x" else int(text)
        except ValueError:
            code = None
    elif isinstance(value, float):
        code = int(value) if value.is_integer() else None
    else:
        code = value
    if code is None or not 0 <= code <= 0xFFFF:
        raise _Unreadable(f"a status ({tag[:4]},{tag[4:]}) of {value!r}, not a 16-bit number")
    return code
