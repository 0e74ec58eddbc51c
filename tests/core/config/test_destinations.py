"""The address book and app settings: file round trip, validation, permissions, clear errors."""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path

import pytest
from pynetdicom._validators import validate_ae

from tui_sender.core.config.destinations import (
    AddressBook,
    ConfigError,
    DecompressPolicy,
    Destination,
    ae_title_problems,
)
from tui_sender.core.config.settings import CONFIG_ENV, AppSettings, config_path
from tui_sender.core.model.verification import VerifyMethod

SECRET = "correct horse battery staple"


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config path in a not-yet-existing directory, selected through the environment."""
    path = tmp_path / "home" / "tui-sender" / "config.toml"
    monkeypatch.setenv(CONFIG_ENV, str(path))
    return path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _everything_changed(tmp_path: Path) -> Destination:
    """A destination with every field away from its default."""
    ca = tmp_path / "ca.pem"
    cert = tmp_path / "client.pem"
    key = tmp_path / "client.key"
    for f in (ca, cert, key):
        f.write_text("placeholder")
    return Destination(
        name="Main PACS (site B)",
        ae_title="PACS_B",
        host="pacs-b.example.org",
        port=11112,
        calling_ae="WS_12",
        workers=6,
        connect_timeout=3.5,
        acse_timeout=12,
        dimse_timeout=600,
        network_timeout=90,
        max_pdu=65536,
        tls=True,
        ca_file=str(ca),
        client_cert=str(cert),
        client_key=str(key),
        client_key_password=SECRET,
        verify_hostname=False,
        server_name="pacs.internal",
        decompress=DecompressPolicy.NEVER,
        verify=VerifyMethod.COMMITMENT,
        commit_ae="WS_12_COMMIT",
        commit_port=11113,
        commit_host="10.0.0.5",
        commit_timeout=300,
        commit_batch=500,
        description="radiology, ext. 4711",
    )


# --- where the file is -------------------------------------------------------------------


def test_config_path_precedence(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), CONFIG_ENV: str(tmp_path / "env.toml")}
    assert config_path(tmp_path / "flag.toml", env) == tmp_path / "flag.toml"
    assert config_path(None, env) == tmp_path / "env.toml"
    del env[CONFIG_ENV]
    assert config_path(None, env) == tmp_path / "xdg" / "tui-sender" / "config.toml"
    # The XDG spec says a relative XDG_CONFIG_HOME is invalid and must be ignored.
    relative = config_path(None, {"XDG_CONFIG_HOME": "relative/dir"})
    assert relative == Path.home() / ".config" / "tui-sender" / "config.toml"


def test_missing_file_is_an_empty_book(config_file: Path) -> None:
    book = AddressBook.load()
    assert book.path == config_file
    assert book.names() == []
    assert book.settings == AppSettings()
    assert not config_file.exists()


# --- round trip ----------------------------------------------------------------------------


def test_round_trip_keeps_every_field_and_the_order(config_file: Path, tmp_path: Path) -> None:
    full = _everything_changed(tmp_path)
    minimal = Destination("orthanc", "ORTHANC", "127.0.0.1", 4242)
    ipv6 = Destination.from_cli("STORESCP", "::1", 104, "ME")
    settings = AppSettings(
        theme="textual-light",
        default_workers=4,
        logs_dir="/var/log/tui-sender",
        include_phi=True,
        keys={"send": "ctrl+s", "quit": "ctrl+q"},
    )
    AddressBook(config_file, [minimal, full, ipv6], settings).save()

    loaded = AddressBook.load()
    assert loaded.names() == ["orthanc", "Main PACS (site B)", "STORESCP@[::1]:104"]
    assert list(loaded) == [minimal, full, ipv6]
    assert loaded.settings == settings
    assert dict(loaded.settings.keys) == {"send": "ctrl+s", "quit": "ctrl+q"}


def test_defaults_are_not_written(config_file: Path) -> None:
    """Only what differs from the defaults is written, so better defaults reach old files."""
    AddressBook(config_file, [Destination("p", "PACS", "h", 104)]).save()
    text = config_file.read_text()
    assert 'name = "p"' in text and "port = 104" in text
    for default_key in ("workers", "dimse_timeout", "calling_ae", "[settings]", "decompress"):
        assert default_key not in text


def test_hand_written_file_with_integer_timeouts(config_file: Path) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text(
        "[settings]\n"
        'theme = "nord"\n'
        "[settings.keys]\n"
        'send = "f5"\n\n'
        "[[destinations]]\n"
        'name = "pacs"\n'
        'ae_title = "PACS"\n'
        'host = "10.1.2.3"\n'
        "port = 104\n"
        "dimse_timeout = 300\n"
        'decompress = "lossy"\n'
    )
    book = AddressBook.load()
    pacs = book.get("pacs")
    assert pacs.dimse_timeout == 300.0 and isinstance(pacs.dimse_timeout, float)
    assert pacs.decompress is DecompressPolicy.LOSSY
    assert pacs.peer_label == "PACS@10.1.2.3:104"
    assert book.settings.theme == "nord" and dict(book.settings.keys) == {"send": "f5"}


# --- editing -------------------------------------------------------------------------------


def test_add_replace_remove(config_file: Path) -> None:
    book = AddressBook.load()
    a = Destination("a", "A", "h", 1)
    b = Destination("b", "B", "h", 2)
    c = Destination("c", "C", "h", 3)
    for d in (a, b, c):
        book.add(d)
    with pytest.raises(ConfigError, match="'b' already exists"):
        book.add(Destination("b", "OTHER", "h", 9))
    with pytest.raises(ConfigError, match="port must be 1 to 65535"):
        book.add(Destination("d", "D", "h", 0))

    book.replace(Destination("b", "B2", "h", 22))
    assert book.get("b").ae_title == "B2"
    book.replace(Destination("renamed", "B3", "h", 23), old_name="b")
    assert book.names() == ["a", "renamed", "c"]
    with pytest.raises(ConfigError, match="'c' already exists"):
        book.replace(Destination("c", "X", "h", 1), old_name="a")

    assert book.remove("a") == a
    assert book.names() == ["renamed", "c"]
    book.save()
    assert AddressBook.load().names() == ["renamed", "c"]


def test_unknown_name_lists_the_known_ones(config_file: Path) -> None:
    book = AddressBook(config_file, [Destination("main", "M", "h", 104)])
    with pytest.raises(ConfigError) as caught:
        book.get("mian")
    message = str(caught.value)
    assert "'mian'" in message and "'main'" in message and str(config_file) in message


def test_from_cli_names_the_peer() -> None:
    d = Destination.from_cli("ORTHANC", "127.0.0.1", 4242)
    assert d.name == d.peer_label == "ORTHANC@127.0.0.1:4242"
    assert d.calling_ae == "TUI_SENDER"
    assert Destination.from_cli("X", "h", 1, "RUST_SCU", workers=4).calling_ae == "RUST_SCU"
    assert Destination.from_cli("X", "fe80::1", 104).peer_label == "X@[fe80::1]:104"
    assert d.validate() == []


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("A" * 17, "17 characters long; at most 16"),
        ("PACS\\1", "backslash"),
        ("PACS\x07", "control characters"),
        ("PACS\n", "control characters"),
        ("", "must not be empty"),
        ("    ", "must not be empty"),
        ("PÄCS", "ASCII"),
    ],
)
def test_bad_ae_titles_are_explained(title: str, expected: str) -> None:
    problems = Destination("d", title, "h", 104).validate()
    assert len(problems) == 1
    assert problems[0].startswith("AE title") and expected in problems[0]
    calling = Destination("d", "PACS", "h", 104, calling_ae=title).validate()
    assert len(calling) == 1 and calling[0].startswith("calling AE title")


@pytest.mark.parametrize("title", ["A" * 17, "A\\B", "A\tB", "\x00", "É", "PACS", "A" * 16, " X "])
def test_ae_rules_agree_with_pynetdicom(title: str) -> None:
    """Anything pynetdicom's own validator refuses, we refuse too (before it raises)."""
    pynetdicom_ok, _ = validate_ae(title)
    if not pynetdicom_ok:
        assert ae_title_problems(title, "AE title")
    else:
        assert ae_title_problems(title, "AE title") == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"port": 0}, "port must be 1 to 65535, got 0"),
        ({"port": 65536}, "port must be 1 to 65535, got 65536"),
        ({"host": ""}, "host must not be empty"),
        ({"host": "pacs .org"}, "must not contain spaces"),
        ({"name": ""}, "name must not be empty"),
        ({"name": " main"}, "must not start or end with spaces"),
        ({"workers": 0}, "workers must be 1 to 32, got 0"),
        ({"workers": 33}, "workers must be 1 to 32, got 33"),
        ({"dimse_timeout": 0.0}, "dimse_timeout must be a positive number"),
        ({"connect_timeout": -1.0}, "connect_timeout must be a positive number"),
        ({"acse_timeout": math.inf}, "acse_timeout must be a positive number"),
        ({"network_timeout": math.nan}, "network_timeout must be a positive number"),
        ({"max_pdu": 100}, "max_pdu must be 0 (no limit) or 4096"),
        ({"client_key": "/k.pem"}, "client_key is set but client_cert is not"),
    ],
)
def test_bad_values_are_explained(changes: dict[str, object], expected: str) -> None:
    base: dict[str, object] = {"name": "d", "ae_title": "PACS", "host": "h", "port": 104}
    problems = Destination(**{**base, **changes}).validate()  # type: ignore[arg-type]
    assert any(expected in p for p in problems), problems


def test_tls_files_must_exist_when_tls_is_on(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.pem")
    off = Destination("d", "P", "h", 1, ca_file=missing)
    assert off.validate() == []
    on = Destination("d", "P", "h", 1, tls=True, ca_file=missing)
    assert on.validate() == [f"ca_file {missing!r} does not exist or is not a file"]
    assert _everything_changed(tmp_path).validate() == []
    assert Destination("d", "P", "h", 0xFFFF, max_pdu=0).validate() == []


# --- permissions and secrets ---------------------------------------------------------------


def test_save_creates_owner_only_file_and_directory(config_file: Path) -> None:
    AddressBook(config_file, [Destination("p", "PACS", "h", 104)]).save()
    assert _mode(config_file) == 0o600
    assert _mode(config_file.parent) == 0o700
    # Saving over a file that had looser permissions tightens them.
    os.chmod(config_file, 0o644)
    AddressBook.load().save()
    assert _mode(config_file) == 0o600
    assert [p.name for p in config_file.parent.iterdir()] == ["config.toml"]


def test_failed_save_leaves_the_old_file_and_no_temporary(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    AddressBook(config_file, [Destination("old", "OLD", "h", 104)]).save()
    before = config_file.read_bytes()

    def refuse(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="No space"):
        AddressBook(config_file, [Destination("new", "NEW", "h", 104)]).save()
    assert config_file.read_bytes() == before
    assert [p.name for p in config_file.parent.iterdir()] == ["config.toml"]


def test_group_readable_file_with_a_password_is_refused(config_file: Path, tmp_path: Path) -> None:
    AddressBook(config_file, [_everything_changed(tmp_path)]).save()
    assert AddressBook.load().get("Main PACS (site B)").client_key_password == SECRET

    os.chmod(config_file, 0o640)
    with pytest.raises(ConfigError) as caught:
        AddressBook.load()
    message = str(caught.value)
    assert str(config_file) in message
    assert "0640" in message and "chmod 600" in message and "'Main PACS (site B)'" in message
    assert SECRET not in message


def test_group_readable_file_without_secrets_loads(config_file: Path) -> None:
    AddressBook(config_file, [Destination("p", "PACS", "h", 104)]).save()
    os.chmod(config_file, 0o644)
    assert AddressBook.load().names() == ["p"]


def test_password_never_shown(tmp_path: Path, config_file: Path) -> None:
    full = _everything_changed(tmp_path)
    assert SECRET not in repr(full)
    config_file.parent.mkdir(parents=True)
    config_file.write_text(
        '[[destinations]]\nname = "p"\nae_title = "P"\nhost = "h"\nport = 1\n'
        "client_key_password = 123456\n"
    )
    os.chmod(config_file, 0o600)
    with pytest.raises(ConfigError) as caught:
        AddressBook.load()
    assert "client_key_password must be a string, got an integer" in str(caught.value)
    assert "123456" not in str(caught.value)


# --- malformed files -----------------------------------------------------------------------


def _load_error(config_file: Path, text: str) -> str:
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(text)
    with pytest.raises(ConfigError) as caught:
        AddressBook.load()
    assert str(config_file) in str(caught.value)
    return str(caught.value)


def test_toml_syntax_error_names_the_line(config_file: Path) -> None:
    message = _load_error(config_file, '[[destinations]]\nname = "p"\nport = 104 104\n')
    assert "not valid TOML" in message and "line 3" in message


def test_wrong_types_and_unknown_keys_are_reported_with_their_line(config_file: Path) -> None:
    message = _load_error(
        config_file,
        "# my PACS list\n\n"
        "[[destinations]]\n"
        'name = "ok"\nae_title = "OK"\nhost = "h"\nport = 104\n\n'
        "[[destinations]]\n"
        'name = "typo"\nae_title = "T"\nhost = "h"\nport = "104"\n'
        "dimse_timout = 30\n"
        "tls = 1\n",
    )
    assert "3 problems" in message
    assert "line 9, [[destinations]] #2 'typo': port must be an integer, got a string '104'" in (
        message
    )
    assert "unknown key 'dimse_timout'" in message
    assert "tls must be a boolean (true or false), got an integer" in message


def test_missing_required_keys_and_duplicates(config_file: Path) -> None:
    message = _load_error(
        config_file,
        '[[destinations]]\nname = "a"\nae_title = "A"\nhost = "h"\nport = 1\n'
        '[[destinations]]\nname = "a"\nae_title = "A2"\nhost = "h"\nport = 2\n'
        '[[destinations]]\nname = "b"\n',
    )
    assert "line 6, [[destinations]] #2 'a': the name is already used by line 1" in message
    for key in ("ae_title", "host", "port"):
        assert f"#3 'b': missing required key {key!r}" in message


def test_bad_shapes_and_settings(config_file: Path) -> None:
    message = _load_error(
        config_file,
        'destination = "typo at the top"\n'
        "[settings]\n"
        "default_workers = 0\n"
        'decompress = "lossless"\n'
        '[destinations]\nname = "not an array"\n',
    )
    assert "unknown top-level key 'destination'" in message
    assert "[settings]: default_workers must be 1 to 32, got 0" in message
    assert "[settings]: unknown key 'decompress'" in message
    assert "destinations must be an array of tables" in message


def test_bad_enum_value_lists_the_choices(config_file: Path) -> None:
    message = _load_error(
        config_file,
        '[[destinations]]\nname = "a"\nae_title = "A"\nhost = "h"\nport = 1\n'
        'decompress = "always"\n',
    )
    assert 'decompress must be one of "never" | "lossless" | "lossy"' in message


def test_unreadable_bytes_and_directories(config_file: Path) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_bytes(b'[settings]\ntheme = "\xff"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        AddressBook.load()
    with pytest.raises(ConfigError, match="is a directory"):
        AddressBook.load(config_file.parent)


def test_settings_are_frozen() -> None:
    settings = AppSettings(keys={"send": "f5"})
    with pytest.raises(TypeError):
        settings.keys["send"] = "f6"  # type: ignore[index]
    assert AppSettings().validate() == []


def test_the_remembered_choice_is_a_convenience_never_an_error(tmp_path: Path) -> None:
    from tui_sender.core.config.remembered import initial_choice, load_chosen, save_chosen

    state = tmp_path / "state" / "chosen.json"
    assert load_chosen(state) == []
    save_chosen(["B", "GONE"], state)
    assert load_chosen(state) == ["B", "GONE"]
    assert oct(state.stat().st_mode & 0o777) == "0o600"
    # Names asked for win; a one-destination book chooses itself; stale names drop out.
    assert initial_choice(["A", "B"], ["A"], ["B"]) == (["A"], "")
    assert initial_choice(["A"], [], []) == (["A"], "the only destination")
    assert initial_choice(["A", "B"], [], load_chosen(state)) == (["B"], "chosen last time")
    assert initial_choice(["A", "B"], [], ["GONE"]) == ([], "")
    state.write_text("{not json", encoding="utf-8")
    assert load_chosen(state) == []
    state.write_text('{"chosen": "A"}', encoding="utf-8")
    assert load_chosen(state) == []


def test_verification_settings_are_checked_with_clear_messages(config_file: Path) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text(
        '[[destinations]]\nname = "a"\nae_title = "A"\nhost = "h"\nport = 104\n'
        'verify = "sometimes"\ncommit_port = 70000\ncommit_batch = 0\ncommit_ae = "x\\\\y"\n'
    )
    config_file.chmod(0o600)
    with pytest.raises(ConfigError) as caught:
        AddressBook.load()
    text = str(caught.value)
    assert "verify must be" in text and "'sometimes'" in text
    bad = Destination("b", "B", "h", 104, commit_port=70000, commit_batch=0, commit_ae="x\\y")
    problems = " ".join(bad.validate())
    assert "commit_port must be 0 (none) or 1 to 65535, got 70000" in problems
    assert "commit_batch must be 1 to 50000, got 0" in problems
    assert "commit_ae 'x\\\\y' must not contain a backslash" in problems
