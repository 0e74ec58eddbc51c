"""The bandwidth cap: one rate for all associations to a destination, held over a long send."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from peers.pynetdicom_scp import ScriptedSCP
from tests.fault_runs import write_study
from tests.sending import run_cli
from tui_sender.core.config.destinations import AddressBook, Destination
from tui_sender.core.config.rates import parse_rate
from tui_sender.core.scan.scanner import scan_paths


@pytest.mark.parametrize(
    ("text", "rate"),
    [("20MB", 20e6), ("20M", 20e6), ("500kB/s", 500e3), ("1.5 GB", 1.5e9), ("100MiB", 100 * 2**20),
     ("4096", 4096.0)],
)  # fmt: skip
def test_rates_as_people_write_them(text: str, rate: float) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["fast", "0MB", "-3MB", "20 furlongs", ""])
def test_what_is_not_a_rate_says_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match=r"e\.g\. 20MB"):
        parse_rate(text)


def test_bits_are_refused_with_the_conversion() -> None:
    with pytest.raises(ValueError, match=r"12\.5MB"):
        parse_rate("100Mbit")


def test_the_address_book_keeps_and_checks_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    AddressBook(path, [Destination("wan", "ARCHIVE", "127.0.0.1", 104, max_rate="20MB")]).save()
    assert AddressBook.load(path).get("wan").max_rate == "20MB"
    assert Destination("x", "A", "h", 104, max_rate="20 Mbps").validate() == [
        "max_rate '20 Mbps' is in bits; give bytes per second (e.g. 100 Mbit/s is 12.5MB)"
    ]


def test_a_bad_max_rate_flag_is_a_usage_error(tmp_path: Path) -> None:
    write_study(tmp_path / "in", 1)
    run = run_cli(
        ["send", "-i", "in", "-a", "X", "-H", "127.0.0.1", "-p", "104", "--max-rate", "lots"],
        tmp_path,
    )
    assert run.exit_code == 2
    assert "max_rate 'lots' is not a rate" in run.stderr


def test_four_associations_together_hold_the_cap_over_30_seconds(
    scp_factory: Callable[..., ScriptedSCP], tmp_path: Path
) -> None:
    """30 MB at 1 MB/s on 4 associations: the whole send's rate is within 5% of the cap, and
    every file arrived byte for byte."""
    files = [  # 28 files of about 1.05 MB in 4 studies, so 4 workers each get one
        path
        for n in range(4)
        for path in write_study(tmp_path / "in" / f"s{n}", 7, side=724, study=n)
    ]
    scp = scp_factory()
    run = run_cli(
        ["send", "-r", "-i", "in", "-a", "ANY_SCP", "-H", "127.0.0.1", "-p", str(scp.port),
         "-t", "4", "--max-rate", "1MB", "-q"],
        tmp_path,
        timeout=90,
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    totals = run.summary["totals"]
    assert totals["sent"] == len(files)
    rate = totals["bytes_sent"] / totals["duration_s"]
    assert 0.95e6 <= rate <= 1.05e6, f"{rate / 1e6:.3f} MB/s over {totals['duration_s']:.1f} s"
    assert totals["duration_s"] >= 28
    assert {a["worker"] for a in run.summary["associations"]} >= {"w1", "w2", "w3", "w4"}
    assert run.summary["destinations"][0]["max_rate_bytes_per_s"] == 1e6
    stored = scp.stored()
    catalog = scan_paths([str(tmp_path / "in")], recursive=True)
    instances = [i for s in catalog.studies.values() for i in s.instances()]
    assert len(stored) == len(instances) == len(files)
    for inst in instances:
        expected = Path(inst.path).read_bytes()[inst.dataset_offset :]
        assert stored[inst.sop_instance_uid].dataset == expected
