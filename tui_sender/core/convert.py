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

from tui_sender.core import registry

CODECS_HINT = "install the codecs extra: pip install 'tui-sender[codecs]'"


class ConversionError(Exception):
    """The file could not be converted; the message says why and what to do."""


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
            ds.decompress()
        except (ImportError, RuntimeError, NotImplementedError) as exc:
            name = registry.transfer_syntax_name(source)
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if "numpy" in text.lower() or "plugin" in text.lower() or isinstance(exc, ImportError):
                raise ConversionError(f"cannot decompress {name}: {CODECS_HINT}") from exc
            raise ConversionError(f"cannot decompress {name}: {text}") from exc
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
