"""Argument types and destination flags shared by the network commands."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace

from tui_sender.core.config.destinations import AddressBook, Destination
from tui_sender.core.config.settings import ConfigError


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_seconds(text: str) -> float:
    """argparse type: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def port(text: str) -> int:
    """argparse type: a TCP port."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 1 to 65535, got {value}")
    return value


def add_destination_args(parser: argparse.ArgumentParser, calling_default: str) -> None:
    """``--dest NAME`` or ``-a -H -p``, plus ``-c`` and ``--config``."""
    target = parser.add_argument_group(
        "destination",
        "either --dest NAME from the address book, or -a, -H and -p (DIMSE), or --url (DICOMweb)",
    )
    target.add_argument("--dest", metavar="NAME", help="destination name in the address book")
    target.add_argument(
        "--url",
        metavar="URL",
        help="DICOMweb base URL (https://host/dicom-web): send by STOW-RS instead of C-STORE",
    )
    target.add_argument("-a", "--ae-title", metavar="AET", help="called AE title of the PACS")
    target.add_argument("-H", "--host", help="host name or IP address of the PACS")
    target.add_argument("-p", "--port", type=port, help="TCP port of the PACS")
    target.add_argument(
        "-c",
        "--calling-ae",
        metavar="CALLING",
        help=f"our AE title (default: the destination's, or {calling_default})",
    )
    target.add_argument(
        "--config",
        metavar="FILE",
        help="config file (default $TUI_SENDER_CONFIG or ~/.config/tui-sender/config.toml)",
    )
    tls = parser.add_argument_group(
        "TLS", "DICOM TLS: the server certificate and host name are always verified"
    )
    tls.add_argument("--tls", action="store_true", default=None, help="connect with TLS (>= 1.2)")
    tls.add_argument("--ca-file", metavar="PEM", help="CA bundle that signed the PACS certificate")
    tls.add_argument("--client-cert", metavar="PEM", help="our certificate, for mutual TLS")
    tls.add_argument("--client-key", metavar="PEM", help="its private key (if a separate file)")
    tls.add_argument(
        "--tls-server-name", metavar="NAME", help="name expected in the PACS certificate"
    )
    web = parser.add_argument_group(
        "DICOMweb credentials",
        "never the secret itself on the command line (ps shows it): name where to read it",
    )
    web.add_argument("--username", metavar="USER", help="HTTP Basic user name")
    web.add_argument("--password-env", metavar="VAR", help="environment variable with its password")
    web.add_argument("--password-file", metavar="FILE", help="owner-only file with its password")
    web.add_argument("--token-env", metavar="VAR", help="environment variable with a bearer token")
    web.add_argument("--token-file", metavar="FILE", help="owner-only file with a bearer token")
    parser.set_defaults(calling_default=calling_default)


def destination_from_args(args: argparse.Namespace, **overrides: object) -> Destination:
    """The destination the flags name, with ``overrides`` applied; ConfigError otherwise."""
    direct = {"-a": args.ae_title, "-H": args.host, "-p": args.port}
    given = [flag for flag, value in direct.items() if value is not None]
    url = getattr(args, "url", None)
    if url is not None and (given or args.dest is not None):
        other = ", ".join(given) if given else "--dest"
        raise ConfigError(f"give either --url or {other}, not both")
    if url is not None:
        calling = args.calling_ae if args.calling_ae is not None else args.calling_default
        destination = Destination.for_url(url, calling_ae=calling)
    elif args.dest is not None:
        if given:
            raise ConfigError(f"give either --dest or {', '.join(given)}, not both")
        destination = AddressBook.load(args.config).get(args.dest)
        if args.calling_ae is not None:
            destination = replace(destination, calling_ae=args.calling_ae)
    else:
        missing = [flag for flag, value in direct.items() if value is None]
        if missing:
            raise ConfigError(
                "no destination: give --dest NAME, -a AET -H HOST -p PORT, or --url URL "
                f"(missing {', '.join(missing)})"
            )
        calling = args.calling_ae if args.calling_ae is not None else args.calling_default
        destination = Destination.from_cli(args.ae_title, args.host, args.port, calling)
    tls_flags = {
        "tls": getattr(args, "tls", None),
        "ca_file": getattr(args, "ca_file", None),
        "client_cert": getattr(args, "client_cert", None),
        "client_key": getattr(args, "client_key", None),
        "server_name": getattr(args, "tls_server_name", None),
    }
    if any(v is not None for k, v in tls_flags.items() if k != "tls"):
        tls_flags["tls"] = True
    credential_flags = {
        key: getattr(args, key, None)
        for key in ("username", "password_env", "password_file", "token_env", "token_file")
    }
    changes = {
        k: v for k, v in {**tls_flags, **credential_flags, **overrides}.items() if v is not None
    }
    if changes:
        destination = replace(destination, **changes)  # type: ignore[arg-type]
    problems = destination.validate()
    if problems:
        raise ConfigError(f"destination {destination.name!r}: " + "; ".join(problems))
    return destination


def add_commitment_args(parser: argparse.ArgumentParser) -> None:
    """``--commit-*``: where our listener takes storage commitment reports, and how long."""
    parser.add_argument(
        "--commit-port",
        type=port,
        metavar="PORT",
        help="port our listener takes storage commitment reports on (the archive must know "
        "our AE title, host and this port as a modality; default: the destination's)",
    )
    parser.add_argument(
        "--commit-ae",
        metavar="AET",
        help="AE title of that listener (default: the destination's, or the calling AE)",
    )
    parser.add_argument(
        "--commit-host",
        metavar="ADDRESS",
        help="address the listener binds to (default: every interface)",
    )
    parser.add_argument(
        "--commit-timeout",
        type=positive_seconds,
        metavar="S",
        help="wait this long for the reports after the last request (default 60)",
    )
    parser.add_argument(
        "--commit-batch",
        type=positive_int,
        metavar="N",
        help="instances per storage commitment request (default 100)",
    )


def commitment_overrides(args: argparse.Namespace) -> dict[str, object]:
    """The ``--commit-*`` flags as Destination field overrides (None: not given)."""
    return {
        "commit_port": args.commit_port,
        "commit_ae": args.commit_ae,
        "commit_host": args.commit_host,
        "commit_timeout": args.commit_timeout,
        "commit_batch": args.commit_batch,
    }


def silence_stdout_after_broken_pipe() -> None:
    """`| head` closed the pipe: point stdout at /dev/null so exit does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass
