"""Lossless conversion of a file to a transfer syntax the destination accepted.

Used only when the file's own syntax was rejected. The file is read whole
(conversion needs the pixels), so this path is slower and uses memory in
proportion to the file; the streamed path is the normal one.
"""

from __future__ import annotations

import warnings

from pydicom import dcmread
from pydicom.uid import UID, ImplicitVRLittleEndian
from pynetdicom.dsutils import encode

from tui_sender.core.dicom import registry

CODECS_HINT = "install the codecs extra: pip install 'tui-sender[codecs]'"


class ConversionError(Exception):
    """The file could not be converted; the message says why and what to do."""


def _codecs_missing(exc: BaseException) -> bool:
    """True when pydicom could not decode for lack of NumPy or a pixel plugin."""
    text = str(exc).lower()
    return (
        isinstance(exc, ImportError)
        or "numpy is required" in text
        or "missing dependencies" in text
        or "no pixel data decoders" in text
    )


def _first_reason(exc: BaseException) -> str:
    """The most telling line of a decoding error (pydicom lists each plugin's)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    detail = [line for line in lines[1:] if ":" in line]
    return (detail or lines or [type(exc).__name__])[0]


def encode_in(path: str, target_ts: str) -> bytes:
    """The file's data set encoded in ``target_ts`` (Explicit or Implicit VR LE).

    Compressed pixel data is decompressed first (needs NumPy and the pydicom
    pixel plugins, i.e. ``tui-sender[codecs]``); deflated and big-endian data
    sets are re-encoded. The caller decides whether the source is lossless.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = dcmread(path)
    except Exception as exc:
        raise ConversionError(f"cannot read the file to convert it: {exc}") from exc
    source = UID(str(ds.file_meta.get("TransferSyntaxUID", "")))
    if source.is_compressed:
        try:
            # Keep the SOP Instance UID: pydicom makes a new one by default,
            # which would store the image under a UID the C-STORE does not name.
            ds.decompress(generate_instance_uid=False)
        except (ImportError, RuntimeError, NotImplementedError) as exc:
            name = registry.transfer_syntax_name(source)
            if _codecs_missing(exc):
                raise ConversionError(f"cannot decompress {name}: {CODECS_HINT}") from exc
            raise ConversionError(f"cannot decompress {name}: {_first_reason(exc)}") from exc
        except Exception as exc:
            name = registry.transfer_syntax_name(source)
            raise ConversionError(f"cannot decompress {name}: {exc}") from exc
    implicit = target_ts == ImplicitVRLittleEndian
    try:
        data = encode(ds, implicit, True)
    except Exception as exc:
        raise ConversionError(f"cannot encode the data set: {exc}") from exc
    if data is None:
        raise ConversionError("cannot encode the data set in the accepted transfer syntax")
    return data
