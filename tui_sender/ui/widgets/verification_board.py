"""The dashboard's verification lines: one per verified destination.

A destination whose address-book entry says ``verify = "commitment"`` or
``"find"`` is asked, after the session's last file, to prove it holds what
it stored. Its line is there from the start ("after the send"), so the
dashboard keeps its layout when the phase begins; it then follows the
session's ``Verification*`` events: the requests asked and answered, and at
the end what was proven and what was not. The line is built from events
only: the screen feeds them in, this widget never asks the archive anything.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rich.style import Style

from tui_sender.core.base import wording
from tui_sender.core.engine.targets import TransferTarget
from tui_sender.core.model.events import (
    VerificationFinished,
    VerificationProgress,
    VerificationStarted,
)
from tui_sender.core.model.verification import VerifyMethod
from tui_sender.ui.widgets.status_lines import Line, StatusLines
from tui_sender.ui.widgets.worker_board import BOLD, DIM, EDGE

DOUBTFUL = ("commit-failed", "missing", "unconfirmed")
"""Verified values that mean "not proven"."""
METHOD_WORDS = {"commitment": "storage commitment", "find": "C-FIND"}
SHORT_METHOD_WORDS = {"commitment": "commitment", "find": "C-FIND"}
"""The methods on the dashboard's lines, where 80 columns hold little."""
WEB_METHOD_WORDS = {"find": "QIDO-RS"}
"""A DICOMweb destination's "find" is a QIDO-RS query of each series, not a C-FIND."""


def method_words(method: str, *, web: bool = False, short: bool = False) -> str:
    """A verification method in words, as the destination's kind does it."""
    if web and method in WEB_METHOD_WORDS:
        return WEB_METHOD_WORDS[method]
    return (SHORT_METHOD_WORDS if short else METHOD_WORDS).get(method, method)


VerificationEvent = VerificationStarted | VerificationProgress | VerificationFinished
VERIFICATION_EVENTS = (VerificationStarted, VerificationProgress, VerificationFinished)


def verification_level(event: VerificationEvent) -> int:
    """The log level of a verification event's line (as the session log words it)."""
    if isinstance(event, VerificationFinished):
        if event.error:
            return logging.ERROR
        return logging.WARNING if any(event.counts.get(v, 0) for v in DOUBTFUL) else logging.INFO
    return logging.DEBUG if isinstance(event, VerificationProgress) else logging.INFO


@dataclass(slots=True)
class VerificationPhase:
    """What the dashboard knows of one destination's verification, from its events."""

    destination: str
    method: str
    timeout: float
    """Seconds the session waits for commitment reports after the last request."""
    instances: int = 0
    asked: int = 0
    answered: int = 0
    total: int = 0
    started_at: float | None = None
    """The screen's clock when VerificationStarted arrived (None: not started)."""
    finished: VerificationFinished | None = None
    not_run: str = ""
    """Why it never started (nothing stored, cancelled), once the session ended."""
    web: bool = False
    """A DICOMweb destination: "find" is worded as QIDO-RS."""

    @property
    def running(self) -> bool:
        """True between VerificationStarted and VerificationFinished."""
        return self.started_at is not None and self.finished is None

    def take(self, event: VerificationEvent, now: float) -> None:
        """Follow one of this destination's verification events (``now``: the screen's clock)."""
        if isinstance(event, VerificationStarted):
            self.method, self.instances, self.started_at = event.method, event.instances, now
        elif isinstance(event, VerificationProgress):
            self.asked, self.answered, self.total = event.asked, event.answered, event.total
        else:
            if self.started_at is None:
                self.started_at = now
            self.finished = event

    def state(self) -> str:
        """One word for the state column, as the worker lines have."""
        if self.finished is not None:
            if self.finished.error:
                return "failed"
            doubtful = sum(self.finished.counts.get(v, 0) for v in DOUBTFUL)
            return "not proven" if doubtful else "verified"
        if self.started_at is not None:
            return "verifying"
        return "not run" if self.not_run else "after send"

    def detail(self, now: float) -> str:
        """What the phase is doing or concluded, in words, after the method.

        Short enough for an 80-column terminal: the numbers come first, and the
        log pane has the long form of the start and the end.
        """
        how = method_words(self.method, web=self.web, short=True)
        if self.finished is not None:
            f = self.finished
            if f.error:
                return f"{how}: {f.error}"
            return f"{how}: {wording.verification_result(f.counts, f.method)} · {f.seconds:.1f} s"
        if self.started_at is None:
            return self.not_run or f"{method_words(self.method, web=self.web)} after the last file"
        elapsed = f"{max(0.0, now - self.started_at):.0f} s"
        things = wording.count(self.instances, "instance", "instances")
        if not self.total:
            step = "asking the archive"
        elif self.method == VerifyMethod.COMMITMENT:
            step = f"{self.asked}/{self.total} asked, {self.answered}/{self.total} answered"
            if self.asked >= self.total and self.answered < self.total:
                # All asked: how long it has waited (of how long) matters more than the count.
                return f"{how}: {step} · waiting {elapsed} of {self.timeout:.0f} s"
        else:
            step = f"series {self.answered}/{self.total} queried"
        return f"{how}: {step} · {elapsed} · {things}"

    def line(self, now: float, styles: Mapping[str, Style]) -> Line:
        """The phase as styled runs, in the worker lines' columns."""
        state = self.state()
        style = {
            "verifying": styles.get("accent"),
            "verified": styles.get("success"),
            "not proven": styles.get("warning"),
            "failed": styles.get("error"),
        }.get(state, DIM)
        return (
            (EDGE, styles.get("primary")),
            (f"{self.destination} ", BOLD),
            (f"{state:<10} ", style),
            (self.detail(now), None if self.started_at is not None else DIM),
        )


class VerificationBoard(StatusLines):
    """Every verified destination's line in one widget (no line: no destination verifies)."""

    DEFAULT_CSS = """
    VerificationBoard {
        padding: 0 1;
    }
    """

    def __init__(self, targets: Iterable[TransferTarget], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.phases = {
            t.name: VerificationPhase(
                t.name, t.verify.method.value, t.verify.timeout, web=t.web is not None
            )
            for t in targets
            if t.verify.method is not VerifyMethod.NONE
        }
        self.display = bool(self.phases)

    @property
    def running(self) -> bool:
        """True while some destination is being verified."""
        return any(p.running for p in self.phases.values())

    def _phase(self, destination: str, method: str) -> VerificationPhase:
        phase = self.phases.get(destination)
        if phase is None:  # a destination verified without being a target (never, today)
            phase = self.phases[destination] = VerificationPhase(destination, method, 0.0)
            self.display = True
        return phase

    def session_ended(self, cancelled: bool) -> None:
        """Say why a destination that was to be verified never was."""
        for phase in self.phases.values():
            if phase.started_at is None:
                phase.not_run = (
                    "cancelled: not verified" if cancelled else "nothing stored to verify"
                )

    def take(self, event: VerificationEvent, now: float) -> None:
        """Follow one of the session's verification events."""
        self._phase(event.destination, event.method).take(event, now)

    def tick(self, now: float, styles: Mapping[str, Style]) -> None:
        """Redraw (a repaint only when a line changed; the elapsed seconds change once a s)."""
        self.show([phase.line(now, styles) for phase in self.phases.values()])
