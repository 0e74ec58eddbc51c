"""The echo test of one destination, and the report of what it answered.

The test is a C-ECHO (can we talk to it, how fast?) and, when studies are
selected, a probe of their (SOP class, transfer syntax) pairs (what will it
take?). Both go over the network and may wait out the destination's
timeouts, so they run in a thread worker owned by this widget, which posts
the results back as messages. Closing the report removes the widget: the
thread's later messages are then dropped, and the thread ends at its
(capped) timeouts.

What would happen to each pair's files is decided by the engine's own
router (:func:`tui_sender.core.dicom.negotiation.choose_route`), so the report and
a real send never disagree.

A DICOMweb destination is tested by a QIDO-RS query, twice on one
connection (see :func:`tui_sender.core.engine.echo.echo`), and the report
says so; it has nothing to negotiate (STOW-RS takes or refuses each instance
as it is sent), so its pairs are not probed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from textual import work
from textual.app import ComposeResult
from textual.containers import Grid, VerticalScroll
from textual.message import Message
from textual.widgets import LoadingIndicator, Static
from textual.worker import Worker, WorkerState, get_current_worker

from tui_sender.core.config.destinations import DecompressPolicy, Destination
from tui_sender.core.dicom import registry
from tui_sender.core.dicom.negotiation import Conversion, NoRoute, choose_route
from tui_sender.core.engine.echo import EchoResult, FailureKind, ProbeResult, echo, probe
from tui_sender.core.model.catalog import Instance

ECHO_WAIT_CAP = 15.0
"""Seconds any single wait of the test may take (connect, associate, answer, release),
whatever the destination's own timeouts say: an echo slower than this has failed anyway,
and a hung peer must not keep the app from quitting for minutes (exit waits for threads)."""


def worth_probing(result: EchoResult) -> bool:
    """True when the echo's association worked, so asking about SOP classes makes sense.

    That includes a PACS that refused only the Verification service: it may still store.
    """
    if result.failure is None or result.associate_ms is not None:
        return True
    return result.failure.kind is FailureKind.NO_CONTEXTS


@dataclass(frozen=True, slots=True)
class SelectedPair:
    """One (SOP class, transfer syntax) pair of the selected files, and how many files have it."""

    sop_class_uid: str
    transfer_syntax_uid: str
    files: int
    sample: Instance
    """One of those files: the router decides by the pair, and wants an instance."""


def selected_pairs(instances: Iterable[Instance]) -> list[SelectedPair]:
    """The distinct pairs of ``instances``, by SOP class name then syntax name."""
    counts: dict[tuple[str, str], int] = {}
    samples: dict[tuple[str, str], Instance] = {}
    for instance in instances:
        key = (instance.sop_class_uid, instance.transfer_syntax_uid)
        counts[key] = counts.get(key, 0) + 1
        samples.setdefault(key, instance)
    pairs = [SelectedPair(sop, ts, counts[(sop, ts)], samples[(sop, ts)]) for sop, ts in counts]
    return sorted(
        pairs,
        key=lambda p: (
            registry.sop_class_name(p.sop_class_uid),
            registry.transfer_syntax_name(p.transfer_syntax_uid),
        ),
    )


@dataclass(frozen=True, slots=True)
class PairRow:
    """One line of the probe table, in words."""

    sop_class: str
    transfer_syntax: str
    files: int
    answer: str
    """What the destination said and what a send would do with these files."""
    state: str
    """``ok`` (sent as they are), ``converted``, ``fails`` or ``unknown`` (not probed)."""


def pair_rows(
    pairs: Sequence[SelectedPair], result: ProbeResult, policy: DecompressPolicy
) -> list[PairRow]:
    """The probe's verdicts as table rows, each saying what a send would do with the files.

    Rows that fail come first, then conversions, then the rest (each group in the order of
    ``pairs``).
    """
    accepted = {
        (c.sop_class_uid, c.transfer_syntax_uid): c.context_id
        for c in result.contexts
        if c.accepted
    }
    rows: list[PairRow] = []
    for pair in pairs:
        answer = result.verdict(pair.sop_class_uid, pair.transfer_syntax_uid)
        sop = registry.sop_class_name(pair.sop_class_uid)
        syntax = registry.transfer_syntax_name(pair.transfer_syntax_uid)
        if answer is None or answer.result.startswith("not probed"):
            why = answer.result if answer is not None else "not asked"
            rows.append(PairRow(sop, syntax, pair.files, f"? {why}", "unknown"))
            continue
        route = choose_route(pair.sample, accepted, result.contexts, policy)
        if isinstance(route, NoRoute):
            # A rejected SOP class says it all in the peer's words; a refused conversion
            # needs the engine's reason (which policy forbids it).
            said = (
                f"✗ would fail: {route.reason}"
                if answer.sop_class_accepted
                else f"✗ rejected ({answer.result}): would fail"
            )
            rows.append(PairRow(sop, syntax, pair.files, said, "fails"))
        elif route.conversion is Conversion.NONE:
            rows.append(PairRow(sop, syntax, pair.files, "✓ accepted: sent as they are", "ok"))
        else:
            verb = "decompressed" if route.conversion is Conversion.DECOMPRESS else "re-encoded"
            target = registry.transfer_syntax_name(route.transfer_syntax_uid)
            said = f"! {answer.result}: {verb} to {target} when sent"
            rows.append(PairRow(sop, syntax, pair.files, said, "converted"))
    return sorted(rows, key=lambda r: _STATE_ORDER[r.state])


_STATE_ORDER = {"fails": 0, "converted": 1, "unknown": 2, "ok": 3}
"""Problems first: on a small terminal the rows that need attention must not hide below."""


def sign_in_words(destination: Destination) -> str:
    """How a DICOMweb destination signs us in, naming where the secret is read (never it)."""
    d = destination
    if d.token_env or d.token_file:
        return f"bearer token from {f'${d.token_env}' if d.token_env else d.token_file}"
    if d.username:
        where = f"${d.password_env}" if d.password_env else d.password_file or "?"
        return f"Basic as {d.username} (password from {where})"
    return "no sign-in"


WEB_NO_NEGOTIATION = (
    "DICOMweb has nothing to negotiate: the server takes or refuses each file as it is sent "
    "(STOW-RS), whatever its SOP class and transfer syntax."
)


def web_echo_lines(result: EchoResult, destination: Destination) -> tuple[str, str]:
    """The verdict line and the detail lines of a DICOMweb echo (a QIDO-RS query, twice)."""
    if not result.ok:
        said = f"signing in: {sign_in_words(destination)}"
        if result.failure is not None and result.failure.kind is FailureKind.REJECTED_PERMANENT:
            said += " · check the user name, the password (or token) and the URL"
        return f"✗ DICOMweb test failed: {result.reason}", said
    verdict = f"✓ The DICOMweb server answered: QIDO-RS round trip {_ms(result.echo_ms)}"
    details = [
        f"connect + first QIDO-RS request: {_ms(result.associate_ms)}",
        f"QIDO-RS round trip: {_ms(result.echo_ms)}",
    ]
    if result.peer_implementation:
        details.append(f"server: {result.peer_implementation}")
    return verdict, "\n".join(details)


def echo_lines(result: EchoResult) -> tuple[str, str]:
    """The verdict line and the detail line of an echo."""
    if not result.ok:
        return f"✗ Echo failed: {result.reason}", ""
    echo_ms = _ms(result.echo_ms)
    verdict = f"✓ Echo answered: round trip {echo_ms}"
    details = [
        f"associate {_ms(result.associate_ms)}, echo {echo_ms}, release {_ms(result.release_ms)}"
    ]
    if result.peer_max_pdu is not None:
        pdu = "unlimited" if result.peer_max_pdu == 0 else f"{result.peer_max_pdu:,} bytes"
        details.append(f"peer max PDU {pdu}")
    if result.peer_implementation:
        details.append(result.peer_implementation)
    return verdict, "; ".join(details)


def probe_summary(rows: Sequence[PairRow], result: ProbeResult) -> tuple[str, str]:
    """One line over the table, and its state (for the colour)."""
    files = sum(r.files for r in rows)
    failing = sum(r.files for r in rows if r.state == "fails")
    converted = sum(r.files for r in rows if r.state == "converted")
    if result.failure is not None:
        return f"✗ Probe failed: {result.failure}", "fails"
    if failing:
        return (
            f"✗ {failing} of {files} selected files would fail at this destination"
            + (f"; {converted} would be converted" if converted else ""),
            "fails",
        )
    if converted:
        return f"! All {files} selected files can go; {converted} would be converted", "converted"
    return f"✓ All {files} selected files can go as they are", "ok"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} ms"


class EchoReport(VerticalScroll):
    """Runs the echo test of ``destination`` (and the probe of ``pairs``) and shows the answers."""

    DEFAULT_CSS = """
    EchoReport {
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    EchoReport LoadingIndicator {
        height: 1;
        color: $primary;
    }
    EchoReport .report-muted, EchoReport #probe-table .-head {
        color: $text-muted;
    }
    EchoReport #probe-table .-head {
        text-style: bold;
    }
    EchoReport .-ok { color: $success; }
    EchoReport .-converted { color: $warning; }
    EchoReport .-fails { color: $error; }
    EchoReport .-unknown { color: $text-muted; }
    EchoReport #probe-title {
        margin-top: 1;
    }
    EchoReport #probe-table {
        grid-size: 4;
        grid-columns: 3fr 3fr 6 4fr;
        grid-rows: auto;
        grid-gutter: 0 1;
        height: auto;
        margin-top: 1;
    }
    EchoReport #probe-table .files {
        text-align: right;
    }
    """

    class EchoAnswered(Message):
        """The C-ECHO came back (or failed)."""

        def __init__(self, run: int, result: EchoResult) -> None:
            super().__init__()
            self.run = run
            """Which run of the test: a repeated test must not show an older run's answer."""
            self.result = result

    class ProbeAnswered(Message):
        """The destination answered which pairs it accepts (or the probe failed)."""

        def __init__(self, run: int, result: ProbeResult) -> None:
            super().__init__()
            self.run = run
            """Which run of the test (see :class:`EchoAnswered`)."""
            self.result = result

    def __init__(
        self, destination: Destination, pairs: Sequence[SelectedPair], *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.destination = destination
        self.pairs = tuple(pairs)
        self.echo_result: EchoResult | None = None
        self.probe_result: ProbeResult | None = None
        self.rows: list[PairRow] = []
        """The probe table as shown (empty until the probe answered)."""
        self.run = 0
        """Counts the runs; answers of an earlier run are ignored."""

    @property
    def web(self) -> bool:
        """True when the destination is DICOMweb (tested by QIDO-RS, nothing to probe)."""
        return self.destination.is_web

    def compose(self) -> ComposeResult:
        d = self.destination
        yield Static(
            f"{d.peer_label}  DICOMweb · {sign_in_words(d)}"
            if self.web
            else f"{d.peer_label}  as {d.calling_ae}",
            id="echo-peer",
            classes="report-muted",
            markup=False,
        )
        yield LoadingIndicator(id="echo-loading")
        yield Static("", id="echo-verdict", markup=False)
        yield Static("", id="echo-details", classes="report-muted", markup=False)
        yield Static("", id="probe-title", markup=False)
        yield Grid(id="probe-table")

    def on_mount(self) -> None:
        self.run_test()

    def run_test(self) -> None:
        """Start (or restart) the test; earlier answers are cleared."""
        self.echo_result = None
        self.probe_result = None
        self.rows = []
        self.query_one("#echo-loading").display = True
        self._set(
            "#echo-verdict",
            f"Testing {self.destination.peer_label}… (esc closes this window; the test gives "
            f"up after {ECHO_WAIT_CAP:g} s at most per step)",
            "",
        )
        self._set("#echo-details", "", "")
        if self.web:
            self._set("#probe-title", WEB_NO_NEGOTIATION, "report-muted")
        elif self.pairs:
            files = sum(p.files for p in self.pairs)
            self._set(
                "#probe-title",
                f"Then: which of the {len(self.pairs)} SOP class/syntax pairs of the "
                f"{files} selected files it accepts.",
                "report-muted",
            )
        else:
            self._set(
                "#probe-title",
                "No studies selected: select some in the browser to also see which of their "
                "SOP classes and transfer syntaxes this destination accepts.",
                "report-muted",
            )
        self.query_one("#probe-table", Grid).remove_children()
        self.run += 1
        self._test(self.run, self.destination, self.pairs)

    @work(thread=True, exclusive=True, group="echo", exit_on_error=False)
    def _test(self, run: int, destination: Destination, pairs: tuple[SelectedPair, ...]) -> None:
        """Runs in a thread: never touches a widget, only posts the answers."""
        worker = get_current_worker()
        answered = echo(destination, timeout=ECHO_WAIT_CAP)
        self.post_message(self.EchoAnswered(run, answered))
        if worker.is_cancelled or not pairs or destination.is_web:
            return
        if not worth_probing(answered):
            return
        uids = [(p.sop_class_uid, p.transfer_syntax_uid) for p in pairs]
        self.post_message(self.ProbeAnswered(run, probe(destination, uids, timeout=ECHO_WAIT_CAP)))

    # -- answers ------------------------------------------------------------------------

    def on_echo_report_echo_answered(self, message: EchoReport.EchoAnswered) -> None:
        if message.run != self.run:
            return
        self.echo_result = result = message.result
        if self.web:
            verdict, details = web_echo_lines(result, self.destination)
        else:
            verdict, details = echo_lines(result)
        self._set("#echo-verdict", verdict, "-ok" if result.ok else "-fails")
        self._set("#echo-details", details, "report-muted")
        probing = bool(self.pairs) and worth_probing(result) and not self.web
        if probing:
            self._set("#probe-title", "Asking which of the selected pairs it accepts…", "")
        else:
            self.query_one("#echo-loading").display = False
            if self.pairs and not self.web:
                self._set(
                    "#probe-title",
                    "Not asked which SOP classes it accepts: the echo did not get through.",
                    "report-muted",
                )

    def on_echo_report_probe_answered(self, message: EchoReport.ProbeAnswered) -> None:
        if message.run != self.run:
            return
        self.probe_result = result = message.result
        self.query_one("#echo-loading").display = False
        self.rows = pair_rows(self.pairs, result, self.destination.decompress)
        summary, state = probe_summary(self.rows, result)
        self._set("#probe-title", summary, f"-{state}")
        table = self.query_one("#probe-table", Grid)
        cells: list[Static] = [
            Static(head, classes="-head" + (" files" if head == "Files" else ""))
            for head in ("SOP class", "Transfer syntax", "Files", "Destination's answer")
        ]
        for row in self.rows:
            cells += [
                Static(row.sop_class, markup=False),
                Static(row.transfer_syntax, markup=False),
                Static(str(row.files), classes="files"),
                Static(row.answer, classes=f"-{row.state}", markup=False),
            ]
        table.remove_children()
        table.mount_all(cells)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A crash of the test (not a network failure: those are answers) ends the wait."""
        if event.worker.node is not self or event.state is not WorkerState.ERROR:
            return
        self.query_one("#echo-loading").display = False
        error = f"✗ The test stopped with an error: {event.worker.error}"
        self._set("#echo-verdict", error, "-fails")

    def _set(self, selector: str, text: str, classes: str) -> None:
        static = self.query_one(selector, Static)
        static.update(text)
        static.set_classes(classes)

    def plain_text(self) -> str:
        """Everything the report says, as plain lines (for copying into a ticket, and tests)."""
        lines = [
            str(self.query_one(s, Static).content)
            for s in ("#echo-peer", "#echo-verdict", "#echo-details", "#probe-title")
        ]
        lines += [
            f"{r.sop_class} | {r.transfer_syntax} | {r.files} | {r.answer}" for r in self.rows
        ]
        return "\n".join(line for line in lines if line)
