"""DICOMweb destinations in the address book, and where their secrets come from."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from tui_sender.core.config.destinations import AddressBook, ConfigError, Destination
from tui_sender.core.engine.targets import CredentialSetupError, transfer_target, web_settings
from tui_sender.core.model.verification import VerifyMethod
from tui_sender.core.web.credentials import CredentialError, load_credentials


def _book(tmp_path: Path, text: str) -> AddressBook:
    path = tmp_path / "config.toml"
    path.write_text(text)
    os.chmod(path, 0o600)
    return AddressBook.load(path)


def test_a_url_entry_loads_with_host_and_port_from_the_url_and_saves_back(tmp_path: Path) -> None:
    book = _book(
        tmp_path,
        '[[destinations]]\nname = "cloud"\nurl = "https://pacs.example.org/dicom-web"\n'
        'username = "gateway"\npassword_env = "PACS_PASSWORD"\nstow_instances = 20\n',
    )
    dest = book.get("cloud")
    assert dest.is_web and dest.kind == "dicomweb"
    assert (dest.host, dest.port) == ("pacs.example.org", 443)
    assert dest.peer_label == "https://pacs.example.org/dicom-web"
    assert dest.validate() == []
    book.save()
    saved = (tmp_path / "config.toml").read_text()
    assert "host" not in saved and "ae_title" not in saved and "port" not in saved
    assert AddressBook.load(tmp_path / "config.toml").get("cloud") == dest


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://pacs/dicom-web", "must start with https:// or http://"),
        ("https:///dicom-web", "names no host"),
        ("https://bob:secret@pacs/dicom-web", "must not carry a user name or password"),
        ("https://pacs/dicom-web?x=1", "without ? or #"),
        ("https://pacs:notaport/dicom-web", "is not a URL"),
    ],
)
def test_a_url_that_cannot_work_is_refused_with_the_reason(url: str, problem: str) -> None:
    problems = Destination.for_url(url).validate()
    assert any(problem in p for p in problems), problems


def test_a_url_entry_with_dimse_keys_or_commitment_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="takes no host, port"):
        _book(tmp_path, '[[destinations]]\nname = "x"\nurl = "http://a/b"\nhost = "a"\nport = 1\n')
    dest = Destination.for_url("http://a/dicom-web", verify=VerifyMethod.COMMITMENT)
    assert any("verified by QIDO-RS" in p for p in dest.validate())


def test_credentials_need_both_halves_and_never_the_secret_itself() -> None:
    assert any("needs password_env or password_file" in p
               for p in Destination.for_url("http://a/b", username="bob").validate())  # fmt: skip
    both = Destination.for_url("http://a/b", username="b", password_env="P", token_env="T")
    assert any("not both" in p for p in both.validate())
    typed = Destination.for_url("http://a/b", username="b", password_env="hunter 2!").validate()
    assert any("never the secret itself" in p for p in typed)
    assert not any("hunter" in p for p in typed)


def test_basic_and_bearer_headers_come_from_the_environment_or_an_owner_only_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PACS_PASSWORD", "s3cret")
    basic = load_credentials(username="gw", password_env="PACS_PASSWORD")
    assert basic is not None
    assert basic.header == "Basic " + base64.b64encode(b"gw:s3cret").decode()
    assert "s3cret" not in repr(basic) and basic.describe() == "Basic as gw"
    token = tmp_path / "token"
    token.write_text("abc.def\n")
    os.chmod(token, 0o600)
    bearer = load_credentials(token_file=str(token))
    assert bearer is not None and bearer.header == "Bearer abc.def"
    assert "abc.def" not in repr(bearer) + bearer.describe()
    os.chmod(token, 0o644)
    with pytest.raises(CredentialError, match="chmod 600"):
        load_credentials(token_file=str(token))
    monkeypatch.delenv("PACS_PASSWORD")
    with pytest.raises(CredentialError, match="PACS_PASSWORD, which is not set"):
        load_credentials(username="gw", password_env="PACS_PASSWORD")


def test_the_engine_target_of_a_url_destination_sends_by_stow_rs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dest = Destination.for_url("https://pacs/dicom-web", stow_instances=7, stow_megabytes=3)
    target = transfer_target(dest)
    assert type(target.connector()).__name__ == "StowTransport"
    assert target.web is not None and target.web.ssl_context is not None
    assert (target.web.max_instances, target.web.max_bytes) == (7, 3 << 20)
    with pytest.raises(CredentialSetupError, match="NOPE"):
        web_settings(Destination.for_url("http://a/b", username="u", password_env="NOPE"))
