"""The configuration form: edit a run's settings, see what is wrong next to the field, restart.

The csv task's fields (its file, column and order) show while the task is csv; its series
length left empty is the file's every row. A preset whose data is not installed (seattle
without vega_datasets) says so under the preset, in one line, and the form keeps its values."""

from __future__ import annotations

import sys
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from engine.config import (
    DERIVED_KEYS,
    PRESETS,
    TASKS,
    ConfigError,
    RunConfig,
    build_config,
    format_field,
    from_preset,
    parse_field,
)

CUSTOM = "custom"
CSV_FIELDS = ("data", "column", "order_by")  # the csv task's own, shown only for it

# (field, label, kind); the labels are the CLI flags' words. A text field's text is read by
# engine.config.parse_field, as the command line's flags are.
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("task", "task", "select"),
    ("preset", "preset", "select"),
    ("data", "data file", "text"),
    ("column", "column", "text"),
    ("order_by", "order by", "text"),
    ("models", "models", "text"),
    ("series_length", "series length", "text"),
    ("look_back", "look-back", "text"),
    ("lag", "lag", "text"),
    ("echo_p", "echo probability", "text"),
    ("hidden", "hidden size", "text"),
    ("forget_bias", "forget bias", "text"),
    ("epochs", "epochs", "text"),
    ("lr", "learning rate", "text"),
    ("batch_size", "batch size", "text"),
    ("device", "device", "text"),
)
TEXT_FIELDS = tuple(name for name, _, kind in FIELDS if kind == "text")
# What a preset leaves as the user chose it: the machine's device, and the models compared.
NOT_PRESET = ("device", "models")


def device_problem(device: str) -> str | None:
    """Why ``device`` is not on this machine (engine.device.resolve_device), or None. Asked only
    once the engine has loaded torch, which the UI thread must not wait for; until then the
    engine refuses a restart on a missing device itself."""
    if "torch" not in sys.modules:
        return None
    from engine.device import resolve_device

    try:
        resolve_device(device)
    except ConfigError as exc:
        return str(exc)
    return None


class ConfigForm(ModalScreen[RunConfig | None]):
    """Dismisses with the new RunConfig on submit, None on cancel."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Apply and restart"),
    ]

    def __init__(self, config: RunConfig) -> None:
        super().__init__()
        self.base = config
        self.result: RunConfig | None = None
        self._preset_shown = config.preset or CUSTOM
        self._task_shown = config.task

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="config-dialog", classes="dialog") as dialog:
            dialog.border_title = "Configure run"
            dialog.border_subtitle = "enter/ctrl+s apply and restart · escape cancel"
            for name, label, kind in FIELDS:
                row = "field-row csv-field" if name in CSV_FIELDS else "field-row"
                with Horizontal(classes=row, id=f"row-{name}"):
                    yield Label(label, classes="field-label")
                    yield self._field(name, kind)
                yield Static("", id=f"error-{name}", classes="field-error")
            yield Static("", id="error-general", classes="field-error")
            with Horizontal(classes="buttons"):
                yield Button("Apply and restart", variant="primary", id="config-apply")
                yield Button("Cancel", id="config-cancel")

    def _field(self, name: str, kind: str) -> Input | Select:
        if name == "task":
            return Select([(t, t) for t in TASKS], value=self.base.task, allow_blank=False,
                          id="field-task", compact=True)
        if name == "preset":
            options = [(CUSTOM, CUSTOM), *[(p, p) for p in PRESETS]]
            return Select(options, value=self.base.preset or CUSTOM, allow_blank=False,
                          id="field-preset", compact=True)
        placeholder = "all the file's rows" if name == "series_length" else \
            "the file's order" if name == "order_by" else ""
        return Input(format_field(name, getattr(self.base, name)), id=f"field-{name}", compact=True,
                     placeholder=placeholder)

    def on_mount(self) -> None:
        self._show_csv_fields(self.base.task == "csv")
        self.query_one("#field-series_length", Input).focus()

    def _show_csv_fields(self, shown: bool) -> None:
        for row in self.query(".csv-field"):
            row.display = shown

    # -- reading and checking the form ------------------------------------------------------

    def values(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The form's values by field, and parse errors by field."""
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        csv = self.query_one("#field-task", Select).value == "csv"
        for name, _, kind in FIELDS:
            if kind == "select":
                values[name] = self.query_one(f"#field-{name}", Select).value
                continue
            text = self.query_one(f"#field-{name}", Input).value
            if name in CSV_FIELDS and not csv:
                values[name] = None  # another task reads no file, whatever its hidden fields hold
                continue
            if name == "series_length" and csv and not text.strip():
                continue  # the file's every row (build_config)
            try:
                values[name] = parse_field(name, text)
            except ConfigError as exc:
                errors[name] = str(exc)
        return values, errors

    def build(self) -> tuple[RunConfig | None, dict[str, str]]:
        """(config, errors by field): the config when every field is valid."""
        values, errors = self.values()
        if errors:
            return None, errors
        preset = values.pop("preset")
        try:
            if values["task"] == "csv":
                # The file is read again (its rows, its hash): it may be another file, or changed.
                kept = {k: v for k, v in self.base.to_dict().items() if k not in DERIVED_KEYS and k != "series_length"}
                config = build_config({**kept, **values, "preset": None})
            else:
                config = self.base.replace(**values, data_file_sha256=None, preset=None)
        except ConfigError as exc:
            return None, {exc.field: str(exc)}
        if preset != CUSTOM:
            try:
                expected = from_preset(preset)
            except ConfigError as exc:  # its data is not installed (seattle without vega_datasets)
                return None, {"preset": str(exc)}
            # Keep the preset's name only while the form still holds the preset's values.
            if all(getattr(config, k) == getattr(expected, k) for k in values if k not in NOT_PRESET):
                config = config.replace(preset=preset)
        if (problem := device_problem(config.device)) is not None:
            return None, {"device": problem}
        return config, {}

    def check(self) -> RunConfig | None:
        """Build the config and show each problem under the field it names."""
        config, errors = self.build()
        for error in self.query(".field-error").results(Static):
            error.update("")
            error.remove_class("shown")
        for field, message in errors.items():
            target = self.query(f"#error-{field}")
            error = target.first(Static) if target else self.query_one("#error-general", Static)
            # Beside its field the message need not repeat the field's name.
            prefix = f"{field.replace('_', '-')}: "
            # As text: a message's brackets ('lstm-tui[weather]') are not markup.
            error.update(Text(message.removeprefix(prefix) if target else message))
            error.add_class("shown")
        return config

    # -- events ---------------------------------------------------------------------------------

    @on(Select.Changed, "#field-preset")
    def _preset_chosen(self, event: Select.Changed) -> None:
        # Select posts Changed for its initial value too: only a new choice refills the form.
        if event.value == self._preset_shown:
            return
        self._preset_shown = str(event.value)
        if event.value == CUSTOM:
            self.check()
            return
        try:
            preset = from_preset(str(event.value))
        except ConfigError:
            self.check()  # says why under the preset (build), the form's values as they were
            return
        for name in TEXT_FIELDS:
            if name not in NOT_PRESET:
                self.query_one(f"#field-{name}", Input).value = format_field(name, getattr(preset, name))
        self._task_shown = preset.task  # its series length is its file's, not cleared as below
        self.query_one("#field-task", Select).value = preset.task
        self._show_csv_fields(preset.task == "csv")

    @on(Select.Changed, "#field-task")
    def _task_chosen(self, event: Select.Changed) -> None:
        if event.value != self._task_shown:
            # Another task's series length is no file's: to csv, the file's every row; from it,
            # the default length.
            length = self.query_one("#field-series_length", Input)
            if event.value == "csv":
                length.value = ""
            elif not length.value.strip():
                length.value = format_field("series_length", RunConfig().series_length)
            self._task_shown = str(event.value)
        self._show_csv_fields(event.value == "csv")
        self.check()

    @on(Input.Changed)
    def _changed(self) -> None:
        self.check()

    @on(Input.Submitted)
    @on(Button.Pressed, "#config-apply")
    def action_submit(self) -> None:
        config = self.check()
        if config is not None:
            self.result = config
            self.dismiss(config)

    @on(Button.Pressed, "#config-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
