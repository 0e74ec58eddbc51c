"""DICOMweb destinations in the app, driven by keys at 80x24.

The destination form switches to DICOMweb (URL, sign-in by the name of an
environment variable, request sizes) and writes the address book; a bad URL
is flagged on screen; the echo report tests a real scripted STOW-RS/QIDO-RS
server (``peers/stow_server.py``) on 127.0.0.1, with the right password and
a wrong one; and a send of three studies arrives there, the dashboard
speaking of HTTP connections rather than associations.
"""

from __future__ import annotations

import stat
import tomllib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, Static

from peers.stow_server import Behaviour, StowServer
from tests.ui.test_ui_flow import wait_until
from tui_sender.core.config.destinations import AddressBook, Destination
from tui_sender.core.model.verification import VerifyMethod
from tui_sender.demo.samples.data import SampleSet, generate_tiny_files
from tui_sender.ui.app import SenderApp
from tui_sender.ui.screens.destination_dialogs import EchoScreen
from tui_sender.ui.screens.destination_fields import (
    ALL_FIELDS,
    DestinationKind,
    field_of_problem,
)
from tui_sender.ui.screens.destination_form import DestinationForm
from tui_sender.ui.screens.destinations import DestinationsScreen, describe
from tui_sender.ui.screens.summary import SummaryScreen
from tui_sender.ui.screens.transfer import TransferScreen
from tui_sender.ui.widgets.echo_report import WEB_NO_NEGOTIATION, EchoReport
from tui_sender.ui.widgets.tabbed_log import TabbedLog
from tui_sender.ui.widgets.verification_board import VerificationBoard

SIZE = (80, 24)
PASSWORD = "pw"
"""Alice's password on the scripted server; it must never reach the screen or the file."""
WRONG = "not-the-password-9f3c"
PASSWORD_VAR = "TUI_TEST_CLOUD_PW"
DIMSE_ONLY = ("ae_title", "host", "port", "calling_ae", "max_pdu", "acse_timeout", "tls")
WEB_ONLY = ("url", "username", "password_env", "password_file", "token_env", "token_file")
FILES = 9
PER_STUDY = 3


@pytest.fixture
def server() -> Iterator[StowServer]:
    with StowServer(users={"alice": PASSWORD}) as running:
        yield running


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> SampleSet:
    """Three studies of three small CT images."""
    return generate_tiny_files(tmp_path_factory.mktemp("web-samples"), FILES, per_study=PER_STUDY)


def web_destination(server: StowServer, **options: Any) -> Destination:
    """CLOUD: the scripted server, as alice with her password in ``PASSWORD_VAR``."""
    options.setdefault("username", "alice")
    options.setdefault("password_env", PASSWORD_VAR)
    return replace(Destination.for_url(server.url, **options), name="CLOUD")


def on_disk(config: Path) -> dict[str, dict[str, Any]]:
    document = tomllib.loads(config.read_text())
    return {table["name"]: table for table in document.get("destinations", [])}


def shown(form: DestinationForm, key: str) -> bool:
    return bool(form.query_one(f"#row-{key}").display)


def problem_text(form: DestinationForm, key: str) -> str:
    box = form.query_one(f"#problem-{key}" if key else "#form-problems", Static)
    return str(box.content) if box.display else ""


async def test_add_a_dicomweb_destination_by_keyboard(tmp_path: Path) -> None:
    config = tmp_path / "tui-sender" / "config.toml"
    app = SenderApp([], book=AddressBook(config), remember_choice=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d", "n")
        form = app.screen
        assert isinstance(form, DestinationForm)
        assert all(shown(form, key) for key in DIMSE_ONLY[:4])
        assert not any(shown(form, key) for key in WEB_ONLY)

        # The Kind is just above the name: shift+tab, then the Select by keys.
        await pilot.press("shift+tab")
        assert app.focused is form.query_one("#field-kind")
        await pilot.press("enter", "down", "enter")
        assert form.query_one("#field-kind", Select).value == DestinationKind.DICOMWEB
        assert not any(shown(form, key) for key in DIMSE_ONLY)
        assert all(shown(form, key) for key in WEB_ONLY)
        assert shown(form, "stow_instances") and shown(form, "stow_megabytes")
        assert not shown(form, "decompress")
        assert str(form.query_one("#label-dimse_timeout").content) == "Response (s)"
        verify = form.query_one("#field-verify", Select)
        assert str(verify.query_one("#label", Static).content) == (
            "none: trust the STOW-RS responses"
        ), "the closed Select kept the DIMSE wording"

        # Name, then a URL that is no DICOMweb URL: the problem shows under it as typed.
        await pilot.press("tab", *"CLOUD", "tab")
        assert app.focused is form.query_one("#field-url")
        await pilot.press(*"ftp://pacs.example.org/dicom-web")
        assert "must start with https:// or http://" in problem_text(form, "url")
        await pilot.press("ctrl+s")
        assert app.screen is form, "saved with an ftp URL"
        assert not config.exists()
        assert app.focused is form.query_one("#field-url")

        # Credentials in the URL are refused too, with what to do instead.
        url_field = form.query_one("#field-url", Input)
        url_field.value = "https://alice:secret@pacs.example.org/dicom-web"
        await pilot.pause()
        assert "must not carry a user name or password" in problem_text(form, "url")
        url_field.value = "https://pacs.example.org/dicom-web"
        await pilot.pause()
        assert problem_text(form, "url") == ""

        # A user name needs where its password is read from; the password itself is refused.
        await pilot.press("tab", "tab", "tab")  # past workers and description
        assert app.focused is form.query_one("#field-username")
        assert "password comes from" in str(form.query_one("#form-hint", Static).content)
        await pilot.press(*"alice")
        assert "needs password_env or password_file" in problem_text(form, "username")
        await pilot.press("tab", *"s3cret pass!")
        assert "name of an environment variable" in problem_text(form, "password_env")
        assert "s3cret" not in problem_text(form, "password_env")
        await pilot.press("ctrl+s")
        assert app.screen is form, "saved a password where its variable's name goes"
        form.query_one("#field-password_env", Input).value = "CLOUD_PW"
        await pilot.pause()
        assert problem_text(form, "username") == problem_text(form, "password_env") == ""

        # Smaller requests than the default.
        form.query_one("#field-stow_instances", Input).value = "10"
        form.query_one("#field-verify", Select).value = VerifyMethod.FIND
        await pilot.press("ctrl+s")
        screen = app.screen
        assert isinstance(screen, DestinationsScreen)

        saved = on_disk(config)["CLOUD"]
        assert saved == {
            "name": "CLOUD",
            "url": "https://pacs.example.org/dicom-web",
            "username": "alice",
            "password_env": "CLOUD_PW",
            "stow_instances": 10,
            "verify": "find",
        }
        assert stat.S_IMODE(config.stat().st_mode) == 0o600
        assert AddressBook.load(config).get("CLOUD").is_web

        # The list marks it as web, shows its URL, and says how it signs in.
        table = screen.query_one(DataTable)
        row = [str(cell) for cell in table.get_row_at(0)]
        assert row[1:4] == ["CLOUD", "web", "pacs.example.org/dicom-web"]
        assert row[4] == "–" and row[6] == "yes"
        detail = str(screen.query_one("#dest-detail", Static).content)
        assert "DICOMweb https://pacs.example.org/dicom-web" in detail
        assert "Basic as alice (password from $CLOUD_PW)" in detail
        assert "verify by QIDO-RS" in detail

        # Back in the form, it opens as DICOMweb; switching to DIMSE brings back its fields.
        await pilot.press("enter")
        form = app.screen
        assert isinstance(form, DestinationForm)
        assert form.query_one("#field-kind", Select).value == DestinationKind.DICOMWEB
        assert form.query_one("#field-url", Input).value == "https://pacs.example.org/dicom-web"
        form.query_one("#field-kind", Select).value = DestinationKind.DIMSE
        await pilot.pause()
        assert all(shown(form, key) for key in DIMSE_ONLY[:4])
        assert not shown(form, "url")
        assert str(form.query_one("#label-dimse_timeout").content) == "DIMSE (s)"
        await pilot.press("ctrl+s")
        assert app.screen is form, "a DIMSE destination without AE title and host was saved"
        assert "AE title must not be empty" in problem_text(form, "ae_title")
        assert "https://pacs" not in problem_text(form, "")
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, DestinationsScreen)
        assert on_disk(config)["CLOUD"]["url"] == "https://pacs.example.org/dicom-web"


async def test_an_empty_url_is_asked_for_not_an_ae_title(tmp_path: Path) -> None:
    """A DICOMweb form without a URL says the URL is missing, not that AE title and host are."""
    app = SenderApp([], book=AddressBook(tmp_path / "config.toml"), remember_choice=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d", "n")
        form = app.screen
        assert isinstance(form, DestinationForm)
        form.query_one("#field-kind", Select).value = DestinationKind.DICOMWEB
        form.query_one("#field-name", Input).value = "NO-URL"
        await pilot.press("ctrl+s")
        assert app.screen is form
        assert "url must not be empty" in problem_text(form, "url")
        assert set(form.problems) == {"url"}
        assert app.focused is form.query_one("#field-url")


def test_every_dicomweb_validation_message_lands_under_a_field(tmp_path: Path) -> None:
    both = Destination(
        name="W",
        url="https://u:p@host/x?y",
        username="",
        password_env="A",
        password_file=str(tmp_path / "missing"),
        token_env="T",
        token_file=str(tmp_path / "missing-too"),
        stow_instances=0,
        stow_megabytes=0,
        verify=VerifyMethod.COMMITMENT,
    )
    problems = both.validate()
    assert len(problems) >= 9
    keys = {field_of_problem(p) for p in problems}
    assert None not in keys, [p for p in problems if field_of_problem(p) is None]
    assert keys <= {spec.key for spec in ALL_FIELDS}


async def test_echo_a_dicomweb_server_then_with_a_wrong_password(
    tmp_path: Path, server: StowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_VAR, PASSWORD)
    app = SenderApp(
        [],
        book=AddressBook(tmp_path / "config.toml", [web_destination(server)]),
        remember_choice=False,
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d", "e")
        assert isinstance(app.screen, EchoScreen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        report = app.screen.query_one(EchoReport)
        assert report.echo_result is not None and report.echo_result.ok, report.plain_text()
        text = report.plain_text()
        assert text.splitlines()[0] == (
            f"{server.url}  DICOMweb · Basic as alice (password from ${PASSWORD_VAR})"
        )
        assert "✓ The DICOMweb server answered: QIDO-RS round trip" in text
        assert f"connect + first QIDO-RS request: {report.echo_result.associate_ms:.1f} ms" in text
        assert f"QIDO-RS round trip: {report.echo_result.echo_ms:.1f} ms" in text
        assert "server: StowServer/" in text
        assert WEB_NO_NEGOTIATION in text
        for word in ("C-ECHO", "associat", "PDU", "calling AE"):
            assert word not in text
        assert [r.path for r in server.requests if "/studies" in r.path]
        assert not server.stow_requests

        # The wrong password: the server's 401, worded with what to check.
        monkeypatch.setenv(PASSWORD_VAR, WRONG)
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        report = app.screen.query_one(EchoReport)
        assert report.echo_result is not None and not report.echo_result.ok
        text = report.plain_text()
        reason = report.echo_result.reason
        assert "authentication failed (HTTP 401" in reason and "Basic as alice" in reason
        assert f"✗ DICOMweb test failed: {reason}" in text
        assert "check the user name, the password (or token) and the URL" in text
        screen = app.export_screenshot()
        assert "DICOMweb test failed" in screen.replace("\xa0", " ").replace("&#160;", " ")
        for secret in (PASSWORD_VAR + "=", WRONG):
            assert secret not in text and secret not in screen

        # Unset, it says which variable is missing, and nothing is asked of the server.
        monkeypatch.delenv(PASSWORD_VAR)
        asked = len(server.requests)
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        report = app.screen.query_one(EchoReport)
        assert report.echo_result is not None
        assert f"environment variable {PASSWORD_VAR}, which is not set" in report.plain_text()
        assert len(server.requests) == asked
        await pilot.press("escape")
        assert isinstance(app.screen, DestinationsScreen)


async def send_everything(app: SenderApp, pilot: Pilot[Any]) -> TransferScreen:
    """Select every study, s, enter: the dashboard."""
    await wait_until(lambda: not app.scanning and bool(app.catalog.studies), pilot)
    await pilot.pause(0.2)
    await pilot.press("a", "s")
    await pilot.pause(0.2)
    await pilot.press("enter")
    await wait_until(lambda: isinstance(app.screen, TransferScreen | SummaryScreen), pilot)
    screen = app.screen
    assert isinstance(screen, TransferScreen), "the session ended before its dashboard showed"
    return screen


async def test_send_three_studies_to_a_dicomweb_server(
    samples: SampleSet, server: StowServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_VAR, PASSWORD)
    server.default = Behaviour(delay=0.3)  # each answer a little late: the dashboard shows
    destination = web_destination(server, workers=2, stow_instances=2, verify=VerifyMethod.FIND)
    app = SenderApp(
        [str(samples.root)],
        book=AddressBook(tmp_path / "config.toml", [destination]),
        logs_dir=tmp_path / "logs",
        chosen=[destination.name],
        remember_choice=False,
    )
    async with app.run_test(size=(100, 30)) as pilot:
        dashboard = await send_everything(app, pilot)
        log = dashboard.query_one(TabbedLog)
        board = dashboard.query_one(VerificationBoard)
        await wait_until(lambda: isinstance(app.screen, SummaryScreen), pilot, timeout=60)
        summary = app.screen
        assert isinstance(summary, SummaryScreen)
        await pilot.pause(0.3)

        # Every file arrived, once each.
        totals = summary.result.summary["totals"]
        states = [(f["path"], f["state"], f["reason"]) for f in summary.result.summary["files"]]
        assert (totals["sent"], totals["failed"], totals["found"]) == (FILES, 0, FILES), states
        assert summary.result.exit_code == 0
        sent = {str(dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in samples.files}
        received = [r.sop_instance_uid for r in server.received]
        assert sorted(received) == sorted(sent)
        assert len(server.stow_requests) >= FILES // 2, "stow_instances = 2 per request"
        assert not server.errors

        # The dashboard spoke of connections and QIDO-RS, not associations and C-FIND.
        lines = "\n".join(log.lines)
        assert f"connection A1 to {server.url} open" in lines
        assert "presentation context" not in lines and "association A" not in lines
        negotiation = log.documents["negotiation"].lines
        assert negotiation and all(
            line.endswith(f"→ {server.url}  HTTP: nothing to negotiate") for line in negotiation
        ), negotiation
        assert "QIDO-RS" in board.text and "C-FIND" not in board.text
        verify_lines = str(summary.query_one("#verify-lines", Static).content)
        assert f"CLOUD · QIDO-RS: {FILES} of {FILES} found" in verify_lines


def test_the_list_line_of_a_token_destination_names_where_the_token_is() -> None:
    destination = Destination(
        name="VNA", url="http://vna.local/dicom-web", token_file="~/.vna-token", workers=1
    )
    text = describe(destination)
    assert text.startswith("VNA: DICOMweb http://vna.local/dicom-web · 1 connection · plain HTTP")
    assert "bearer token from ~/.vna-token" in text


# -- the picture ------------------------------------------------------------------------------


class WebFormApp(SenderApp):
    """The app on an address book holding one DICOMweb destination, nothing scanned."""

    def __init__(self) -> None:
        destination = Destination(
            name="CLOUD-VNA",
            url="https://vna.hospital.example/dicom-web",
            username="sender",
            password_env="VNA_PASSWORD",
            stow_instances=20,
            verify=VerifyMethod.FIND,
            description="cloud archive, tenant radiology",
        )
        super().__init__(
            [], book=AddressBook(Path("config.toml"), [destination]), remember_choice=False
        )


async def open_the_form(pilot: Pilot[Any]) -> None:
    await pilot.press("d", "enter")
    await wait_until(lambda: isinstance(pilot.app.screen, DestinationForm), pilot, timeout=10)
    await pilot.press("tab")  # onto the URL: its hint shows
    await pilot.pause(0.2)


def test_the_form_of_a_dicomweb_destination(
    snap_compare: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The edit form of CLOUD-VNA at 80x24, in DICOMweb mode.

    Title "Edit destination CLOUD-VNA". Section "Destination": Kind "DICOMweb: STOW-RS to
    a URL", Name CLOUD-VNA, URL https://vna.hospital.example/dicom-web (focused: its label
    alone highlighted), Workers 2, Description "cloud archive, tenant radiology"; no
    Called AE, Host, Port, Calling AE or Decompress. Then "Sign-in (where the password or
    token is read from)": User name sender, Password var VNA_PASSWORD, then Password
    file, Token var and Token file empty with their greyed placeholders. Then "Security
    (TLS, for an https URL)": CA file, Client cert, Client key, Key password (placeholders)
    and Check name [X] "yes: the certificate must name the host"; no TLS switch and no
    Server name. The rest scrolls. The hint line is the URL's ("DICOMweb base URL,
    without user or password (STOW-RS posts to …/studies)."); Save and Cancel at the
    bottom right.
    """
    monkeypatch.chdir(tmp_path)
    assert snap_compare(WebFormApp(), terminal_size=SIZE, run_before=open_the_form)
