"""The fields of the destination form: what each means, and how its text becomes a value.

Plain data and functions, apart from the widgets that show them
(:mod:`tui_sender.ui.screens.destination_form`), so the table of fields,
their hints and the mapping of validation messages to fields can be read
and tested on their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from tui_sender.core.config.destinations import DecompressPolicy
from tui_sender.core.model.verification import VerifyMethod

FieldKind = Literal["text", "int", "float", "password", "switch", "choice"]


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


SECTIONS: tuple[tuple[str, tuple[FieldSpec, ...]], ...] = (
    (
        "Destination",
        (
            FieldSpec(
                "name",
                "Name",
                "text",
                "What you choose it by; unique in the address book.",
                "e.g. MAIN-PACS",
            ),
            FieldSpec(
                "ae_title",
                "Called AE",
                "text",
                "The PACS's AE title: 1 to 16 ASCII characters, no backslash.",
                "e.g. ORTHANC",
            ),
            FieldSpec(
                "host",
                "Host",
                "text",
                "Host name or IP address of the PACS.",
                "e.g. pacs.example.org or 10.0.0.5",
            ),
            FieldSpec("port", "Port", "int", "TCP port of its DICOM service (often 104 or 11112)."),
            FieldSpec(
                "calling_ae",
                "Calling AE",
                "text",
                "Our AE title as the PACS sees it; many PACS accept only registered ones.",
            ),
            FieldSpec("workers", "Workers", "int", "Parallel associations during a send, 1 to 32."),
            FieldSpec(
                "decompress",
                "Decompress",
                "choice",
                "When the PACS rejects a file's compressed syntax: may it be sent decompressed?",
            ),
            FieldSpec(
                "description", "Description", "text", "Free text: site, department, contact."
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
            ),
            FieldSpec(
                "ca_file",
                "CA file",
                "text",
                "PEM bundle of CAs that signed the server certificate.",
                "empty: the system trust store",
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
            ),
        ),
    ),
    (
        "Timeouts and limits",
        (
            FieldSpec(
                "connect_timeout", "Connect (s)", "float", "Seconds to wait for the TCP connection."
            ),
            FieldSpec(
                "acse_timeout",
                "ACSE (s)",
                "float",
                "Seconds to wait for the answer to an association request or release.",
            ),
            FieldSpec(
                "dimse_timeout",
                "DIMSE (s)",
                "float",
                "Seconds to wait for a C-STORE/C-ECHO response (covers sending a big file).",
            ),
            FieldSpec(
                "network_timeout",
                "Idle (s)",
                "float",
                "Seconds an association may sit idle before it is aborted.",
            ),
            FieldSpec("max_pdu", "Max PDU", "int", "Largest PDU we accept, in bytes; 0: no limit."),
            FieldSpec(
                "max_rate",
                "Max rate",
                "text",
                "Bandwidth cap for all associations together, e.g. 20MB (per second); empty: none.",
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
            ),
            FieldSpec(
                "commit_ae",
                "Listener AE",
                "text",
                "Our AE title for the archive's commitment reports; the archive must know it.",
                "empty: the calling AE",
            ),
            FieldSpec(
                "commit_port",
                "Listener port",
                "int",
                "Port the archive sends its reports to (it must know our host and this port); "
                "0: reports only on the request's own association.",
            ),
            FieldSpec(
                "commit_host",
                "Listen on",
                "text",
                "Address our report listener binds to.",
                "empty: every interface",
            ),
            FieldSpec(
                "commit_timeout",
                "Reports (s)",
                "float",
                "Seconds to wait for the reports after the last request; then: unconfirmed.",
            ),
            FieldSpec(
                "commit_batch",
                "Batch",
                "int",
                "Instances per storage commitment request (one transaction each).",
            ),
        ),
    ),
)

ALL_FIELDS: tuple[FieldSpec, ...] = tuple(spec for _, specs in SECTIONS for spec in specs)

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

CHOICES: dict[str, tuple[tuple[str, StrEnum], ...]] = {
    "decompress": DECOMPRESS_CHOICES,
    "verify": VERIFY_CHOICES,
}
"""The options of each ``choice`` field: label, value."""

COMMITMENT_ONLY = frozenset(
    {"commit_ae", "commit_port", "commit_host", "commit_timeout", "commit_batch"}
)
"""Fields that only matter with ``verify = "commitment"``: the form hides them otherwise
(unless they hold a problem), so an 80x24 form is not longer than it needs to be."""

_PROBLEM_PREFIXES: tuple[tuple[str, str], ...] = tuple(
    sorted(
        [(spec.key, spec.key) for spec in ALL_FIELDS]
        + [("AE title", "ae_title"), ("calling AE title", "calling_ae")],
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
