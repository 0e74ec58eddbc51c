"""Who and when for the sample studies: fake patients, dates, accession numbers and UIDs.

Everything is a pure function of a seed and a position (patient 3, study 1,
...), hashed with SHA-256 or UUIDv5, so the same seed gives the same values
on every machine and Python version, and nothing shares a random state with
other code. The names are invented; a few carry non-ASCII letters because
real archives do, and the TUI and the scanner must cope with them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass

_UID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:tui-sender:sample-data")

IMPLEMENTATION_CLASS_UID = f"2.25.{uuid.uuid5(_UID_NAMESPACE, 'implementation-class').int}"
"""Written as (0002,0012) in every generated file: the generator is the implementation."""

IMPLEMENTATION_VERSION_NAME = "TUISENDER_SAMPLE"
"""(0002,0013), at most 16 characters."""

_FAMILY_NAMES = (
    "DOE", "SMITH", "NGUYEN", "GARCÍA", "MÜLLER", "ROSSI", "KOWALSKI", "OKAFOR",
    "TANAKA", "ØSTERGAARD", "DUBOIS", "HOLM", "SILVA", "BERG", "NOVAK", "MURPHY",
)  # fmt: skip
_GIVEN_NAMES = {
    "F": ("JANE", "MARIA", "AMÉLIE", "SOFIA", "HANNA", "AIKO", "CHIAMAKA", "EVA"),
    "M": ("JOHN", "LUKAS", "JOSÉ", "MARCO", "PIOTR", "KENJI", "ERIK", "LIAM"),
}
_REFERRING = ("HOUSE^GREGORY", "GREY^MEREDITH", "KILDARE^JAMES", "QUINN^MICHAELA")
_FIRST_STUDY_DAY = dt.date(2019, 1, 7)


def stable_int(*parts: object) -> int:
    """A 64-bit integer from ``parts`` that never changes between runs or machines."""
    key = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big")


class UidFactory:
    """Deterministic UIDs under the UUID arc (2.25), from a scope and a seed.

    A name-based UUID (version 5) of ``scope``, ``seed`` and the caller's
    parts, written as the decimal integer the 2.25 arc requires: at most 44
    characters, unique for every distinct input, identical for equal input.
    The scope keeps profiles apart, so the "tiny" and "demo" sets of one seed
    never collide at a destination.
    """

    def __init__(self, scope: str, seed: int) -> None:
        self._namespace = uuid.uuid5(_UID_NAMESPACE, f"{scope}\x1f{seed}")

    def uid(self, *parts: object) -> str:
        """The UID for one role and position, e.g. ``uid("sop", 2, 1, 3, 17)``."""
        name = "\x1f".join(str(p) for p in parts)
        return f"2.25.{uuid.uuid5(self._namespace, name).int}"


@dataclass(frozen=True, slots=True)
class PatientIdentity:
    """Patient module values. ``charset`` is the Specific Character Set the name needs."""

    name: str
    patient_id: str
    birth_date: str
    sex: str
    charset: str
    folder: str


@dataclass(frozen=True, slots=True)
class StudyIdentity:
    """General Study module values, plus the folder the study is written to."""

    uid: str
    date: str
    time: str
    accession_number: str
    study_id: str
    referring_physician: str
    folder: str


def make_patient(seed: int, index: int) -> PatientIdentity:
    """Patient ``index`` (0-based) of the sample set for ``seed``."""
    sex = "F" if stable_int(seed, index, "sex") % 2 == 0 else "M"
    family = _FAMILY_NAMES[stable_int(seed, index, "family") % len(_FAMILY_NAMES)]
    given = _GIVEN_NAMES[sex][stable_int(seed, index, "given") % len(_GIVEN_NAMES[sex])]
    patient_id = f"TS{stable_int(seed, index, 'id') % 10**8:08d}"
    age_days = 18 * 365 + stable_int(seed, index, "age") % (70 * 365)
    birth = _FIRST_STUDY_DAY - dt.timedelta(days=age_days)
    name = f"{family}^{given}"
    # Latin-1 and UTF-8 both occur in the field for accented names; plain
    # ASCII names get Latin-1, the most common declaration in European PACS.
    utf8 = not name.isascii() and stable_int(seed, index, "charset") % 2 == 0
    return PatientIdentity(
        name=name,
        charset="ISO_IR 192" if utf8 else "ISO_IR 100",
        patient_id=patient_id,
        birth_date=birth.strftime("%Y%m%d"),
        sex=sex,
        folder=patient_id,
    )


def make_study(uids: UidFactory, seed: int, patient: int, study: int) -> StudyIdentity:
    """Study ``study`` of ``patient``: a date in 2019-2024, a time in office hours."""
    day = _FIRST_STUDY_DAY + dt.timedelta(days=stable_int(seed, patient, study, "day") % 2000)
    minutes = 7 * 60 + stable_int(seed, patient, study, "time") % (11 * 60)
    accession = f"A{stable_int(seed, patient, study, 'acc') % 10**9:09d}"
    date = day.strftime("%Y%m%d")
    return StudyIdentity(
        uid=uids.uid("study", patient, study),
        date=date,
        time=f"{minutes // 60:02d}{minutes % 60:02d}{stable_int(seed, patient, study) % 60:02d}",
        accession_number=accession,
        study_id=str(1 + stable_int(seed, patient, study, "sid") % 99999),
        referring_physician=_REFERRING[stable_int(seed, patient, study, "ref") % len(_REFERRING)],
        folder=f"{date}_{accession}",
    )


def time_after(start: str, seconds: int) -> str:
    """``start`` (HHMMSS) plus ``seconds``, capped at 23:59:59 so the date never rolls over."""
    total = int(start[0:2]) * 3600 + int(start[2:4]) * 60 + int(start[4:6]) + seconds
    total = min(total, 24 * 3600 - 1)
    return f"{total // 3600:02d}{total // 60 % 60:02d}{total % 60:02d}"
