"""The destination address book: PACS peers kept in the TOML config file.

Each ``[[destinations]]`` table is one :class:`Destination`; the CLI picks one
with ``--dest NAME`` and the TUI lists them. Ad-hoc peers from the ``send -a
-H -p`` flags become the same type through :meth:`Destination.from_cli`, so the
engine only ever sees one shape.

Checks happen in two layers. Loading checks the *structure* (TOML syntax,
types, unknown keys, duplicates, required keys) and refuses the whole file
with a :class:`ConfigError`. :meth:`Destination.validate` checks the *values*
(AE title rules, port range, TLS files) and is run where a destination is
used or added, so one bad entry does not lock the operator out of the TUI
that would let them fix it.

Secrets: a TLS client key may be encrypted, and its password
(``client_key_password``) may be kept here, because the alternative, typing
it in at every start, does not work for unattended ``send`` runs and putting
it on the command line would leak it to ``ps``. A file holding one must be
readable by its owner only; loading refuses it otherwise. The password never
appears in ``repr``, error messages or logs.

Comments in a hand-edited file are not kept when the app saves it (``tomllib``
does not keep them).
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

import tomli_w

from tui_sender.core.base.private_files import atomic_private
from tui_sender.core.config.rates import parse_rate
from tui_sender.core.config.settings import (
    DEFAULT_WORKERS,
    MAX_WORKERS,
    MIN_WORKERS,
    AppSettings,
    ConfigError,
    config_path,
    fields_from_table,
    is_finite_positive,
    table_from_fields,
)
from tui_sender.core.model.verification import (
    DEFAULT_COMMIT_BATCH,
    DEFAULT_COMMIT_TIMEOUT,
    VerifyMethod,
)

__all__ = [
    "DEFAULT_CALLING_AE",
    "AddressBook",
    "ConfigError",
    "DecompressPolicy",
    "Destination",
    "ae_title_problems",
]

DEFAULT_CALLING_AE = "TUI_SENDER"
MAX_COMMIT_BATCH = 50_000
AE_TITLE_MAX = 16
MAX_PDU_MIN = 4096
MAX_PDU_MAX = 0xFFFF_FFFF
REQUIRED_KEYS = ("name", "ae_title", "host", "port")
WEB_REQUIRED_KEYS = ("name", "url")
DIMSE_ONLY_KEYS = ("ae_title", "host", "port")
"""Keys a DICOMweb destination does not write: its host and port come from its URL."""
DEFAULT_STOW_INSTANCES = 50
DEFAULT_STOW_MEGABYTES = 32
MAX_STOW_INSTANCES = 10_000
SECRET_KEYS = ("client_key_password",)
DESTINATIONS_TABLE = "destinations"
SETTINGS_TABLE = "settings"


class DecompressPolicy(StrEnum):
    """Whether a file whose own transfer syntax the destination rejects may be decompressed."""

    NEVER = "never"
    """Send files only in their own syntax (or an uncompressed equivalent); otherwise fail them."""
    LOSSLESS = "lossless"
    """Decompress files in a lossless compressed syntax: the pixels sent are identical."""
    LOSSY = "lossy"
    """Also decompress lossy-compressed files: no further loss, but the objects grow and the
    PACS receives an uncompressed copy of an image that was lossy once."""


def ae_title_problems(value: str, what: str) -> list[str]:
    """Problems with an AE title, one message per broken rule.

    Follows ``pynetdicom._validators.validate_ae`` (at most 16 characters,
    ASCII, no backslash, no control characters) and adds that it may not be
    empty or only spaces, since leading and trailing spaces are not
    significant and an empty title cannot be negotiated.
    """
    problems: list[str] = []
    if not value.strip(" "):
        problems.append(f"{what} must not be empty")
    if len(value) > AE_TITLE_MAX:
        problems.append(
            f"{what} {value!r} is {len(value)} characters long; at most {AE_TITLE_MAX} are allowed"
        )
    if not value.isascii():
        problems.append(f"{what} {value!r} must contain only ASCII characters")
    if "\\" in value:
        problems.append(f"{what} {value!r} must not contain a backslash")
    if any(unicodedata.category(c).startswith("C") for c in value):
        problems.append(f"{what} {value!r} must not contain control characters")
    return problems


def url_host_port(url: str) -> tuple[str, int]:
    """Host and port of a DICOMweb URL (the scheme's port when none is given); ("", 0) if bad."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "", 0
    if port is None:
        port = {"https": 443, "http": 80}.get(parts.scheme.lower(), 0)
    return parts.hostname or "", port


def url_problems(url: str) -> list[str]:
    """Why a DICOMweb base URL cannot be used (empty when it can)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        return [f"url {url!r} is not a URL: {exc}"]
    problems: list[str] = []
    if parts.scheme.lower() not in ("http", "https"):
        problems.append(f"url {url!r} must start with https:// or http://")
    if not parts.hostname:
        problems.append(f"url {url!r} names no host")
    if parts.username or parts.password:
        problems.append(
            "url must not carry a user name or password; use username with password_env or "
            "password_file, so the secret stays out of the config and the logs"
        )
    if parts.query or parts.fragment:
        problems.append(f"url {url!r} must be the service's base URL, without ? or #")
    if re.search(r"\s", url):
        problems.append(f"url {url!r} must not contain spaces")
    return problems


def _label(ae_title: str, host: str, port: int) -> str:
    """``AE@host:port``, with an IPv6 address in brackets so the port stays readable."""
    shown = f"[{host}]" if ":" in host else host
    return f"{ae_title}@{shown}:{port}"


@dataclass(frozen=True, slots=True)
class Destination:
    """One PACS peer and how to talk to it."""

    name: str
    """Unique name in the address book; what ``--dest NAME`` selects."""
    ae_title: str = ""
    """The destination's AE title (our *called* AE title); empty for a DICOMweb one."""
    host: str = ""
    """Host name or IP address (for a DICOMweb destination: taken from :attr:`url`)."""
    port: int = 0
    """TCP port of the DICOM service, 1 to 65535 (DICOMweb: taken from :attr:`url`)."""
    url: str = ""
    """DICOMweb base URL (``https://host/dicom-web``): set, the destination is reached by
    STOW-RS and QIDO-RS over HTTP (kind ``dicomweb``); empty, by DIMSE C-STORE to
    ``ae_title@host:port`` (kind ``dimse``)."""
    username: str = ""
    """DICOMweb: the user name for HTTP Basic authentication (the password comes from
    ``password_env`` or ``password_file``, never from this file)."""
    password_env: str = ""
    """DICOMweb: name of the environment variable holding the Basic password."""
    password_file: str = ""
    """DICOMweb: file holding the Basic password (owner-only, like an ssh key)."""
    token_env: str = ""
    """DICOMweb: name of the environment variable holding a bearer token."""
    token_file: str = ""
    """DICOMweb: file holding a bearer token (owner-only)."""
    stow_instances: int = DEFAULT_STOW_INSTANCES
    """DICOMweb: at most this many instances per STOW-RS request."""
    stow_megabytes: int = DEFAULT_STOW_MEGABYTES
    """DICOMweb: a STOW-RS request takes no more instances once it holds this many MB (a
    larger single file still goes, alone)."""
    calling_ae: str = DEFAULT_CALLING_AE
    """Our AE title as the PACS sees it; many PACS only accept registered calling AE titles."""
    workers: int = DEFAULT_WORKERS
    """Parallel associations to open to this destination (1 to 32)."""
    connect_timeout: float = 10.0
    """Seconds to wait for the TCP connection (and TLS handshake). A LAN or VPN connects in
    milliseconds; 10 s tolerates a slow link and still reports a dead host quickly."""
    acse_timeout: float = 30.0
    """Seconds to wait for the answer to an association request or release (pynetdicom's and
    DCMTK's default)."""
    dimse_timeout: float = 60.0
    """Seconds to wait for a C-STORE/C-ECHO response. pynetdicom starts this wait when the
    last fragment is *queued*, not sent, so it also covers sending a large file; the 30 s
    default timed out big series (pynetdicom #792/#825). Longer would stall a worker
    longer when a response is lost."""
    network_timeout: float = 60.0
    """Seconds an association may sit idle before it is aborted (pynetdicom's default)."""
    max_pdu: int = 16382
    """The largest PDU we accept (0: no limit). We only receive small responses, so a larger
    value gains nothing; 16382 is pynetdicom's default and within every peer's expectations.
    What we *send* is sized by the peer's limit."""
    tls: bool = False
    """Connect with TLS (never falls back to plain TCP)."""
    ca_file: str = ""
    """PEM bundle of CAs trusted for the server certificate; empty: the system trust store."""
    client_cert: str = ""
    """PEM client certificate for mutual TLS (may also hold the key); empty: none."""
    client_key: str = ""
    """PEM private key for ``client_cert`` when it is a separate file."""
    client_key_password: str = field(default="", repr=False, metadata={"secret": True})
    """Password of an encrypted ``client_key``. A secret: the file must be mode 0600."""
    verify_hostname: bool = True
    """Check that the server certificate names the host (or ``server_name``)."""
    server_name: str = ""
    """Name expected in the server certificate and sent as SNI; empty: ``host``."""
    decompress: DecompressPolicy = DecompressPolicy.LOSSLESS
    """May a file whose own transfer syntax is rejected be decompressed before sending?"""
    max_per_association: int = 0
    """Release and reopen the association after this many files (0: no limit), for PACS that
    cap requests per association or leak memory per association."""
    max_rate: str = ""
    """Bandwidth cap for all associations to this destination together, e.g. ``"20MB"`` (per
    second; empty: none), so a gateway can share a WAN link."""
    verify: VerifyMethod = VerifyMethod.NONE
    """After the send, prove the archive holds each stored instance: ``"commitment"``
    (Storage Commitment), ``"find"`` (C-FIND) or ``"none"`` (trust the C-STORE responses)."""
    commit_ae: str = ""
    """AE title of our listener for storage commitment reports (empty: ``calling_ae``); the
    archive must know it, with our host and ``commit_port``, as a modality."""
    commit_port: int = 0
    """Port our listener takes reports on (0: none; only reports on the request's own
    association are taken, which most archives, Orthanc among them, never send)."""
    commit_host: str = ""
    """Address that listener binds to (empty: every interface)."""
    commit_timeout: float = DEFAULT_COMMIT_TIMEOUT
    """Seconds to wait for the storage commitment reports after the last request."""
    commit_batch: int = DEFAULT_COMMIT_BATCH
    """Instances per storage commitment request (one transaction each)."""
    description: str = ""
    """Free text for the operator (site, department, contact)."""

    @property
    def is_web(self) -> bool:
        """True for a DICOMweb destination (kind ``dicomweb``), False for DIMSE."""
        return bool(self.url)

    @property
    def kind(self) -> str:
        """``"dicomweb"`` or ``"dimse"``, as the record and the screens say it."""
        return "dicomweb" if self.is_web else "dimse"

    @property
    def peer_label(self) -> str:
        """``AE@host:port`` (DICOMweb: the URL): how logs and the UI name the peer."""
        if self.is_web:
            return self.url
        return _label(self.ae_title, self.host, self.port)

    @classmethod
    def for_url(cls, url: str, **options: object) -> Destination:
        """An ad-hoc DICOMweb destination from ``send --url``, named after its URL."""
        host, port = url_host_port(url)
        return cls(name=url, url=url, host=host, port=port, **options)  # type: ignore[arg-type]

    @property
    def has_secrets(self) -> bool:
        """True when the destination carries a password, so its file must stay private."""
        return any(getattr(self, key) for key in SECRET_KEYS)

    @classmethod
    def from_cli(
        cls,
        ae_title: str,
        host: str,
        port: int,
        calling_ae: str | None = None,
        *,
        workers: int | None = None,
        **options: object,
    ) -> Destination:
        """An ad-hoc destination from the ``send -a -H -p -c -t`` flags, named ``AE@host:port``.

        ``options`` sets any other field (timeouts, TLS, ...); unknown names
        raise ``TypeError`` as a programming error.
        """
        return cls(
            name=_label(ae_title, host, port),
            ae_title=ae_title,
            host=host,
            port=port,
            calling_ae=DEFAULT_CALLING_AE if calling_ae is None else calling_ae,
            workers=DEFAULT_WORKERS if workers is None else workers,
            **options,  # type: ignore[arg-type]
        )

    def validate(self) -> list[str]:
        """Human-readable problems with this destination (empty when it can be used)."""
        problems: list[str] = []
        if not self.name.strip():
            problems.append("name must not be empty")
        elif self.name != self.name.strip():
            problems.append(f"name {self.name!r} must not start or end with spaces")
        if any(unicodedata.category(c).startswith("C") for c in self.name):
            problems.append(f"name {self.name!r} must not contain control characters")
        if self.is_web:
            problems += self._web_problems()
        else:
            problems += ae_title_problems(self.ae_title, "AE title")
            if not self.host.strip():
                problems.append("host must not be empty")
            elif re.search(r"\s", self.host):
                problems.append(f"host {self.host!r} must not contain spaces")
            if not 1 <= self.port <= 65535:
                problems.append(f"port must be 1 to 65535, got {self.port}")
        problems += ae_title_problems(self.calling_ae, "calling AE title")
        if not MIN_WORKERS <= self.workers <= MAX_WORKERS:
            problems.append(f"workers must be {MIN_WORKERS} to {MAX_WORKERS}, got {self.workers}")
        for key in ("connect_timeout", "acse_timeout", "dimse_timeout", "network_timeout"):
            value = getattr(self, key)
            if not is_finite_positive(value):
                problems.append(f"{key} must be a positive number of seconds, got {value}")
        if self.max_per_association < 0:
            problems.append(
                f"max_per_association must be 0 (no limit) or more, got {self.max_per_association}"
            )
        if self.max_rate:
            try:
                parse_rate(self.max_rate)
            except ValueError as exc:
                problems.append(f"max_rate {exc}")
        if self.max_pdu != 0 and not MAX_PDU_MIN <= self.max_pdu <= MAX_PDU_MAX:
            problems.append(
                f"max_pdu must be 0 (no limit) or {MAX_PDU_MIN} to {MAX_PDU_MAX}, "
                f"got {self.max_pdu}"
            )
        problems += self._tls_problems()
        problems += self._verify_problems()
        return problems

    def _web_problems(self) -> list[str]:
        """A DICOMweb URL and credentials that cannot work."""
        problems = url_problems(self.url)
        if self.password_env and self.password_file:
            problems.append("give password_env or password_file, not both")
        if self.token_env and self.token_file:
            problems.append("give token_env or token_file, not both")
        has_password = bool(self.password_env or self.password_file)
        has_token = bool(self.token_env or self.token_file)
        if has_password and not self.username:
            problems.append("a password is configured but username is not")
        if self.username and not has_password:
            problems.append(
                f"username {self.username!r} needs password_env or password_file (the password "
                "itself is never kept in the config)"
            )
        if has_password and has_token:
            problems.append("give a Basic password or a bearer token, not both")
        for key in ("password_env", "token_env"):
            value = getattr(self, key)
            if value and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
                # Not quoted: it may be the secret itself, typed in the wrong place.
                problems.append(
                    f"{key} must be the name of an environment variable (letters, digits and "
                    "_, no $), never the secret itself"
                )
        for key in ("password_file", "token_file"):
            value = getattr(self, key)
            if value and not Path(value).expanduser().is_file():
                problems.append(f"{key} {value!r} does not exist or is not a file")
        if not 1 <= self.stow_instances <= MAX_STOW_INSTANCES:
            problems.append(
                f"stow_instances must be 1 to {MAX_STOW_INSTANCES}, got {self.stow_instances}"
            )
        if self.stow_megabytes < 1:
            problems.append(f"stow_megabytes must be at least 1, got {self.stow_megabytes}")
        if self.verify is VerifyMethod.COMMITMENT:
            problems.append(
                'verify = "commitment" needs a DIMSE destination; a DICOMweb one is verified '
                'by QIDO-RS: use verify = "find"'
            )
        return problems

    def _verify_problems(self) -> list[str]:
        """Verification settings that cannot work."""
        problems: list[str] = []
        if self.commit_ae:
            problems += ae_title_problems(self.commit_ae, "commit_ae")
        if not 0 <= self.commit_port <= 65535:
            problems.append(f"commit_port must be 0 (none) or 1 to 65535, got {self.commit_port}")
        if not is_finite_positive(self.commit_timeout):
            problems.append(
                f"commit_timeout must be a positive number of seconds, got {self.commit_timeout}"
            )
        if not 1 <= self.commit_batch <= MAX_COMMIT_BATCH:
            problems.append(
                f"commit_batch must be 1 to {MAX_COMMIT_BATCH}, got {self.commit_batch}"
            )
        return problems

    def _tls_problems(self) -> list[str]:
        """TLS settings that cannot work: missing files, a key without a certificate."""
        problems: list[str] = []
        if self.client_key and not self.client_cert:
            problems.append("client_key is set but client_cert is not")
        if self.client_key_password and not (self.client_key or self.client_cert):
            problems.append("client_key_password is set but there is no client key")
        if re.search(r"\s", self.server_name):
            problems.append(f"server_name {self.server_name!r} must not contain spaces")
        if not (self.tls or self.url.lower().startswith("https:")):
            return problems
        for key in ("ca_file", "client_cert", "client_key"):
            value = getattr(self, key)
            if value and not Path(value).expanduser().is_file():
                problems.append(f"{key} {value!r} does not exist or is not a file")
        return problems

    def to_table(self) -> dict[str, object]:
        """The ``[[destinations]]`` table: required keys plus whatever differs from the defaults."""
        if self.is_web:
            table = table_from_fields(self, always=WEB_REQUIRED_KEYS)
            for key in DIMSE_ONLY_KEYS:
                table.pop(key, None)
            return table
        return table_from_fields(self, always=REQUIRED_KEYS)

    @classmethod
    def from_table(cls, table: Mapping[str, object], where: str) -> Destination:
        """Read one ``[[destinations]]`` table; raise ``_TableProblems`` listing what is wrong."""
        values, problems = fields_from_table(cls, table, where)
        web = "url" in table
        required = WEB_REQUIRED_KEYS if web else REQUIRED_KEYS
        missing = [key for key in required if key not in table]
        problems += [f"{where}: missing required key {key!r}" for key in missing]
        if web:
            given = [key for key in DIMSE_ONLY_KEYS if key in table]
            if given:
                problems.append(
                    f"{where}: a DICOMweb destination (url) takes no {', '.join(given)}: the "
                    "URL says where it is"
                )
            elif isinstance(values.get("url"), str):
                values["host"], values["port"] = url_host_port(str(values["url"]))
        if problems:
            raise _TableProblems(problems)
        return cls(**values)  # type: ignore[arg-type]


class _TableProblems(Exception):
    """Internal: the problems found in one table, gathered by :meth:`AddressBook.load`."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def _table_lines(text: str, header: str) -> list[int]:
    """1-based line numbers of every ``[[header]]`` line, to point errors at the right entry."""
    pattern = re.compile(rf"^\s*\[\[\s*{re.escape(header)}\s*\]\]")
    return [n for n, line in enumerate(text.splitlines(), 1) if pattern.match(line)]


def _mode_text(mode: int) -> str:
    """``0644``-style permission bits."""
    return f"{stat.S_IMODE(mode):04o}"


class AddressBook:
    """The destinations and app settings of one config file, in file order.

    Not thread-safe: the TUI edits it from its event loop and saves; workers
    get frozen :class:`Destination` values, never the book.
    """

    def __init__(
        self,
        path: Path,
        destinations: Iterable[Destination] = (),
        settings: AppSettings | None = None,
    ):
        self.path = path
        self.settings = settings if settings is not None else AppSettings()
        self._destinations: dict[str, Destination] = {}
        for destination in destinations:
            if destination.name in self._destinations:
                raise ConfigError(f"two destinations are named {destination.name!r}", path=path)
            self._destinations[destination.name] = destination

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> AddressBook:
        """Read the config file (see :func:`config_path`); a missing file is an empty book.

        Raises :class:`ConfigError` naming the file and every problem: TOML
        syntax (with line and column), wrong types, unknown or missing keys,
        duplicate names, or a file holding a password that others can read.
        """
        resolved = config_path(path)
        try:
            raw = resolved.read_bytes()
        except FileNotFoundError:
            return cls(resolved)
        except IsADirectoryError:
            raise ConfigError(
                f"{resolved}: is a directory, not a config file", path=resolved
            ) from None
        except OSError as exc:
            raise ConfigError(f"{resolved}: cannot read: {exc.strerror}", path=resolved) from None
        try:
            text = raw.decode("utf-8")
            document = tomllib.loads(text)
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{resolved}: not UTF-8 text (byte {exc.start})", path=resolved
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{resolved}: not valid TOML: {exc}", path=resolved) from None
        book = cls._from_document(resolved, text, document)
        book._refuse_exposed_secrets()
        return book

    @classmethod
    def _from_document(cls, path: Path, text: str, document: dict[str, object]) -> AddressBook:
        """Build the book from parsed TOML, collecting every structural problem."""
        problems: list[str] = []
        for key in document:
            if key not in (SETTINGS_TABLE, DESTINATIONS_TABLE):
                problems.append(
                    f"unknown top-level key {key!r} (expected [{SETTINGS_TABLE}] "
                    f"and [[{DESTINATIONS_TABLE}]])"
                )

        settings = AppSettings()
        raw_settings = document.get(SETTINGS_TABLE, {})
        if isinstance(raw_settings, dict):
            settings, found = AppSettings.from_table(raw_settings, f"[{SETTINGS_TABLE}]")
            problems += found
        else:
            problems.append(f"{SETTINGS_TABLE} must be a table ([{SETTINGS_TABLE}])")

        destinations: list[Destination] = []
        raw_destinations = document.get(DESTINATIONS_TABLE, [])
        if not isinstance(raw_destinations, list) or not all(
            isinstance(t, dict) for t in raw_destinations
        ):
            problems.append(
                f"{DESTINATIONS_TABLE} must be an array of tables, one [[{DESTINATIONS_TABLE}]] "
                "per destination"
            )
            raw_destinations = []
        lines = _table_lines(text, DESTINATIONS_TABLE)
        if len(lines) != len(raw_destinations):
            lines = []  # an inline array: no header lines to point at
        first_seen: dict[str, str] = {}
        for index, table in enumerate(raw_destinations):
            where = f"[[{DESTINATIONS_TABLE}]] #{index + 1}"
            if isinstance(table.get("name"), str):
                where += f" {table['name']!r}"
            if lines:
                where = f"line {lines[index]}, {where}"
            try:
                destination = Destination.from_table(table, where)
            except _TableProblems as exc:
                problems += exc.problems
                continue
            if destination.name in first_seen:
                problems.append(
                    f"{where}: the name is already used by {first_seen[destination.name]}"
                )
                continue
            first_seen[destination.name] = where
            destinations.append(destination)

        if problems:
            raise ConfigError.from_problems(path, problems)
        return cls(path, destinations, settings)

    def _refuse_exposed_secrets(self) -> None:
        """Refuse a file that holds a password when group or others may read it (like ssh does)."""
        holders = [d.name for d in self._destinations.values() if d.has_secrets]
        if not holders:
            return
        mode = self.path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"{self.path}: holds a TLS key password (destination "
                f"{', '.join(repr(n) for n in holders)}) but other users may access it "
                f"(mode {_mode_text(mode)}); run: chmod 600 '{self.path}'",
                path=self.path,
            )

    def save(self) -> None:
        """Write the file atomically, owner-only (0600), creating its directory (0700).

        A temporary file in the same directory is written, flushed to disk and
        renamed over the old one, so a crash leaves either the old or the new
        file, never half of one.
        """
        document: dict[str, object] = {}
        settings_table = self.settings.to_table()
        if settings_table:
            document[SETTINGS_TABLE] = settings_table
        document[DESTINATIONS_TABLE] = [d.to_table() for d in self._destinations.values()]
        payload = tomli_w.dumps(document).encode("utf-8")

        directory = self.path.parent
        if not directory.exists():
            directory.mkdir(mode=0o700, parents=True)
        with atomic_private(self.path, binary=True) as out:
            out.write(payload)

    def get(self, name: str) -> Destination:
        """The destination called ``name``; a :class:`ConfigError` listing known names if none."""
        try:
            return self._destinations[name]
        except KeyError:
            known = ", ".join(repr(n) for n in self._destinations) or "none"
            exists = "" if self.path.exists() else " (the file does not exist)"
            raise ConfigError(
                f"no destination named {name!r} in {self.path}{exists}; known: {known}",
                path=self.path,
            ) from None

    def add(self, destination: Destination) -> None:
        """Add a new destination; refuses a taken name or an invalid destination."""
        if destination.name in self._destinations:
            raise ConfigError(f"a destination named {destination.name!r} already exists")
        self._check(destination)
        self._destinations[destination.name] = destination

    def replace(self, destination: Destination, *, old_name: str | None = None) -> None:
        """Replace the destination called ``old_name`` (default: the same name), keeping its place.

        Renaming is a replace with ``old_name`` set; the new name must be free.
        """
        old = destination.name if old_name is None else old_name
        self.get(old)
        if destination.name != old and destination.name in self._destinations:
            raise ConfigError(f"a destination named {destination.name!r} already exists")
        self._check(destination)
        self._destinations = {
            (destination.name if name == old else name): (destination if name == old else d)
            for name, d in self._destinations.items()
        }

    def remove(self, name: str) -> Destination:
        """Remove and return the destination called ``name``."""
        self.get(name)
        return self._destinations.pop(name)

    def names(self) -> list[str]:
        """Destination names in file order."""
        return list(self._destinations)

    def __iter__(self) -> Iterator[Destination]:
        return iter(list(self._destinations.values()))

    def __len__(self) -> int:
        return len(self._destinations)

    def __contains__(self, name: object) -> bool:
        return name in self._destinations

    @staticmethod
    def _check(destination: Destination) -> None:
        problems = destination.validate()
        if problems:
            raise ConfigError(
                f"destination {destination.name!r}: " + "; ".join(problems),
                problems=tuple(problems),
            )
