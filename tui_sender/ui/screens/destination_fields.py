"""The fields of the destination form: what each means, and how its text becomes a value.

Plain data and functions, apart from the widgets that show them
(:mod:`tui_sender.ui.screens.destination_form`), so the table of fields,
their hints and the mapping of validation messages to fields can be read
and tested on their own.

A destination is one of two kinds, chosen in the form's "Kind" field: DIMSE
(C-STORE to ``AE@host:port``) or DICOMweb (STOW-RS to a URL). Each field
says which kind it applies to (:attr:`FieldSpec.applies`); the form shows
only the fields of the chosen kind, and a field of the other kind keeps its
text in the form but is saved at its default (see :func:`inapplicable_value`).
Secrets are never asked for: a DICOMweb password or token is named by the
environment variable or the file that holds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from tui_sender.core.config.destinations import DecompressPolicy, Destination
from tui_sender.core.model.verification import VerifyMethod

FieldKind = Literal["text", "int", "float", "password", "switch", "choice"]
Applies = Literal["both", "dimse", "web"]


class DestinationKind(StrEnum):
    """The form's "Kind" field: how the destination is reached (``Destination.kind``)."""

    DIMSE = "dimse"
    DICOMWEB = "dicomweb"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One input of the form, bound to the :class:`Destination` attribute ``key``."""

    key: str
    label: str
    kind: FieldKind
    hint: str
    """Shown under the fields while this one has focus: what the value means to a PACS."""
    placeholder: str = ""
    """Greyed text in an empty input; for a switch, the words beside its box when on and
    off, separated by ``|`` (the state is spelt out: a box's colour alone is easy to miss
    on a poor terminal)."""
    applies: Applies = "both"
    """Which kind of destination the field belongs to; the form hides it for the other."""
    web_label: str = ""
    """The label for a DICOMweb destination, when it differs (empty: ``label``)."""
    web_hint: str = ""
    """The hint for a DICOMweb destination, when it differs (empty: ``hint``)."""

    def applies_to(self, web: bool) -> bool:
        """True when the field means something for a destination of this kind."""
        return self.applies == "both" or (self.applies == "web") == web

    def label_for(self, web: bool) -> str:
        """The label as the kind words it."""
        return self.web_label if web and self.web_label else self.label

    def hint_for(self, web: bool) -> str:
        """The hint as the kind words it."""
        return self.web_hint if web and self.web_hint else self.hint


SECTIONS: tuple[tuple[str, tuple[FieldSpec, ...]], ...] = (
    (
        "Destination",
        (
            FieldSpec(
                "kind",
                "Kind",
                "choice",
                "DIMSE: a PACS's DICOM port (AE title, host, port). DICOMweb: a server's "
                "STOW-RS URL (cloud stores, Orthanc's DICOMweb plugin).",
            ),
            FieldSpec(
                "name",
                "Name",
                "text",
                "What you choose it by; unique in the address book. Shift+tab: the Kind above "
                "(DIMSE or DICOMweb).",
                "e.g. MAIN-PACS",
            ),
            FieldSpec(
                "url",
                "URL",
                "text",
                "DICOMweb base URL, without user or password (STOW-RS posts to …/studies).",
                "e.g. https://pacs.example.org/dicom-web",
                applies="web",
            ),
            FieldSpec(
                "ae_title",
                "Called AE",
                "text",
                "The PACS's AE title: 1 to 16 ASCII characters, no backslash.",
                "e.g. ORTHANC",
                applies="dimse",
            ),
            FieldSpec(
                "host",
                "Host",
                "text",
                "Host name or IP address of the PACS.",
                "e.g. pacs.example.org or 10.0.0.5",
                applies="dimse",
            ),
            FieldSpec(
                "port",
                "Port",
                "int",
                "TCP port of its DICOM service (often 104 or 11112).",
                applies="dimse",
            ),
            FieldSpec(
                "calling_ae",
                "Calling AE",
                "text",
                "Our AE title as the PACS sees it; many PACS accept only registered ones.",
                applies="dimse",
            ),
            FieldSpec(
                "workers",
                "Workers",
                "int",
                "Parallel associations during a send, 1 to 32.",
                web_hint="Parallel HTTP connections during a send, 1 to 32.",
            ),
            FieldSpec(
                "decompress",
                "Decompress",
                "choice",
                "When the PACS rejects a file's compressed syntax: may it be sent decompressed?",
                applies="dimse",
            ),
            FieldSpec(
                "description", "Description", "text", "Free text: site, department, contact."
            ),
        ),
    ),
    (
        "Sign-in (where the password or token is read from)",
        (
            FieldSpec(
                "username",
                "User name",
                "text",
                "User name for HTTP Basic sign-in; its password comes from the variable or "
                "the file below.",
                "empty: no Basic sign-in",
                applies="web",
            ),
            FieldSpec(
                "password_env",
                "Password var",
                "text",
                "NAME of the environment variable holding the password (not the password).",
                "e.g. PACS_PASSWORD",
                applies="web",
            ),
            FieldSpec(
                "password_file",
                "Password file",
                "text",
                "Or: a file holding the password, readable by you only (chmod 600).",
                "e.g. ~/.config/tui-sender/pacs.password",
                applies="web",
            ),
            FieldSpec(
                "token_env",
                "Token var",
                "text",
                "NAME of the environment variable holding a bearer token (instead of a password).",
                "empty: no token",
                applies="web",
            ),
            FieldSpec(
                "token_file",
                "Token file",
                "text",
                "Or: a file holding a bearer token, readable by you only (chmod 600).",
                "empty: no token",
                applies="web",
            ),
        ),
    ),
    (
        "Security (TLS)",
        (
            FieldSpec(
                "tls",
                "TLS",
                "switch",
                "Connect with TLS; never falls back to plain TCP.",
                "yes: connect with TLS|no: plain TCP",
                applies="dimse",
            ),
            FieldSpec(
                "ca_file",
                "CA file",
                "text",
                "PEM bundle of CAs that signed the server certificate.",
                "empty: the system trust store",
                web_hint="PEM bundle of CAs that signed the server certificate (https URLs).",
            ),
            FieldSpec(
                "client_cert",
                "Client cert",
                "text",
                "PEM client certificate for mutual TLS (may hold the key too).",
                "empty: none",
            ),
            FieldSpec(
                "client_key",
                "Client key",
                "text",
                "PEM private key of the client certificate, when in a separate file.",
                "empty: in the certificate file",
            ),
            FieldSpec(
                "client_key_password",
                "Key password",
                "password",
                "Password of an encrypted client key; kept in the config file (mode 0600).",
                "empty: the key is not encrypted",
            ),
            FieldSpec(
                "verify_hostname",
                "Check name",
                "switch",
                "Check that the server certificate names the host (or the server name).",
                "yes: the certificate must name the host|no: any name (less safe)",
            ),
            FieldSpec(
                "server_name",
                "Server name",
                "text",
                "Name expected in the server certificate, sent as SNI.",
                "empty: the host",
                applies="dimse",
            ),
        ),
    ),
    (
        "Timeouts and limits",
        (
            FieldSpec(
                "connect_timeout",
                "Connect (s)",
                "float",
                "Seconds to wait for the TCP connection.",
                web_hint="Seconds to wait for the TCP connection and the TLS handshake.",
            ),
            FieldSpec(
                "acse_timeout",
                "ACSE (s)",
                "float",
                "Seconds to wait for the answer to an association request or release.",
                applies="dimse",
            ),
            FieldSpec(
                "dimse_timeout",
                "DIMSE (s)",
                "float",
                "Seconds to wait for a C-STORE/C-ECHO response (covers sending a big file).",
                web_label="Response (s)",
                web_hint="Seconds to wait for the server's answer once a request is sent.",
            ),
            FieldSpec(
                "network_timeout",
                "Idle (s)",
                "float",
                "Seconds an association may sit idle before it is aborted.",
                web_label="Write (s)",
                web_hint="Seconds one write may block while the server does not read.",
            ),
            FieldSpec(
                "max_pdu",
                "Max PDU",
                "int",
                "Largest PDU we accept, in bytes; 0: no limit.",
                applies="dimse",
            ),
            FieldSpec(
                "max_rate",
                "Max rate",
                "text",
                "Bandwidth cap for all associations together, e.g. 20MB (per second); empty: none.",
                web_hint="Bandwidth cap for all connections together, e.g. 20MB (per second); "
                "empty: none.",
            ),
            FieldSpec(
                "stow_instances",
                "Files/request",
                "int",
                "At most this many instances per STOW-RS request (1 to 10000).",
                applies="web",
            ),
            FieldSpec(
                "stow_megabytes",
                "MB/request",
                "int",
                "A STOW-RS request takes no more files once it holds this many MB (a bigger "
                "file still goes, alone).",
                applies="web",
            ),
        ),
    ),
    (
        "Verification (proof of delivery)",
        (
            FieldSpec(
                "verify",
                "Verify",
                "choice",
                "After the send, ask the archive to prove it holds every stored instance.",
                web_hint="After the send, query the server (QIDO-RS) for every stored instance.",
            ),
            FieldSpec(
                "commit_ae",
                "Listener AE",
                "text",
                "Our AE title for the archive's commitment reports; the archive must know it.",
                "empty: the calling AE",
                applies="dimse",
            ),
            FieldSpec(
                "commit_port",
                "Listener port",
                "int",
                "Port the archive sends its reports to (it must know our host and this port); "
                "0: reports only on the request's own association.",
                applies="dimse",
            ),
            FieldSpec(
                "commit_host",
                "Listen on",
                "text",
                "Address our report listener binds to.",
                "empty: every interface",
                applies="dimse",
            ),
            FieldSpec(
                "commit_timeout",
                "Reports (s)",
                "float",
                "Seconds to wait for the reports after the last request; then: unconfirmed.",
                applies="dimse",
            ),
            FieldSpec(
                "commit_batch",
                "Batch",
                "int",
                "Instances per storage commitment request (one transaction each).",
                applies="dimse",
            ),
        ),
    ),
)

ALL_FIELDS: tuple[FieldSpec, ...] = tuple(spec for _, specs in SECTIONS for spec in specs)

FORM_ONLY = frozenset({"kind"})
"""Fields that are no attribute of :class:`Destination` (the kind follows from ``url``)."""

KIND_CHOICES: tuple[tuple[str, DestinationKind], ...] = (
    ("DIMSE: C-STORE to AE@host:port", DestinationKind.DIMSE),
    ("DICOMweb: STOW-RS to a URL", DestinationKind.DICOMWEB),
)

DECOMPRESS_CHOICES: tuple[tuple[str, DecompressPolicy], ...] = (
    ("never: send as is or fail the file", DecompressPolicy.NEVER),
    ("lossless files only", DecompressPolicy.LOSSLESS),
    ("lossless and lossy files", DecompressPolicy.LOSSY),
)

VERIFY_CHOICES: tuple[tuple[str, VerifyMethod], ...] = (
    ("none: trust the C-STORE responses", VerifyMethod.NONE),
    ("commitment: storage commitment", VerifyMethod.COMMITMENT),
    ("find: C-FIND each series", VerifyMethod.FIND),
)

WEB_VERIFY_CHOICES: tuple[tuple[str, VerifyMethod], ...] = (
    ("none: trust the STOW-RS responses", VerifyMethod.NONE),
    ("commitment: DIMSE only, not DICOMweb", VerifyMethod.COMMITMENT),
    ("find: QIDO-RS each series", VerifyMethod.FIND),
)
"""The same values as :data:`VERIFY_CHOICES` (a value saved for one kind stays legal when
the kind changes: validation says what is wrong rather than the form changing it)."""

CHOICES: dict[str, tuple[tuple[str, StrEnum], ...]] = {
    "kind": KIND_CHOICES,
    "decompress": DECOMPRESS_CHOICES,
    "verify": VERIFY_CHOICES,
}
"""The options of each ``choice`` field: label, value."""

WEB_CHOICES: dict[str, tuple[tuple[str, StrEnum], ...]] = {"verify": WEB_VERIFY_CHOICES}
"""Options worded for a DICOMweb destination, where they differ (same values)."""


def choices_for(key: str, web: bool) -> tuple[tuple[str, StrEnum], ...]:
    """The options of a ``choice`` field as the kind words them."""
    return WEB_CHOICES.get(key, CHOICES[key]) if web else CHOICES[key]


COMMITMENT_ONLY = frozenset(
    {"commit_ae", "commit_port", "commit_host", "commit_timeout", "commit_batch"}
)
"""Fields that only matter with ``verify = "commitment"``: the form hides them otherwise
(unless they hold a problem), so an 80x24 form is not longer than it needs to be."""

_DEFAULTS = Destination(name="")


def inapplicable_value(key: str) -> object:
    """What a field of the other kind is saved as: its default, so a DICOMweb entry carries
    no AE title or max PDU, and a DIMSE entry no user name."""
    return getattr(_DEFAULTS, key)


_PROBLEM_PREFIXES: tuple[tuple[str, str], ...] = tuple(
    sorted(
        [(spec.key, spec.key) for spec in ALL_FIELDS]
        + [
            ("AE title", "ae_title"),
            ("calling AE title", "calling_ae"),
            ("give password_env", "password_env"),
            ("give token_env", "token_env"),
            ("give a Basic password", "token_env"),
            ("a password is configured but username", "username"),
            ('verify = "commitment"', "verify"),
        ],
        key=lambda pair: len(pair[0]),
        reverse=True,
    )
)
"""Message prefix -> field: :meth:`Destination.validate` starts each message with what it is
about ("AE title ...", "port ...", "client_key ..."); the longest prefix wins."""


def field_of_problem(problem: str) -> str | None:
    """The field a validation message is about, or None when it concerns several."""
    for prefix, key in _PROBLEM_PREFIXES:
        if problem.startswith(prefix + " "):
            return key
    return None


def switch_label(spec: FieldSpec, on: bool) -> str:
    """The words beside a switch for its state ("yes: ..." or "no: ...")."""
    when_on, _, when_off = spec.placeholder.partition("|")
    return when_on if on else when_off


def text_of(value: object) -> str:
    """How a field value shows in a text input: ``30.0`` as ``30``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_field(spec: FieldSpec, raw: object) -> object:
    """The typed value of a field; ``ValueError`` with a message naming the field."""
    if spec.kind == "switch":
        return bool(raw)
    if spec.kind == "choice":
        values = [value for _, value in CHOICES[spec.key]]
        if raw not in values:
            raise ValueError(f"{spec.key}: choose one of {', '.join(values)}")
        return raw
    text = str(raw).strip()
    if spec.kind in ("int", "float") and not text:
        raise ValueError(f"{spec.key} must not be empty")
    if spec.kind == "int":
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{spec.key} must be a whole number, got {text!r}") from None
    if spec.kind == "float":
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{spec.key} must be a number of seconds, got {text!r}") from None
    return str(raw)
