"""The scripted DICOMweb peer (:mod:`peers.stow_server`) does what the STOW-RS tests rely on.

httpx is the client, as in the sender. Each test starts its own server; the
whole file runs in a few seconds.
"""

from __future__ import annotations

import hashlib
import ssl
import struct
import time
import tracemalloc
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from peers.processes import wait_until
from peers.stow_server import (
    DICOM_JSON,
    DICOM_XML,
    NATIVE_DICOM_NS,
    STUDY_MISMATCH,
    Behaviour,
    StowServer,
)
from tests.dicom_builders import image, save

BOUNDARY = "stow-test-boundary-5c2f"
CONTENT_TYPE = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
STUDY = "1.2.826.0.1.3680043.8.498.1"
SERIES = STUDY + ".1"
OTHER_SERIES = STUDY + ".2"
CT = "1.2.840.10008.5.1.4.1.1.2"


# -- building requests -------------------------------------------------------------------


def _files(tmp_path: Path, count: int, series: str = SERIES) -> dict[str, bytes]:
    """SOP Instance UID to the Part-10 bytes of ``count`` small CT images."""
    out: dict[str, bytes] = {}
    for n in range(count):
        uid = f"{series}.{n + 1}"
        path = save(tmp_path / f"{uid}.dcm", image(sop_uid=uid, study_uid=STUDY, series_uid=series))
        out[uid] = path.read_bytes()
    return out


def _opening(part_headers: str = "Content-Type: application/dicom\r\n") -> bytes:
    return f"--{BOUNDARY}\r\n{part_headers}\r\n".encode()


def _body(parts: list[bytes]) -> bytes:
    out = b"".join(_opening() + part + b"\r\n" for part in parts)
    return out + f"--{BOUNDARY}--\r\n".encode()


def _stow(
    client: httpx.Client, server: StowServer, parts: list[bytes], **kwargs: Any
) -> httpx.Response:
    headers = {"Content-Type": CONTENT_TYPE, "Accept": DICOM_JSON, **kwargs.pop("headers", {})}
    return client.post(
        server.url + kwargs.pop("path", "/studies"), content=_body(parts), headers=headers, **kwargs
    )


def _value(dataset: dict[str, Any], tag: str) -> Any:
    return dataset[tag]["Value"][0]


def _items(dataset: dict[str, Any], tag: str) -> list[dict[str, Any]]:
    return list(dataset.get(tag, {}).get("Value", []))


@pytest.fixture
def server() -> Iterator[StowServer]:
    with StowServer() as running:
        yield running
    assert not running.errors, running.errors


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as http:
        yield http


# -- STOW-RS -----------------------------------------------------------------------------


def test_three_instances_in_one_request_are_stored_byte_for_byte(
    server: StowServer, client: httpx.Client, tmp_path: Path
) -> None:
    files = _files(tmp_path, 3)
    response = _stow(client, server, list(files.values()))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == DICOM_JSON
    answer = response.json()
    assert _value(answer, "00081190") == f"{server.url}/studies/{STUDY}"
    assert answer["00081190"]["vr"] == "UR"
    assert "00081198" not in answer
    referenced = _items(answer, "00081199")
    assert answer["00081199"]["vr"] == "SQ"
    assert [_value(item, "00081155") for item in referenced] == list(files)
    for item, uid in zip(referenced, files, strict=True):
        assert item["00081150"] == {"vr": "UI", "Value": [CT]}
        assert item["00081155"]["vr"] == "UI"
        assert _value(item, "00081190") == (
            f"{server.url}/studies/{STUDY}/series/{SERIES}/instances/{uid}"
        )

    received = server.received
    assert [r.sop_instance_uid for r in received] == list(files)
    for instance, data in zip(received, files.values(), strict=True):
        assert instance.sha256 == hashlib.sha256(data).hexdigest()
        assert instance.size == len(data)
        assert instance.sop_class_uid == CT
        assert (instance.study_uid, instance.series_uid) == (STUDY, SERIES)
        assert instance.path is not None and instance.path.read_bytes() == data
    (request,) = server.requests
    assert (request.method, request.path, request.status) == ("POST", "/dicom-web/studies", 200)
    assert request.parts == 3
    assert request.body_bytes == len(_body(list(files.values())))
    assert request.sop_instance_uids == tuple(files)
    assert request.headers["content-type"] == CONTENT_TYPE
    assert not request.authorization


def test_202_lists_the_failed_instance_and_stores_the_others(
    server: StowServer, client: httpx.Client, tmp_path: Path
) -> None:
    files = _files(tmp_path, 3)
    first, second, third = files
    server.script.append(Behaviour(fail={second: 0xC000}, warn={third: 0xB000}))

    response = _stow(client, server, list(files.values()))

    assert response.status_code == 202
    answer = response.json()
    (failed,) = _items(answer, "00081198")
    assert failed["00081155"] == {"vr": "UI", "Value": [second]}
    assert failed["00081150"] == {"vr": "UI", "Value": [CT]}
    assert failed["00081197"] == {"vr": "US", "Value": [0xC000]}
    referenced = _items(answer, "00081199")
    assert [_value(item, "00081155") for item in referenced] == [first, third]
    assert "00081196" not in referenced[0]
    assert referenced[1]["00081196"] == {"vr": "US", "Value": [0xB000]}
    assert [r.sop_instance_uid for r in server.received] == [first, third]
    # The script is consumed: the next request gets the default, a plain 200.
    assert _stow(client, server, [files[second]]).status_code == 200


def test_409_when_every_instance_failed(
    server: StowServer, client: httpx.Client, tmp_path: Path
) -> None:
    files = _files(tmp_path, 2)
    server.script.append(Behaviour(fail_all=0xA700))

    response = _stow(client, server, list(files.values()))

    assert response.status_code == 409
    answer = response.json()
    assert [_value(i, "00081155") for i in _items(answer, "00081198")] == list(files)
    assert {_value(i, "00081197") for i in _items(answer, "00081198")} == {0xA700}
    assert "00081199" not in answer and "00081190" not in answer
    assert server.received == []


def test_omitted_and_study_mismatch(
    server: StowServer, client: httpx.Client, tmp_path: Path
) -> None:
    files = _files(tmp_path, 3)
    first, second, third = files
    server.script.append(Behaviour(omit={second}))
    answer = _stow(client, server, list(files.values())).json()
    assert [_value(i, "00081155") for i in _items(answer, "00081199")] == [first, third]
    assert [r.sop_instance_uid for r in server.received] == list(files)  # stored all the same

    server.forget()
    server.script.append(Behaviour(omit={second}, omit_stored=False))
    _stow(client, server, list(files.values()))
    assert [r.sop_instance_uid for r in server.received] == [first, third]

    response = _stow(client, server, [files[first]], path="/studies/9.9.9")
    assert response.status_code == 409
    assert _value(_items(response.json(), "00081198")[0], "00081197") == STUDY_MISMATCH


def test_429_with_retry_after_stores_nothing_and_keeps_the_connection(
    server: StowServer, client: httpx.Client, tmp_path: Path
) -> None:
    files = _files(tmp_path, 1)
    server.script.append(Behaviour(status=429, retry_after="7"))

    refused = _stow(client, server, list(files.values()))
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "7"
    assert refused.headers["content-type"].startswith("text/plain")
    assert server.received == []
    assert server.requests[0].parts == 1  # read and counted, not stored

    assert _stow(client, server, list(files.values())).status_code == 200
    assert server.connections == 1


def test_scripted_raw_body_and_delay(
    server: StowServer, client: httpx.Client, tmp_path: Path
) -> None:
    files = _files(tmp_path, 1)
    page = b"<html><body>502 Bad Gateway</body></html>"
    server.script += [Behaviour(status=502, body=page), Behaviour(delay=0.3)]

    bad = _stow(client, server, list(files.values()))
    assert (bad.status_code, bad.content) == (502, page)
    assert bad.headers["content-type"].startswith("text/html")
    started = time.monotonic()
    assert _stow(client, server, list(files.values())).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_reset_after_bytes_breaks_the_request(
    server: StowServer, client: httpx.Client, tmp_path: Path
) -> None:
    files = _files(tmp_path, 1)
    big = next(iter(files.values())) + bytes(2_000_000)
    server.script.append(Behaviour(reset_after_bytes=1000))

    with pytest.raises(httpx.TransportError):
        _stow(client, server, [big])

    (request,) = server.requests
    assert request.status is None and request.body_bytes == 1000
    assert server.received == []
    # A new connection is served normally.
    assert _stow(client, server, list(files.values())).status_code == 200
    assert server.connections == 2


def test_answer_before_body_closes_after_the_answer(
    server: StowServer, client: httpx.Client, tmp_path: Path
) -> None:
    files = _files(tmp_path, 1)
    server.script.append(Behaviour(status=413, answer_before_body=True))

    try:
        response = _stow(client, server, [next(iter(files.values())) + bytes(3_000_000)])
    except httpx.TransportError:
        pass  # the client may see its write fail instead of the answer
    else:
        assert response.status_code == 413
        assert response.headers["connection"] == "close"
    assert server.requests[0].status == 413
    assert server.received == []


def test_unsupported_media_type(server: StowServer, client: httpx.Client) -> None:
    response = client.post(
        server.url + "/studies", content=b"{}", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 415
    bad = client.post(
        server.url + "/studies",
        content=b"--x\r\n\r\nnot dicom\r\n--x--\r\n",
        headers={"Content-Type": 'multipart/related; type="application/dicom"; boundary=x'},
    )
    assert bad.status_code == 409
    assert _value(_items(bad.json(), "00081198")[0], "00081197") == 0xC000


# -- authentication ----------------------------------------------------------------------


def test_basic_auth(client: httpx.Client, tmp_path: Path) -> None:
    files = _files(tmp_path, 1)
    with StowServer(users={"alice": "secret"}) as server:
        missing = _stow(client, server, list(files.values()))
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Basic ")
        wrong = _stow(client, server, list(files.values()), auth=("alice", "nope"))
        assert wrong.status_code == 401
        assert server.received == []
        right = _stow(client, server, list(files.values()), auth=("alice", "secret"))
        assert right.status_code == 200
        qido = client.get(server.url + "/studies", auth=("alice", "secret"))
        assert qido.status_code == 200 and len(qido.json()) == 1
        assert client.get(server.url + "/studies").status_code == 401

        records = server.requests
        assert [r.status for r in records] == [401, 401, 200, 200, 401]
        assert [r.authorization for r in records] == [False, True, True, True, False]
        assert all("authorization" not in r.headers for r in records)
        assert records[0].body_bytes > 0  # the refused body was read first
        assert server.connections == 1
        assert not server.errors


def test_bearer_token(client: httpx.Client, tmp_path: Path) -> None:
    files = _files(tmp_path, 1)
    with StowServer(token="abc") as server:
        wrong = _stow(client, server, list(files.values()), headers={"Authorization": "Bearer x"})
        assert wrong.status_code == 401
        assert wrong.headers["www-authenticate"].startswith("Bearer ")
        basic = _stow(client, server, list(files.values()), auth=("abc", "abc"))
        assert basic.status_code == 401
        right = _stow(client, server, list(files.values()), headers={"Authorization": "Bearer abc"})
        assert right.status_code == 200
        assert len(server.received) == 1


# -- TLS ---------------------------------------------------------------------------------


def test_tls_with_a_trusted_ca(tmp_path: Path) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    files = _files(tmp_path, 2)

    with StowServer(ssl_context=server_context) as server:
        assert server.url.startswith("https://127.0.0.1:")
        with httpx.Client(verify=client_context, timeout=10.0) as client:
            assert _stow(client, server, list(files.values())).status_code == 200
            assert _stow(client, server, list(files.values())).status_code == 200
        with httpx.Client(timeout=10.0) as untrusting, pytest.raises(httpx.ConnectError):
            untrusting.get(server.url + "/studies")
        assert [r.sha256 for r in server.received[:2]] == [
            hashlib.sha256(data).hexdigest() for data in files.values()
        ]
        assert server.connections == 2
        # The server's side of the failed handshake may end just after the client's.
        wait_until(lambda: server.handshake_failures == 1, 5.0, what="handshake failure")
        assert not server.errors


# -- other answers and bodies ------------------------------------------------------------


def test_xml_answer_when_only_xml_is_accepted(
    server: StowServer, client: httpx.Client, tmp_path: Path
) -> None:
    files = _files(tmp_path, 2)
    first, second = files
    server.script.append(Behaviour(fail={second: 0x0110}))

    response = _stow(client, server, list(files.values()), headers={"Accept": DICOM_XML})

    assert response.status_code == 202
    assert response.headers["content-type"] == DICOM_XML
    root = ET.fromstring(response.content)
    ns = {"d": NATIVE_DICOM_NS}
    assert root.tag == f"{{{NATIVE_DICOM_NS}}}NativeDicomModel"
    url = root.find("d:DicomAttribute[@tag='00081190']/d:Value", ns)
    assert url is not None and url.text == f"{server.url}/studies/{STUDY}"
    referenced = root.findall("d:DicomAttribute[@tag='00081199']/d:Item", ns)
    assert [item.get("number") for item in referenced] == ["1"]
    uid = referenced[0].find("d:DicomAttribute[@tag='00081155']/d:Value", ns)
    assert uid is not None and uid.text == first
    reason = root.find(
        "d:DicomAttribute[@tag='00081198']/d:Item/d:DicomAttribute[@tag='00081197']", ns
    )
    assert reason is not None and reason.get("vr") == "US"
    assert reason.findtext("d:Value", namespaces=ns) == str(0x0110)
    # JSON still wins when both are acceptable (the sender's Accept).
    both = "application/dicom+json, application/dicom+xml;q=0.9"
    again = _stow(client, server, [files[first]], headers={"Accept": both})
    assert again.headers["content-type"] == DICOM_JSON


def test_chunked_upload(server: StowServer, client: httpx.Client, tmp_path: Path) -> None:
    files = _files(tmp_path, 2)
    body = _body(list(files.values()))

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(body), 777):
            yield body[start : start + 777]

    response = client.post(
        server.url + "/studies", content=pieces(), headers={"Content-Type": CONTENT_TYPE}
    )

    assert response.status_code == 200, response.text
    (request,) = server.requests
    assert request.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in request.headers
    assert request.body_bytes == len(body)
    assert [r.sha256 for r in server.received] == [
        hashlib.sha256(data).hexdigest() for data in files.values()
    ]


def test_qido_after_store(server: StowServer, client: httpx.Client, tmp_path: Path) -> None:
    empty = client.get(server.url + "/studies", params={"limit": "1"})
    assert (empty.status_code, empty.json()) == (200, [])

    files = _files(tmp_path, 2) | _files(tmp_path, 1, series=OTHER_SERIES)
    assert _stow(client, server, list(files.values())).status_code == 200

    (study,) = client.get(server.url + "/studies", params={"limit": "1"}).json()
    assert study["0020000D"] == {"vr": "UI", "Value": [STUDY]}
    assert (_value(study, "00201206"), _value(study, "00201208")) == (2, 3)
    series = client.get(f"{server.url}/studies/{STUDY}/series").json()
    assert sorted(_value(s, "0020000E") for s in series) == [SERIES, OTHER_SERIES]

    path = f"{server.url}/studies/{STUDY}/series/{SERIES}/instances"
    instances = client.get(path)
    assert instances.headers["content-type"] == DICOM_JSON
    assert [_value(i, "00080018") for i in instances.json()] == list(files)[:2]
    first = instances.json()[0]
    assert _value(first, "00080016") == CT
    assert (_value(first, "0020000D"), _value(first, "0020000E")) == (STUDY, SERIES)
    one_uid = list(files)[1]
    one = client.get(path, params={"SOPInstanceUID": one_uid}).json()
    assert [_value(i, "00080018") for i in one] == [one_uid]
    flat = client.get(
        server.url + "/instances",
        params={"StudyInstanceUID": STUDY, "SeriesInstanceUID": OTHER_SERIES},
    ).json()
    assert [_value(i, "00080018") for i in flat] == list(files)[2:]
    assert client.get(server.url + "/instances", params={"StudyInstanceUID": "9.9"}).json() == []

    server.qido_no_content = True
    assert client.get(server.url + "/instances?StudyInstanceUID=9.9").status_code == 204
    server.qido_status = 404
    assert client.get(server.url + "/studies", params={"limit": "1"}).status_code == 404
    assert server.connections == 1


# -- a big part, streamed ----------------------------------------------------------------


def test_a_50_mb_part_streams_through_in_bounded_memory(
    server: StowServer, client: httpx.Client, tmp_path: Path
) -> None:
    header_ds = image(sop_uid=f"{SERIES}.50", study_uid=STUDY, series_uid=SERIES)
    del header_ds.PixelData
    header = save(tmp_path / "big-header.dcm", header_ds).read_bytes()
    block = bytes(range(256)) * 4096  # 1 MiB
    blocks = 50
    pixels = b"\xe0\x7f\x10\x00OW\x00\x00" + struct.pack("<I", len(block) * blocks)
    digest = hashlib.sha256(header + pixels)
    for _ in range(blocks):
        digest.update(block)

    def stream() -> Iterator[bytes]:
        yield _opening() + header + pixels
        for _ in range(blocks):
            yield block
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    tracemalloc.start()
    try:
        response = client.post(
            server.url + "/studies", content=stream(), headers={"Content-Type": CONTENT_TYPE}
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert response.status_code == 200, response.text
    (instance,) = server.received
    assert instance.sha256 == digest.hexdigest()
    assert instance.size == len(header) + len(pixels) + len(block) * blocks
    assert peak < 16 * 1024 * 1024, f"peak traced memory {peak / 1e6:.1f} MB"
