"""The SOP class and transfer syntax registries, and the two commands that list them."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable

import pytest
from pydicom._uid_dict import UID_dictionary
from pynetdicom.sop_class import _STORAGE_CLASSES

from tui_sender.commands import registries
from tui_sender.core.dicom import registry
from tui_sender.core.dicom.registry import (
    SopClassCategory,
    TransferSyntaxCategory,
    all_sop_classes,
    all_transfer_syntaxes,
    sop_class,
    sop_class_name,
    sop_classes_by_category,
    transfer_syntax,
    transfer_syntax_name,
    transfer_syntaxes_by_category,
)

STORAGE = "1.2.840.10008.5.1.4.1.1"
NOT_CSTORE = {"1.2.840.10008.1.3.10", "1.2.840.10008.1.20.1", "1.2.840.10008.1.20.2"}


# --------------------------------------------------------------------------
# SOP classes
# --------------------------------------------------------------------------


def test_registry_holds_every_storage_class_pydicom_and_pynetdicom_know() -> None:
    uids = {info.uid for info in all_sop_classes()}
    pynetdicom_uids = set(_STORAGE_CLASSES.values())
    pydicom_uids = {
        uid
        for uid, entry in UID_dictionary.items()
        if entry[1] == "SOP Class" and "Storage" in entry[0]
    } - NOT_CSTORE
    assert len(pynetdicom_uids) >= 170
    assert pynetdicom_uids <= uids
    assert pydicom_uids <= uids
    assert uids == pynetdicom_uids | pydicom_uids
    assert not uids & NOT_CSTORE
    assert len(uids) == len(all_sop_classes())  # no duplicates


def test_every_sop_category_but_private_has_members() -> None:
    groups = sop_classes_by_category()
    assert set(groups) == set(SopClassCategory) - {SopClassCategory.PRIVATE}
    assert all(groups.values())
    assert sum(len(items) for items in groups.values()) == len(all_sop_classes())
    assert list(groups) == [c for c in SopClassCategory if c in groups]  # display order


@pytest.mark.parametrize(
    ("uid", "category"),
    [
        (f"{STORAGE}.2", SopClassCategory.CT),
        (f"{STORAGE}.2.1", SopClassCategory.CT),
        (f"{STORAGE}.2.2", SopClassCategory.CT),
        (f"{STORAGE}.4", SopClassCategory.MR),
        (f"{STORAGE}.4.1", SopClassCategory.MR),
        (f"{STORAGE}.4.2", SopClassCategory.MR),
        (f"{STORAGE}.6.1", SopClassCategory.ULTRASOUND),
        (f"{STORAGE}.3.1", SopClassCategory.ULTRASOUND),
        (f"{STORAGE}.20", SopClassCategory.NUCLEAR_MEDICINE),
        (f"{STORAGE}.128", SopClassCategory.PET),
        (f"{STORAGE}.130", SopClassCategory.PET),
        (f"{STORAGE}.1", SopClassCategory.RADIOGRAPHY),
        (f"{STORAGE}.1.1", SopClassCategory.RADIOGRAPHY),
        (f"{STORAGE}.1.2", SopClassCategory.MAMMOGRAPHY),
        (f"{STORAGE}.13.1.3", SopClassCategory.MAMMOGRAPHY),
        (f"{STORAGE}.1.3", SopClassCategory.DENTAL),
        (f"{STORAGE}.12.1", SopClassCategory.ANGIOGRAPHY),
        (f"{STORAGE}.12.2.1", SopClassCategory.ANGIOGRAPHY),
        (f"{STORAGE}.77.1.1", SopClassCategory.VISIBLE_LIGHT),
        (f"{STORAGE}.77.1.1.1", SopClassCategory.VISIBLE_LIGHT),
        (f"{STORAGE}.77.1.4", SopClassCategory.VISIBLE_LIGHT),
        (f"{STORAGE}.77.1.2", SopClassCategory.MICROSCOPY),
        (f"{STORAGE}.77.1.6", SopClassCategory.MICROSCOPY),
        (f"{STORAGE}.77.1.5.1", SopClassCategory.OPHTHALMOLOGY),
        (f"{STORAGE}.77.1.5.4", SopClassCategory.OPHTHALMOLOGY),
        (f"{STORAGE}.81.1", SopClassCategory.OPHTHALMOLOGY),
        (f"{STORAGE}.104.1", SopClassCategory.DOCUMENT),
        (f"{STORAGE}.104.2", SopClassCategory.DOCUMENT),
        (f"{STORAGE}.88.11", SopClassCategory.STRUCTURED_REPORT),
        (f"{STORAGE}.88.59", SopClassCategory.STRUCTURED_REPORT),
        (f"{STORAGE}.88.67", SopClassCategory.STRUCTURED_REPORT),
        (f"{STORAGE}.481.5", SopClassCategory.RADIOTHERAPY),
        (f"{STORAGE}.481.3", SopClassCategory.RADIOTHERAPY),
        ("1.2.840.10008.5.1.4.34.7", SopClassCategory.RADIOTHERAPY),
        (f"{STORAGE}.11.1", SopClassCategory.PRESENTATION),
        (f"{STORAGE}.131", SopClassCategory.PRESENTATION),
        (f"{STORAGE}.9.100.1", SopClassCategory.PRESENTATION),
        (f"{STORAGE}.9.1.1", SopClassCategory.WAVEFORM),
        (f"{STORAGE}.7", SopClassCategory.SECONDARY_CAPTURE),
        (f"{STORAGE}.7.4", SopClassCategory.SECONDARY_CAPTURE),
        (f"{STORAGE}.66.4", SopClassCategory.DERIVED),
        (f"{STORAGE}.67", SopClassCategory.DERIVED),
        (f"{STORAGE}.501.1", SopClassCategory.SECURITY_INDUSTRIAL),
        ("1.2.840.10008.5.1.4.38.1", SopClassCategory.NON_PATIENT),
        (f"{STORAGE}.11", SopClassCategory.LEGACY),
        ("1.2.840.10008.5.1.1.29", SopClassCategory.LEGACY),
    ],
)
def test_well_known_classes_land_in_their_family(uid: str, category: SopClassCategory) -> None:
    info = sop_class(uid)
    assert info.known, uid
    assert info.category is category, f"{uid} {info.name}"


def test_only_the_documented_classes_fall_into_other() -> None:
    """Anything else in "Other" means a rule is missing, not a deliberate choice."""
    others = {info.uid for info in all_sop_classes() if info.category is SopClassCategory.OTHER}
    assert others == {f"{STORAGE}.66", f"{STORAGE}.90.1"}  # Raw Data, Content Assessment


@pytest.mark.parametrize(
    ("uid", "name"),
    [
        # The Rust tool shifted the whole 77.1.x family and mislabelled 131.
        (f"{STORAGE}.77.1.1", "VL Endoscopic Image Storage"),
        (f"{STORAGE}.77.1.2", "VL Microscopic Image Storage"),
        (f"{STORAGE}.77.1.3", "VL Slide-Coordinates Microscopic Image Storage"),
        (f"{STORAGE}.77.1.4", "VL Photographic Image Storage"),
        (f"{STORAGE}.77.1.4.1", "Video Photographic Image Storage"),
        (f"{STORAGE}.77.1.5.1", "Ophthalmic Photography 8 Bit Image Storage"),
        (f"{STORAGE}.77.1.5.2", "Ophthalmic Photography 16 Bit Image Storage"),
        (f"{STORAGE}.77.1.5.4", "Ophthalmic Tomography Image Storage"),
        (f"{STORAGE}.77.1.6", "VL Whole Slide Microscopy Image Storage"),
        (f"{STORAGE}.77.1.7", "Dermoscopic Photography Image Storage"),
        (f"{STORAGE}.77.1.8", "Confocal Microscopy Image Storage"),
        (f"{STORAGE}.131", "Basic Structured Display Storage"),
        (f"{STORAGE}.128.1", "Legacy Converted Enhanced PET Image Storage"),
        # Missing from the Rust tool.
        (f"{STORAGE}.104.1", "Encapsulated PDF Storage"),
        (f"{STORAGE}.104.2", "Encapsulated CDA Storage"),
        (f"{STORAGE}.67", "Real World Value Mapping Storage"),
        # Known to pynetdicom 3.0.4, not to pydicom 3.0.2.
        (f"{STORAGE}.66.7", "Label Map Segmentation Storage"),
        (f"{STORAGE}.9.100.2", "Waveform Acquisition Presentation State Storage"),
    ],
)
def test_sop_class_names_are_the_standards(uid: str, name: str) -> None:
    assert sop_class_name(uid) == name


def test_pydicom_keywords_win_over_pynetdicom_misspellings() -> None:
    assert sop_class(f"{STORAGE}.11.3").keyword == "PseudoColorSoftcopyPresentationStateStorage"
    assert sop_class(f"{STORAGE}.66.8").keyword == "HeightMapSegmentationStorage"


def test_retired_classes_are_flagged() -> None:
    assert sop_class(f"{STORAGE}.6").retired
    assert not sop_class(f"{STORAGE}.6.1").retired
    assert sop_class(f"{STORAGE}.88.1").retired
    assert not sop_class(f"{STORAGE}.88.11").retired
    retired = [info for info in all_sop_classes() if info.retired]
    assert 20 <= len(retired) < len(all_sop_classes()) // 2


def test_sop_short_names_are_compact_and_present() -> None:
    for info in all_sop_classes():
        assert 0 < len(info.short_name) <= 28, info
    assert sop_class(f"{STORAGE}.2").short_name == "CT"
    assert sop_class(f"{STORAGE}.4.1").short_name == "Enhanced MR"
    assert sop_class(f"{STORAGE}.481.1").short_name == "RT Image"


def test_unknown_and_private_sop_classes_are_synthesized_not_raised() -> None:
    private = sop_class("1.2.276.0.7230010.3.1.0.1")
    assert (private.category, private.known) == (SopClassCategory.PRIVATE, False)
    assert "1.2.276.0.7230010.3.1.0.1" in private.name
    assert private.name.startswith("Private SOP Class")

    future_ct = sop_class(f"{STORAGE}.2.99")
    assert future_ct.name == f"Unknown SOP Class ({STORAGE}.2.99)"
    assert future_ct.category is SopClassCategory.CT  # the rules still apply
    assert not future_ct.known

    verification = sop_class("1.2.840.10008.1.1")  # a SOP class, not a storage one
    assert verification.name == "Verification SOP Class"
    assert not verification.known

    for odd in ("", "   ", "not a uid", "1.2.840.10008.", "1.2.840.10008.5.1.4.1.1."):
        assert isinstance(sop_class(odd).name, str)
        assert isinstance(sop_class_name(odd), str)


def test_padded_uids_from_files_still_resolve() -> None:
    assert sop_class(f"{STORAGE}.2\x00").name == "CT Image Storage"
    assert sop_class(f" {STORAGE}.2 ").known
    assert transfer_syntax("1.2.840.10008.1.2.1\x00").short_name == "Explicit LE"


def test_infos_are_frozen_slotted_and_cached() -> None:
    info = sop_class(f"{STORAGE}.2")
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.name = "changed"  # type: ignore[misc]
    assert not hasattr(info, "__dict__")
    assert sop_class(f"{STORAGE}.2") is info
    assert sop_class("1.2.3.4.5") is sop_class("1.2.3.4.5")
    assert all_sop_classes() is all_sop_classes()
    assert not hasattr(transfer_syntax("1.2.840.10008.1.2"), "__dict__")


def test_hot_path_lookups_are_table_hits(monkeypatch: pytest.MonkeyPatch) -> None:
    """After the first lookup of a UID, known or not, none consults pydicom's dictionary again.

    The scan and the workers look up a SOP class and a transfer syntax per file; these must
    be dictionary reads, not registry building (how fast that is, the bench measures).
    """
    uids = [info.uid for info in all_sop_classes()] + ["1.2.3.4", "1.2.840.10008.1.2.4.50"]
    first = [(sop_class(uid), transfer_syntax(uid)) for uid in uids]

    def no_dictionary_work(uid: str) -> None:
        raise AssertionError(f"{uid} was looked up in pydicom's dictionary again")

    monkeypatch.setattr(registry, "_dictionary_entry", no_dictionary_work)
    again = [(sop_class(uid), transfer_syntax(uid)) for _ in range(3) for uid in uids]
    assert all(a[0] is b[0] and a[1] is b[1] for a, b in zip(first * 3, again, strict=True))


# --------------------------------------------------------------------------
# Transfer syntaxes
# --------------------------------------------------------------------------


def test_registry_holds_every_transfer_syntax_pydicom_knows() -> None:
    pydicom_uids = {uid for uid, entry in UID_dictionary.items() if entry[1] == "Transfer Syntax"}
    uids = [info.uid for info in all_transfer_syntaxes()]
    assert len(uids) >= 47
    assert set(uids) == pydicom_uids
    assert len(set(uids)) == len(uids)
    for required in (
        "1.2.840.10008.1.2.1.99",  # Deflated
        "1.2.840.10008.1.2.4.80",  # JPEG-LS
        "1.2.840.10008.1.2.4.90",  # JPEG 2000
        "1.2.840.10008.1.2.4.201",  # HTJ2K
        "1.2.840.10008.1.2.4.110",  # JPEG XL
        "1.2.840.10008.1.2.4.102",  # H.264
        "1.2.840.10008.1.2.4.107",  # HEVC
        "1.2.840.10008.1.2.7.1",  # SMPTE ST 2110
    ):
        assert transfer_syntax(required).known, required


def test_every_known_syntax_has_hand_checked_traits() -> None:
    """Guessed traits are for a newer pydicom; today every syntax is in the table."""
    missing = {i.uid for i in all_transfer_syntaxes()} - set(registry._TRANSFER_SYNTAX_TRAITS)
    assert missing == set(), "add these to _TRANSFER_SYNTAX_TRAITS"
    for info in all_transfer_syntaxes():
        assert 0 < len(info.short_name) <= 26, info


def test_every_transfer_syntax_category_but_unknown_has_members() -> None:
    groups = transfer_syntaxes_by_category()
    assert set(groups) == set(TransferSyntaxCategory) - {TransferSyntaxCategory.UNKNOWN}
    assert all(groups.values())


@pytest.mark.parametrize(
    ("uid", "short", "category", "lossless"),
    [
        ("1.2.840.10008.1.2", "Implicit LE", TransferSyntaxCategory.UNCOMPRESSED, True),
        ("1.2.840.10008.1.2.1", "Explicit LE", TransferSyntaxCategory.UNCOMPRESSED, True),
        ("1.2.840.10008.1.2.1.98", None, TransferSyntaxCategory.UNCOMPRESSED, True),
        ("1.2.840.10008.1.2.1.99", "Deflated LE", TransferSyntaxCategory.LOSSLESS, True),
        ("1.2.840.10008.1.2.5", "RLE", TransferSyntaxCategory.LOSSLESS, True),
        ("1.2.840.10008.1.2.4.57", None, TransferSyntaxCategory.LOSSLESS, True),
        ("1.2.840.10008.1.2.4.70", None, TransferSyntaxCategory.LOSSLESS, True),
        ("1.2.840.10008.1.2.4.80", None, TransferSyntaxCategory.LOSSLESS, True),
        ("1.2.840.10008.1.2.4.90", "J2K lossless", TransferSyntaxCategory.LOSSLESS, True),
        ("1.2.840.10008.1.2.4.201", None, TransferSyntaxCategory.LOSSLESS, True),
        ("1.2.840.10008.1.2.4.202", None, TransferSyntaxCategory.LOSSLESS, True),
        ("1.2.840.10008.1.2.4.110", None, TransferSyntaxCategory.LOSSLESS, True),
        ("1.2.840.10008.1.2.4.111", None, TransferSyntaxCategory.LOSSLESS, True),
        ("1.2.840.10008.1.2.8.1", None, TransferSyntaxCategory.LOSSLESS, True),
        ("1.2.840.10008.1.2.4.50", "JPEG baseline", TransferSyntaxCategory.LOSSY, False),
        ("1.2.840.10008.1.2.4.51", None, TransferSyntaxCategory.LOSSY, False),
        ("1.2.840.10008.1.2.4.81", None, TransferSyntaxCategory.LOSSY, False),
        ("1.2.840.10008.1.2.4.91", "J2K", TransferSyntaxCategory.LOSSY, False),
        ("1.2.840.10008.1.2.4.203", None, TransferSyntaxCategory.LOSSY, False),
        ("1.2.840.10008.1.2.4.112", None, TransferSyntaxCategory.LOSSY, False),
        ("1.2.840.10008.1.2.4.94", None, TransferSyntaxCategory.LOSSY, False),
        ("1.2.840.10008.1.2.4.100", None, TransferSyntaxCategory.VIDEO, False),
        ("1.2.840.10008.1.2.4.102.1", None, TransferSyntaxCategory.VIDEO, False),
        ("1.2.840.10008.1.2.4.108", None, TransferSyntaxCategory.VIDEO, False),
        ("1.2.840.10008.1.2.7.3", None, TransferSyntaxCategory.VIDEO, False),
        ("1.2.840.10008.1.2.2", "Explicit BE", TransferSyntaxCategory.RETIRED, True),
        ("1.2.840.10008.1.2.4.58", None, TransferSyntaxCategory.RETIRED, True),
        ("1.2.840.10008.1.2.4.52", None, TransferSyntaxCategory.RETIRED, False),
    ],
)
def test_important_syntaxes_have_the_right_category_and_lossless_flag(
    uid: str, short: str | None, category: TransferSyntaxCategory, lossless: bool
) -> None:
    info = transfer_syntax(uid)
    assert info.category is category
    assert info.lossless is lossless
    if short is not None:
        assert info.short_name == short


def test_transfer_syntax_category_rules_hold_for_every_entry() -> None:
    for info in all_transfer_syntaxes():
        retired = UID_dictionary[info.uid][3] == "Retired"
        assert info.retired is retired
        if retired:
            assert info.category is TransferSyntaxCategory.RETIRED, info
        else:
            plain = info.category in (
                TransferSyntaxCategory.UNCOMPRESSED,
                TransferSyntaxCategory.LOSSLESS,
            )
            assert info.lossless is plain, info


def test_encoding_flags() -> None:
    deflated = {i.uid for i in all_transfer_syntaxes() if i.deflated}
    assert deflated == {
        "1.2.840.10008.1.2.1.99",
        "1.2.840.10008.1.2.4.95",
        "1.2.840.10008.1.2.4.205",
    }
    offline = {i.uid for i in all_transfer_syntaxes() if not i.network}
    assert offline == {
        "1.2.840.10008.1.2.6.1",  # RFC 2557 MIME
        "1.2.840.10008.1.2.6.2",  # XML
        "1.2.840.10008.1.20",  # Papyrus 3
        "1.2.840.10008.1.2.7.1",  # SMPTE ST 2110 (DICOM-RTV)
        "1.2.840.10008.1.2.7.2",
        "1.2.840.10008.1.2.7.3",
    }
    explicit = transfer_syntax("1.2.840.10008.1.2.1")
    assert (explicit.uncompressed, explicit.encapsulated) == (True, False)
    encapsulated_plain = transfer_syntax("1.2.840.10008.1.2.1.98")
    assert (encapsulated_plain.uncompressed, encapsulated_plain.encapsulated) == (True, True)
    jpeg = transfer_syntax("1.2.840.10008.1.2.4.50")
    assert (jpeg.uncompressed, jpeg.encapsulated, jpeg.network) == (False, True, True)
    assert not transfer_syntax("1.2.840.10008.1.2.4.94").encapsulated  # JPIP: no Pixel Data


def test_unknown_transfer_syntaxes_are_synthesized_and_never_lossless() -> None:
    private = transfer_syntax("1.2.276.0.7230010.3.1.0.99")
    assert private.name == "Private Transfer Syntax (1.2.276.0.7230010.3.1.0.99)"
    assert private.category is TransferSyntaxCategory.UNKNOWN
    assert (private.known, private.lossless, private.network) == (False, False, True)
    unknown = transfer_syntax("1.2.840.10008.1.2.4.999")
    assert unknown.name.startswith("Unknown Transfer Syntax")
    assert not transfer_syntax("").network
    assert transfer_syntax_name("1.2.840.10008.5.1.4.1.1.2").startswith("Unknown")
    assert transfer_syntax_name("1.2.840.10008.1.2.4.50") == "JPEG Baseline (Process 1)"


# --------------------------------------------------------------------------
# The commands
# --------------------------------------------------------------------------

Configure = Callable[[argparse.ArgumentParser], None]
Run = Callable[[argparse.Namespace], int]

SOP = (registries.configure_sop_classes, registries.run_sop_classes)
TS = (registries.configure_transfer_syntaxes, registries.run_transfer_syntaxes)


def _parse(command: tuple[Configure, Run], *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tui-sender")
    command[0](parser)
    return parser.parse_args(list(argv))


def _run(command: tuple[Configure, Run], capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = command[1](_parse(command, *argv))
    assert code == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out


def test_sop_classes_human_output_lists_every_group_and_the_total(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = _run(SOP, capsys)
    groups = sop_classes_by_category()
    for category, items in groups.items():
        assert f"{category.value} [{category.name}]: {len(items)}\n" in out
    assert f"{len(all_sop_classes())} SOP classes in {len(groups)} categories" in out
    assert "VL Endoscopic Image Storage" in out
    assert "Ultrasound Image Storage (retired)" in out
    assert "\x1b[" not in out  # captured stdout is not a terminal
    assert all(line == line.rstrip() for line in out.splitlines())


def test_sop_classes_json_parses_and_counts_match(capsys: pytest.CaptureFixture[str]) -> None:
    document = json.loads(_run(SOP, capsys, "--json"))
    assert document["kind"] == "sop-classes"
    assert document["count"] == document["total"] == len(all_sop_classes())
    assert document["filters"] == {"category": None, "search": None}
    assert sum(group["count"] for group in document["categories"]) == document["count"]
    assert sum(len(group["items"]) for group in document["categories"]) == document["count"]
    assert [g["key"] for g in document["categories"]] == [c.name for c in sop_classes_by_category()]
    items = {item["uid"]: item for group in document["categories"] for item in group["items"]}
    assert items[f"{STORAGE}.77.1.4"] == {
        "uid": f"{STORAGE}.77.1.4",
        "name": "VL Photographic Image Storage",
        "keyword": "VLPhotographicImageStorage",
        "short_name": "VL Photographic",
        "category": "VISIBLE_LIGHT",
        "retired": False,
    }


def test_transfer_syntaxes_json_carries_the_flags(capsys: pytest.CaptureFixture[str]) -> None:
    document = json.loads(_run(TS, capsys, "--json"))
    assert document["kind"] == "transfer-syntaxes"
    assert document["count"] == len(all_transfer_syntaxes())
    assert [g["key"] for g in document["categories"]] == [
        "uncompressed",
        "lossless",
        "lossy",
        "video",
        "retired",
    ]
    items = {item["uid"]: item for group in document["categories"] for item in group["items"]}
    rle = items["1.2.840.10008.1.2.5"]
    assert (rle["category"], rle["lossless"], rle["encapsulated"], rle["network"]) == (
        "lossless",
        True,
        True,
        True,
    )
    assert items["1.2.840.10008.1.2.4.50"]["lossless"] is False
    assert items["1.2.840.10008.1.2.6.2"]["network"] is False


def test_transfer_syntaxes_human_output_keeps_brackets_in_names(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Rich markup must not eat "[Selection Value 1]"."""
    out = _run(TS, capsys, "--search", "first-order")
    assert "(Process 14 [Selection Value 1])" in out
    assert f"1 of {len(all_transfer_syntaxes())} transfer syntaxes in 1 category" in out


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("CT", "CT"),
        ("ct", "CT"),
        ("structured-report", "STRUCTURED_REPORT"),
        ("endoscopy", "VISIBLE_LIGHT"),
    ],
)
def test_category_filter_accepts_keys_titles_and_unique_parts(
    capsys: pytest.CaptureFixture[str], value: str, key: str
) -> None:
    document = json.loads(_run(SOP, capsys, "--json", "--category", value))
    assert [group["key"] for group in document["categories"]] == [key]
    assert document["filters"]["category"] == key
    assert document["count"] == len(sop_classes_by_category()[SopClassCategory[key]])


@pytest.mark.parametrize("value", ["nonsense", "loss"])
def test_unknown_or_ambiguous_category_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _parse(TS, "--category", value)
    assert exit_info.value.code == 2
    assert "choose from: uncompressed, lossless, lossy, video, retired" in capsys.readouterr().err


def test_search_filter_and_empty_result(capsys: pytest.CaptureFixture[str]) -> None:
    document = json.loads(_run(SOP, capsys, "--json", "--search", f"{STORAGE}.77.1.1"))
    assert document["count"] == 2  # VL Endoscopic and Video Endoscopic (…77.1.1.1)
    lossless_jpeg = json.loads(
        _run(TS, capsys, "--json", "--category", "lossless", "--search", "jpeg")
    )
    assert [g["key"] for g in lossless_jpeg["categories"]] == ["lossless"]
    assert [i["uid"].rsplit(".", 1)[-1] for i in lossless_jpeg["categories"][0]["items"]] == [
        "57",
        "70",
        "80",
        "90",
        "92",
        "110",
        "111",
        "201",
        "202",
    ]
    out = _run(SOP, capsys, "--search", "no such thing")
    assert "No SOP classes match" in out
    empty = json.loads(_run(SOP, capsys, "--json", "--search", "no such thing"))
    assert (empty["count"], empty["categories"]) == (0, [])


def test_a_closed_pipe_ends_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    class ClosedPipe:
        def write(self, _text: str) -> int:
            raise BrokenPipeError

        def flush(self) -> None:
            raise BrokenPipeError

        def isatty(self) -> bool:
            return False

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert registries.run_sop_classes(_parse(SOP)) == 0
    assert registries.run_transfer_syntaxes(_parse(TS, "--json")) == 0


def _listing_subprocess(env_extra: dict[str, str]) -> str:
    code = (
        "import argparse, sys\n"
        "from tui_sender.commands import registries\n"
        "p = argparse.ArgumentParser()\n"
        "registries.configure_sop_classes(p)\n"
        "sys.exit(registries.run_sop_classes(p.parse_args(['--category', 'CT'])))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(env_extra)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_no_color_means_no_escape_codes_even_when_colour_is_forced() -> None:
    forced = _listing_subprocess({"FORCE_COLOR": "1"})
    assert "\x1b[" in forced  # the check below can fail
    plain = _listing_subprocess({"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert "\x1b[" not in plain
    assert "CT Image Storage" in plain
    piped = _listing_subprocess({})
    assert "\x1b[" not in piped
    assert piped == plain
