"""The benchmark's data sets, generated once and cached under ``bench/data``.

Two shapes stress different costs: ``large`` (the realistic archive export of
:func:`~tui_sender.demo.samples.data.generate_samples`, about 1 GB in 2,476
files at full scale) is bound by bytes, ``tiny`` (10,000 files of 3 KB) by
per-file overhead. ``--scale`` shrinks both for a quick run: the patient count
of ``large``, the file count of ``tiny``.

A cached set lives in a folder named after everything that shapes its content
(kind, profile, seed, size), and counts as present only when its
``manifest.json`` exists and its files are still all there; otherwise it is
generated again. The manifest also keeps what the benchmark would otherwise
have to re-read on every start: the (SOP class, transfer syntax) pairs that
storescu's association profile needs.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from peers.dcmtk import file_pairs
from tui_sender.demo.samples.data import PROFILES, generate_samples, generate_tiny_files

SET_NAMES = ("large", "tiny")
TINY_FULL_COUNT = 10_000
MANIFEST = "manifest.json"
FILES_DIR = "files"


@dataclass(frozen=True)
class DataSetSpec:
    """What to generate: the set's name, the sample profile (``large`` only), seed, scale."""

    name: str
    seed: int = 0
    scale: float = 1.0
    profile: str = "large"

    def size(self) -> int:
        """Patients (``large``) or files (``tiny``) at this scale; at least one."""
        if self.name == "large":
            return max(1, round(PROFILES[self.profile].patients * self.scale))
        return max(1, round(TINY_FULL_COUNT * self.scale))

    def cache_key(self) -> str:
        """The cache folder's name: equal keys mean byte-identical files."""
        if self.name == "large":
            return f"large-{self.profile}-seed{self.seed}-patients{self.size()}"
        return f"tiny-seed{self.seed}-files{self.size()}"


@dataclass(frozen=True)
class DataSet:
    """A generated set: its files (sorted), their total size and storescu's context pairs."""

    name: str
    root: Path
    files: tuple[Path, ...]
    total_bytes: int
    pairs: tuple[tuple[str, str], ...]

    @property
    def mb(self) -> float:
        return self.total_bytes / 1e6

    def units(self, minimum: int) -> list[Unit]:
        """Pieces of work to hand out whole, coarsest first: studies, then series, then files.

        The coarsest level with at least ``minimum`` pieces is used, so N
        parallel storescu processes each get whole study folders when there
        are enough of them (how a DCMTK user splits work), and none sits idle.
        """
        for depth in (2, 3):
            grouped: dict[tuple[str, ...], list[Path]] = {}
            for path in self.files:
                grouped.setdefault(path.relative_to(self.root).parts[:depth], []).append(path)
            if len(grouped) >= minimum:
                return [Unit(self.root.joinpath(*k), tuple(v)) for k, v in grouped.items()]
        return [Unit(path, (path,)) for path in self.files]


@dataclass(frozen=True)
class Unit:
    """A folder (or a single file) and the files under it."""

    path: Path
    files: tuple[Path, ...]

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.files)


def ensure_dataset(spec: DataSetSpec, data_dir: Path) -> DataSet:
    """The cached set for ``spec``, generating it first when missing or incomplete."""
    folder = data_dir / spec.cache_key()
    cached = _load(folder, spec.name)
    if cached is not None:
        return cached
    shutil.rmtree(folder, ignore_errors=True)
    files_dir = folder / FILES_DIR
    if spec.name == "large":
        generate_samples(files_dir, profile=spec.profile, seed=spec.seed, patients=spec.size())
    elif spec.name == "tiny":
        generate_tiny_files(files_dir, spec.size(), seed=spec.seed)
    else:
        raise ValueError(f"unknown data set {spec.name!r}; known: {', '.join(SET_NAMES)}")
    files = sorted(p for p in files_dir.rglob("*") if p.is_file())
    manifest = {
        "name": spec.name,
        "spec": {"seed": spec.seed, "scale": spec.scale, "profile": spec.profile},
        "files": [str(p.relative_to(files_dir)) for p in files],
        "total_bytes": sum(p.stat().st_size for p in files),
        "pairs": [list(pair) for pair in file_pairs(files)],
    }
    # Written last: its presence means the generation finished.
    (folder / MANIFEST).write_text(json.dumps(manifest))
    loaded = _load(folder, spec.name)
    assert loaded is not None
    return loaded


def _load(folder: Path, name: str) -> DataSet | None:
    """The set described by ``folder``'s manifest, or ``None`` if anything is missing."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    root = folder / FILES_DIR
    files = tuple(root / rel for rel in manifest["files"])
    if not all(p.is_file() for p in files):
        return None
    return DataSet(
        name=name,
        root=root,
        files=files,
        total_bytes=int(manifest["total_bytes"]),
        pairs=tuple((str(sop), str(ts)) for sop, ts in manifest["pairs"]),
    )


def balanced_groups(units: list[Unit], count: int) -> list[list[Unit]]:
    """Split ``units`` into ``count`` groups of similar byte size (largest unit first).

    Greedy longest-processing-time assignment: good enough to keep N
    storescu processes finishing at about the same time.
    """
    groups: list[list[Unit]] = [[] for _ in range(count)]
    sizes = [0] * count
    for size, unit in sorted(((u.size(), u) for u in units), key=lambda x: -x[0]):
        smallest = sizes.index(min(sizes))
        groups[smallest].append(unit)
        sizes[smallest] += size
    return [sorted(g, key=lambda u: u.path) for g in groups if g]


def sample_subset(dataset: DataSet, max_files: int, max_bytes: int) -> list[Path]:
    """Evenly spaced files of ``dataset``, at most ``max_files`` and ``max_bytes`` together.

    For the slow sender (pynetdicom's storescu): a spread over the whole set
    keeps its mix of small and large images, unlike "the first N files".
    """
    files = dataset.files
    step = max(1, len(files) / max_files) if max_files < len(files) else 1
    picked: list[Path] = []
    total = 0
    index = 0.0
    while int(index) < len(files) and len(picked) < max_files:
        path = files[int(index)]
        size = path.stat().st_size
        if picked and total + size > max_bytes:
            break
        picked.append(path)
        total += size
        index += step
    return picked


def warm_page_cache(files: tuple[Path, ...] | list[Path]) -> None:
    """Read every file once so no sender pays for the first read from disk."""
    for path in files:
        with path.open("rb") as fh:
            while fh.read(1 << 20):
                pass
