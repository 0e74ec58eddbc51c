"""One way in: a request (inputs, selection, destinations, options, resume) becomes a plan
and the session that runs it.

``tui-sender send``, the app's confirmation screen and ``--resume`` (headless
or from the app) all come through :func:`prepare_send`, so they build the
same targets, skip the same already-stored files, write the same journal
header (which makes any of them resumable) and show the same plan.
:func:`prepare_scan_send` is the same way in for a ``send`` that scans while
it sends: the same targets and record, the plan made a chunk at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_sender.core.base.private_files import prepare_logs_dir
from tui_sender.core.config.destinations import Destination
from tui_sender.core.engine.plan import SendPlan, make_plan
from tui_sender.core.engine.scan_feed import ScanFeed
from tui_sender.core.engine.session import Session, SessionOptions
from tui_sender.core.engine.targets import (
    RetryPolicy,
    tls_context,
    transfer_target,
    web_settings,
)
from tui_sender.core.model.catalog import Catalog, Instance
from tui_sender.core.record.resume import request_header
from tui_sender.core.record.stored_index import StoredIndex


@dataclass(frozen=True)
class SendRequest:
    """What the user asked for, however they asked (flags, keys, a journal)."""

    inputs: tuple[str, ...]
    """The folders and files scanned, recorded so ``--resume`` can scan them again."""
    recursive: bool
    destinations: tuple[Destination, ...]
    from_book: frozenset[str] = frozenset()
    """Names of the destinations taken from the address book (resume prefers its entry)."""
    instances: Sequence[Instance] | None = None
    """The selection; None: every instance of the catalog."""
    study_uids: Sequence[str] | None = None
    """For the journal header: the studies asked for (None: everything)."""
    series_uids: Sequence[str] | None = None
    retry: RetryPolicy | None = None
    logs_dir: Path = Path("logs")
    include_phi: bool = False
    skip_stored: bool = True
    """Skip instances a destination already holds (off: ``--force``)."""
    resumed_from: str = ""
    processes: int = 1
    """Worker processes per destination (1: threads of this process)."""
    configuration: Mapping[str, Any] = field(default_factory=dict)
    """Settings to copy into the summary (never secrets)."""


@dataclass(frozen=True)
class PreparedSend:
    """A plan a person can read, and the session that will carry it out."""

    plan: SendPlan
    session: Session


def check_destinations(request: SendRequest) -> None:
    """Load every destination's TLS files (and a DICOMweb one's password or token) now, so a
    wrong path fails before a long scan.

    Raises :class:`~tui_sender.core.engine.targets.DestinationSetupError`.
    """
    for destination in request.destinations:
        if destination.is_web:
            web_settings(destination)
        else:
            tls_context(destination)


def prepare_send(
    request: SendRequest, catalog: Catalog, index: StoredIndex | None = None
) -> PreparedSend:
    """Build the targets, plan the send and make its session (nothing is sent yet).

    Raises :class:`~tui_sender.core.engine.targets.TlsSetupError` when a
    destination's TLS files cannot be read: before anything starts.
    """
    targets = [transfer_target(d, request.retry) for d in request.destinations]
    instances = (
        list(request.instances)
        if request.instances is not None
        else [i for s in catalog.studies.values() for i in s.instances()]
    )
    plan = make_plan(
        instances,
        catalog.skipped,
        targets,
        index=index,
        skip_stored=request.skip_stored,
        logs_dir=prepare_logs_dir(request.logs_dir) if index is not None else None,
    )
    session = Session(catalog, targets, plan=plan, options=_options(request, index))
    return PreparedSend(plan, session)


def prepare_scan_send(request: SendRequest, index: StoredIndex | None = None) -> Session:
    """The session for a send that scans ``request.inputs`` itself while it sends them all.

    Raises :class:`~tui_sender.core.engine.targets.TlsSetupError` as :func:`prepare_send`.
    """
    if request.instances is not None:
        raise ValueError("a send that scans as it goes sends everything it finds")
    targets = [transfer_target(d, request.retry) for d in request.destinations]
    feed = ScanFeed(request.inputs, request.recursive)
    return Session(Catalog(), targets, options=_options(request, index), feed=feed)


def _options(request: SendRequest, index: StoredIndex | None) -> SessionOptions:
    """How the session records itself: the same for every way in."""
    return SessionOptions(
        logs_dir=request.logs_dir,
        include_phi=request.include_phi,
        configuration=request.configuration,
        request=request_header(
            request.inputs,
            request.recursive,
            [(d, d.name in request.from_book) for d in request.destinations],
            request.study_uids,
            request.series_uids,
        ),
        index=index,
        skip_stored=request.skip_stored,
        resumed_from=request.resumed_from,
        processes=request.processes,
    )
