"""DCMTK ``dcmqrscp`` on 127.0.0.1: a second, independent C-FIND SCP (and storage SCP).

It keeps what it receives in its own index (``index.dat`` in the storage
area) and answers Study Root C-FIND from it, so a test can send to it and
verify by C-FIND against DCMTK's reading of the standard, not only
Orthanc's. Started from a temporary configuration file, stopped by PID;
It forks a child per association; stopping signals the whole process group.
"""

from __future__ import annotations

import shutil
import tempfile
from functools import partial
from pathlib import Path
from types import TracebackType

from peers.dcmtk import dcmtk_environment, find_dcmtk_tool
from peers.processes import (
    ServerExited,
    free_port,
    is_listening,
    log_tail,
    start_process,
    stop_process,
    wait_until,
)

CONFIG = """\
NetworkTCPPort  = {port}
MaxPDUSize      = 16384
MaxAssociations = 16

HostTable BEGIN
HostTable END

VendorTable BEGIN
VendorTable END

AETable BEGIN
{ae_title}   {storage}   RW   (10000, 1024mb)   ANY
AETable END
"""


class DcmqrSCP:
    """``dcmqrscp`` with one read-write storage area, as a context manager."""

    def __init__(
        self, *, ae_title: str = "DCMQRSCP", start_timeout: float = 10.0, stop_timeout: float = 5.0
    ) -> None:
        self.ae_title = ae_title
        self.port = 0
        self._work = Path(tempfile.mkdtemp(prefix="dcmqrscp-"))
        self.storage = self._work / "storage"
        self.config_path = self._work / "dcmqrscp.cfg"
        self.log_path = self._work / "dcmqrscp.log"
        self._executable = find_dcmtk_tool("dcmqrscp") or "dcmqrscp"
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._process = None

    def start(self, attempts: int = 3) -> DcmqrSCP:
        """Start and wait until the port listens; retry on a port someone else took."""
        self.storage.mkdir(parents=True, exist_ok=True)
        for _ in range(attempts):
            self.port = free_port()
            self.config_path.write_text(
                CONFIG.format(port=self.port, ae_title=self.ae_title, storage=self.storage)
            )
            command = [self._executable, "-c", str(self.config_path), "--disable-host-lookup"]
            process = start_process(command, log_path=self.log_path, env=dcmtk_environment())
            self._process = process
            try:
                wait_until(
                    partial(is_listening, self.port, process.pid),
                    self._start_timeout,
                    what=f"dcmqrscp on port {self.port}",
                    process=process,
                )
            except ServerExited:
                self._process = None
                stop_process(process, self._stop_timeout)
                continue
            except TimeoutError:
                self.stop()
                raise
            return self
        raise RuntimeError(f"dcmqrscp did not start:\n{log_tail(self.log_path)}")

    def stop(self) -> int | None:
        """Stop dcmqrscp; return its exit code."""
        process, self._process = self._process, None
        return None if process is None else stop_process(process, self._stop_timeout)

    def log(self) -> str:
        return log_tail(self.log_path, lines=200)

    def __enter__(self) -> DcmqrSCP:
        try:
            return self.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        shutil.rmtree(self._work, ignore_errors=True)
