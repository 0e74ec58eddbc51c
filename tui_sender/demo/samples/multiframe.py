"""A very large multi-frame object, written frame by frame without holding it in memory.

The benchmark for big files (a 2 GB angiography run) must not need 2 GB of
RAM to create its input, just as the sender must not need it to send it.
pydicom writes everything up to the Pixel Data element; the element header
(tag, VR, defined length) and the frames are then appended by hand. Explicit
VR Little Endian with a defined length caps the Pixel Data at 4 GiB - 2.
"""

from __future__ import annotations

import struct
from pathlib import Path

from pydicom import dcmwrite
from pydicom.uid import ExplicitVRLittleEndian

from tui_sender.demo.samples.files import file_meta_for
from tui_sender.demo.samples.identity import UidFactory, make_patient, make_study
from tui_sender.demo.samples.images import ImageKind, SeriesContext, SeriesPlan, image_dataset
from tui_sender.demo.samples.pixels import Phantom, PixelLayout

MAX_PIXEL_DATA_BYTES = 0xFFFFFFFE
"""Largest even defined length; 0xFFFFFFFF would mean "undefined length"."""


def write_large_multiframe(
    path: Path, *, target_bytes: int, seed: int = 0, matrix: int = 512
) -> Path:
    """Write an XA run of ``matrix``² 16-bit frames whose pixel data is about ``target_bytes``.

    The frame count is ``target_bytes // frame_bytes`` (at least 1), so the
    file is a little larger than ``target_bytes`` by its header. Memory use
    stays at a few frames whatever the size.
    """
    layout = PixelLayout(matrix, matrix, 16, 12)
    frames = max(1, target_bytes // layout.frame_bytes)
    pixel_bytes = frames * layout.frame_bytes
    if pixel_bytes > MAX_PIXEL_DATA_BYTES:
        raise ValueError(
            f"{pixel_bytes} bytes of pixel data exceed the 4 GiB limit of a defined length"
        )
    uids = UidFactory("large-multiframe", seed)
    patient = make_patient(seed, 0)
    study = make_study(uids, seed, 0, 0)
    plan = SeriesPlan(ImageKind.XA, 1, "Long run", 1, layout, frames=frames)
    context = SeriesContext(
        plan=plan,
        patient=patient,
        study=study,
        study_description="XA LONG RUN",
        series_uid=uids.uid("series", 1),
        frame_of_reference_uid=uids.uid("frame-of-reference"),
        series_time=study.time,
    )
    ds = image_dataset(context, uids.uid("instance", 1, 0), 0, b"")
    del ds.PixelData
    ds.file_meta = file_meta_for(ds.SOPClassUID, ds.SOPInstanceUID, ExplicitVRLittleEndian)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    phantom = Phantom(layout)
    with path.open("wb") as fh:
        dcmwrite(fh, ds, enforce_file_format=True)
        # (7FE0,0010) OW, 2 reserved bytes, 4-byte defined length: PS3.5 7.1.2.
        fh.write(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, pixel_bytes))
        for index in range(frames):
            fh.write(phantom.frame(index / max(1, frames - 1)))
    return path
