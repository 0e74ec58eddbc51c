"""Who we are to a DICOMweb server: HTTP Basic or a bearer token, read when needed.

The secret itself is never kept in the address book: the book names an
environment variable or a file, and the secret is read from there when a
session or an echo starts. A file must be readable by its owner only (as ssh
insists for its keys), so a token is not left readable by everyone on a shared
gateway. The secret never appears in ``repr``, messages, logs or the record.
"""

from __future__ import annotations

import base64
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path


class CredentialError(Exception):
    """The credentials named in the address book cannot be read; the message says how to fix it."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """An ``Authorization`` header value, and how to name it without showing it."""

    scheme: str
    """``"Basic"`` or ``"Bearer"``."""
    who: str
    """What messages may say: the user name, or where the token came from."""
    _value: str = field(repr=False)

    @property
    def header(self) -> str:
        """The ``Authorization`` header value."""
        return self._value

    def describe(self) -> str:
        """``Basic as alice`` or ``bearer token from $TOKEN``: for messages, not the secret."""
        return (
            f"{self.scheme} as {self.who}" if self.scheme == "Basic" else f"bearer token {self.who}"
        )


def load_credentials(
    *,
    username: str = "",
    password_env: str = "",
    password_file: str = "",
    token_env: str = "",
    token_file: str = "",
) -> Credentials | None:
    """The credentials a destination names, or None when it names none.

    Raises :class:`CredentialError` when a named variable is unset or empty, or
    a named file is missing, unreadable, empty or readable by others.
    """
    if token_env or token_file:
        token, where = _secret(token_env, token_file, "token")
        return Credentials("Bearer", where, f"Bearer {token}")
    if username:
        password, _ = _secret(password_env, password_file, "password")
        pair = f"{username}:{password}".encode()
        return Credentials("Basic", username, "Basic " + base64.b64encode(pair).decode("ascii"))
    return None


def _secret(env: str, path: str, what: str) -> tuple[str, str]:
    """The secret from the variable or the file, and where it came from (for messages)."""
    if env:
        value = os.environ.get(env, "")
        if not value:
            raise CredentialError(
                f"the {what} is to come from the environment variable {env}, which is not set "
                "(or empty) in this environment"
            )
        return value, f"from ${env}"
    if not path:
        raise CredentialError(f"no {what} configured: set {what}_env or {what}_file")
    return read_secret_file(Path(path).expanduser(), what), f"from {path}"


def read_secret_file(path: Path, what: str) -> str:
    """The first line of an owner-only file; CredentialError when it is not that."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise CredentialError(f"cannot read the {what} file {path}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise CredentialError(
                f"the {what} file {path} may be read by other users (mode "
                f"{stat.S_IMODE(mode):04o}); run: chmod 600 '{path}'"
            )
        with os.fdopen(os.dup(fd), "rb") as handle:
            raw = handle.read(64 * 1024)
    finally:
        os.close(fd)
    lines = raw.decode("utf-8", errors="strict").splitlines() if raw else []
    value = lines[0].strip() if lines else ""
    if not value:
        raise CredentialError(f"the {what} file {path} is empty")
    return value
