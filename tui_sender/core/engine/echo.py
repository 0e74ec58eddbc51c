"""Testing a destination before sending: C-ECHO, and what it will accept.

:func:`echo` answers "can we talk to this PACS at all, and how fast?";
:func:`probe` answers "which of my (SOP class, transfer syntax) pairs will it
take?", so the TUI can show rejections before a send starts rather than as
failed files afterwards.

Both associate exactly as a send does: :func:`~tui_sender.core.net.opening.open_link`
with the settings and TLS context of :func:`~tui_sender.core.engine.targets.link_settings`,
and the contexts of :func:`~tui_sender.core.dicom.negotiation.contexts_for_class`.
So an echo that works means the send's association will work too, and every
failure is the send path's :class:`~tui_sender.core.net.failures.AssociationError`:
one :class:`~tui_sender.core.net.failures.FailureKind` and one sentence that says what
to check, whether the CLI, the TUI or the session log shows it. Nothing here
prints or logs secrets; every wait is bounded by the destination's timeouts
(optionally capped by ``timeout``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from pynetdicom.status import code_to_category

from tui_sender.core.base.deferred_imports import IMPORT_LOCK
from tui_sender.core.config.destinations import Destination
from tui_sender.core.dicom import registry
from tui_sender.core.dicom.negotiation import FALLBACKS, UNCOMPRESSED_LE, contexts_for_class
from tui_sender.core.engine.targets import (
    DestinationSetupError,
    TlsSetupError,
    link_settings,
    web_settings,
)
from tui_sender.core.model.events import ContextResult
from tui_sender.core.net import wire
from tui_sender.core.net.endpoint import LinkSettings
from tui_sender.core.net.failures import AssociationError, FailureKind, LinkBroken
from tui_sender.core.net.link import Link
from tui_sender.core.net.opening import MAX_CONTEXTS, ProposedContext, open_link
from tui_sender.core.web.settings import WebSettings

__all__ = [
    "AssociationError",
    "EchoResult",
    "FailureKind",
    "PairVerdict",
    "ProbeResult",
    "echo",
    "plan_probe",
    "probe",
]

VERIFICATION_CONTEXTS = tuple(
    ProposedContext(wire.VERIFICATION_SOP_CLASS, syntax) for syntax in FALLBACKS
)
"""Verification in both uncompressed little endian syntaxes: a peer takes at least one."""


@dataclass(frozen=True, slots=True)
class EchoResult:
    """The outcome of one C-ECHO: timings on success, a failure otherwise."""

    destination: str
    peer: str
    """``AE@host:port``."""
    failure: AssociationError | None = None
    """Why it failed: the same error (kind, message, retryable) a send would report."""
    status: int | None = None
    """The C-ECHO response status (0x0000 on success)."""
    associate_ms: float | None = None
    """TCP connect (plus TLS) and association negotiation, in milliseconds."""
    echo_ms: float | None = None
    """C-ECHO request to response, in milliseconds."""
    release_ms: float | None = None
    """Association release request to reply, in milliseconds (None: it had to be aborted)."""
    peer_max_pdu: int | None = None
    """The peer's maximum PDU length (0: unlimited)."""
    peer_implementation: str = ""
    """The peer's implementation version name and class UID, when it sent them."""
    web: bool = False
    """A DICOMweb echo: ``associate_ms`` is connecting plus the first QIDO-RS request,
    ``echo_ms`` a second request on the same connection, ``release_ms`` closing it."""

    @property
    def ok(self) -> bool:
        """True when the destination answered the C-ECHO with success."""
        return self.failure is None

    @property
    def reason(self) -> str:
        """Why it failed ("" on success)."""
        return "" if self.failure is None else self.failure.message


@dataclass(frozen=True, slots=True)
class PairVerdict:
    """What the destination said about one (SOP class, transfer syntax) pair."""

    sop_class_uid: str
    transfer_syntax_uid: str
    accepted: bool
    """The pair's own syntax was accepted: files can go as they are."""
    chosen_transfer_syntax: str
    """The syntax a file of this pair would travel in: its own when accepted, else an
    accepted uncompressed fallback for the SOP class (needs conversion), else ""."""
    result: str
    """The answer to the pair's own context in words ("Accepted", "Abstract Syntax Not
    Supported", ...), "not proposed: ..." for a syntax that cannot go on the network, or
    "not probed: ..." when its association failed."""

    @property
    def sop_class_accepted(self) -> bool:
        """True when the destination takes this SOP class in some syntax."""
        return bool(self.chosen_transfer_syntax)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What a destination accepts, pair by pair, over one or more probe associations."""

    destination: str
    peer: str
    verdicts: tuple[PairVerdict, ...]
    contexts: tuple[ContextResult, ...] = ()
    """Every proposed context as answered (IDs restart at 1 in each association)."""
    associations: int = 0
    """Probe associations that were negotiated (an all-rejected answer counts)."""
    failure: AssociationError | None = None
    """Set when an association could not be negotiated; later pairs are then not probed."""

    @property
    def ok(self) -> bool:
        """True when every pair got an answer (accepted or rejected)."""
        return self.failure is None

    def verdict(self, sop_class_uid: str, transfer_syntax_uid: str) -> PairVerdict | None:
        """The verdict for one pair, if it was asked about."""
        for v in self.verdicts:
            if (v.sop_class_uid, v.transfer_syntax_uid) == (sop_class_uid, transfer_syntax_uid):
                return v
        return None


def _settings(destination: Destination, timeout: float | None) -> LinkSettings:
    """The send path's settings for ``destination``, or the :class:`AssociationError` why not."""
    problems = destination.validate()
    if problems:
        raise AssociationError(FailureKind.INVALID_DESTINATION, "; ".join(problems))
    try:
        return link_settings(destination, timeout_cap=timeout)
    except DestinationSetupError as exc:
        raise AssociationError(
            FailureKind.TLS,
            f"{exc}: check ca_file, client_cert, client_key and the key password of "
            f"{destination.name!r}",
        ) from exc


def _milliseconds_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _release(link: Link) -> float | None:
    """Release (bounded by the ACSE timeout, else aborted); its duration when released."""
    started = time.perf_counter()
    return _milliseconds_since(started) if link.release() else None


def echo(destination: Destination, *, timeout: float | None = None) -> EchoResult:
    """Associate with Verification, send one C-ECHO, release; time each step.

    ``timeout`` caps every single wait (connect, association, response,
    release) below the destination's own timeouts; None uses them as they are.
    Never raises for network trouble: ``failure`` says what went wrong.
    """
    if destination.is_web:
        return _web_echo(destination, timeout)
    result = EchoResult(destination=destination.name, peer=destination.peer_label)
    try:
        settings = _settings(destination, timeout)
        started = time.perf_counter()
        link = open_link(settings, VERIFICATION_CONTEXTS)
    except AssociationError as exc:
        return replace(result, failure=_without_verification(exc, destination))
    result = replace(
        result,
        associate_ms=_milliseconds_since(started),
        peer_max_pdu=link.peer_max_pdu,
        peer_implementation=link.peer_implementation,
    )
    try:
        started = time.perf_counter()
        status = link.echo()
        echo_ms = _milliseconds_since(started)
    except LinkBroken as exc:
        failure = AssociationError(
            exc.kind, f"{destination.peer_label} associated, but the C-ECHO failed: {exc}"
        )
        return replace(result, failure=failure)
    except BaseException:
        link.abort()
        raise
    result = replace(result, status=status, echo_ms=echo_ms, release_ms=_release(link))
    if status != 0x0000:
        failure = AssociationError(
            FailureKind.BAD_STATUS,
            f"{destination.peer_label} answered the C-ECHO with status 0x{status:04X} "
            f"({code_to_category(status)}) instead of success",
        )
        return replace(result, failure=failure)
    return result


def _web_settings(destination: Destination, timeout: float | None) -> WebSettings:
    """The send path's DICOMweb settings, or the :class:`AssociationError` why not."""
    problems = destination.validate()
    if problems:
        raise AssociationError(FailureKind.INVALID_DESTINATION, "; ".join(problems))
    try:
        return web_settings(destination, timeout_cap=timeout)
    except TlsSetupError as exc:
        raise AssociationError(FailureKind.TLS, str(exc)) from exc
    except DestinationSetupError as exc:
        raise AssociationError(FailureKind.INVALID_DESTINATION, str(exc)) from exc


def _web_echo(destination: Destination, timeout: float | None) -> EchoResult:
    """The DICOMweb echo: a QIDO-RS query for one study, twice on one connection.

    The first answer times connecting (TCP, TLS) and the first request as
    ``associate_ms``; the second, on the kept-alive connection, is the round
    trip alone (``echo_ms``). A wrong password or URL fails as a send would.
    """
    with IMPORT_LOCK:  # httpx is for DICOMweb only
        from tui_sender.core.web.client import WebClient
        from tui_sender.core.web.stow import probe as web_probe

    result = EchoResult(destination=destination.name, peer=destination.peer_label, web=True)
    try:
        client = WebClient(_web_settings(destination, timeout))
    except AssociationError as exc:
        return replace(result, failure=exc)
    try:
        started = time.perf_counter()
        web_probe(client)
        result = replace(result, associate_ms=_milliseconds_since(started))
        started = time.perf_counter()
        status = web_probe(client)
        result = replace(result, echo_ms=_milliseconds_since(started), status=0x0000)
    except AssociationError as exc:
        return replace(result, failure=exc)
    finally:
        started = time.perf_counter()
        client.close()
    return replace(
        result,
        release_ms=_milliseconds_since(started),
        peer_implementation=f"{client.server or 'HTTP server'}; QIDO-RS answered HTTP {status}",
    )


def _web_pairs(
    destination: Destination, wanted: Sequence[tuple[str, str]], timeout: float | None
) -> ProbeResult:
    """STOW-RS has no negotiation: once the server answers us, every pair goes as it is."""
    with IMPORT_LOCK:  # httpx is for DICOMweb only
        from tui_sender.core.web.client import WebClient
        from tui_sender.core.web.stow import probe as web_probe

    failure: AssociationError | None = None
    try:
        client = WebClient(_web_settings(destination, timeout))
        try:
            web_probe(client)
        finally:
            client.close()
    except AssociationError as exc:
        failure = exc
    note = "STOW-RS: no negotiation; the server answers for each instance"
    verdicts = tuple(
        PairVerdict(
            s,
            t,
            failure is None,
            t if failure is None else "",
            note if failure is None else f"not probed: {failure.message}",
        )
        for s, t in wanted
    )
    return ProbeResult(
        destination=destination.name,
        peer=destination.peer_label,
        verdicts=verdicts,
        associations=0 if failure else 1,
        failure=failure,
    )


def _without_verification(exc: AssociationError, destination: Destination) -> AssociationError:
    """Say what an all-rejected Verification proposal means for the admin."""
    if exc.kind is not FailureKind.NO_CONTEXTS:
        return exc
    return AssociationError(
        FailureKind.NO_CONTEXTS,
        f"{destination.peer_label} accepted the association but not the Verification service: "
        "it does not support C-ECHO (a C-STORE may still work)",
        exc.contexts,
    )


def plan_probe(pairs: Iterable[tuple[str, str]]) -> list[tuple[ProposedContext, ...]]:
    """The contexts that ask about ``pairs``, in associations of at most 128 contexts.

    Exactly what a send would propose for files of these pairs
    (:func:`~tui_sender.core.dicom.negotiation.contexts_for_class`: each syntax its
    own context, plus Explicit and Implicit VR Little Endian per SOP class).
    A SOP class's contexts stay in one association, so its fallbacks answer
    for its pairs there, unless they alone exceed the limit: then each part
    carries the fallbacks again.
    """
    by_class: dict[str, list[str]] = {}
    for sop_class, syntax in dict.fromkeys((str(s), str(t)) for s, t in pairs):
        by_class.setdefault(sop_class, []).append(syntax)

    groups: list[list[ProposedContext]] = []
    for sop_class, syntaxes in by_class.items():
        contexts = contexts_for_class(sop_class, syntaxes)
        fallbacks = [c for c in contexts if c.transfer_syntax_uid in UNCOMPRESSED_LE]
        own = [c for c in contexts if c.transfer_syntax_uid not in UNCOMPRESSED_LE]
        per_group = MAX_CONTEXTS - len(fallbacks)
        for start in range(0, max(len(own), 1), per_group):
            groups.append([*own[start : start + per_group], *fallbacks])

    batches: list[list[ProposedContext]] = []
    for group in groups:
        if batches and len(batches[-1]) + len(group) <= MAX_CONTEXTS:
            batches[-1].extend(group)
        else:
            batches.append(list(group))
    return [tuple(batch) for batch in batches]


def probe(
    destination: Destination,
    pairs: Iterable[tuple[str, str]],
    *,
    timeout: float | None = None,
) -> ProbeResult:
    """Ask the destination which (SOP class UID, transfer syntax UID) pairs it accepts.

    Proposes the contexts of :func:`plan_probe`, one association per batch,
    reads the answers and releases; no data is sent. A peer that accepts none
    of a batch's contexts is an answer (all rejected), not a failure. When an
    association fails, the remaining pairs are reported as not probed and
    ``failure`` says why.
    """
    wanted = list(dict.fromkeys((str(s), str(t)) for s, t in pairs))
    if destination.is_web:
        return _web_pairs(destination, wanted, timeout)
    contexts: list[ContextResult] = []
    answered: set[tuple[str, str]] = set()
    associations = 0
    failure: AssociationError | None = None
    batches = plan_probe(wanted)
    try:
        settings = _settings(destination, timeout)
    except AssociationError as exc:
        failure, batches = exc, []
    for batch in batches:
        try:
            link = open_link(settings, batch)
        except AssociationError as exc:
            if exc.kind is not FailureKind.NO_CONTEXTS:
                failure = exc
                break
            found = exc.contexts
        else:
            found = link.contexts
            link.release()
        associations += 1
        contexts += found
        answered.update((c.sop_class_uid, c.transfer_syntax_uid) for c in batch)
    return ProbeResult(
        destination=destination.name,
        peer=destination.peer_label,
        verdicts=_verdicts(wanted, contexts, answered, failure),
        contexts=tuple(contexts),
        associations=associations,
        failure=failure,
    )


def _verdicts(
    pairs: Sequence[tuple[str, str]],
    contexts: Sequence[ContextResult],
    answered: set[tuple[str, str]],
    failure: AssociationError | None,
) -> tuple[PairVerdict, ...]:
    """One verdict per pair, in the order asked, from the peer's answers to the contexts."""
    results: dict[tuple[str, str], ContextResult] = {}
    for context in contexts:
        key = (context.sop_class_uid, context.transfer_syntax_uid)
        if key not in results or context.accepted:
            results[key] = context
    verdicts = []
    for sop_class, syntax in pairs:
        fallbacks = [ts for ts in FALLBACKS if _accepted(results.get((sop_class, ts)))]
        own = results.get((sop_class, syntax))
        if own is not None:
            chosen = syntax if own.accepted else (fallbacks[0] if fallbacks else "")
            verdicts.append(PairVerdict(sop_class, syntax, own.accepted, chosen, own.result))
        elif (sop_class, FALLBACKS[0]) in answered:
            why = f"not proposed: {registry.transfer_syntax_name(syntax)} cannot go on the network"
            chosen = fallbacks[0] if fallbacks else ""
            verdicts.append(PairVerdict(sop_class, syntax, False, chosen, why))
        else:
            why = f"not probed: {failure.kind.value}" if failure is not None else "not probed"
            verdicts.append(PairVerdict(sop_class, syntax, False, "", why))
    return tuple(verdicts)


def _accepted(context: ContextResult | None) -> bool:
    return context is not None and context.accepted
