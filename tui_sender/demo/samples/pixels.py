"""Pixel data for the sample studies: a smooth body phantom built from bytes, no NumPy.

NumPy is not a runtime dependency, yet the demo and the benchmarks need
hundreds of megabytes of plausible pixels quickly. The phantom is therefore
assembled row by row from a few precomputed full-width "material" rows
(background, soft tissue, organ, bone) with slice assignments, which run at
C speed. The ellipses change size and position with the slice or frame
position, so every slice differs, while long constant runs and a blocky
texture keep RLE compression realistic (neither trivial nor useless).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pydicom.encaps import encapsulate
from pydicom.pixels.encoders.base import get_encoder
from pydicom.uid import RLELossless

TEXTURE_VARIANTS = 4
"""Distinct texture rows per material; rows cycle through them every 4 pixels."""

_TEXTURE_BLOCK = 4
"""Pixels that share a texture value, so RLE finds runs in the low byte too."""


@dataclass(frozen=True, slots=True)
class PixelLayout:
    """The Image Pixel module values of a grayscale, unsigned image."""

    rows: int
    columns: int
    bits_allocated: int = 16
    bits_stored: int = 12
    photometric: str = "MONOCHROME2"

    def __post_init__(self) -> None:
        if self.bits_allocated not in (8, 16):
            raise ValueError(f"bits_allocated must be 8 or 16, not {self.bits_allocated}")
        if not 1 <= self.bits_stored <= self.bits_allocated:
            raise ValueError(f"bits_stored {self.bits_stored} does not fit {self.bits_allocated}")
        if self.rows < 1 or self.columns < 1:
            raise ValueError(f"image size {self.rows}x{self.columns} is empty")

    @property
    def bytes_per_pixel(self) -> int:
        """1 for 8-bit images, 2 for 16-bit ones."""
        return self.bits_allocated // 8

    @property
    def frame_bytes(self) -> int:
        """Length of one uncompressed frame."""
        return self.rows * self.columns * self.bytes_per_pixel

    @property
    def max_value(self) -> int:
        """Largest value Bits Stored can hold."""
        return (1 << self.bits_stored) - 1


@dataclass(frozen=True, slots=True)
class _Ellipse:
    cx: float
    cy: float
    ax: float
    ay: float

    def span(self, y: int, width: int) -> tuple[int, int] | None:
        """Columns [start, stop) the ellipse covers on row ``y``, or None."""
        dy = (y + 0.5 - self.cy) / self.ay
        if dy * dy >= 1.0:
            return None
        half = self.ax * math.sqrt(1.0 - dy * dy)
        start = max(0, round(self.cx - half))
        stop = min(width, round(self.cx + half))
        return (start, stop) if stop > start else None


class Phantom:
    """Frames of one image geometry; build it once per series and ask for many frames.

    ``frame(position)`` takes a position in [0, 1] through the volume (slice
    or frame index over count); the same position always gives the same bytes.
    """

    def __init__(self, layout: PixelLayout) -> None:
        self.layout = layout
        top = layout.max_value
        width = layout.columns
        self._background = self._material_row(round(top * 0.006), 0, 0)
        self._tissue = [
            self._material_row(round(top * 0.26), max(1, top // 90), v)
            for v in range(TEXTURE_VARIANTS)
        ]
        self._organ = [
            self._material_row(round(top * 0.12), max(1, top // 60), v)
            for v in range(TEXTURE_VARIANTS)
        ]
        self._bone = self._material_row(round(top * 0.55), max(1, top // 40), 0)
        self._width = width

    def _material_row(self, base: int, texture: int, variant: int) -> bytes:
        """A full-width row of one material: base value, a gentle ramp and a blocky texture."""
        top = self.layout.max_value
        width = self.layout.columns
        values = []
        for x in range(width):
            block = x // _TEXTURE_BLOCK
            noise = ((block * 2654435761 + variant * 40503) >> 7) % (texture + 1)
            ramp = (x * texture) // max(1, width)
            values.append(min(top, base + ramp + noise))
        if self.layout.bits_allocated == 8:
            return bytes(values)
        return struct.pack(f"<{width}H", *values)

    def frame(self, position: float) -> bytes:
        """One uncompressed little-endian frame at ``position`` (0..1) through the volume."""
        layout = self.layout
        width, height, bpp = layout.columns, layout.rows, layout.bytes_per_pixel
        swell = 0.72 + 0.28 * math.sin(math.pi * min(1.0, max(0.0, position)))
        body = _Ellipse(width * 0.5, height * 0.52, width * 0.42 * swell, height * 0.34 * swell)
        drift = (position - 0.5) * 0.08
        organs = (
            _Ellipse(width * (0.33 + drift), height * 0.47, width * 0.11, height * 0.18 * swell),
            _Ellipse(width * (0.67 - drift), height * 0.47, width * 0.10, height * 0.17 * swell),
        )
        bone = _Ellipse(width * 0.5, height * 0.74, width * 0.045, height * 0.05)
        shift = round(position * 97)
        out = bytearray(self._background * height)
        for y in range(height):
            body_span = body.span(y, width)
            if body_span is None:
                continue
            offset = y * width * bpp
            variant = (y // _TEXTURE_BLOCK + shift) % TEXTURE_VARIANTS
            start, stop = body_span
            out[offset + start * bpp : offset + stop * bpp] = self._tissue[variant][
                start * bpp : stop * bpp
            ]
            for organ in organs:
                span = organ.span(y, width)
                if span is not None:
                    a, b = max(span[0], start), min(span[1], stop)
                    out[offset + a * bpp : offset + b * bpp] = self._organ[variant][
                        a * bpp : b * bpp
                    ]
            span = bone.span(y, width)
            if span is not None:
                a, b = max(span[0], start), min(span[1], stop)
                out[offset + a * bpp : offset + b * bpp] = self._bone[a * bpp : b * bpp]
        return bytes(out)

    def frames(self, count: int, *, start: float = 0.0, end: float = 1.0) -> Iterator[bytes]:
        """``count`` frames evenly spread between ``start`` and ``end``."""
        step = (end - start) / max(1, count - 1)
        for index in range(count):
            yield self.frame(start + index * step)


def rle_encode_frame(frame: bytes, layout: PixelLayout) -> bytes:
    """One frame as an RLE Lossless segment set, with pydicom's pure-Python encoder."""
    encoder = get_encoder(RLELossless)
    return encoder.encode(
        frame,
        rows=layout.rows,
        columns=layout.columns,
        samples_per_pixel=1,
        bits_allocated=layout.bits_allocated,
        bits_stored=layout.bits_stored,
        pixel_representation=0,
        photometric_interpretation=layout.photometric,
        number_of_frames=1,
    )


def rle_pixel_data(frames: Iterable[bytes], layout: PixelLayout) -> bytes:
    """Encapsulated RLE Lossless Pixel Data (with a Basic Offset Table) for ``frames``."""
    return encapsulate([rle_encode_frame(frame, layout) for frame in frames], has_bot=True)
