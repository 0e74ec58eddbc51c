"""The address book screen, driven by keys at 80x24 as an operator over SSH would.

Adds, validates, edits, chooses and deletes destinations through the real
screens and checks the config file on disk; echo-tests real peers on
127.0.0.1 (a scripted pynetdicom SCP, a closed port, a port that never
answers).
"""

from __future__ import annotations

import socket
import stat
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Checkbox, DataTable, Input, Static

from peers.pynetdicom_scp import ScriptedSCP
from tui_sender.core.config.destinations import AddressBook, Destination
from tui_sender.demo.samples.data import generate_samples
from tui_sender.ui.app import SenderApp
from tui_sender.ui.messages import DestinationsChanged
from tui_sender.ui.screens.destination_dialogs import ConfirmDeleteScreen, EchoScreen
from tui_sender.ui.screens.destination_fields import field_of_problem
from tui_sender.ui.screens.destination_form import DestinationForm
from tui_sender.ui.screens.destinations import DestinationsScreen
from tui_sender.ui.widgets.echo_report import EchoReport

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
SIZE = (80, 24)


class RecordingApp(SenderApp):
    """The real app, counting the DestinationsChanged messages that reach it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.destination_changes = 0

    def on_destinations_changed(self, message: DestinationsChanged) -> None:
        self.destination_changes += 1


def make_app(
    config: Path, *destinations: Destination, paths: list[str] | None = None
) -> RecordingApp:
    return RecordingApp(paths or [], book=AddressBook(config, destinations))


def on_disk(config: Path) -> dict[str, dict[str, Any]]:
    """The destinations in the config file, by name."""
    document = tomllib.loads(config.read_text())
    return {table["name"]: table for table in document.get("destinations", [])}


def table_names(screen: DestinationsScreen) -> list[str]:
    table = screen.query_one(DataTable)
    return [str(row.key.value) for row in table.ordered_rows]


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections (backlog) but never says a DICOM word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        yield sock.getsockname()[1]


async def test_add_validate_edit_choose_delete(tmp_path: Path) -> None:
    config = tmp_path / "tui-sender" / "config.toml"
    app = make_app(config)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d")
        screen = app.screen
        assert isinstance(screen, DestinationsScreen)
        assert screen.query_one("#dest-empty").display
        assert "Press n to add one" in str(screen.query_one("#dest-empty", Static).content)

        # A 17-character AE title is flagged as it is typed, and Save is refused.
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, DestinationForm)
        await pilot.press(*"ARCHIVE", "tab", *"ABCDEFGHIJKLMNOPQ")
        problem = form.query_one("#problem-ae_title", Static)
        assert problem.display
        assert "17 characters long; at most 16" in str(problem.content)
        await pilot.press("ctrl+s")
        assert app.screen is form, "saved despite a 17-character AE title"
        assert len(app.book) == 0 and not config.exists()
        assert form.query_one("#form-problems").display
        assert app.focused is form.query_one("#field-ae_title")

        # Fixed, with the remaining required fields: saved to the file, owner-only.
        await pilot.press("backspace")
        assert not problem.display, "the message stayed after the title was shortened"
        form.query_one("#field-ae_title", Input).value = "PACS_AE"
        await pilot.press("tab", *"127.0.0.1")
        form.query_one("#field-port", Input).value = "11112"
        await pilot.press("ctrl+s")
        assert app.screen is screen
        assert on_disk(config)["ARCHIVE"]["ae_title"] == "PACS_AE"
        assert on_disk(config)["ARCHIVE"]["port"] == 11112
        assert stat.S_IMODE(config.stat().st_mode) == 0o600
        assert table_names(screen) == ["ARCHIVE"]
        assert not screen.query_one("#dest-empty").display
        assert app.focused is screen.query_one(DataTable), "arrow keys would not move"

        # Choose it, then rename it: the choice follows the new name.
        await pilot.press("space")
        assert app.chosen_destinations == ["ARCHIVE"]
        await pilot.press("enter")
        form = app.screen
        assert isinstance(form, DestinationForm)
        assert form.query_one("#field-ae_title", Input).value == "PACS_AE"
        form.query_one("#field-name", Input).value = "ARCHIVE-B"
        form.query_one("#field-description", Input).value = "building B"
        form.query_one("#field-max_rate", Input).value = "2 Mbit"
        await pilot.press("ctrl+s")
        assert app.screen is form, "saved a cap in bits"
        assert "12.5MB" in str(form.query_one("#problem-max_rate", Static).content)
        form.query_one("#field-max_rate", Input).value = "20MB"
        form.query_one("#save").focus()
        await pilot.press("enter")
        assert app.screen is screen
        assert set(on_disk(config)) == {"ARCHIVE-B"}
        assert on_disk(config)["ARCHIVE-B"]["description"] == "building B"
        assert on_disk(config)["ARCHIVE-B"]["max_rate"] == "20MB"
        assert app.chosen_destinations == ["ARCHIVE-B"]

        # A second one with the address filled in directly; a taken name is refused.
        await pilot.press("a")
        form = app.screen
        assert isinstance(form, DestinationForm)
        for key, value in {
            "name": "ARCHIVE-B",
            "ae_title": "SECOND_AE",
            "host": "10.1.2.3",
            "port": "104",
        }.items():
            form.query_one(f"#field-{key}", Input).value = value
        await pilot.press("ctrl+s")
        assert app.screen is form
        assert "already exists" in str(form.query_one("#problem-name", Static).content)
        form.query_one("#field-name", Input).value = "SECOND"
        await pilot.press("ctrl+s")
        assert table_names(screen) == ["ARCHIVE-B", "SECOND"]

        # Choose both for the send.
        await pilot.press("space")
        assert app.chosen_destinations == ["ARCHIVE-B", "SECOND"]
        assert "ARCHIVE-B, SECOND" in str(screen.query_one("#dest-chosen", Static).content)

        # Delete asks first; "n" keeps it, "y" deletes it from the file and the choice.
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmDeleteScreen)
        await pilot.press("n")
        assert table_names(screen) == ["ARCHIVE-B", "SECOND"]
        await pilot.press("x", "y")
        assert app.screen is screen
        assert table_names(screen) == ["ARCHIVE-B"]
        assert set(on_disk(config)) == {"ARCHIVE-B"}
        assert app.chosen_destinations == ["ARCHIVE-B"]

        # Escape goes back to the browser; every change was announced to the app.
        await pilot.press("escape")
        assert not isinstance(app.screen, DestinationsScreen)
        assert app.destination_changes >= 6


async def test_cancel_asks_twice_when_changed(tmp_path: Path) -> None:
    app = make_app(tmp_path / "config.toml")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d", "n")
        form = app.screen
        assert isinstance(form, DestinationForm)
        await pilot.press(*"HALF-TYPED", "escape")
        assert app.screen is form, "one escape threw away a typed form"
        assert "escape again" in str(form.query_one("#form-hint", Static).content)
        await pilot.press("escape")
        assert isinstance(app.screen, DestinationsScreen)
        assert len(app.book) == 0


async def test_save_error_keeps_the_change(tmp_path: Path) -> None:
    """A config path under a regular file cannot be written: the book keeps the entry."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    config = blocker / "config.toml"
    app = make_app(config, Destination("OLD", "OLD_AE", "127.0.0.1", 104))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d", "enter")
        form = app.screen
        assert isinstance(form, DestinationForm)
        form.query_one("#field-workers", Input).value = "4"
        await pilot.press("ctrl+s")
        screen = app.screen
        assert isinstance(screen, DestinationsScreen)
        assert screen.unsaved
        assert app.book.get("OLD").workers == 4
        assert "NOT SAVED" in str(screen.query_one("#dest-file", Static).content)
        assert any("not saved" in (n.title or "").lower() for n in app._notifications)

        # Once the path is writable, ctrl+s writes what was kept.
        blocker.unlink()
        await pilot.press("ctrl+s")
        assert not screen.unsaved
        assert on_disk(config)["OLD"]["workers"] == 4


async def test_echo_round_trip_and_refused_port(
    tmp_path: Path, scp_factory: Callable[..., ScriptedSCP]
) -> None:
    scp = scp_factory()
    app = make_app(
        tmp_path / "config.toml",
        Destination("LIVE", "SCRIPTED_SCP", "127.0.0.1", scp.port),
        Destination("CLOSED", "NOBODY", "127.0.0.1", closed_port(), connect_timeout=3),
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d", "e")
        assert isinstance(app.screen, EchoScreen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        report = app.screen.query_one(EchoReport)
        assert report.echo_result is not None and report.echo_result.ok
        text = report.plain_text()
        assert "✓ Echo answered: round trip" in text
        assert f"{report.echo_result.echo_ms:.1f} ms" in text
        assert "No studies selected" in text
        assert not report.query_one("#echo-loading").display
        await pilot.press("c")
        assert app.clipboard == text

        await pilot.press("escape", "down", "e")
        await app.workers.wait_for_complete()
        await pilot.pause()
        report = app.screen.query_one(EchoReport)
        assert report.echo_result is not None and not report.echo_result.ok
        reason = report.echo_result.reason
        assert "127.0.0.1" in reason and "listening" in reason
        assert f"✗ Echo failed: {reason}" in report.plain_text()


async def test_escape_while_the_peer_stays_silent(tmp_path: Path, silent_port: int) -> None:
    app = make_app(
        tmp_path / "config.toml",
        Destination("MUTE", "MUTE", "127.0.0.1", silent_port, acse_timeout=1),
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d", "e")
        await pilot.pause(0.2)
        report = app.screen.query_one(EchoReport)
        assert report.echo_result is None
        assert "Testing MUTE@127.0.0.1" in report.plain_text()
        assert report.query_one("#echo-loading").display
        await pilot.press("escape")
        assert isinstance(app.screen, DestinationsScreen)
        await app.workers.wait_for_complete()


async def test_probe_shows_the_rejected_mr_class(
    tmp_path: Path, scp_factory: Callable[..., ScriptedSCP]
) -> None:
    samples = tmp_path / "samples"
    generate_samples(samples, profile="tiny", patients=1)
    scp = scp_factory(rejected_sop_classes=[MR_IMAGE_STORAGE])
    app = make_app(
        tmp_path / "config.toml",
        Destination("NO-MR", "SCRIPTED_SCP", "127.0.0.1", scp.port),
        paths=[str(samples)],
    )
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        app.selection.set_studies(list(app.catalog.studies), True)
        mr_files = sum(1 for i in app.selection.instances() if i.sop_class_uid == MR_IMAGE_STORAGE)
        assert mr_files > 0

        await pilot.press("d", "e")
        await app.workers.wait_for_complete()
        await pilot.pause()
        report = app.screen.query_one(EchoReport)
        assert report.probe_result is not None and report.probe_result.ok
        by_class: dict[str, set[str]] = {}
        for row in report.rows:
            by_class.setdefault(row.sop_class, set()).add(row.state)
        assert by_class.pop("MR Image Storage") == {"fails"}
        assert by_class["CT Image Storage"] == {"ok"}
        assert report.rows[0].sop_class == "MR Image Storage", "failures are listed first"
        assert "Abstract Syntax Not Supported" in report.rows[0].answer
        failing = sum(r.files for r in report.rows if r.state == "fails")
        assert failing == mr_files
        assert f"✗ {mr_files} of " in report.plain_text()


async def test_choice_and_switches_by_keyboard(tmp_path: Path) -> None:
    """The Select and the TLS switch work without a mouse, and the switch says its state."""
    config = tmp_path / "config.toml"
    app = make_app(config, Destination("SITE", "SITE_AE", "127.0.0.1", 104))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d", "enter")
        form = app.screen
        assert isinstance(form, DestinationForm)
        form.query_one("#field-description").focus()
        await pilot.press("shift+tab")  # back to Decompress
        assert app.focused is form.query_one("#field-decompress")
        await pilot.press("enter", "down", "enter")
        await pilot.press("tab", "tab")  # past Description, onto the TLS switch
        assert app.focused is form.query_one("#field-tls")
        assert "no: plain TCP" in str(form.query_one("#field-tls", Checkbox).label)
        await pilot.press("space")
        assert "yes: connect with TLS" in str(form.query_one("#field-tls", Checkbox).label)
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, DestinationsScreen)
        saved = on_disk(config)["SITE"]
        assert saved["decompress"] == "lossy"
        assert saved["tls"] is True


async def test_key_password_is_never_shown(tmp_path: Path) -> None:
    secret = "s3cret-Pa55"
    destination = Destination(
        "MTLS", "MTLS_AE", "127.0.0.1", 2762, client_cert="/etc/c.pem", client_key_password=secret
    )
    app = make_app(tmp_path / "config.toml", destination)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("d")
        assert secret not in app.export_screenshot()
        await pilot.press("enter")
        form = app.screen
        assert isinstance(form, DestinationForm)
        field = form.query_one("#field-client_key_password", Input)
        assert field.password and field.value == secret
        field.focus()
        await pilot.pause()
        assert secret not in app.export_screenshot()


def test_every_validation_message_lands_under_its_field() -> None:
    broken = Destination(
        name=" x ",
        ae_title="A" * 17,
        host="a b",
        port=0,
        calling_ae="",
        workers=0,
        connect_timeout=-1,
        acse_timeout=0,
        dimse_timeout=float("nan"),
        network_timeout=float("inf"),
        max_pdu=5,
        tls=True,
        ca_file="/nonexistent/ca.pem",
        client_key="/nonexistent/key.pem",
        server_name="a b",
        max_rate="lots",
    )
    problems = broken.validate()
    assert len(problems) >= 15
    assert field_of_problem("max_rate 'lots' is not a rate: give ...") == "max_rate"
    assert [p for p in problems if field_of_problem(p) is None] == []
    assert field_of_problem("calling AE title must not be empty") == "calling_ae"
    assert field_of_problem("AE title must not be empty") == "ae_title"


async def test_send_with_none_chosen_opens_a_picker_that_goes_on_to_the_confirmation(
    tmp_path: Path,
) -> None:
    """s with nothing chosen: space chooses several, enter continues (not edits)."""
    from tui_sender.core.config.remembered import load_chosen
    from tui_sender.ui.screens.confirm import ConfirmScreen

    generate_samples(tmp_path / "samples", profile="tiny", seed=3)
    a = Destination("ARCHIVE-A", "A_AE", "127.0.0.1", 11112)
    b = Destination("ARCHIVE-B", "B_AE", "127.0.0.1", 11113)
    app = SenderApp([str(tmp_path / "samples")], book=AddressBook(tmp_path / "c.toml", [a, b]))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.wait_for_scheduled_animations()
        for _ in range(100):
            if not app.scanning:
                break
            await pilot.pause(0.05)
        assert app.chosen_destinations == []
        await pilot.press("a", "s")
        picker = app.screen
        assert isinstance(picker, DestinationsScreen) and picker.for_send
        await pilot.press("space", "down", "space", "enter")
        assert isinstance(app.screen, ConfirmScreen)
        assert [d.target.name for d in app.screen.plan.destinations] == ["ARCHIVE-A", "ARCHIVE-B"]
        await pilot.press("escape")
        await pilot.pause()
        assert load_chosen() == ["ARCHIVE-A", "ARCHIVE-B"]

    # Next run, the same two are chosen again, and the status line says so.
    again = SenderApp([], book=AddressBook(tmp_path / "c.toml", [a, b]))
    assert again.chosen_destinations == ["ARCHIVE-A", "ARCHIVE-B"]
    assert again.chosen_text() == "ARCHIVE-A, ARCHIVE-B (chosen last time)"
