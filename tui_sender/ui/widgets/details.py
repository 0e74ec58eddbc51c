"""The details pane: everything about the highlighted patient, study or series.

Series, SOP classes and transfer syntaxes with counts (what the destination
will have to accept), and the skipped files with their reasons. Built from
the catalog only; it never reads a file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from tui_sender.core.base import wording
from tui_sender.core.dicom import registry
from tui_sender.core.model.catalog import Catalog, Instance, SkippedFile
from tui_sender.core.model.recorded_path import display_path
from tui_sender.ui.widgets.study_tree import (
    NodeRef,
    PatientRef,
    SeriesRef,
    SkippedRef,
    StudyRef,
    format_date,
)

SKIPPED_SHOWN = 200


def _syntax_table(instances: Iterable[Instance]) -> Table:
    """SOP classes and transfer syntaxes, with counts."""
    classes: Counter[str] = Counter()
    syntaxes: Counter[str] = Counter()
    for inst in instances:
        classes[inst.sop_class_uid] += 1
        syntaxes[inst.transfer_syntax_uid] += 1
    table = Table.grid(padding=(0, 1))
    table.add_column(justify="right", style="bold")
    table.add_column()
    for uid, n in classes.most_common():
        table.add_row(str(n), registry.sop_class_name(uid))
    table.add_row("", "")
    for uid, n in syntaxes.most_common():
        info = registry.transfer_syntax(uid)
        table.add_row(str(n), f"{info.name} ({info.category.value})")
    return table


def _heading(text: str) -> Text:
    return Text(text, style="bold underline")


def describe_skipped(skipped: list[SkippedFile]) -> RenderableType:
    """Skipped files grouped by reason, paths escaped."""
    by_reason: dict[str, list[SkippedFile]] = {}
    for item in skipped:
        by_reason.setdefault(item.reason.explanation, []).append(item)
    parts: list[RenderableType] = [_heading(f"{len(skipped)} skipped files (never sent)")]
    shown = 0
    for reason, items in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
        parts.append(Text(f"\n{len(items)} × {reason}", style="bold"))
        for item in items:
            if shown >= SKIPPED_SHOWN:
                break
            detail = f"  ({item.detail})" if item.detail else ""
            parts.append(Text(f"  {display_path(item.path)}{detail}", overflow="fold"))
            shown += 1
    if shown < len(skipped):
        parts.append(Text(f"\n... and {len(skipped) - shown} more (see the session summary)"))
    return Group(*parts)


def describe(catalog: Catalog, ref: NodeRef | None) -> RenderableType:
    """What the details pane shows for a node (or the scan overview)."""
    if isinstance(ref, StudyRef):
        return _study(catalog, ref.uid)
    if isinstance(ref, SeriesRef):
        return _series(catalog, ref)
    if isinstance(ref, PatientRef):
        return _patient(catalog, ref.key)
    if isinstance(ref, SkippedRef):
        return describe_skipped(catalog.skipped)
    return Text(
        f"{len(catalog.studies)} studies, {catalog.instance_count()} files "
        f"({wording.size(catalog.total_bytes())}), {len(catalog.skipped)} skipped.\n\n"
        "Highlight a study for its series, SOP classes and transfer syntaxes.",
    )


def _patient(catalog: Catalog, key: str) -> RenderableType:
    patient = catalog.patients.get(key)
    if patient is None:
        return Text("")
    table = Table.grid(padding=(0, 1))
    for study in sorted(patient.studies.values(), key=lambda s: s.date, reverse=True):
        table.add_row(
            format_date(study.date),
            "/".join(study.modalities),
            study.description or "(no description)",
            f"{study.count} img",
            wording.size(study.bytes),
        )
    born = f"  born {format_date(patient.birth_date)}" if patient.birth_date else ""
    return Group(
        _heading(patient.name.replace("^", " ") or "(no name)"),
        Text(f"ID {patient.patient_id or '-'}  sex {patient.sex or '-'}{born}"),
        Text(""),
        table,
    )


def _study(catalog: Catalog, uid: str) -> RenderableType:
    study = catalog.studies.get(uid)
    if study is None:
        return Text("")
    patient = catalog.patients.get(study.patient_key)
    series = Table.grid(padding=(0, 1))
    for s in sorted(study.series.values(), key=lambda s: (s.number is None, s.number or 0)):
        series.add_row(
            f"#{s.number if s.number is not None else '?'}",
            s.modality,
            s.description or "(no description)",
            f"{s.count} img",
            wording.size(s.bytes),
        )
    return Group(
        _heading(study.description or "(no description)"),
        Text(
            f"{patient.name.replace('^', ' ') if patient else ''}  "
            f"{format_date(study.date)}  acc. {study.accession_number or '-'}  "
            f"{study.count} files, {wording.size(study.bytes)}"
        ),
        Text(f"Study UID {study.uid}", style="dim", overflow="fold"),
        Text(""),
        _heading("Series"),
        series,
        Text(""),
        _heading("SOP classes and transfer syntaxes"),
        _syntax_table(study.instances()),
    )


def _series(catalog: Catalog, ref: SeriesRef) -> RenderableType:
    study = catalog.studies.get(ref.study_uid)
    series = study.series.get(ref.uid) if study else None
    if series is None:
        return Text("")
    return Group(
        _heading(series.description or "(no description)"),
        Text(
            f"#{series.number} {series.modality}  {series.count} files, "
            f"{wording.size(series.bytes)}"
        ),
        Text(f"Series UID {series.uid}", style="dim", overflow="fold"),
        Text(""),
        _syntax_table(series.instances),
    )


class DetailsPane(Static):
    """Shows :func:`describe` for the highlighted node."""

    def show(self, catalog: Catalog, ref: NodeRef | None) -> None:
        """Redraw for ``ref``."""
        self.update(describe(catalog, ref))
