"""The product's storage SCP (``tui_sender.demo.receiver``) and the ``scp`` subcommand.

Files are sent with pynetdicom's own SCU, so these tests do not depend on
the product's sender.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    MRImageStorage,
    RLELossless,
    SecondaryCaptureImageStorage,
)
from pynetdicom import _config
from pynetdicom.association import Association
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from peers import scu
from peers.dicom_files import dataset_bytes, make_instance, write_instance
from tui_sender.demo.receiver import (
    AssociationReport,
    StorageSCP,
    instance_file_name,
    part10_dataset_offset,
)

CASES = [
    (CTImageStorage, ExplicitVRLittleEndian),
    (MRImageStorage, ImplicitVRLittleEndian),
    (CTImageStorage, RLELossless),
]


def assert_same_instance(received: Path, source: Path) -> None:
    """Same transfer syntax, same data set bytes, same elements."""
    got, want = dcmread(received), dcmread(source)
    assert got.file_meta.TransferSyntaxUID == want.file_meta.TransferSyntaxUID
    assert got.file_meta.MediaStorageSOPInstanceUID == want.SOPInstanceUID
    assert dataset_bytes(received) == dataset_bytes(source)
    assert [elem.tag for elem in got] == [elem.tag for elem in want]
    for elem in want:
        assert got[elem.tag].value == elem.value, elem.keyword


@pytest.mark.parametrize(("sop_class", "syntax"), CASES, ids=["ct-explicit", "mr-implicit", "rle"])
def test_instances_arrive_unchanged_as_uid_named_files(
    tmp_path: Path, sop_class: str, syntax: str
) -> None:
    source = write_instance(
        tmp_path / "in" / "a.dcm", make_instance(sop_class_uid=sop_class), transfer_syntax=syntax
    )
    with StorageSCP(output_dir=tmp_path / "out") as scp:
        assert scu.send_files(scp.port, [source]) == [0x0000]
        assert scp.received_count == 1
        assert scp.received_bytes == len(dataset_bytes(source))
    uid = dcmread(source).SOPInstanceUID
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{uid}.dcm"]
    assert_same_instance(tmp_path / "out" / f"{uid}.dcm", source)
    assert stat.S_IMODE((tmp_path / "out" / f"{uid}.dcm").stat().st_mode) == 0o600


def test_in_memory_receive_path_writes_the_same_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handler also works when pynetdicom gathers the data set in memory.

    ``STORE_RECV_CHUNKED_DATASET`` is process-wide; another receiver in the
    same process may have it off.
    """
    source = write_instance(tmp_path / "a.dcm", transfer_syntax=RLELossless)
    with StorageSCP(output_dir=tmp_path / "out") as scp:
        monkeypatch.setattr(_config, "STORE_RECV_CHUNKED_DATASET", False)
        assert scu.send_files(scp.port, [source]) == [0x0000]
        assert scp.received_bytes == len(dataset_bytes(source))
    received = tmp_path / "out" / instance_file_name(dcmread(source).SOPInstanceUID)
    assert_same_instance(received, source)
    assert stat.S_IMODE(received.stat().st_mode) == 0o600


def test_large_instance_arrives_intact_across_many_pdus(tmp_path: Path) -> None:
    """A 2 MB data set crosses ~130 P-DATA PDUs of 16 KB and is streamed to disk."""
    source = write_instance(tmp_path / "big.dcm", make_instance(rows=1024, columns=1024))
    with StorageSCP(output_dir=tmp_path / "out") as scp:
        assert scu.send_files(scp.port, [source]) == [0]
        assert scp.received_bytes == len(dataset_bytes(source)) > 2_000_000
    assert_same_instance(tmp_path / "out" / f"{dcmread(source).SOPInstanceUID}.dcm", source)


def test_unwritable_output_answers_out_of_resources(tmp_path: Path) -> None:
    source = write_instance(tmp_path / "a.dcm")
    with StorageSCP(output_dir=tmp_path / "out") as scp:
        (tmp_path / "out").rmdir()
        assert scu.send_files(scp.port, [source]) == [0xA700]
        assert (scp.received_count, scp.failed_count) == (0, 1)


def test_many_instances_over_two_associations_are_all_counted(tmp_path: Path) -> None:
    files = [write_instance(tmp_path / f"{n}.dcm") for n in range(30)]
    reports: list[AssociationReport] = []
    with StorageSCP(output_dir=tmp_path / "out", on_association_end=reports.append) as scp:
        assert scu.send_files(scp.port, files[:10], calling_ae="FIRST") == [0] * 10
        assert scu.send_files(scp.port, files[10:], calling_ae="SECOND") == [0] * 20
        deadline = time.monotonic() + 5
        while len(reports) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert scp.received_count == 30
        assert scp.association_count == 2
    assert len(list((tmp_path / "out").glob("*.dcm"))) == 30
    assert [(r.calling_ae_title, r.instances, r.outcome) for r in reports] == [
        ("FIRST", 10, "released"),
        ("SECOND", 20, "released"),
    ]
    assert reports[0].bytes == sum(len(dataset_bytes(f)) for f in files[:10])


def test_prefers_the_files_own_compressed_syntax(tmp_path: Path) -> None:
    """Offered RLE and Explicit VR LE in one context, it accepts RLE: no conversion."""
    contexts = scu.contexts_for(
        [
            (CTImageStorage, [ExplicitVRLittleEndian, RLELossless]),
            (MRImageStorage, [ImplicitVRLittleEndian, ExplicitVRLittleEndian]),
        ]
    )
    with StorageSCP(ignore=True) as scp, scu.associate(scp.port, contexts) as association:
        accepted = {
            str(cx.abstract_syntax): cx.transfer_syntax[0] for cx in association.accepted_contexts
        }
    assert accepted == {CTImageStorage: RLELossless, MRImageStorage: ExplicitVRLittleEndian}


def test_accepts_any_storage_class_and_verification(tmp_path: Path) -> None:
    contexts = scu.contexts_for(
        [
            (SecondaryCaptureImageStorage, ExplicitVRLittleEndian),
            (Verification, ImplicitVRLittleEndian),
        ]
    )
    with StorageSCP(ignore=True) as scp, scu.associate(scp.port, contexts) as association:
        assert association.is_established
        assert not association.rejected_contexts
        echo = association.send_c_echo()
        assert echo.Status == 0x0000


def test_ignore_mode_counts_and_writes_nothing(tmp_path: Path) -> None:
    files = [write_instance(tmp_path / f"{n}.dcm") for n in range(3)]
    before = sorted(tmp_path.rglob("*"))
    with StorageSCP(ignore=True) as scp:
        assert scp.output_dir is None
        assert scu.send_files(scp.port, files) == [0, 0, 0]
        assert scp.received_count == 3
        assert scp.received_bytes == sum(len(dataset_bytes(f)) for f in files)
    assert sorted(tmp_path.rglob("*")) == before


def test_accepted_sockets_have_tcp_nodelay(tmp_path: Path) -> None:
    with (
        StorageSCP(ignore=True) as scp,
        scu.associate(scp.port, scu.contexts_for([(Verification, ImplicitVRLittleEndian)])),
    ):
        acceptors = [
            t for t in threading.enumerate() if isinstance(t, Association) and t.is_acceptor
        ]
        assert acceptors
        for acceptor in acceptors:
            assert acceptor.dul.socket is not None
            sock = acceptor.dul.socket.socket
            assert sock is not None
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_stop_is_bounded_with_an_association_open(tmp_path: Path) -> None:
    """stop() aborts a peer that keeps its association open, and frees the port."""
    contexts = scu.contexts_for([(Verification, ImplicitVRLittleEndian)])
    scp = StorageSCP(ignore=True)
    port = scp.start()
    with scu.associate(port, contexts) as association:
        assert association.is_established
        started = time.monotonic()
        scp.stop()
        assert time.monotonic() - started < 3.0
        association.join(5)
        assert association.is_aborted
    scp.stop()  # idempotent
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_unsafe_sop_instance_uid_never_becomes_a_path(tmp_path: Path) -> None:
    assert instance_file_name("1.2.3.4") == "1.2.3.4.dcm"
    assert instance_file_name("1.2.3\x00") == "1.2.3.dcm"
    for hostile in ["../../etc/passwd", "1.2/../3", "..", "1" * 65, "1.2.3\n"]:
        name = instance_file_name(hostile)
        assert re.fullmatch(r"invalid-uid-[0-9a-f]{32}\.dcm", name), name


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
def test_unsafe_uid_received_stays_inside_the_output_directory(tmp_path: Path) -> None:
    ds: Dataset = make_instance(sop_instance_uid="1.2.3")
    ds.SOPInstanceUID = "../escaped"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    contexts = scu.contexts_for([(CTImageStorage, ExplicitVRLittleEndian)])
    with (
        StorageSCP(output_dir=tmp_path / "out") as scp,
        scu.associate(scp.port, contexts) as association,
    ):
        assert scu.send_dataset(association, ds) == 0x0000
    written = list((tmp_path / "out").iterdir())
    assert len(written) == 1
    assert written[0].name.startswith("invalid-uid-")
    assert not (tmp_path / "escaped").exists()


def test_part10_dataset_offset_refuses_what_is_not_part10(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"x" * 200)
    with pytest.raises(ValueError):
        part10_dataset_offset(junk)


# -- the ``scp`` subcommand -----------------------------------------------------

RUN_SCP = (
    "import argparse, sys\n"
    "from tui_sender.commands import scp\n"
    "parser = argparse.ArgumentParser()\n"
    "scp.configure(parser)\n"
    "sys.exit(scp.run(parser.parse_args(sys.argv[1:])))\n"
)


def read_line(process: subprocess.Popen[str], pattern: str, timeout: float = 10.0) -> re.Match[str]:
    """The first stdout line matching ``pattern``; bounded (the process prints per event)."""
    assert process.stdout is not None
    result: list[re.Match[str]] = []

    def reader() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            match = re.search(pattern, line)
            if match:
                result.append(match)
                return

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    thread.join(timeout)
    if not result:
        raise AssertionError(f"no line matching {pattern!r} within {timeout} s")
    return result[0]


def ignore_sigint() -> None:
    """What a non-interactive shell does to a job it starts with ``&``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(
    ("stop_signal", "background"),
    [(signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=["sigint", "sigterm", "sigint-background-job"],
)
def test_scp_command_receives_and_stops_cleanly(
    tmp_path: Path, stop_signal: signal.Signals, background: bool
) -> None:
    source = write_instance(tmp_path / "a.dcm", transfer_syntax=RLELossless)
    output = tmp_path / "received"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            RUN_SCP,
            "--port",
            "0",
            "--ae-title",
            "CMD_SCP",
            "--output",
            str(output),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=ignore_sigint if background else None,
    )
    try:
        port = int(read_line(process, r"Listening on 127\.0\.0\.1:(\d+) as CMD_SCP").group(1))
        assert scu.send_files(port, [source], called_ae="CMD_SCP", calling_ae="CMD_TEST") == [0]
        line = read_line(process, r"Association from CMD_TEST .*").group(0)
        assert "released: 1 instances" in line
        process.send_signal(stop_signal)
        stdout, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=5)
    assert process.returncode == 0, stderr
    assert "Stopped: 1 instances" in stdout
    assert "Traceback" not in stderr
    assert_same_instance(output / instance_file_name(dcmread(source).SOPInstanceUID), source)


def test_scp_command_reports_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-c", RUN_SCP, "--port", str(port), "--ignore"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert out.returncode == 2
    assert "tui-sender scp:" in out.stderr
    assert "Traceback" not in out.stderr
