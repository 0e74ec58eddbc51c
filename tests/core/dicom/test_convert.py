"""Lossless conversion when a destination rejects a file's own syntax.

With the codecs extra (NumPy and the pydicom plugins) an RLE file is
decompressed and arrives as the same pixels; without it the file fails
with a reason that says what to install, and the other files still go.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless
from pynetdicom.dsutils import decode

from tests.dicom_builders import image, save
from tui_sender.core.dicom.convert import CODECS_HINT, ConversionError, encode_in
from tui_sender.demo.samples.data import generate_samples


def _real_rle_file(tmp_path: Path) -> Path:
    samples = generate_samples(tmp_path / "samples", profile="tiny", seed=2)
    return next(p for p in samples.files if dcmread(p).file_meta.TransferSyntaxUID == RLELossless)


def test_rle_file_is_decompressed_to_the_same_pixels(tmp_path: Path) -> None:
    path = _real_rle_file(tmp_path)
    encoded = encode_in(str(path), str(ExplicitVRLittleEndian))
    original = dcmread(path)
    uid = original.SOPInstanceUID
    original.decompress(generate_instance_uid=False)
    decoded = decode(io.BytesIO(encoded), False, True)
    assert decoded.PixelData == original.PixelData
    assert decoded.SOPInstanceUID == uid


def test_corrupt_compressed_data_is_reported_as_such_not_as_missing_codecs(
    tmp_path: Path,
) -> None:
    path = save(tmp_path / "bad-rle.dcm", image(sop_uid="1.2.3.501"), RLELossless)
    with pytest.raises(ConversionError) as caught:
        encode_in(str(path), str(ExplicitVRLittleEndian))
    assert CODECS_HINT not in str(caught.value)
    assert "RLE" in str(caught.value)


def test_without_codecs_the_file_fails_saying_what_to_install(
    scp_factory: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    save(folder / "plain.dcm", image(sop_uid="1.2.3.600"))
    rle = _real_rle_file(tmp_path)
    (folder / "rle.dcm").write_bytes(rle.read_bytes())
    rle_uid = str(dcmread(rle).SOPInstanceUID)
    scp = scp_factory(transfer_syntaxes=[str(ImplicitVRLittleEndian)])
    blocked = "import sys; sys.modules['numpy'] = None\n"  # as if NumPy were not installed
    code = blocked + "from tui_sender.cli import main; sys.exit(main())"
    proc = subprocess.run(
        [sys.executable, "-c", code, "send", "-i", str(folder), "-a", scp.ae_title, "-H",
         "127.0.0.1", "-p", str(scp.port)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    summary = json.loads(next((tmp_path / "logs").glob("*summary*.json")).read_text())
    states = {Path(f["path"]).name: f for f in summary["files"]}
    assert states["plain.dcm"]["state"] == "sent"
    assert states["rle.dcm"]["state"] == "failed"
    assert CODECS_HINT in states["rle.dcm"]["reason"]
    assert set(scp.stored()) == {"1.2.3.600"}
    assert rle_uid not in scp.stored()
