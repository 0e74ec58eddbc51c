"""Names in one-codec character sets decode as pydicom decodes them, without pydicom.

The scan decodes a value whose Specific Character Set is a single codec
(Latin-1, UTF-8, Cyrillic, ...) itself, so a send's first association need
not wait for pydicom's import; pydicom stays the reference, and these tests
hold the two to the same text.
"""

from __future__ import annotations

import pytest
from pydicom.charset import convert_encodings, decode_bytes
from pydicom.valuerep import TEXT_VR_DELIMS
from pydicom.values import convert_PN

from tui_sender.core.scan.header_values import SINGLE_CODECS, _person_name, _text

SAMPLES = {
    "ISO_IR 100": "Müller^Jürgen=Ærø",
    "ISO_IR 101": "Dvořák^Antonín",
    "ISO_IR 109": "Ġużeppi^Ħal",
    "ISO_IR 110": "Šimkus^Jonas",
    "ISO_IR 126": "Διονυσιος^Νικος",
    "ISO_IR 127": "قباني^لنزار",
    "ISO_IR 138": "שרון^דבורה",
    "ISO_IR 144": "Иванов^Иван",
    "ISO_IR 148": "Öztürk^Şule",
    "ISO_IR 166": "สมชาย^ใจดี",
    "ISO_IR 192": "Wang^XiaoDong=王^小東=おう^しょうとう",
    "GB18030": "王^小东",
    "GBK": "王^小东",
}


@pytest.mark.parametrize("charset", sorted(SINGLE_CODECS))
def test_one_codec_names_and_texts_decode_as_pydicom_does(charset: str) -> None:
    raw = SAMPLES[charset].encode(SINGLE_CODECS[charset])
    term = charset.encode("ascii")
    assert _person_name(raw, term) == str(convert_PN(raw, [SINGLE_CODECS[charset]]))
    assert _text(raw, term) == decode_bytes(raw, [SINGLE_CODECS[charset]], TEXT_VR_DELIMS)
    assert _person_name(raw, term) == SAMPLES[charset]


def test_code_extensions_and_bad_bytes_still_go_to_pydicom() -> None:
    iso2022 = b"\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B"  # Japanese with ISO 2022 escapes
    charset = b"\\ISO 2022 IR 87"
    encodings = convert_encodings(["", "ISO 2022 IR 87"])
    assert _person_name(iso2022, charset) == str(convert_PN(iso2022, encodings))
    assert "\x1b" not in _person_name(iso2022, charset)
    broken = "Müller".encode("latin-1")  # not UTF-8: pydicom's lenient decoding decides
    assert _person_name(broken, b"ISO_IR 192") == str(convert_PN(broken, ["UTF8"]))
