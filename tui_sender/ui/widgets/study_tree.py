"""The study browser: patient > study > series, loaded lazily, selectable by keyboard.

Only patients are created up front; a patient's studies and a study's
series become nodes when the user expands them, so a folder with 10,000
studies opens at once. The scan adds patients in batches (one tree rebuild
per batch, never per file). Space toggles the selection of the highlighted
study or series; the mark in front of each line shows it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.theme import Theme
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from tui_sender.core.base import wording
from tui_sender.core.model.catalog import Catalog, Patient, Series, Study
from tui_sender.core.scan.selection import Mark, Selection
from tui_sender.ui.palette import palette


@dataclass(frozen=True, slots=True)
class PatientRef:
    """Tree data of a patient node."""

    key: str


@dataclass(frozen=True, slots=True)
class StudyRef:
    """Tree data of a study node."""

    uid: str


@dataclass(frozen=True, slots=True)
class SeriesRef:
    """Tree data of a series node."""

    study_uid: str
    uid: str


@dataclass(frozen=True, slots=True)
class SkippedRef:
    """Tree data of the "skipped files" node."""


NodeRef = PatientRef | StudyRef | SeriesRef | SkippedRef


def _after_icon(text: Text, prefix: Text) -> Text:
    """Insert ``prefix`` after the expand/collapse icon of an expandable node."""
    icon_len = 2  # "▶ " / "▼ "
    return Text.assemble(text[:icon_len], prefix, text[icon_len:])


NON_IMAGE_MODALITIES = frozenset({"SR", "KO", "PR", "DOC", "REG", "SEG", "RWV", "PLAN"})


def image_modalities(study: Study) -> str:
    """The study's image modalities (SR/KO/PR only when it has nothing else)."""
    all_modalities = study.modalities
    images = [m for m in all_modalities if m not in NON_IMAGE_MODALITIES]
    return "/".join(images or all_modalities)


def format_date(value: str) -> str:
    """DICOM DA (YYYYMMDD) as YYYY-MM-DD; anything else as it is."""
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value or "----------"


def haystack(catalog: Catalog, study: Study) -> str:
    """The lower-case text the filter searches in for a study."""
    patient = catalog.patients.get(study.patient_key)
    return " ".join(
        [
            patient.name if patient else "",
            patient.patient_id if patient else "",
            study.description,
            " ".join(study.modalities),
            study.date,
            format_date(study.date),
            study.accession_number,
            " ".join(s.description for s in study.series.values()),
        ]
    ).lower()


def matches(text: str, needle: str) -> bool:
    """Filter: every word of ``needle`` appears in ``text``."""
    return all(word in text for word in needle.lower().split())


class StudyTree(Tree[NodeRef]):
    """A lazy, selectable tree of the catalog."""

    BINDINGS = [
        Binding("space", "toggle_selection", "Select", tooltip="Select or clear this study/series"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("l,right", "expand", "Expand", show=False),
        Binding("h,left", "collapse", "Collapse", show=False),
    ]

    def __init__(self, catalog: Catalog, selection: Selection, **kwargs: object) -> None:
        super().__init__("Studies", **kwargs)  # type: ignore[arg-type]
        self.show_root = False
        self.guide_depth = 2
        self.catalog = catalog
        self.selection = selection
        self.filter_text = ""
        self._patients: dict[str, TreeNode[NodeRef]] = {}
        self._studies: dict[str, TreeNode[NodeRef]] = {}
        self._skipped: TreeNode[NodeRef] | None = None
        self._colors: dict[str, str] = {}
        self._haystacks: dict[str, str] = {}

    def on_mount(self) -> None:
        """Take the theme's colours for the labels, and follow theme changes."""
        self._colors = palette(self.app)
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: Theme) -> None:
        self._colors = palette(self.app)
        self.refresh_marks()
        self._sync_skipped()

    def _c(self, name: str, extra: str = "") -> str:
        """A Rich style from a theme colour (labels are Rich Text, not TCSS)."""
        colour = self._colors.get(name, "")
        return f"{extra} {colour}".strip()

    # -- building --------------------------------------------------------------

    def passes(self, study: Study) -> bool:
        """Does the study pass the filter? (Haystacks are cached per study.)"""
        if not self.filter_text:
            return True
        text = self._haystacks.get(study.uid)
        if text is None:
            text = self._haystacks[study.uid] = haystack(self.catalog, study)
        return matches(text, self.filter_text)

    def visible_studies(self, patient: Patient) -> list[Study]:
        """The patient's studies that pass the filter, newest first."""
        studies = [s for s in patient.studies.values() if self.passes(s)]
        return sorted(studies, key=lambda s: (s.date, s.time), reverse=True)

    def rebuild(self) -> None:
        """Start over (after the filter changed)."""
        self._haystacks.clear()
        self.clear()
        self._patients.clear()
        self._studies.clear()
        self._skipped = None
        self.sync()

    def sync(self, changed: set[str] | None = None) -> None:
        """Add what the catalog gained; refresh labels (of ``changed`` patients only, if given)."""
        keys = (
            list(self.catalog.patients)
            if changed is None
            else [k for k in self.catalog.patients if k in changed]
        )
        for key in keys:
            patient = self.catalog.patients.get(key)
            if patient is None:
                continue
            studies = self.visible_studies(patient)
            node = self._patients.get(key)
            if not studies:
                if node is not None:
                    node.remove()
                    del self._patients[key]
                continue
            if node is None:
                node = self.root.add(self._patient_label(patient, studies), PatientRef(key))
                self._patients[key] = node
            else:
                node.set_label(self._patient_label(patient, studies))
                if node.is_expanded:
                    self._load_studies(node, patient)
        self._sync_skipped()

    def _sync_skipped(self) -> None:
        count = len(self.catalog.skipped)
        if not count:
            return
        label = Text(
            f"⚠ {count} skipped file{'s' if count != 1 else ''}", style=self._c("warning", "bold")
        )
        if self._skipped is None:
            self._skipped = self.root.add_leaf(label, SkippedRef())
        else:
            self._skipped.set_label(label)

    def _load_studies(self, node: TreeNode[NodeRef], patient: Patient) -> None:
        for study in self.visible_studies(patient):
            if study.uid in self._studies:
                self._studies[study.uid].set_label(self.study_label(study))
                continue
            child = node.add(self.study_label(study), StudyRef(study.uid))
            self._studies[study.uid] = child

    def _load_series(self, node: TreeNode[NodeRef], study: Study) -> None:
        node.remove_children()
        ordered = sorted(study.series.values(), key=lambda s: (s.number is None, s.number or 0))
        for series in ordered:
            node.add_leaf(self.series_label(study, series), SeriesRef(study.uid, series.uid))

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[NodeRef]) -> None:
        """Create children when a node opens another way (enter, mouse)."""
        self._load_children(event.node)

    def _load_children(self, node: TreeNode[NodeRef]) -> None:
        data = node.data
        if isinstance(data, PatientRef):
            patient = self.catalog.patients.get(data.key)
            if patient is not None:
                self._load_studies(node, patient)
        elif isinstance(data, StudyRef) and not node.children:
            study = self.catalog.studies.get(data.uid)
            if study is not None:
                self._load_series(node, study)

    # -- labels ----------------------------------------------------------------

    def _patient_label(self, patient: Patient, studies: list[Study]) -> Text:
        text = Text()
        text.append(patient.name.replace("^", " ").strip() or "(no name)", style="bold")
        if patient.patient_id:
            text.append(f"  {patient.patient_id}", style=self._c("text-muted"))
        text.append(f"  {len(studies)} stud{'y' if len(studies) == 1 else 'ies'}", style="dim")
        return text

    def study_label(self, study: Study) -> Text:
        """``2024-03-01 CT  Chest w/o contrast   120 img  60.2 MB`` (mark drawn apart)."""
        text = Text()
        text.append(format_date(study.date))
        text.append(f" {image_modalities(study)[:7]:<7} ", style=self._c("secondary", "bold"))
        text.append(f"{(study.description or '(no description)')[:26]:<26}")
        text.append(
            f" {study.count:>5} img {wording.size(study.bytes):>9}", style=self._c("text-muted")
        )
        return text

    def series_label(self, study: Study, series: Series) -> Text:
        """``#3 CT  Axial 2.5 mm   100 img  50.0 MB`` (mark drawn apart)."""
        text = Text()
        number = f"#{series.number}" if series.number is not None else "#?"
        text.append(f"{number:<4} {series.modality:<3} ")
        text.append(f"{(series.description or '(no description)')[:28]:<28}")
        text.append(
            f" {series.count:>5} img {wording.size(series.bytes):>9}", style=self._c("text-muted")
        )
        return text

    def mark_of(self, ref: NodeRef | None) -> Mark | None:
        """The selection mark of a node, read from the selection at draw time."""
        if isinstance(ref, StudyRef):
            return self.selection.study_mark(ref.uid)
        if isinstance(ref, SeriesRef):
            chosen = self.selection.series_selected(ref.study_uid, ref.uid)
            return Mark.ALL if chosen else Mark.NONE
        if isinstance(ref, PatientRef):
            patient = self.catalog.patients.get(ref.key)
            if patient is None:
                return Mark.NONE
            marks = {
                self.selection.study_mark(s.uid) for s in patient.studies.values() if self.passes(s)
            }
            if marks == {Mark.ALL}:
                return Mark.ALL
            return Mark.NONE if marks <= {Mark.NONE} else Mark.SOME
        return None

    def render_label(self, node: TreeNode[NodeRef], base_style: Style, style: Style) -> Text:
        """The label with its selection mark in front.

        Marks are drawn from the selection when a line is rendered (only the
        lines on screen are), so selecting 10,000 studies changes no labels.
        """
        text = super().render_label(node, base_style, style)
        mark = self.mark_of(node.data)
        if mark is None:
            return text
        chosen = mark is not Mark.NONE
        prefix = Text(f"[{mark.value}] ", style=self._c("accent", "bold") if chosen else "")
        return (
            Text.assemble(prefix, text) if node.allow_expand is False else _after_icon(text, prefix)
        )

    def refresh_marks(self) -> None:
        """Redraw the visible lines after the selection changed.

        Tree caches rendered lines by a counter that only ``_invalidate``
        bumps (textual 8); the labels themselves do not change.
        """
        self._invalidate()

    # -- actions ---------------------------------------------------------------

    def action_toggle_selection(self) -> None:
        """Space: select or clear the highlighted study, series or patient."""
        node = self.cursor_node
        if node is None or node.data is None:
            return
        data = node.data
        if isinstance(data, StudyRef):
            self.selection.toggle_study(data.uid)
        elif isinstance(data, SeriesRef):
            self.selection.toggle_series(data.study_uid, data.uid)
        elif isinstance(data, PatientRef):
            patient = self.catalog.patients.get(data.key)
            if patient is None:
                return
            uids = [s.uid for s in self.visible_studies(patient)]
            everything = all(self.selection.study_mark(u) is Mark.ALL for u in uids)
            self.selection.set_studies(uids, not everything)
        else:
            return
        self.refresh_marks()
        self.post_message(self.SelectionToggled())

    def action_expand(self) -> None:
        """l / right: open the highlighted node.

        Children are created before the node opens, so keys typed ahead
        (right, down, space) act on the rows the user expects.
        """
        node = self.cursor_node
        if node is not None and node.allow_expand:
            self._load_children(node)
            node.expand()

    def action_collapse(self) -> None:
        """h: close the highlighted node, or go to its parent."""
        node = self.cursor_node
        if node is None:
            return
        if node.is_expanded:
            node.collapse()
        elif node.parent is not None and node.parent is not self.root:
            self.move_cursor(node.parent)

    def visible_study_uids(self) -> list[str]:
        """Every study that passes the filter (for select all / none)."""
        return [s.uid for s in self.catalog.studies.values() if self.passes(s)]

    class SelectionToggled(Message):
        """The user changed the selection in the tree."""
