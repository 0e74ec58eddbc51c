"""STOW-RS response bodies as servers send them, read into one status per instance.

The ``orthanc_*`` bodies were captured from Orthanc 1.10.1's DICOMweb plugin
(a 200 for two stored files, a 400 where one part was not DICOM, a 400 where
no part was, a 415 for a body that was not multipart); the ``stow_*`` ones
are written by hand from PS3.18 10.5.3 for what Orthanc never says
(warnings, failure reasons, OtherFailuresSequence).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tui_sender.core.dicom.status import classify
from tui_sender.core.model.outcomes import FileState
from tui_sender.core.web.stow_response import (
    StowInstanceResult,
    StowResponse,
    StowResponseError,
    parse_stow_response,
)

BODIES = Path(__file__).parent / "bodies"
CT = "1.2.840.10008.5.1.4.1.1.2"
ORTHANC_STUDY = "2.25.232924071871952770715327084933173694747"


def _body(name: str) -> bytes:
    return (BODIES / name).read_bytes()


# -- Orthanc, captured ---------------------------------------------------------------


def test_orthanc_json_200_lists_both_instances_as_stored() -> None:
    response = parse_stow_response(_body("orthanc_200.json"), "application/dicom+json")
    uids = [r.sop_instance_uid for r in response.referenced]
    assert uids == [
        "2.25.160008084349696356540331048612320268126",
        "2.25.126995588495014526202173383065795397632",
    ]
    assert all(r.status == 0x0000 and r.sop_class_uid == CT for r in response.referenced)
    assert response.failed == ()
    assert response.other_failures == ()
    assert response.retrieve_url.endswith(f"/dicom-web/studies/{ORTHANC_STUDY}")
    assert response.referenced[0].retrieve_url.endswith(
        "/instances/2.25.160008084349696356540331048612320268126"
    )


def test_orthanc_xml_200_skips_the_stray_values_between_items() -> None:
    response = parse_stow_response(_body("orthanc_200.xml"), "application/dicom+xml")
    assert [r.sop_instance_uid for r in response.referenced] == [
        "2.25.165788143221513173384938010363222836408",
        "2.25.182493028483034193486440314551064004965",
    ]
    assert all(r.status == 0 and r.sop_class_uid == CT for r in response.referenced)
    assert all("/instances/2.25." in r.retrieve_url for r in response.referenced)
    assert response.failed == ()
    assert response.retrieve_url.endswith(f"/studies/{ORTHANC_STUDY}")


@pytest.mark.parametrize(
    "name", ["orthanc_400_one_not_dicom.json", "orthanc_400_one_not_dicom.xml"]
)
def test_orthanc_400_without_content_type_lists_only_the_stored_part(name: str) -> None:
    """Orthanc sends its 400 with no Content-Type, and leaves the unparsable part out entirely."""
    response = parse_stow_response(_body(name), "")
    assert len(response.referenced) == 1
    assert response.referenced[0].status == 0
    assert response.failed == ()
    assert response.result_for("1.2.3.not.mentioned") is None


def test_orthanc_400_with_nothing_stored_is_two_empty_sequences() -> None:
    response = parse_stow_response(_body("orthanc_400_none_dicom.xml"), "")
    assert response == StowResponse((), ())


def test_orthanc_error_object_is_not_a_stow_response() -> None:
    with pytest.raises(StowResponseError) as caught:
        parse_stow_response(_body("orthanc_415_error.json"), "application/json")
    message = str(caught.value)
    assert "without DICOM attributes" in message
    assert "HttpError" in message
    assert "application/json" in message


# -- written by hand -------------------------------------------------------------------


def test_202_warning_and_failure_give_their_reasons() -> None:
    response = parse_stow_response(
        _body("stow_202_warning_and_failed.json"), "application/dicom+json; charset=utf-8"
    )
    warned, stored = response.referenced
    assert warned == StowInstanceResult(
        CT,
        "1.2.3.4.1",
        0xB000,
        "https://pacs.example/dicom-web/studies/1.2.3/series/1.2.3.4/instances/1.2.3.4.1",
    )
    assert stored == StowInstanceResult(CT, "1.2.3.4.2", 0x0000)
    assert response.failed == (
        StowInstanceResult("1.2.840.10008.5.1.4.1.1.4", "1.2.3.4.3", 0xA900),
    )
    assert response.retrieve_url == "https://pacs.example/dicom-web/studies/1.2.3"
    assert classify(warned.status).state is FileState.WARNING
    assert classify(response.failed[0].status).state is FileState.FAILED


def test_409_all_failed_xml_without_namespace() -> None:
    response = parse_stow_response(_body("stow_409_all_failed.xml"), "application/dicom+xml")
    assert response.referenced == ()
    assert [(r.sop_instance_uid, r.status) for r in response.failed] == [
        ("1.2.3.5.1", 0xC122),
        ("1.2.3.5.2", 0xA700),
        ("1.2.3.5.3", 0x0110),  # no FailureReason: a processing failure, never stored
    ]
    assert response.other_failures == (
        "Error: processing failure (0x0110): part 4 is not a DICOM file",
    )
    assert classify(0xA700).retry
    assert "SOP class" in classify(0xC122).meaning


def test_json_array_around_the_object() -> None:
    body = b"[" + _body("orthanc_200.json") + b"]"
    wrapped = parse_stow_response(body, "application/json")
    assert wrapped == parse_stow_response(_body("orthanc_200.json"), "application/dicom+json")


def test_multipart_related_around_the_xml() -> None:
    xml = _body("orthanc_200.xml")
    body = (
        b"--b0und\r\nContent-Type: application/dicom+xml; charset=utf-8\r\n\r\n"
        + xml
        + b"\r\n--b0und--\r\n"
    )
    content_type = 'multipart/related; type="application/dicom+xml"; boundary="b0und"'
    assert parse_stow_response(body, content_type) == parse_stow_response(
        xml, "application/dicom+xml"
    )


def test_multipart_part_without_headers_takes_the_type_parameter() -> None:
    xml = _body("orthanc_400_one_not_dicom.xml")
    body = b"preamble\r\n--xyz\r\n\r\n" + xml + b"\r\n--xyz--"
    content_type = 'multipart/related; type="application/dicom+xml"; boundary=xyz'
    assert len(parse_stow_response(body, content_type).referenced) == 1


def test_lower_case_tags_string_codes_and_missing_values() -> None:
    body = json.dumps(
        {
            "00081199": {
                "vr": "SQ",
                "Value": [
                    {
                        "00081150": {"vr": "UI", "Value": [CT]},
                        "00081155": {"vr": "UI", "Value": ["9.8.7"]},
                        "00081196": {"vr": "US", "Value": ["45062"]},
                    }
                ],
            },
            "00081198": {"vr": "SQ"},
            "0008119a": {
                "vr": "SQ",
                "Value": [{"00081197": {"vr": "US", "Value": [290]}}, {}],
            },
            "00081190": {"vr": "UR"},
        }
    ).encode()
    response = parse_stow_response(body, "application/dicom+json")
    assert response.referenced == (StowInstanceResult(CT, "9.8.7", 0xB006),)
    assert response.failed == ()
    assert response.retrieve_url == ""
    assert response.other_failures == (
        "Refused: SOP class not supported (0x0122)",
        "a failure the server did not describe",
    )


def test_failure_wins_over_success_for_the_same_instance() -> None:
    body = json.dumps(
        {
            "00081199": {
                "vr": "SQ",
                "Value": [
                    {
                        "00081150": {"vr": "UI", "Value": [CT]},
                        "00081155": {"vr": "UI", "Value": ["1.1"]},
                    }
                ],
            },
            "00081198": {
                "vr": "SQ",
                "Value": [
                    {
                        "00081150": {"vr": "UI", "Value": [CT]},
                        "00081155": {"vr": "UI", "Value": ["1.1"]},
                        "00081197": {"vr": "US", "Value": [0xC000]},
                    },
                    {
                        "00081150": {"vr": "UI", "Value": [CT]},
                        "00081155": {"vr": "UI", "Value": ["1.2"]},
                        "00081197": {"vr": "US", "Value": [0]},
                    },
                ],
            },
        }
    ).encode()
    response = parse_stow_response(body, "application/dicom+json")
    found = response.result_for("1.1")
    assert found is not None and found.status == 0xC000
    zero = response.result_for("1.2")
    assert zero is not None and zero.status == 0x0110  # a zero reason never reads as stored


@pytest.mark.parametrize(
    "content_type", ["", "application/dicom+json", "text/html", "application/dicom+xml"]
)
@pytest.mark.parametrize("body", [b"", b"  \r\n"])
def test_empty_body_is_an_empty_response(body: bytes, content_type: str) -> None:
    assert parse_stow_response(body, content_type) == StowResponse((), ())


# -- what is not a STOW-RS response ----------------------------------------------------------

HTML = b"""<!DOCTYPE html>
<html><head><title>502 Bad Gateway</title></head>
<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx/1.24.0</center></body></html>
"""


@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [
        (HTML, "text/html; charset=utf-8", "HTML page titled '502 Bad Gateway'"),
        (HTML, "", "HTML page"),
        (HTML, "application/dicom+xml", "not well-formed XML"),
        (b"\x00\x01garbage\xff\xfe", "application/octet-stream", "neither JSON nor XML"),
        (b"{not json", "application/dicom+json", "not valid JSON"),
        (b'"a string"', "application/dicom+json", "neither an object nor an array"),
        (b"[1, 2]", "application/json", "neither an object nor an array"),
        (b'{"00081199": "SQ"}', "application/dicom+json", "attribute 00081199"),
        (b'{"00081199": {"vr": "SQ", "Value": {}}}', "application/json", "not a list"),
        (b"<root><a/></root>", "application/xml", "root is <root>"),
        (b"%PDF-1.4", "application/pdf", "application/pdf body"),
        (b"--x\r\nContent-Type: text/xml\r\n\r\n<a/>", "multipart/related", "without a boundary"),
        (b"<NativeDicomModel/>", "multipart/related; boundary=q", "without its boundary"),
        (
            b'{"00081199": {"vr": "SQ", "Value": [{"00081196": {"vr": "US", "Value": ["lots"]}}]}}',
            "application/dicom+json",
            "not a 16-bit number",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><NativeDicomModel/>',
            "text/xml",
            "declares entities",
        ),
    ],
)
def test_unreadable_bodies_say_what_they_were(body: bytes, content_type: str, words: str) -> None:
    with pytest.raises(StowResponseError) as caught:
        parse_stow_response(body, content_type)
    message = str(caught.value)
    assert words in message
    assert f"Content-Type {content_type or 'none'}" in message
    assert isinstance(caught.value, ValueError)


def test_the_message_shows_the_first_printable_characters_only() -> None:
    body = b"<html>\n\t<body>" + b"x" * 500 + b"</body></html>"
    with pytest.raises(StowResponseError) as caught:
        parse_stow_response(body, "text/plain")
    message = str(caught.value)
    assert "'<html> <body>xxx" in message
    assert "x" * 81 not in message
    assert "..." in message
    assert "\n" not in message and "\t" not in message
