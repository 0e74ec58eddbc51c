"""DCMTK as a peer: ``storescp`` as a receiver, ``storescu`` as a reference sender.

DCMTK's network code turns Nagle's algorithm off only when the environment
says ``TCP_NODELAY=1``; without it every small C-STORE waits ~40 ms for a
delayed ACK (notes/peers.md), so every process started here gets it.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from types import TracebackType

from pydicom.filereader import read_file_meta_info

from peers.processes import (
    LOOPBACK,
    ServerExited,
    free_port,
    is_listening,
    log_tail,
    start_process,
    stop_process,
    wait_until,
)

MAX_CONTEXTS = 128
"""Presentation contexts per association (odd IDs 1 to 255)."""
PROFILE_NAME = "Generated"


def dcmtk_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a DCMTK process: the current one plus ``TCP_NODELAY=1``."""
    env = dict(os.environ if base is None else base)
    env["TCP_NODELAY"] = "1"
    return env


def find_dcmtk_tool(name: str) -> str | None:
    """Path of a DCMTK program (``storescp``, ``storescu``, ...) or ``None``.

    pynetdicom installs Python apps with the same names (storescp, storescu,
    echoscu) into the virtual environment's bin folder, which comes first
    on PATH in an activated venv; only a binary that says it is DCMTK counts.
    """
    for folder in [*os.environ.get("PATH", "").split(os.pathsep), "/usr/bin", "/usr/local/bin"]:
        candidate = shutil.which(name, path=folder)
        if candidate and _is_dcmtk(candidate):
            return candidate
    return None


@functools.cache
def _is_dcmtk(path: str) -> bool:
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "dcmtk" in (out.stdout + out.stderr).lower()


class DcmtkStoreSCP:
    """``storescp`` on a free port of 127.0.0.1, as a context manager.

    The common options have keywords; anything else goes in ``extra_args``
    (placed before the port). ``accept_all`` (``+xa``) is on by default
    because without it storescp refuses every compressed syntax; it is
    dropped when ``implicit_only`` (``+xi``) is asked for, since the two
    choose from the same group of options.
    """

    def __init__(
        self,
        output_dir: Path | None = None,
        *,
        ae_title: str = "STORESCP",
        accept_all: bool = True,
        implicit_only: bool = False,
        fork: bool = False,
        ignore: bool = False,
        max_pdu: int | None = None,
        abort_after: bool = False,
        abort_during: bool = False,
        sleep_after: int = 0,
        sleep_during: int = 0,
        extra_args: Sequence[str] = (),
        start_timeout: float = 10.0,
        stop_timeout: float = 5.0,
        executable: str | None = None,
    ) -> None:
        self.ae_title = ae_title
        self.port = 0
        self._own_output_dir = output_dir is None
        self.output_dir = output_dir or Path(tempfile.mkdtemp(prefix="storescp-out-"))
        self._log_dir = Path(tempfile.mkdtemp(prefix="storescp-log-"))
        self.log_path = self._log_dir / "storescp.log"
        self._executable = executable or find_dcmtk_tool("storescp") or "storescp"
        self._options = self._build_options(
            accept_all=accept_all and not implicit_only,
            implicit_only=implicit_only,
            fork=fork,
            ignore=ignore,
            max_pdu=max_pdu,
            abort_after=abort_after,
            abort_during=abort_during,
            sleep_after=sleep_after,
            sleep_during=sleep_during,
        ) + list(extra_args)
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._process: subprocess.Popen[bytes] | None = None

    def _build_options(
        self,
        *,
        accept_all: bool,
        implicit_only: bool,
        fork: bool,
        ignore: bool,
        max_pdu: int | None,
        abort_after: bool,
        abort_during: bool,
        sleep_after: int,
        sleep_during: int,
    ) -> list[str]:
        options = ["-aet", self.ae_title, "-od", str(self.output_dir)]
        flags = {
            "+xa": accept_all,
            "+xi": implicit_only,
            "--fork": fork,
            "--ignore": ignore,
            "--abort-after": abort_after,
            "--abort-during": abort_during,
        }
        options += [flag for flag, wanted in flags.items() if wanted]
        if max_pdu is not None:
            options += ["-pdu", str(max_pdu)]
        if sleep_after:
            options += ["--sleep-after", str(sleep_after)]
        if sleep_during:
            options += ["--sleep-during", str(sleep_during)]
        return options

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def command(self) -> list[str]:
        """The command line (with the current port)."""
        return [self._executable, *self._options, str(self.port)]

    def start(self, attempts: int = 3) -> DcmtkStoreSCP:
        """Start and wait until the port listens; retry on a port someone else took."""
        self.output_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(attempts):
            self.port = free_port()
            process = start_process(self.command, log_path=self.log_path, env=dcmtk_environment())
            self._process = process
            try:
                wait_until(
                    partial(is_listening, self.port, process.pid),
                    self._start_timeout,
                    what=f"storescp on port {self.port}",
                    process=process,
                )
            except ServerExited:  # most likely the port was taken meanwhile: try another
                self._process = None
                stop_process(process, self._stop_timeout)
                continue
            except TimeoutError:
                self.stop()
                raise
            return self
        raise RuntimeError(
            f"storescp did not start in {attempts} attempts:\n{log_tail(self.log_path)}"
        )

    def stop(self) -> int | None:
        """Stop storescp (and any forked children); return its exit code."""
        process, self._process = self._process, None
        if process is None:
            return None
        return stop_process(process, self._stop_timeout)

    def cleanup(self) -> None:
        """Stop, then remove the log directory and an output directory we created."""
        self.stop()
        shutil.rmtree(self._log_dir, ignore_errors=True)
        if self._own_output_dir:
            shutil.rmtree(self.output_dir, ignore_errors=True)

    def __enter__(self) -> DcmtkStoreSCP:
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()

    def received_files(self) -> list[Path]:
        """Files storescp has written so far, sorted."""
        return sorted(p for p in self.output_dir.rglob("*") if p.is_file())

    def wait_for_files(self, count: int, timeout: float = 10.0) -> list[Path]:
        """Wait until at least ``count`` files were written; return them."""
        wait_until(
            lambda: len(self.received_files()) >= count,
            timeout,
            what=f"{count} files from storescp",
        )
        return self.received_files()

    def log(self) -> str:
        return log_tail(self.log_path, lines=200)


# -- storescu ----------------------------------------------------------------


def storescu_profile(pairs: Iterable[tuple[str, str]]) -> str:
    """An association profile proposing each (SOP class, transfer syntax) pair.

    storescu, left to itself, proposes uncompressed syntaxes only, so it
    cannot send an RLE, JPEG-LS or JPEG 2000 file without decompressing it
    ("unable to convert dataset"). With ``-xf FILE Generated`` and this
    profile it proposes one context per pair and sends each file unchanged.
    DCMTK's configuration format (see ``/etc/dcmtk/storescu.cfg``) takes UIDs
    as well as its symbolic names, so the UIDs are written as they are.
    """
    unique_pairs = list(dict.fromkeys((str(sop), str(ts)) for sop, ts in pairs))
    if not unique_pairs:
        raise ValueError("a storescu profile needs at least one (SOP class, syntax) pair")
    if len(unique_pairs) > MAX_CONTEXTS:
        raise ValueError(
            f"{len(unique_pairs)} presentation contexts exceed {MAX_CONTEXTS}: "
            "split the files across several storescu runs"
        )
    syntaxes = list(dict.fromkeys(ts for _, ts in unique_pairs))
    group_of = {ts: f"Syntax{n}" for n, ts in enumerate(syntaxes, 1)}
    lines = ["[[TransferSyntaxes]]"]
    for ts in syntaxes:
        lines += [f"[{group_of[ts]}]", f"TransferSyntax1 = {ts}"]
    lines += ["", "[[PresentationContexts]]", "[Contexts]"]
    for n, (sop, ts) in enumerate(unique_pairs, 1):
        lines.append(f"PresentationContext{n} = {sop}\\{group_of[ts]}")
    lines += ["", "[[Profiles]]", f"[{PROFILE_NAME}]", "PresentationContexts = Contexts", ""]
    return "\n".join(lines)


def file_pairs(files: Iterable[Path]) -> list[tuple[str, str]]:
    """The distinct (SOP class, transfer syntax) pairs of DICOM files, from their meta."""
    pairs: dict[tuple[str, str], None] = {}
    for path in files:
        meta = read_file_meta_info(path)
        pairs[(str(meta.MediaStorageSOPClassUID), str(meta.TransferSyntaxUID))] = None
    return list(pairs)


def storescu_command(
    port: int,
    files: Sequence[Path],
    *,
    profile_path: Path,
    called_ae: str = "ANY-SCP",
    calling_ae: str = "STORESCU",
    host: str = LOOPBACK,
    extra_args: Sequence[str] = (),
    executable: str | None = None,
) -> list[str]:
    """The storescu command line sending ``files`` (directories are scanned recursively)."""
    exe = executable or find_dcmtk_tool("storescu") or "storescu"
    scan = ["+sd", "+r"] if any(p.is_dir() for p in files) else []
    return [
        exe,
        "-aet",
        calling_ae,
        "-aec",
        called_ae,
        "-xf",
        str(profile_path),
        PROFILE_NAME,
        *scan,
        *extra_args,
        host,
        str(port),
        *[str(p) for p in files],
    ]


def run_storescu(
    port: int,
    files: Sequence[Path],
    *,
    pairs: Iterable[tuple[str, str]] | None = None,
    called_ae: str = "ANY-SCP",
    calling_ae: str = "STORESCU",
    host: str = LOOPBACK,
    extra_args: Sequence[str] = (),
    timeout: float = 60.0,
    work_dir: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Send ``files`` with storescu and a generated profile; wait at most ``timeout`` s.

    ``pairs`` defaults to those of the files themselves (directories are not
    expanded for that: pass ``pairs`` when sending a directory). On timeout
    ``subprocess.run`` kills storescu and raises ``TimeoutExpired``.
    """
    if pairs is None:
        pairs = file_pairs(p for p in files if p.is_file())
    with tempfile.TemporaryDirectory(prefix="storescu-", dir=work_dir) as tmp:
        profile_path = Path(tmp) / "storescu.cfg"
        profile_path.write_text(storescu_profile(pairs))
        command = storescu_command(
            port,
            files,
            profile_path=profile_path,
            called_ae=called_ae,
            calling_ae=calling_ae,
            host=host,
            extra_args=extra_args,
        )
        return subprocess.run(
            command,
            env=dcmtk_environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
