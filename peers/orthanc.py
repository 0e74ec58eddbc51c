"""Orthanc as a peer: a realistic PACS (SQLite index plus file storage) on free ports.

It runs from a temporary JSON configuration with its storage and index in a
temporary directory, so it never touches a system Orthanc (the Debian
package may run one on 4242/8042; those ports are never used here). Orthanc
1.10 has no option to bind to one address: it listens on every interface,
with ``RemoteAccessAllowed: false`` refusing REST calls from elsewhere. The
REST helpers use urllib only.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, cast

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

ORTHANC_CANDIDATES = ("Orthanc", "/usr/sbin/Orthanc", "/usr/local/sbin/Orthanc")
DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
"""Orthanc's DICOMweb plugin, from the Debian package ``orthanc-dicomweb``."""
DICOMWEB_ROOT = "/dicom-web"


def has_dicomweb_plugin() -> bool:
    return Path(DICOMWEB_PLUGIN).is_file()


def find_orthanc() -> str | None:
    """Path of the Orthanc binary, or ``None``."""
    for candidate in ORTHANC_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


class OrthancServer:
    """An Orthanc server of our own, as a context manager.

    ``extra_config`` overrides or adds configuration keys (for example
    ``{"OverwriteInstances": True}``). ``dicomweb`` loads the DICOMweb plugin
    (STOW-RS, QIDO-RS at :attr:`dicomweb_url`); ``users`` turns HTTP Basic
    authentication on for the REST API and DICOMweb alike, and the REST helpers
    here then log in as the first user.
    """

    def __init__(
        self,
        *,
        ae_title: str = "ORTHANC",
        dicom_threads: int = 4,
        extra_config: Mapping[str, object] | None = None,
        start_timeout: float = 30.0,
        stop_timeout: float = 10.0,
        executable: str | None = None,
        dicomweb: bool = False,
        users: Mapping[str, str] | None = None,
    ) -> None:
        self.ae_title = ae_title
        self.dicomweb = dicomweb
        self.users = dict(users or {})
        self.dicom_port = 0
        self.http_port = 0
        self._dicom_threads = dicom_threads
        self._extra_config = dict(extra_config or {})
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._executable = executable or find_orthanc() or "Orthanc"
        self._work_dir = Path(tempfile.mkdtemp(prefix="orthanc-"))
        self.config_path = self._work_dir / "orthanc.json"
        self.log_path = self._work_dir / "orthanc.log"
        self._process: subprocess.Popen[bytes] | None = None

    def configuration(self) -> dict[str, object]:
        """The JSON configuration for the current ports (Orthanc 1.10 option names)."""
        storage = self._work_dir / "storage"
        config: dict[str, object] = {
            "Name": "tui-sender-test",
            "StorageDirectory": str(storage),
            "IndexDirectory": str(storage),
            "DicomServerEnabled": True,
            "DicomAet": self.ae_title,
            "DicomPort": self.dicom_port,
            "DicomCheckCalledAet": False,
            "DicomAlwaysAllowEcho": True,
            "DicomAlwaysAllowStore": True,
            "UnknownSopClassAccepted": True,
            "DicomThreadsCount": self._dicom_threads,
            "DicomModalities": {},
            "HttpServerEnabled": True,
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": bool(self.users),
            "RegisteredUsers": self.users,
            "OrthancExplorerEnabled": False,
            "WebDavEnabled": False,
            "Plugins": [DICOMWEB_PLUGIN] if self.dicomweb else [],
            "DicomWeb": {"Enable": self.dicomweb, "Root": DICOMWEB_ROOT + "/"},
            "LuaScripts": [],
            "SaveJobs": False,
            "MetricsEnabled": False,
            "TcpNoDelay": True,
        }
        config.update(self._extra_config)
        return config

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        """The DICOMweb base URL (with ``dicomweb=True``)."""
        return self.base_url + DICOMWEB_ROOT

    def start(self, attempts: int = 3) -> OrthancServer:
        """Start Orthanc and wait for its REST API and DICOM port; retry on port clashes."""
        for _ in range(attempts):
            self.dicom_port, self.http_port = free_port(), free_port()
            while self.http_port == self.dicom_port:
                self.http_port = free_port()
            self.config_path.write_text(json.dumps(self.configuration(), indent=2))
            process = start_process(
                [self._executable, str(self.config_path)],
                log_path=self.log_path,
                # Orthanc's DICOM side is DCMTK: without this every small
                # C-STORE waits ~40 ms for a delayed ACK.
                env={**os.environ, "TCP_NODELAY": "1"},
                cwd=self._work_dir,
            )
            self._process = process
            try:
                wait_until(
                    partial(self._ready, process.pid),
                    self._start_timeout,
                    what=f"Orthanc (HTTP {self.http_port}, DICOM {self.dicom_port})",
                    process=process,
                    interval=0.05,
                )
            except ServerExited:  # most likely a port was taken meanwhile: try others
                self._process = None
                stop_process(process, self._stop_timeout)
                continue
            except TimeoutError:
                self.stop()
                raise
            return self
        raise RuntimeError(
            f"Orthanc did not start in {attempts} attempts:\n{log_tail(self.log_path)}"
        )

    def _ready(self, pid: int) -> bool:
        return is_listening(self.dicom_port, pid) and self._answers()

    def _answers(self) -> bool:
        try:
            self.get_json("/system", timeout=1.0)
        except (OSError, ValueError):
            return False
        return True

    def stop(self) -> int | None:
        """Stop Orthanc (SIGTERM, then SIGKILL after the bound); return its exit code."""
        process, self._process = self._process, None
        if process is None:
            return None
        return stop_process(process, self._stop_timeout)

    def cleanup(self) -> None:
        """Stop, then delete the configuration, index, storage and log."""
        self.stop()
        shutil.rmtree(self._work_dir, ignore_errors=True)

    def __enter__(self) -> OrthancServer:
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

    def log(self) -> str:
        return log_tail(self.log_path, lines=200)

    # -- REST ---------------------------------------------------------------

    def request(
        self, path: str, *, data: bytes | None = None, method: str = "GET", timeout: float = 10.0
    ) -> bytes:
        """One REST call; returns the body. ``urllib.error.HTTPError`` on 4xx/5xx."""
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        if self.users:
            user, password = next(iter(self.users.items()))
            token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            req.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return cast(bytes, response.read())

    def get_json(self, path: str, timeout: float = 10.0) -> Any:
        return json.loads(self.request(path, timeout=timeout))

    def statistics(self) -> dict[str, Any]:
        """``GET /statistics``: CountInstances, CountStudies, TotalDiskSize, ..."""
        return cast(dict[str, Any], self.get_json("/statistics"))

    def instance_count(self) -> int:
        return int(self.statistics()["CountInstances"])

    def instances(self) -> list[str]:
        """Orthanc IDs of every stored instance."""
        return cast(list[str], self.get_json("/instances"))

    def instance_file(self, instance_id: str) -> bytes:
        """The stored Part-10 file of one instance."""
        return self.request(f"/instances/{instance_id}/file")

    def instance_tags(self, instance_id: str) -> dict[str, Any]:
        """``/instances/{id}/simplified-tags``: keyword to value."""
        return cast(dict[str, Any], self.get_json(f"/instances/{instance_id}/simplified-tags"))

    def find_instance(self, sop_instance_uid: str) -> str | None:
        """The Orthanc ID of the instance with this SOP Instance UID, or ``None``."""
        found = json.loads(
            self.request("/tools/lookup", data=sop_instance_uid.encode("ascii"), method="POST")
        )
        for item in found:
            if item.get("Type") == "Instance":
                return str(item["ID"])
        return None

    def declare_modality(self, name: str, ae_title: str, port: int) -> None:
        """Make a modality known (``PUT /modalities/NAME``) on 127.0.0.1, as a storage
        commitment SCP needs: Orthanc sends its N-EVENT-REPORT to the modality whose AE title
        is the N-ACTION's calling AE."""
        body = json.dumps({"AET": ae_title, "Host": LOOPBACK, "Port": port}).encode()
        self.request(f"/modalities/{name}", data=body, method="PUT")

    def delete_instance(self, instance_id: str) -> None:
        self.request(f"/instances/{instance_id}", method="DELETE")
