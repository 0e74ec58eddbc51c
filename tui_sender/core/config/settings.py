"""The config file: where it lives, how its tables are read, and the app's own settings.

One TOML file holds both the destination address book (``[[destinations]]``,
see :mod:`tui_sender.core.config.destinations`) and the app-level preferences
(``[settings]``, :class:`AppSettings` here), so an administrator has one file
to back up, copy to another workstation, or lock down with ``chmod 600``.

Where the file is, first match wins:

1. an explicit path (the CLI's ``--config FILE``);
2. the environment variable ``TUI_SENDER_CONFIG`` (tests and scripts use it);
3. ``$XDG_CONFIG_HOME/tui-sender/config.toml``;
4. ``~/.config/tui-sender/config.toml``.

Reading is strict on purpose: a misspelt key (``dimse_timout``) that was
silently dropped would quietly fall back to a default, which for a timeout
or ``verify_hostname`` is worse than refusing to start. Every problem in the
file is collected and reported at once, with the line of the table it is in.
"""

from __future__ import annotations

import math
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

CONFIG_ENV = "TUI_SENDER_CONFIG"
"""Environment variable naming the config file (overrides the XDG location)."""

APP_DIR_NAME = "tui-sender"
CONFIG_FILE_NAME = "config.toml"

MIN_WORKERS = 1
MAX_WORKERS = 32
"""Upper bound on parallel associations: past a handful the GIL flattens
throughput (notes/pynetdicom-textual.md) and PACS start refusing with
"local limit exceeded"; 32 leaves room for a process-based engine later."""

DEFAULT_WORKERS = 2
"""Two associations: measured +33% over one on loopback, while a fourth added
nothing (notes/pynetdicom-textual.md §7); two is also polite to PACS that cap
associations per calling AE."""


class ConfigError(Exception):
    """The configuration is unusable; the message names the file and what is wrong.

    Raised instead of a traceback for anything a user can fix by editing the
    file or a command-line value. ``problems`` keeps the individual findings so
    a UI can list them.
    """

    def __init__(self, message: str, *, path: Path | None = None, problems: tuple[str, ...] = ()):
        super().__init__(message)
        self.path = path
        self.problems = problems or (message,)

    @classmethod
    def from_problems(cls, path: Path, problems: list[str]) -> ConfigError:
        """One error listing every problem found in ``path``."""
        if len(problems) == 1:
            message = f"{path}: {problems[0]}"
        else:
            listed = "\n".join(f"  - {p}" for p in problems)
            message = f"{path}: {len(problems)} problems:\n{listed}"
        return cls(message, path=path, problems=tuple(problems))


def config_home(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME``, or ``~/.config`` when unset or not absolute (as the XDG spec says)."""
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_CONFIG_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg)
    return Path.home() / ".config"


def config_path(
    override: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """The config file to use: ``override``, else ``$TUI_SENDER_CONFIG``, else the XDG default."""
    env = os.environ if environ is None else environ
    if override is not None and os.fspath(override):
        return Path(override).expanduser().absolute()
    from_env = env.get(CONFIG_ENV, "")
    if from_env:
        return Path(from_env).expanduser().absolute()
    return config_home(env) / APP_DIR_NAME / CONFIG_FILE_NAME


def _toml_type(value: object) -> str:
    """How TOML would name the type of ``value``, for error messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"


def _convert(value: object, expected: Any) -> tuple[object, str]:
    """Convert a TOML value to ``expected``; return (value, "") or (None, what was expected)."""
    if expected is bool:
        return (value, "") if isinstance(value, bool) else (None, "a boolean (true or false)")
    if expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return (value, "") if ok else (None, "an integer")
    if expected is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return (float(value), "") if ok else (None, "a number")  # type: ignore[arg-type]
    if expected is str:
        return (value, "") if isinstance(value, str) else (None, "a string")
    if isinstance(expected, type) and issubclass(expected, StrEnum):
        choices = " | ".join(f'"{m.value}"' for m in expected)
        if isinstance(value, str) and value in {m.value for m in expected}:
            return expected(value), ""
        return None, f"one of {choices}"
    if typing.get_origin(expected) in (Mapping, dict):
        ok = isinstance(value, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        )
        return (dict(value), "") if ok else (None, "a table of strings")  # type: ignore[call-overload]
    raise TypeError(f"no TOML conversion for {expected!r}")  # a programming error


def fields_from_table(
    cls: type[Any], table: Mapping[str, object], where: str
) -> tuple[dict[str, object], list[str]]:
    """Read the keys of a TOML table into keyword arguments for dataclass ``cls``.

    Returns the converted values and a list of problems (wrong types, unknown
    keys), each prefixed with ``where``. Missing keys are left out so the
    dataclass defaults apply; the caller checks required ones. Values of
    fields whose metadata says ``secret`` never appear in messages.
    """
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    values: dict[str, object] = {}
    problems: list[str] = []
    for key, value in table.items():
        spec = known.get(key)
        if spec is None:
            names = ", ".join(known)
            problems.append(f"{where}: unknown key {key!r} (known keys: {names})")
            continue
        converted, expected = _convert(value, hints[key])
        if expected:
            shown = "" if spec.metadata.get("secret") else f" {value!r}"
            problems.append(f"{where}: {key} must be {expected}, got {_toml_type(value)}{shown}")
        else:
            values[key] = converted
    return values, problems


def table_from_fields(obj: Any, *, always: tuple[str, ...] = ()) -> dict[str, object]:
    """The TOML table for dataclass ``obj``: fields that differ from their defaults.

    Writing only what was changed keeps the file short and lets improved
    defaults reach existing users; ``always`` names fields written regardless.
    """
    table: dict[str, object] = {}
    for spec in fields(obj):
        value = getattr(obj, spec.name)
        if spec.default_factory is not MISSING:
            default = spec.default_factory()
        else:
            default = spec.default
        if spec.name in always or value != default:
            if isinstance(value, StrEnum):
                value = value.value
            elif isinstance(value, Mapping):
                value = dict(value)
            table[spec.name] = value
    return table


@dataclass(frozen=True, slots=True)
class AppSettings:
    """App-level preferences, the ``[settings]`` table of the config file."""

    theme: str = "tui-sender-dark"
    """Textual theme name for the TUI."""
    default_workers: int = DEFAULT_WORKERS
    """Worker count (parallel associations) given to destinations created without one:
    ad-hoc ``send -a -H -p`` targets and new address-book entries."""
    logs_dir: str = "logs"
    """Where session logs and summaries go; relative paths are under the working directory."""
    include_phi: bool = False
    """Put patient names, IDs and birth dates in logs and summaries (off: paths, UIDs and
    codes only)."""
    keys: Mapping[str, str] = field(default_factory=dict, hash=False)
    """Key remaps, action name -> key (``[settings.keys]``); stored and loaded here, applied by
    the UI."""

    def __post_init__(self) -> None:
        # Freeze the remap table too, so a shared settings object cannot change under a reader.
        object.__setattr__(self, "keys", types.MappingProxyType(dict(self.keys)))

    def validate(self) -> list[str]:
        """Human-readable problems with these settings (empty when fine)."""
        problems: list[str] = []
        if not self.theme.strip():
            problems.append("theme must not be empty")
        if not MIN_WORKERS <= self.default_workers <= MAX_WORKERS:
            problems.append(
                f"default_workers must be {MIN_WORKERS} to {MAX_WORKERS}, "
                f"got {self.default_workers}"
            )
        if not self.logs_dir.strip():
            problems.append("logs_dir must not be empty")
        for action, key in self.keys.items():
            if not action.strip() or not key.strip():
                problems.append(f"keys: {action!r} = {key!r}: action and key must not be empty")
        return problems

    @classmethod
    def from_table(cls, table: Mapping[str, object], where: str) -> tuple[AppSettings, list[str]]:
        """Settings from a ``[settings]`` table, with every problem found (type, range, unknown)."""
        values, problems = fields_from_table(cls, table, where)
        settings = cls(**values)  # type: ignore[arg-type]
        problems.extend(f"{where}: {p}" for p in settings.validate())
        return settings, problems

    def to_table(self) -> dict[str, object]:
        """The ``[settings]`` table: only what differs from the defaults."""
        return table_from_fields(self)


def is_finite_positive(value: float) -> bool:
    """True for a usable timeout: greater than zero and not infinite or NaN (TOML allows both)."""
    return value > 0 and math.isfinite(value)
