"""Hostile input that gets past the scan: each file ends in a clear state.

Files that change or vanish between scan and send, a meta header that lies
about the encoding or the SOP Instance UID, and a large multi-frame file
sent with bounded memory.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom.dsutils import decode

from tests.dicom_builders import data_set_bytes, image, meta_bytes, save
from tui_sender.core.config.destinations import Destination
from tui_sender.core.engine.session import Session, SessionOptions
from tui_sender.core.engine.targets import transfer_target
from tui_sender.core.model.outcomes import FileState
from tui_sender.core.scan.scanner import scan_paths


def _session(root: Path, scp: Any, tmp_path: Path) -> tuple[Session, Any]:
    catalog = scan_paths([root], recursive=True)
    dest = Destination.from_cli(scp.ae_title, "127.0.0.1", scp.port)
    session = Session(
        catalog, [transfer_target(dest)], options=SessionOptions(logs_dir=tmp_path / "logs")
    )
    return session, catalog


def _state(session: Session, path: Path) -> tuple[FileState, str]:
    outcome = next(o for (_, p), o in session.ledger.outcomes.items() if p == str(path))
    return outcome.state, outcome.reason


def test_files_changed_or_vanished_after_the_scan_fail_with_the_reason(
    scp_factory: Any, tmp_path: Path
) -> None:
    root = tmp_path / "in"
    root.mkdir()
    keep = save(root / "keep.dcm", image(sop_uid="1.2.3.100"))
    grow = save(root / "grow.dcm", image(sop_uid="1.2.3.101"))
    gone = save(root / "gone.dcm", image(sop_uid="1.2.3.102"))
    scp = scp_factory()
    session, _ = _session(root, scp, tmp_path)
    with grow.open("ab") as f:
        f.write(b"\0" * 100)
    gone.unlink()
    result = session.run()
    assert result.exit_code == 1
    assert _state(session, keep)[0] is FileState.SENT
    state, reason = _state(session, grow)
    assert state is FileState.FAILED and "changed since it was scanned" in reason
    state, reason = _state(session, gone)
    assert state is FileState.FAILED and "cannot open the file any more" in reason
    assert set(scp.stored()) == {"1.2.3.100"}


def test_meta_header_lying_about_the_encoding_is_sent_as_what_the_bytes_are(
    scp_factory: Any, tmp_path: Path
) -> None:
    root = tmp_path / "in"
    root.mkdir()
    ds = image(sop_uid="1.2.3.200")
    # A meta header claiming Explicit VR in front of an Implicit VR body.
    path = root / "liar.dcm"
    path.write_bytes(
        meta_bytes([(0x0010, b"UI", str(ExplicitVRLittleEndian).encode() + b"\0")])
        + data_set_bytes(ds, ImplicitVRLittleEndian)
    )
    original = ds
    scp = scp_factory()
    session, catalog = _session(root, scp, tmp_path)
    inst = next(catalog.instances())
    assert inst.transfer_syntax_uid == str(ImplicitVRLittleEndian)
    assert any("Implicit VR" in note for note in catalog.notes[str(path)])
    result = session.run()
    assert result.exit_code == 0
    received = scp.stored()["1.2.3.200"]
    assert received.transfer_syntax_uid == str(ImplicitVRLittleEndian)
    assert received.dataset is not None
    ds = decode(io.BytesIO(received.dataset), True, True)
    assert ds.PixelData == original.PixelData
    log = result.log_path.read_text()
    assert "sent as Implicit VR Little Endian" in log


def test_meta_sop_instance_uid_differing_from_the_data_set_uses_the_data_set(
    scp_factory: Any, tmp_path: Path
) -> None:
    root = tmp_path / "in"
    root.mkdir()
    ds = image(sop_uid="1.2.3.300")
    path = save(root / "uid.dcm", ds)
    data = path.read_bytes()
    # The meta's copy of the UID comes first in the file.
    path.write_bytes(data.replace(b"1.2.3.300", b"1.2.3.399", 1))
    scp = scp_factory()
    session, catalog = _session(root, scp, tmp_path)
    assert next(catalog.instances()).sop_instance_uid == "1.2.3.300"
    result = session.run()
    assert result.exit_code == 0
    assert set(scp.stored()) == {"1.2.3.300"}
    assert "differs from the data set's" in result.log_path.read_text()


@pytest.mark.slow
def test_a_large_multiframe_file_is_sent_with_bounded_memory(storescp: Any, tmp_path: Path) -> None:
    from tui_sender.demo.samples.data import write_large_multiframe

    big = write_large_multiframe(tmp_path / "in" / "big.dcm", target_bytes=400 * 2**20)
    scp = storescp(ignore=True)
    code = (
        "import sys\n"
        "from tui_sender.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print('VMHWM', int(hwm.split()[1]), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "send", "-i", str(big), "-a", scp.ae_title, "-H",
         "127.0.0.1", "-p", str(scp.port), "-q", "--logs-dir", str(tmp_path / "logs")],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TUI_SENDER_STATE_DIR": str(tmp_path / "state")},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    peak_kib = int(proc.stderr.split("VMHWM")[1].split()[0])
    assert big.stat().st_size > 400 * 2**20
    assert peak_kib < 150 * 1024, f"peak {peak_kib // 1024} MiB sending a 400 MiB file"
