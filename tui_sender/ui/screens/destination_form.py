"""The add/edit form of one destination, as a modal that returns it (or None).

Problems are shown next to the field they concern, as the user types, and
listed again above the buttons when Save is refused, because on an 80x24
terminal the field at fault may be scrolled out of view. The form never
saves anything itself: the address book screen adds or replaces the
returned :class:`Destination` and writes the file.

Fields start "untouched" in a new form, so an empty form is not a wall of
red: their problems appear once the field changes or Save is tried. An
existing destination shows its problems at once (a hand-edited file may
hold a bad value that only :meth:`Destination.validate` notices).

The "Kind" field switches between a DIMSE destination (AE title, host, port,
association settings) and a DICOMweb one (URL, sign-in, request sizes): the
fields of the other kind are hidden, keep what was typed in them while the
form is open, and are saved at their defaults. A password or token is never
asked for, only the environment variable or file it is read from.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import fields, replace

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import DescendantFocus
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from tui_sender.core.config.destinations import Destination, url_host_port
from tui_sender.core.model.verification import VerifyMethod
from tui_sender.ui.screens.destination_fields import (
    ALL_FIELDS,
    COMMITMENT_ONLY,
    FORM_ONLY,
    SECTIONS,
    WEB_CHOICES,
    DestinationKind,
    FieldSpec,
    choices_for,
    field_of_problem,
    inapplicable_value,
    parse_field,
    switch_label,
    text_of,
)

DISCARD_AGAIN_SECONDS = 3.0
"""A second escape within this time discards a changed form (one stray escape must not)."""

WEB_SECTION_TITLES = {"Security (TLS)": "Security (TLS, for an https URL)"}
"""Section titles as a DICOMweb destination words them, where they differ."""

UNCHECKED_URL = "https://url.not-given.invalid"
"""Stands in for an empty URL while a DICOMweb form is checked: an empty URL would make
:meth:`Destination.validate` check it as a DIMSE destination (AE title, host, port)."""


class _FieldScroll(VerticalScroll, can_focus=False):
    """The scrolling field list; Tab goes to the fields, never to the container itself."""


class DestinationForm(ModalScreen[Destination | None]):
    """Add a destination (``original`` None) or edit one; dismisses with the result."""

    DEFAULT_CSS = """
    DestinationForm {
        align: center middle;
    }
    DestinationForm #form-dialog {
        width: 100%;
        max-width: 96;
        height: 100%;
        max-height: 36;
        border: round $primary;
        border-title-color: $text;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
        background: $panel;
        padding: 0 1;
    }
    DestinationForm #form-fields {
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    DestinationForm .form-section {
        color: $text-muted;
        text-style: bold;
        margin-top: 1;
    }
    DestinationForm .form-section.-first {
        margin-top: 0;
    }
    DestinationForm .form-row {
        height: auto;
    }
    DestinationForm .form-label {
        width: 14;
        color: $text-muted;
    }
    DestinationForm .form-row.-focused .form-label {
        color: $text;
        background: $primary 40%;
        text-style: bold;
    }
    DestinationForm .form-row.-invalid .form-label {
        color: $error;
    }
    DestinationForm .form-row Input, DestinationForm .form-row Select {
        width: 1fr;
    }
    DestinationForm .form-problem {
        color: $error;
        padding-left: 14;
        display: none;
    }
    DestinationForm .form-problem.-shown {
        display: block;
    }
    DestinationForm .form-row.-inapplicable {
        display: none;
    }
    DestinationForm #form-hint {
        color: $text-muted;
        text-style: italic;
        height: auto;
    }
    DestinationForm #form-problems {
        color: $error;
        height: auto;
        max-height: 4;
        display: none;
    }
    DestinationForm #form-problems.-shown {
        display: block;
    }
    DestinationForm #form-buttons {
        height: auto;
        align-horizontal: right;
    }
    DestinationForm #form-buttons Button {
        margin-left: 2;
    }
    """

    AUTO_FOCUS = "#field-name"
    """The name, not the first field (Kind): focusing Kind first and then the name left the
    Kind label drawn as focused."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="form-save", tooltip="Save this destination"),
        Binding("escape", "cancel", "Cancel", id="form-cancel", tooltip="Close without saving"),
        # Priority: handled as the key arrives, before the keys typed after it are handed
        # to the focused field; otherwise "NAME<tab>AE" typed fast (or pasted over SSH)
        # puts "NAMEAE" in the name.
        Binding("tab", "app.focus_next", "Next field", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", "Previous field", show=False, priority=True),
    ]

    def __init__(
        self,
        original: Destination | None,
        *,
        taken_names: Collection[str],
        template: Destination | None = None,
    ) -> None:
        """``taken_names``: names already in the book; ``template``: values for a new one."""
        super().__init__()
        self.original = original
        self.taken_names = frozenset(taken_names) - ({original.name} if original else set())
        self.start = original or template or Destination(name="", ae_title="", host="", port=104)
        self.problems: dict[str, list[str]] = {}
        """Current problems by field key ("" for those about no single field)."""
        self.save_attempted = original is not None
        self._initial = self._values_of(self.start)
        self._initial["kind"] = DestinationKind(self.start.kind)
        self._escape_pending = False
        self._web_shown = self.start.is_web
        """The kind the labels, hints and options are worded for."""

    # -- layout ------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Vertical(id="form-dialog") as dialog:
            dialog.border_title = (
                f"Edit destination {self.original.name}" if self.original else "Add a destination"
            )
            dialog.border_subtitle = "tab: next field · ctrl+s: save · esc: cancel"
            web = self._web_shown
            with _FieldScroll(id="form-fields"):
                for index, (title, specs) in enumerate(SECTIONS):
                    yield Static(
                        WEB_SECTION_TITLES.get(title, title) if web else title,
                        id=f"section-{index}",
                        classes="form-section" + (" -first" if index == 0 else ""),
                    )
                    for spec in specs:
                        with Horizontal(classes="form-row", id=f"row-{spec.key}"):
                            yield Label(
                                spec.label_for(web), id=f"label-{spec.key}", classes="form-label"
                            )
                            yield self._widget_for(spec)
                        yield Static("", id=f"problem-{spec.key}", classes="form-problem")
            yield Static("", id="form-hint", markup=False)
            yield Static("", id="form-problems", markup=False)
            with Horizontal(id="form-buttons"):
                yield Button("Save", id="save", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def _widget_for(self, spec: FieldSpec) -> Widget:
        value = getattr(self.start, spec.key)
        widget_id = f"field-{spec.key}"
        if spec.kind == "switch":
            return Checkbox(
                switch_label(spec, bool(value)), bool(value), id=widget_id, compact=True
            )
        if spec.kind == "choice":
            choices = choices_for(spec.key, self._web_shown)
            kind = type(choices[0][1])
            return Select(
                list(choices),
                value=kind(value),
                allow_blank=False,
                id=widget_id,
                compact=True,
            )
        restrict = {"int": "integer", "float": "number"}.get(spec.kind, "text")
        return Input(
            text_of(value),
            placeholder=spec.placeholder,
            type=restrict,  # type: ignore[arg-type]
            password=spec.kind == "password",
            id=widget_id,
            compact=True,
        )

    def on_mount(self) -> None:
        self.query_one("#field-name", Input).focus()
        self.check()

    # -- reading the fields --------------------------------------------------------

    def _values_of(self, destination: Destination) -> dict[str, object]:
        return {f.name: getattr(destination, f.name) for f in fields(destination)}

    def _raw(self, spec: FieldSpec) -> object:
        widget = self.query_one(f"#field-{spec.key}")
        if isinstance(widget, Checkbox):
            return widget.value
        if isinstance(widget, Select):
            return widget.value
        assert isinstance(widget, Input)
        return widget.value

    @property
    def web(self) -> bool:
        """True when the Kind field says DICOMweb."""
        return self.query_one("#field-kind", Select).value == DestinationKind.DICOMWEB

    def read(self) -> tuple[Destination, dict[str, list[str]]]:
        """The destination the fields describe, and every problem with it, by field.

        A field that does not parse keeps its starting value in the returned
        destination, so the other fields can still be checked. Fields of the
        other kind are left at their defaults; a DICOMweb destination's host
        and port come from its URL.
        """
        web = self.web
        values = self._values_of(self.start)
        problems: dict[str, list[str]] = {}
        for spec in ALL_FIELDS:
            if spec.key in FORM_ONLY:
                continue
            if not spec.applies_to(web):
                values[spec.key] = inapplicable_value(spec.key)
                continue
            raw = self._raw(spec)
            try:
                values[spec.key] = parse_field(spec, raw)
            except ValueError as exc:
                problems.setdefault(spec.key, []).append(str(exc))
        if web:
            values["host"], values["port"] = url_host_port(str(values["url"]))
        destination = replace(self.start, **values)  # type: ignore[arg-type]
        checked = destination
        if web and not destination.url.strip():
            problems.setdefault("url", []).append(
                "url must not be empty: the DICOMweb base URL, e.g. "
                "https://pacs.example.org/dicom-web"
            )
            checked = replace(destination, url=UNCHECKED_URL)
        for problem in checked.validate():
            key = field_of_problem(problem)
            if key in problems:
                continue  # the parse error says it better than the fallback value's check
            problems.setdefault(key or "", []).append(problem)
        if destination.name in self.taken_names:
            problems.setdefault("name", []).append(
                f"a destination named {destination.name!r} already exists"
            )
        return destination, problems

    def changed_fields(self) -> set[str]:
        """Keys whose widget differs from the starting value (what the user touched)."""
        changed: set[str] = set()
        for spec in ALL_FIELDS:
            raw = self._raw(spec)
            start = self._initial[spec.key]
            if spec.kind in ("switch", "choice"):
                if raw != start:
                    changed.add(spec.key)
            elif raw != text_of(start):
                changed.add(spec.key)
        return changed

    # -- showing problems -------------------------------------------------------------

    def check(self) -> Destination:
        """Re-read the fields and show the problems of the fields that should show them."""
        destination, self.problems = self.read()
        visible = None if self.save_attempted else self.changed_fields()
        for spec in ALL_FIELDS:
            messages = self.problems.get(spec.key, [])
            shown = messages if visible is None or spec.key in visible else []
            self._show_problem(spec.key, "\n".join(f"✗ {m}" for m in shown))
        self._show_applicable(destination)
        count = sum(len(m) for m in self.problems.values())
        lines: list[str] = []
        if self.save_attempted and count:
            lines = [f"Not saved: {count} problem{'s' if count != 1 else ''} to fix (marked ✗)."]
            lines += [f"✗ {m}" for m in self.problems.get("", [])]
        self._show_problem("", "\n".join(lines))
        return destination

    def _show_problem(self, key: str, text: str) -> None:
        """Update one message box (key "" is the summary), touching only what changed:
        a re-layout per keystroke for nothing is what makes a form feel slow over SSH."""
        box = self.query_one(f"#problem-{key}" if key else "#form-problems", Static)
        if str(box.content) == text:
            return
        box.update(text)
        box.set_class(bool(text), "-shown")
        if key:
            self.query_one(f"#row-{key}").set_class(bool(text), "-invalid")

    def _show_applicable(self, destination: Destination) -> None:
        """Show the fields of the chosen kind, and the storage commitment fields only when
        they apply (or hold a problem)."""
        web = self.web
        if web != self._web_shown:
            self._word_for(web)
        commitment = destination.verify is VerifyMethod.COMMITMENT
        for index, (_, specs) in enumerate(SECTIONS):
            section = self.query_one(f"#section-{index}")
            section.display = any(spec.applies_to(web) for spec in specs)
            for spec in specs:
                hidden = not spec.applies_to(web) or (
                    spec.key in COMMITMENT_ONLY and not commitment and spec.key not in self.problems
                )
                row = self.query_one(f"#row-{spec.key}")
                if row.has_class("-inapplicable") != hidden:
                    row.set_class(hidden, "-inapplicable")

    def _word_for(self, web: bool) -> None:
        """Labels, section titles, hints and options as the newly chosen kind words them."""
        self._web_shown = web
        for index, (title, _) in enumerate(SECTIONS):
            shown = WEB_SECTION_TITLES.get(title, title) if web else title
            self.query_one(f"#section-{index}", Static).update(shown)
        for spec in ALL_FIELDS:
            if spec.web_label:
                self.query_one(f"#label-{spec.key}", Label).update(spec.label_for(web))
            if spec.key in WEB_CHOICES:
                select: Select[object] = self.query_one(f"#field-{spec.key}", Select)
                value = select.value
                options = choices_for(spec.key, web)
                select.set_options(list(options))  # resets the value to the first option
                # Through another value and back: the same value again would leave the
                # old kind's words on the closed Select.
                select.value = next(v for _, v in options if v != value)
                select.value = value
        focused_id = self.app.focused.id if self.app.focused is not None else None
        if focused_id and focused_id.startswith("field-"):
            self._show_hint(focused_id.removeprefix("field-"))

    def _show_hint(self, spec_key: str) -> None:
        spec = next((s for s in ALL_FIELDS if s.key == spec_key), None)
        self.query_one("#form-hint", Static).update(spec.hint_for(self.web) if spec else "")

    # -- events -------------------------------------------------------------------

    @on(Checkbox.Changed)
    def _switch_changed(self, event: Checkbox.Changed) -> None:
        spec = next(s for s in ALL_FIELDS if f"field-{s.key}" == event.checkbox.id)
        event.checkbox.label = switch_label(spec, event.value)

    @on(Input.Changed)
    @on(Checkbox.Changed)
    @on(Select.Changed)
    def _field_changed(self) -> None:
        self._escape_pending = False
        if self.is_mounted:
            self.check()

    @on(Input.Submitted)
    def _next_field(self) -> None:
        """Enter in a text field moves on, like Tab; Save is explicit (ctrl+s or the button)."""
        self.focus_next()

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        # The focused field's label is marked by a class on its row, not by :focus-within,
        # which left the label of the field focused before marked instead.
        row = next((a for a in event.widget.ancestors_with_self if a.has_class("form-row")), None)
        for marked in self.query(".form-row.-focused"):
            if marked is not row:
                marked.remove_class("-focused")
        if isinstance(row, Widget):
            row.add_class("-focused")
        widget_id = event.widget.id or ""
        if widget_id.startswith("field-"):
            self._show_hint(widget_id.removeprefix("field-"))
        elif widget_id == "save":
            self.query_one("#form-hint", Static).update("Enter saves the destination.")
        elif widget_id == "cancel":
            self.query_one("#form-hint", Static).update("Enter closes without saving.")

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.dismiss(None)

    # -- actions ------------------------------------------------------------------

    def action_save(self) -> None:
        """Return the destination, or refuse and point at the first problem."""
        self.save_attempted = True
        destination = self.check()
        if not self.problems:
            self.dismiss(destination)
            return
        first = next((s.key for s in ALL_FIELDS if s.key in self.problems), None)
        if first is not None:
            self.query_one(f"#field-{first}").focus()
        self.app.bell()

    def action_cancel(self) -> None:
        """Close without saving; a changed form needs a second escape."""
        if not self.changed_fields() or self._escape_pending:
            self.dismiss(None)
            return
        self._escape_pending = True
        self.query_one("#form-hint", Static).update(
            "You changed this destination: press escape again to discard the changes."
        )
        self.set_timer(DISCARD_AGAIN_SECONDS, self._forget_escape)

    def _forget_escape(self) -> None:
        self._escape_pending = False
