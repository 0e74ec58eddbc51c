"""``python -m bench.dicomweb_client_send URL PATH... --batch N``: STOW-RS with dicomweb-client.

What a user of `dicomweb-client <https://github.com/ImagingDataCommons/dicomweb-client>`_
writes to send a folder to a DICOMweb server: walk the paths, read each
file with ``pydicom.dcmread`` (the library takes data sets, not files), and
call ``DICOMwebClient.store_instances`` with ``N`` of them at a time (one
``POST {URL}/studies`` each). The library encodes every data set again
(``dcmwrite`` into memory), joins the parts into one multipart body and
posts it, with chunked transfer encoding when the body is over its 1 MB
``chunk_size``: each file is held in memory several times over.

The last line printed is ``dicomweb-client stored: S failed: F`` (stored:
the instances the response data sets' ReferencedSOPSequence lists; failed:
the others, and every instance of a call that raised), which
:mod:`bench.senders` reads as the sender's own report. Exit code 0 when
every instance was stored, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

REPORT_PREFIX = "dicomweb-client stored:"


def dicom_files(paths: Sequence[Path]) -> Iterator[Path]:
    """Every file under ``paths`` (folders walked recursively, in sorted order)."""
    for path in paths:
        if path.is_dir():
            for folder, dirs, names in os.walk(path):
                dirs.sort()
                for name in sorted(names):
                    yield Path(folder) / name
        else:
            yield path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dicomweb_client_send")
    parser.add_argument("url", help="DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web")
    parser.add_argument("paths", nargs="+", type=Path, help="files or folders")
    parser.add_argument("--batch", type=int, default=1, help="instances per store_instances")
    args = parser.parse_args(argv)

    import pydicom
    from dicomweb_client.api import DICOMwebClient

    client = DICOMwebClient(url=args.url)
    stored = failed = 0
    batch: list[pydicom.Dataset] = []

    def flush() -> None:
        nonlocal stored, failed
        if not batch:
            return
        try:
            response = client.store_instances(datasets=batch)
        except Exception as exc:  # an HTTP error: count the whole batch as failed
            print(f"store_instances failed: {exc}", file=sys.stderr)
            failed += len(batch)
        else:
            referenced = len(getattr(response, "ReferencedSOPSequence", []))
            stored += referenced
            # An instance the response does not mention was not stored either.
            failed += len(batch) - referenced
            if referenced < len(batch):
                print(f"response for {len(batch)} instances: {response}", file=sys.stderr)
        batch.clear()

    for path in dicom_files(args.paths):
        batch.append(pydicom.dcmread(path))
        if len(batch) >= args.batch:
            flush()
    flush()
    print(f"{REPORT_PREFIX} {stored} failed: {failed}", flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
