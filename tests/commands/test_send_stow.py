"""``tui-sender send`` by DICOMweb STOW-RS against the scripted server, end to end.

Each test runs the real command in a subprocess (as an operator would) with
``--url`` or an address-book entry, against :class:`peers.stow_server.StowServer`
on loopback, then checks what the server holds against the files on disk
(SHA-256 of each source file against the server's hash of the part it
received) and each file's record in the summary: ``state``, ``status``,
``http_status``, ``reason``, ``attempts``, and the exit code (README, "Exit
codes": 0 nothing failed, 1 some files failed, 2 usage or configuration
error, 3 no connection could be established at all).

The server's misbehaviour is scripted per STOW request (:class:`Behaviour`):
partial failures (202), total failure (409), refusals of the request as a
whole (413, 415), "come back later" (429, 503, with and without Retry-After),
server errors (500), a reset mid-body, a response too late, an instance left
out of the response; then authentication, TLS, odd file names, a 400 MiB
file with bounded memory (``slow``), and ``echo --url``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from peers.processes import wait_until
from peers.stow_server import COERCED, Behaviour, RecordedRequest, StowServer
from tests.dicom_builders import image, save
from tests.sending import SendRun, check_counts_add_up, run_cli
from tui_sender.core.model.recorded_path import path_from_record

pytestmark = pytest.mark.timeout(120)

UID_ROOT = "1.2.826.0.1.3680043.8.498.4242"
USER = "gateway"
PASSWORD = "stow-Pa55-word-9d1e"
"""Distinctive, so a search of the record for it cannot match anything else."""
WRONG_PASSWORD = "not-the-Pa55-word-41c7"
PASSWORD_VAR = "TUI_SENDER_TEST_STOW_PASSWORD"
TOKEN = "stow-bearer-token-6b0f2e"
QUICK = ["--connect-timeout", "2", "--dimse-timeout", "10"]
"""Short enough that a hang fails the test quickly; long enough for a loaded machine."""
DATA_SET_MISMATCH = 0xA900
CANNOT_UNDERSTAND = 0xC000


# -- the server, with the time of each answer -------------------------------------------


class TimedStowServer(StowServer):
    """A :class:`StowServer` that also notes when it answered each request (monotonic)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answered_at: list[tuple[float, RecordedRequest]] = []
        self.stows_begun = 0

    def _next_behaviour(self) -> Behaviour:
        self.stows_begun += 1
        return super()._next_behaviour()

    def _record(self, request: RecordedRequest) -> None:
        self.answered_at.append((time.monotonic(), request))
        super()._record(request)

    def stow_times(self) -> list[tuple[float, RecordedRequest]]:
        return [(t, r) for t, r in self.answered_at if r.method == "POST"]

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until every STOW request begun was answered (or given up).

        A request in a scripted delay whose client went away still answers
        when the delay ends; stopping the server before that makes the
        handler fail (it builds RetrieveURLs from the port of a stopped
        server), so the fixture waits for it.
        """
        wait_until(lambda: len(self.stow_requests) >= self.stows_begun, timeout, what="answers")


ServerFactory = Callable[..., TimedStowServer]


@pytest.fixture
def web_server() -> Iterator[ServerFactory]:
    """Factory: ``web_server(users=..., token=..., ssl_context=...)`` returns a started server.

    Every server is stopped when the test ends; none may have raised while serving.
    """
    started: list[TimedStowServer] = []

    def start(**options: Any) -> TimedStowServer:
        server = TimedStowServer(**options)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.settle()
        server.stop()
    for server in started:
        assert server.errors == [], server.errors[0]


# -- files and runs ---------------------------------------------------------------------


def write_studies(root: Path, studies: int, per_study: int) -> dict[Path, str]:
    """``per_study`` small CT images in each of ``studies`` studies (two series each).

    Returns each file's SOP Instance UID.
    """
    files: dict[Path, str] = {}
    for s in range(1, studies + 1):
        study = f"{UID_ROOT}.{s}"
        folder = root / f"study{s}"
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(per_study):
            series = f"{study}.{n % 2 + 1}"
            uid = f"{series}.{n + 1}"
            path = save(
                folder / f"im{n:02d}.dcm", image(sop_uid=uid, study_uid=study, series_uid=series)
            )
            files[path] = uid
    return files


def sha256(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def send(cwd: Path, *args: str) -> SendRun:
    """``tui-sender send ARGS`` in ``cwd`` (its record in ``cwd/logs``); short timeouts unless
    ARGS say otherwise (the last of a flag given twice wins)."""
    cwd.mkdir(parents=True, exist_ok=True)
    return run_cli(["send", *QUICK, "--logs-dir", str(cwd / "logs"), *args], cwd)


def address_book(cwd: Path, url: str, **settings: int) -> Path:
    """A config file with one DICOMweb destination called ``web`` (numeric settings)."""
    cwd.mkdir(parents=True, exist_ok=True)
    lines = ["[[destinations]]", 'name = "web"', f'url = "{url}"']
    lines += [f"{key} = {value}" for key, value in settings.items()]
    path = cwd / "book.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def records(run: SendRun) -> dict[str, dict[str, Any]]:
    """The summary's file records by their exact path."""
    return {path_from_record(f): f for f in run.summary["files"]}


def assert_arrived_intact(server: StowServer, files: dict[Path, str]) -> None:
    """Every file reached the server byte for byte (and nothing else did)."""
    received: dict[str, set[str]] = {}
    for instance in server.received:
        received.setdefault(instance.sop_instance_uid, set()).add(instance.sha256)
    assert set(received) == set(files.values())
    for path, uid in files.items():
        assert received[uid] == {sha256(path)}, f"{path} arrived altered"


def log_text(run: SendRun) -> str:
    return Path(run.summary["log_file"]).read_text(encoding="utf-8", errors="replace")


def summary_of(run: SendRun) -> str:
    """The whole outcome, for assertion messages."""
    lines = [f"exit {run.exit_code}", run.stdout[-2000:], run.stderr[-2000:]]
    for f in run.summary.get("files", []):
        lines.append(f"{f['state']} {f['status']} {f['http_status']} {f['attempts']} {f['reason']}")
    return "\n".join(lines)


# -- 1. a plain send ---------------------------------------------------------------------


def test_two_studies_over_two_connections_arrive_byte_for_byte(
    web_server: ServerFactory, tmp_path: Path
) -> None:
    files = write_studies(tmp_path / "in", studies=2, per_study=6)
    server = web_server()
    book = address_book(tmp_path / "run", server.url, stow_instances=3)
    run = send(tmp_path / "run", "-i", str(tmp_path / "in"), "-r", "--config", str(book),
               "--dest", "web", "-t", "2")  # fmt: skip
    assert run.exit_code == 0, summary_of(run)
    check_counts_add_up(run.summary)
    assert run.summary["totals"]["sent"] == len(files) == 12
    by_path = records(run)
    assert set(by_path) == {str(p) for p in files}
    for record in by_path.values():
        assert record["state"] == "sent"
        assert record["status"] == "0x0000"
        assert record["http_status"] == 200
        assert record["reason"] == ""
        assert record["attempts"] == 1
    assert_arrived_intact(server, files)
    stows = server.stow_requests
    assert len(stows) >= 4, "at most 3 instances per request: several requests"
    assert all(1 <= r.parts <= 3 for r in stows)
    assert sum(r.parts for r in stows) == len(files), "each file sent once"
    assert run.summary["threads_used"] == 2
    for request in stows:
        assert request.headers["content-type"].startswith("multipart/related")
        assert 'type="application/dicom"' in request.headers["content-type"]
        assert int(request.headers["content-length"]) == request.body_bytes
        assert not request.authorization, "no credentials configured, none sent"


# -- 2, 3. answers per instance: 202 and 409 -------------------------------------------------


def test_a_202_fails_and_warns_exactly_the_instances_it_names(
    web_server: ServerFactory, tmp_path: Path
) -> None:
    files = write_studies(tmp_path / "in", studies=1, per_study=5)
    uids = sorted(files.values())
    failing, warned = uids[1], uids[2]
    server = web_server()
    # Every request answered the same way, however the files are split into requests.
    server.default = Behaviour(fail={failing: DATA_SET_MISMATCH}, warn={warned: COERCED})
    run = send(tmp_path / "run", "-i", str(tmp_path / "in"), "-r", "--url", server.url, "-t", "1")
    assert run.exit_code == 1, summary_of(run)
    check_counts_add_up(run.summary)
    by_uid = {f["sop_instance_uid"]: f for f in run.summary["files"]}
    failed = by_uid[failing]
    assert failed["state"] == "failed"
    assert failed["status"] == "0xA900"
    assert failed["http_status"] == 202
    assert "0xA900" in failed["reason"]
    assert "does not match SOP class" in failed["reason"]
    assert failed["attempts"] == 1, "a failure the server named is not retried"
    warning = by_uid[warned]
    assert warning["state"] == "warning"
    assert warning["status"] == "0xB000"
    assert warning["http_status"] == 202
    assert "coercion" in warning["reason"]
    others = [f for uid, f in by_uid.items() if uid not in (failing, warned)]
    assert len(others) == 3
    assert all(f["state"] == "sent" and f["status"] == "0x0000" for f in others)
    assert all(f["http_status"] in (200, 202) for f in others)
    assert run.summary["totals"]["sent"] == 3
    assert run.summary["totals"]["warning"] == 1
    assert run.summary["totals"]["failed"] == 1
    stored = {p: u for p, u in files.items() if u != failing}
    assert_arrived_intact(server, stored)


def test_a_409_fails_every_instance_with_its_own_failure_reason(
    web_server: ServerFactory, tmp_path: Path
) -> None:
    files = write_studies(tmp_path / "in", studies=1, per_study=4)
    server = web_server()
    server.default = Behaviour(fail_all=CANNOT_UNDERSTAND)
    run = send(tmp_path / "run", "-i", str(tmp_path / "in"), "-r", "--url", server.url, "-t", "1")
    assert run.exit_code == 1, summary_of(run)
    check_counts_add_up(run.summary)
    assert run.summary["totals"]["failed"] == len(files)
    for record in run.summary["files"]:
        assert record["state"] == "failed"
        assert record["http_status"] == 409
        assert record["status"] == "0xC000", "the body was read: each FailureReason"
        assert "cannot understand" in record["reason"]
        assert record["attempts"] == 1
    assert server.received == []
    assert all(r.status == 409 for r in server.stow_requests)


# -- 4. the request refused as a whole: 413, 415 --------------------------------------------


@pytest.mark.parametrize(
    ("status", "before_body"),
    [(413, False), (413, True), (415, False)],
    ids=["413", "413-before-the-body", "415"],
)
def test_a_request_refused_as_a_whole_fails_its_files_without_retrying(
    web_server: ServerFactory, tmp_path: Path, status: int, before_body: bool
) -> None:
    files = write_studies(tmp_path / "in", studies=1, per_study=4)
    server = web_server()
    # A proxy answers 413 as soon as it reads the Content-Length, then closes.
    server.default = Behaviour(status=status, answer_before_body=before_body)
    run = send(tmp_path / "run", "-i", str(tmp_path / "in"), "-r", "--url", server.url, "-t", "1")
    assert run.exit_code == 1, summary_of(run)
    check_counts_add_up(run.summary)
    assert run.summary["totals"]["failed"] == len(files)
    for record in run.summary["files"]:
        assert record["state"] == "failed"
        assert record["http_status"] == status
        assert f"HTTP {status}" in record["reason"]
        assert "not retried" in record["reason"]
        assert record["attempts"] == 1
    assert server.received == []
    if not before_body:
        assert sum(r.parts for r in server.stow_requests) == len(files), "no file sent twice"
    assert len(server.stow_requests) <= len(files)
    assert "retry" not in run.stdout.lower()


@pytest.mark.parametrize(
    ("status", "advice"),
    [
        (413, "lower stow_megabytes (now 32) or stow_instances (now 50)"),
        (415, 'does not take multipart/related; type="application/dicom"'),
        (404, "nothing takes STOW-RS at {url}/studies"),
        (403, "does not let these credentials store instances"),
        (401, "refused our credentials"),
    ],
)
def test_a_refused_request_tells_the_administrator_what_to_change(
    web_server: ServerFactory, tmp_path: Path, status: int, advice: str
) -> None:
    write_studies(tmp_path / "in", studies=1, per_study=3)
    server = web_server()
    # Only the STOW requests: the QIDO-RS probe passes, as on a server whose proxy or
    # permissions treat the two differently.
    server.default = Behaviour(status=status)
    run = send(tmp_path / "run", "-i", str(tmp_path / "in"), "-r", "--url", server.url, "-t", "1")
    assert run.exit_code == 1, summary_of(run)
    check_counts_add_up(run.summary)
    for record in run.summary["files"]:
        assert record["state"] == "failed"
        assert record["http_status"] == status
        assert record["attempts"] == 1
        assert f"HTTP {status}" in record["reason"]
        assert advice.format(url=server.url) in record["reason"]
        assert f"({status} " not in record["reason"], "the status said once, not quoted again"
    assert server.received == []


@pytest.mark.parametrize(
    "behaviour",
    [
        Behaviour(status=200, body=b"", content_type="application/dicom+json"),
        Behaviour(status=204),
    ],
    ids=["200-empty-body", "204"],
)
def test_a_success_status_that_names_no_instance_is_not_taken_as_stored(
    web_server: ServerFactory, tmp_path: Path, behaviour: Behaviour
) -> None:
    files = write_studies(tmp_path / "in", studies=1, per_study=3)
    server = web_server()
    server.default = behaviour
    run = send(tmp_path / "run", "-i", str(tmp_path / "in"), "-r", "--url", server.url, "-t", "1")
    assert run.exit_code == 1, summary_of(run)
    for record in run.summary["files"]:
        assert record["state"] == "failed"
        assert record["http_status"] == behaviour.status
        assert "the response has no body saying which instances were stored" in record["reason"]
        assert "not taken as stored" in record["reason"]
        assert record["attempts"] == 1, "not resent: the server may well hold it"
    assert len(server.received) == len(files), "(the server did store them: say so, not guess)"


# -- 5, 6. come back later: 429, 503 ---------------------------------------------------------


def _retry_gap(server: TimedStowServer, run: SendRun, refused: int) -> float:
    """Seconds between the refusal and the answer to the request that resent its files."""
    stows = server.stow_times()
    refusal_at = next(t for t, r in stows if r.status == refused)
    resent = {f["sop_instance_uid"] for f in run.summary["files"] if f["attempts"] > 1}
    assert resent, "the refused files were sent again"
    resent_at = next(t for t, r in stows if r.status == 200 and resent & set(r.sop_instance_uids))
    return resent_at - refusal_at


def test_a_429_with_retry_after_is_honoured_then_the_files_go(
    web_server: ServerFactory, tmp_path: Path
) -> None:
    files = write_studies(tmp_path / "in", studies=1, per_study=3)
    server = web_server()
    server.script = [Behaviour(status=429, retry_after="1")]
    run = send(tmp_path / "run", "-i", str(tmp_path / "in"), "-r", "--url", server.url, "-t", "1")
    assert run.exit_code == 0, summary_of(run)
    check_counts_add_up(run.summary)
    assert all(f["state"] == "sent" and f["http_status"] == 200 for f in run.summary["files"])
    assert any(f["attempts"] == 2 for f in run.summary["files"])
    assert_arrived_intact(server, files)
    gap = _retry_gap(server, run, 429)
    # The server's 1 s, not the 2 s the sender waits when it is not told.
    assert 0.9 <= gap < 1.9, f"resent {gap:.2f} s after the 429"
    assert "retrying in 1 s" in log_text(run)


def test_a_503_without_retry_after_waits_the_sender_backoff_then_the_files_go(
    web_server: ServerFactory, tmp_path: Path
) -> None:
    files = write_studies(tmp_path / "in", studies=1, per_study=3)
    server = web_server()
    server.script = [Behaviour(status=503)]
    run = send(tmp_path / "run", "-i", str(tmp_path / "in"), "-r", "--url", server.url, "-t", "1")
    assert run.exit_code == 0, summary_of(run)
    check_counts_add_up(run.summary)
    assert all(f["state"] == "sent" and f["http_status"] == 200 for f in run.summary["files"])
    assert all(f["attempts"] <= 2 for f in run.summary["files"])
    assert_arrived_intact(server, files)
    gap = _retry_gap(server, run, 503)
    assert 1.9 <= gap < 5.0, f"resent {gap:.2f} s after the 503 (default backoff 2 s)"
    assert "out of resources" in log_text(run)


def test_one_429_on_a_request_of_many_instances_does_not_give_the_destination_up(
    web_server: ServerFactory, tmp_path: Path
) -> None:
    files = write_studies(tmp_path / "in", studies=1, per_study=12)
    server = web_server()
    book = address_book(tmp_path / "run", server.url, stow_instances=20)
    server.script = [Behaviour(status=429, retry_after="1")]
    run = send(tmp_path / "run", "-i", str(tmp_path / "in"), "-r", "--config", str(book),
               "--dest", "web", "-t", "1")  # fmt: skip
    assert run.exit_code == 0, summary_of(run)
    assert_arrived_intact(server, files)


# -- 7, 8, 9. outcome unknown: 500, a reset, no answer in time ----------------------------------


def _resent_on_a_new_connection(server: StowServer, run: SendRun, files: dict[Path, str]) -> None:
    check_counts_add_up(run.summary)
    assert run.exit_code == 0, summary_of(run)
    by_path = records(run)
    assert all(r["state"] == "sent" and r["http_status"] == 200 for r in by_path.values())
    resent = [r for r in by_path.values() if r["attempts"] == 2]
    assert resent, "the files of the broken request were sent again"
    assert all(r["attempts"] in (1, 2) for r in by_path.values())
    # -t 1: the second connection is the one the resend went on; it was probed too.
    assert server.connections == 2
    assert sum(1 for r in server.requests if r.method == "GET") == 2


def test_a_500_is_an_unknown_outcome_resent_on_a_new_connection(
    web_server: ServerFactory, tmp_path: Path
) -> None:
    files = write_studies(tmp_path / "in", studies=1, per_study=3)
    server = web_server()
    server.script = [Behaviour(status=500)]
    run = send(tmp_path / "run", "-i", str(tmp_path / "in"), "-r", "--url", server.url, "-t", "1")
    _resent_on_a_new_connection(server, run, files)
    assert server.stow_requests[0].status == 500
    assert_arrived_intact(server, files)
    assert "HTTP 500" in log_text(run)


def test_a_server_failing_every_request_leaves_each_file_failed_with_its_http_500(
    web_server: ServerFactory, tmp_path: Path
) -> None:
    write_studies(tmp_path / "in", studies=1, per_study=2)
    server = web_server()
    server.default = Behaviour(status=500)
    run = send(tmp_path / "run", "-i", str(tmp_path / "in"), "-r", "--url", server.url, "-t", "1",
               "--retries", "2")  # fmt: skip
    assert run.exit_code == 1, summary_of(run)
    check_counts_add_up(run.summary)
    for record in run.summary["files"]:
        assert record["state"] == "failed"
        assert record["attempts"] == 2
        assert "outcome unknown after 2 attempts" in record["reason"]
        assert record["http_status"] == 500, "the status of the last response is kept"
    assert not server.received


def test_a_connection_reset_mid_request_is_resent_intact(
    web_server: ServerFactory, tmp_path: Path
) -> None:
    files = write_studies(tmp_path / "in", studies=1, per_study=3)
    server = web_server()
    server.script = [Behaviour(reset_after_bytes=2000)]
    run = send(tmp_path / "run", "-i", str(tmp_path / "in"), "-r", "--url", server.url, "-t", "1")
    _resent_on_a_new_connection(server, run, files)
    assert server.stow_requests[0].status is None, "the first request got no answer"
    assert len(server.received) == len(files), "nothing stored twice, nothing half-stored"
    assert_arrived_intact(server, files)


def test_an_answer_later_than_the_response_timeout_is_resent(
    web_server: ServerFactory, tmp_path: Path
) -> None:
    files = write_studies(tmp_path / "in", studies=1, per_study=3)
    server = web_server()
    server.script = [Behaviour(delay=2.5)]
    started = time.monotonic()
    run = send(tmp_path / "run", "-i", str(tmp_path / "in"), "-r", "--url", server.url, "-t", "1",
               "--dimse-timeout", "1")  # fmt: skip
    took = time.monotonic() - started
    _resent_on_a_new_connection(server, run, files)
    assert took < 3.5, f"waited {took:.1f} s: longer than the response timeout allows"
    assert "no STOW-RS answer within 1 s" in log_text(run)
    # The late request was stored too (the server stores, then answers): same bytes.
    assert_arrived_intact(server, files)


def test_a_server_that_never_answers_in_time_costs_each_file_its_retries_only(
    web_server: ServerFactory, tmp_path: Path
) -> None:
    write_studies(tmp_path / "in", studies=1, per_study=3)
    server = web_server()
    server.default = Behaviour(delay=2.5)
    started = time.monotonic()
    run = send(tmp_path / "run", "-i", str(tmp_path / "in"), "-r", "--url", server.url, "-t", "1",
               "--dimse-timeout", "1", "--retries", "2")  # fmt: skip
    took = time.monotonic() - started
    assert run.exit_code == 1, summary_of(run)
    check_counts_add_up(run.summary)
    for record in run.summary["files"]:
        assert record["state"] == "failed"
        assert record["attempts"] == 2
        assert "outcome unknown after 2 attempts" in record["reason"]
        assert "no STOW-RS answer within 1 s" in record["reason"]
    assert took < 15, f"{took:.1f} s for 3 files x 2 attempts of 1 s"


# -- 10. an instance the response leaves out ---------------------------------------------------


def test_an_instance_the_response_does_not_mention_is_not_taken_as_stored(
    web_server: ServerFactory, tmp_path: Path
) -> None:
    files = write_studies(tmp_path / "in", studies=1, per_study=4)
    forgotten = sorted(files.values())[0]
    server = web_server()
    server.default = Behaviour(omit={forgotten})
    run = send(tmp_path / "run", "-i", str(tmp_path / "in"), "-r", "--url", server.url, "-t", "1")
    assert run.exit_code == 1, summary_of(run)
    check_counts_add_up(run.summary)
    by_uid = {f["sop_instance_uid"]: f for f in run.summary["files"]}
    record = by_uid.pop(forgotten)
    assert record["state"] == "failed"
    assert record["http_status"] == 200
    assert "does not mention this instance" in record["reason"]
    assert "not taken as stored" in record["reason"]
    assert record["attempts"] == 1
    assert all(f["state"] == "sent" for f in by_uid.values())


# -- 11, 12. credentials -------------------------------------------------------------------------


def _record_files(cwd: Path) -> list[Path]:
    """Everything the run wrote: log, journal, summary, the stored-instance index."""
    written = [p for p in cwd.rglob("*") if p.is_file()]
    names = {p.name for p in written}
    assert any(n.startswith("dicom_sender_journal_") for n in names), names
    assert any(n.startswith("dicom_sender_summary_") for n in names), names
    assert any(n.endswith(".log") for n in names), names
    return written


def assert_secret_nowhere(secret: str, run: SendRun, cwd: Path) -> None:
    """The secret, and the Basic header that carries it, are in no output and no record."""
    needles = [secret.encode(), base64.b64encode(f"{USER}:{secret}".encode())]
    places = {"stdout": run.stdout.encode(), "stderr": run.stderr.encode()}
    places.update({str(p): p.read_bytes() for p in _record_files(cwd)})
    for where, content in places.items():
        for needle in needles:
            assert needle not in content, f"the secret is in {where}"


def test_basic_authentication_with_the_password_from_the_environment(
    web_server: ServerFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = write_studies(tmp_path / "in", studies=1, per_study=3)
    server = web_server(users={USER: PASSWORD})
    monkeypatch.setenv(PASSWORD_VAR, PASSWORD)
    cwd = tmp_path / "run"
    run = send(cwd, "-i", str(tmp_path / "in"), "-r", "--url", server.url, "-t", "1",
               "--username", USER, "--password-env", PASSWORD_VAR)  # fmt: skip
    assert run.exit_code == 0, summary_of(run)
    assert all(f["state"] == "sent" for f in run.summary["files"])
    assert_arrived_intact(server, files)
    assert all(r.authorization for r in server.requests)
    assert_secret_nowhere(PASSWORD, run, cwd)


def test_a_wrong_password_stops_the_destination_before_any_file_is_sent(
    web_server: ServerFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = write_studies(tmp_path / "in", studies=1, per_study=3)
    server = web_server(users={USER: PASSWORD})
    monkeypatch.setenv(PASSWORD_VAR, WRONG_PASSWORD)
    cwd = tmp_path / "run"
    run = send(cwd, "-i", str(tmp_path / "in"), "-r", "--url", server.url, "-t", "2",
               "--username", USER, "--password-env", PASSWORD_VAR)  # fmt: skip
    assert run.exit_code == 3, summary_of(run)  # no connection could be established at all
    check_counts_add_up(run.summary)
    assert run.summary["totals"]["failed"] == len(files)
    for record in run.summary["files"]:
        assert record["state"] == "failed"
        assert "authentication failed" in record["reason"]
        assert "401" in record["reason"]
        assert f"Basic as {USER}" in record["reason"], "says which credentials were refused"
    assert "authentication failed" in log_text(run)
    assert server.received == []
    assert server.stow_requests == [], "the probe stopped it: no file left the machine"
    assert all(r.status == 401 for r in server.requests)
    assert_secret_nowhere(WRONG_PASSWORD, run, cwd)
    assert_secret_nowhere(PASSWORD, run, cwd)


def test_a_bearer_token_from_an_owner_only_file(web_server: ServerFactory, tmp_path: Path) -> None:
    files = write_studies(tmp_path / "in", studies=1, per_study=3)
    server = web_server(token=TOKEN)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    cwd = tmp_path / "run"
    run = send(cwd, "-i", str(tmp_path / "in"), "-r", "--url", server.url, "-t", "1",
               "--token-file", str(token_file))  # fmt: skip
    assert run.exit_code == 0, summary_of(run)
    assert all(f["state"] == "sent" for f in run.summary["files"])
    assert_arrived_intact(server, files)
    assert server.requests and all(r.authorization for r in server.requests)
    assert_secret_nowhere(TOKEN, run, cwd)


def test_a_token_file_others_may_read_is_refused_and_nothing_is_sent(
    web_server: ServerFactory, tmp_path: Path
) -> None:
    write_studies(tmp_path / "in", studies=1, per_study=2)
    server = web_server(token=TOKEN)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o644)
    run = send(tmp_path / "run", "-i", str(tmp_path / "in"), "-r", "--url", server.url,
               "--token-file", str(token_file))  # fmt: skip
    assert run.exit_code != 0
    out = run.stdout + run.stderr
    assert "may be read by other users" in out
    assert f"chmod 600 '{token_file}'" in out
    assert TOKEN not in out
    assert server.requests == [], "not even a probe"
    assert server.connections == 0


def test_a_token_file_others_may_read_is_a_configuration_error(
    web_server: ServerFactory, tmp_path: Path
) -> None:
    write_studies(tmp_path / "in", studies=1, per_study=2)
    server = web_server(token=TOKEN)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o644)
    run = send(tmp_path / "run", "-i", str(tmp_path / "in"), "-r", "--url", server.url,
               "--token-file", str(token_file))  # fmt: skip
    assert run.exit_code == 2, summary_of(run)
    assert "Traceback" not in run.stderr
    assert "chmod 600" in run.stderr


# -- 13. TLS -------------------------------------------------------------------------------------


def _tls_server(web_server: ServerFactory, ca: trustme.CA) -> TimedStowServer:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return web_server(ssl_context=context)


def test_https_with_the_ca_file_that_signed_the_server_certificate(
    web_server: ServerFactory, tmp_path: Path
) -> None:
    files = write_studies(tmp_path / "in", studies=1, per_study=3)
    ca = trustme.CA()
    ca_pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    server = _tls_server(web_server, ca)
    assert server.url.startswith("https://127.0.0.1:")
    run = send(tmp_path / "run", "-i", str(tmp_path / "in"), "-r", "--url", server.url, "-t", "1",
               "--ca-file", str(ca_pem))  # fmt: skip
    assert run.exit_code == 0, summary_of(run)
    assert all(f["state"] == "sent" and f["http_status"] == 200 for f in run.summary["files"])
    assert_arrived_intact(server, files)


def test_https_to_a_certificate_nobody_trusts_fails_clearly_and_sends_nothing(
    web_server: ServerFactory, tmp_path: Path
) -> None:
    files = write_studies(tmp_path / "in", studies=1, per_study=3)
    server = _tls_server(web_server, trustme.CA())
    run = send(tmp_path / "run", "-i", str(tmp_path / "in"), "-r", "--url", server.url, "-t", "1")
    assert run.exit_code == 3, summary_of(run)
    check_counts_add_up(run.summary)
    assert run.summary["totals"]["failed"] == len(files)
    for record in run.summary["files"]:
        assert record["state"] == "failed"
        assert "TLS certificate is not trusted" in record["reason"]
        assert "--ca-file" in record["reason"]
    assert server.requests == []
    assert server.received == []
    wait_until(lambda: server.handshake_failures >= 1, 5.0, what="the refused handshake")


# -- 14. names -----------------------------------------------------------------------------------


def test_hidden_and_oddly_named_files_go_as_any_other(
    web_server: ServerFactory, tmp_path: Path
) -> None:
    """The scan reads dot files and dot folders like any other (as for DIMSE), and any name."""
    root = tmp_path / "in"
    (root / ".hidden-folder").mkdir(parents=True)
    (root / "sub folder ü").mkdir()
    names: list[Path | bytes] = [
        root / ".hidden.dcm",
        root / ".hidden-folder" / "inside.dcm",
        root / "with space.dcm",
        root / "sub folder ü" / "Müller Zoë 山田.dcm",
        os.fsencode(root) + b"/latin1-\xe9\xff.dcm",
    ]
    files: dict[Path, str] = {}
    for n, name in enumerate(names):
        uid = f"{UID_ROOT}.9.{n + 1}"
        files[save(name, image(sop_uid=uid, study_uid=f"{UID_ROOT}.9"))] = uid
    server = web_server()
    run = send(tmp_path / "run", "-i", str(root), "-r", "--url", server.url, "-t", "2")
    assert run.exit_code == 0, summary_of(run)
    check_counts_add_up(run.summary)
    by_path = records(run)
    assert set(by_path) == {str(p) for p in files}
    assert all(r["state"] == "sent" for r in by_path.values())
    assert_arrived_intact(server, files)


# -- 15. a large file ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_400_mib_multiframe_file_goes_by_stow_rs_with_bounded_memory(
    web_server: ServerFactory, tmp_path: Path
) -> None:
    from tui_sender.demo.samples.data import write_large_multiframe

    (tmp_path / "in").mkdir()
    big = write_large_multiframe(tmp_path / "in" / "big.dcm", target_bytes=400 * 2**20)
    assert big.stat().st_size > 400 * 2**20
    server = web_server(keep_files=False)
    code = (
        "import sys\n"
        "from tui_sender.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print('VMHWM', int(hwm.split()[1]), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "send", "-i", str(big), "--url", server.url, "-t", "1",
         "-q", "--logs-dir", str(tmp_path / "logs")],
        capture_output=True, text=True, timeout=500, cwd=tmp_path,
        env={**os.environ, "TUI_SENDER_STATE_DIR": str(tmp_path / "state"),
             "TUI_SENDER_CONFIG": str(tmp_path / "no-config.toml")},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    peak_kib = int(proc.stderr.split("VMHWM")[1].split()[0])
    received = server.received
    assert len(received) == 1
    assert received[0].size == big.stat().st_size
    assert received[0].sha256 == sha256(big)
    assert received[0].path is None, "keep_files=False: the server kept nothing on disk"
    assert peak_kib < 150 * 1024, f"peak {peak_kib // 1024} MiB sending a 400 MiB file"


# -- 16. echo ------------------------------------------------------------------------------------


def test_echo_by_url_answers_and_a_wrong_password_fails_clearly(
    web_server: ServerFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = web_server(users={USER: PASSWORD})
    args = ["echo", "--url", server.url, "--username", USER, "--password-env", PASSWORD_VAR]
    monkeypatch.setenv(PASSWORD_VAR, PASSWORD)
    good = run_cli(args, tmp_path)
    assert good.exit_code == 0, good.stdout + good.stderr
    assert server.url in good.stdout
    assert " ok " in good.stdout
    monkeypatch.setenv(PASSWORD_VAR, WRONG_PASSWORD)
    bad = run_cli(args, tmp_path)
    assert bad.exit_code == 3, bad.stdout + bad.stderr
    assert "authentication failed" in bad.stderr
    assert "401" in bad.stderr
    assert f"Basic as {USER}" in bad.stderr
    for run in (good, bad):
        for secret in (PASSWORD, WRONG_PASSWORD):
            assert secret not in run.stdout + run.stderr
    assert server.stow_requests == [] and server.received == []
    assert [r.status for r in server.requests][-1] == 401
