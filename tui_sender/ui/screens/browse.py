"""The main screen: the study tree, the details pane, and what is selected.

The tree fills in while the background scan runs. Keys: arrows/j/k move,
space selects, ``a`` selects all (or none), ``/`` filters, enter expands,
``d`` opens destinations, ``s`` sends.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Input, Static, Tree

from tui_sender.core.base import wording
from tui_sender.core.scan.selection import Mark
from tui_sender.ui.host import SenderHost, host_of
from tui_sender.ui.widgets.details import DetailsPane
from tui_sender.ui.widgets.key_footer import KeyFooter
from tui_sender.ui.widgets.screen_header import ScreenHeader
from tui_sender.ui.widgets.study_tree import NodeRef, StudyTree

NARROW = 110
"""Below this many columns the details pane goes under the tree."""


class BrowseScreen(Screen[None]):
    """Browse, filter and select studies."""

    BINDINGS = [
        Binding("a", "select_all", "All/none", tooltip="Select every shown study, or none"),
        Binding("slash", "filter", "Filter", tooltip="Filter by patient, description, date"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("d", "app.destinations", "Destinations", tooltip="Address book and echo test"),
        Binding("s", "app.send", "Send", tooltip="Send the selection to the chosen destinations"),
        Binding("R", "app.resume", "Resume", show=False, tooltip="Finish an earlier session"),
    ]

    @property
    def sender(self) -> SenderHost:
        """The app, as screens may use it."""
        return host_of(self.app)

    def compose(self) -> ComposeResult:
        app = self.sender
        yield ScreenHeader()
        yield Input(placeholder="filter: patient, description, modality, date", id="filter")
        with Horizontal(id="browse-body"):
            yield StudyTree(app.catalog, app.selection, id="tree")
            with VerticalScroll(id="details-scroll"):
                yield DetailsPane(id="details")
        yield Static(id="status-line")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one(StudyTree).focus()
        self.refresh_status()

    # -- the catalog and the selection -------------------------------------------

    def catalog_grew(self, changed: set[str] | None = None) -> None:
        """New scan results (for ``changed`` patients): add them to the tree."""
        tree = self.query_one(StudyTree)
        tree.sync(changed)
        if tree.cursor_node is None and tree.root.children:
            tree.move_cursor(tree.root.children[0])
        self.refresh_status()

    def refresh_status(self) -> None:
        """Status line: scan progress, selection, destinations."""
        app = self.sender
        studies, files, size = app.selection.totals()
        chosen = app.chosen_text()
        scan = app.scan_status_text()
        self.query_one("#status-line", Static).update(
            f"to: {chosen} │ selected {studies} studies, {files} files, {wording.size(size)}"
            f" │ {scan}",
            layout=False,  # one line of fixed height
        )

    @on(Tree.NodeHighlighted)
    def _show_details(self, event: Tree.NodeHighlighted[NodeRef]) -> None:
        self.query_one(DetailsPane).show(self.sender.catalog, event.node.data)

    @on(StudyTree.SelectionToggled)
    def _selection_changed(self) -> None:
        self.refresh_status()

    def on_screen_resume(self) -> None:
        """Back from another screen: the selection or destinations may have changed."""
        self.query_one(StudyTree).refresh_marks()
        self.refresh_status()

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width < NARROW, "narrow")

    # -- actions -----------------------------------------------------------------

    def action_select_all(self) -> None:
        """Select every shown study; if all are selected already, clear them."""
        tree = self.query_one(StudyTree)
        uids = tree.visible_study_uids()
        everything = bool(uids) and all(
            self.sender.selection.study_mark(u) is Mark.ALL for u in uids
        )
        self.sender.selection.set_studies(uids, not everything)
        tree.refresh_marks()
        self.refresh_status()

    def action_filter(self) -> None:
        """Show the filter box."""
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        """Escape: drop the filter and go back to the tree."""
        box = self.query_one("#filter", Input)
        if box.value:
            box.value = ""
        box.display = False
        self.query_one(StudyTree).focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._pending_filter = event.value
        self.set_timer(0.2, self._apply_filter, name="filter-debounce")

    def _apply_filter(self) -> None:
        tree = self.query_one(StudyTree)
        value = getattr(self, "_pending_filter", "")
        if tree.filter_text == value:
            return
        tree.filter_text = value
        tree.rebuild()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self._apply_filter()
        self.query_one(StudyTree).focus()
