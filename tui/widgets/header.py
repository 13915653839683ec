"""The one-line run header: what runs where, how far, how fast. One line at any width: what does
not fit is abbreviated or dropped, least important first (SHRINK_STEPS)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.widget import Widget

from engine.config import MODEL_TITLES
from engine.events import Cause, RunState
from tui.dashboard.state import DashboardState
from tui.dashboard.system import format_bytes, system_text
from tui.widgets.text_lines import TextLines

STATE_STYLES = {
    RunState.LOADING: "bold cyan",
    RunState.RUNNING: "bold green",
    RunState.PAUSED: "bold yellow",
    RunState.STOPPED: "bold magenta",
    RunState.FINISHED: "bold blue",
    RunState.FAILED: "bold red",
}


# Causes that only repeat what the user just did: the state word says it all.
QUIET_CAUSES = (Cause.USER,)

# The fields in the order they are read, each as its variants, fullest first: a later variant is
# shorter, and an empty one drops the field.
FIELD_ORDER = ("watching", "label", "device", "epoch", "state", "lr", "rate", "time", "system", "params")
SEPARATORS = (" │ ", "  ")

# What gives way when the header does not fit, in turn, until it does: each step takes one field
# (or the separators) to its next variant. The order of importance, least first: the separators;
# the models' parameter counts (fixed for the run, and the charts name the models); the machine's figures (the `y` pane has them); the GPU's name and the device (fixed for the
# run); the rate (the ETA says it in time); elapsed time beside the ETA; the watched run's path
# (its name stays); the task or preset; the times; the learning rate (the config form has it);
# the word "watching"; the state's reason; the word "epoch". What always stays is the state and
# the epoch: what a glance at the header is for. Past the last step the line is cut with "…".
SHRINK_STEPS = (
    "separators",
    "params",
    "system", "system",
    "device", "device",
    "rate",
    "time",
    "watching",
    "label",
    "time",
    "lr",
    "watching",
    "state",
    "epoch",
)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def format_lr(lr: float | None) -> str:
    return "?" if lr is None else f"{lr:.3g}"


def _text(*parts: tuple[str, str]) -> Text:
    text = Text()
    for part, style in parts:
        text.append(part, style)
    return text


def header_fields(state: DashboardState, now: float | None = None) -> dict[str, tuple[Text, ...]]:
    """Each field of the header (FIELD_ORDER) as its variants, fullest first, from the state alone."""
    fields: dict[str, tuple[Text, ...]] = {}
    if state.watching:
        fields["watching"] = (_text(("watching ", "dim"), (state.watching, "bold cyan")),
                              _text(("watching ", "dim"), (Path(state.watching).name, "bold cyan")), Text())
    fields["label"] = (_text((state.label or "?", "bold")), Text())
    if state.device:
        device = Text(state.device)
        named = device.copy()
        if state.device.startswith("cuda") and state.device_name:
            named.append(f" {state.device_name}", "dim")
        fields["device"] = (named, device, Text())
    epoch = f"{state.epoch}/{state.total_epochs}"
    fields["epoch"] = (Text(f"epoch {epoch}"), Text(epoch))
    style = STATE_STYLES.get(state.run_state, "bold")
    words = (state.reason or "loading torch…") if state.run_state == RunState.LOADING else state.run_state.upper()
    word = _text((words, style))
    if state.reason and state.run_state not in (RunState.LOADING, RunState.RUNNING) and state.cause not in QUIET_CAUSES:
        fields["state"] = (_text((words, style), (f" ({state.reason})", STATE_STYLES.get(state.run_state, ""))), word)
    else:
        fields["state"] = (word,)
    fields["lr"] = (Text(f"lr {format_lr(state.lr)}"), Text())
    rate = state.epochs_per_s
    fields["rate"] = (Text(f"{rate:.3g} ep/s" if rate else "-- ep/s"), Text())
    elapsed, eta = format_duration(state.elapsed(now)), state.eta()
    one_time = _text(("ETA ", "dim"), (format_duration(eta), "")) if eta is not None else Text(elapsed)
    fields["time"] = (_text((elapsed, ""), (" ETA ", "dim"), (format_duration(eta), "")), one_time, Text())
    if state.system:
        sample = state.system[-1]
        full = system_text(sample)
        short = f"cpu {sample.cpu_percent:.0f}% · {format_bytes(sample.rss)}"  # without the GPU's
        fields["system"] = (_text((full, "dim")), *([_text((short, "dim"))] if short != full else []), Text())
    counts = [(MODEL_TITLES.get(name, name.upper()), state.parameters[name])
              for name in state.models if name in state.parameters]
    if counts:
        params = _text(("params ", "dim"))
        for index, (title, count) in enumerate(counts):
            params.append_text(_text((" · " if index else "", "dim"), (f"{title} ", ""), (f"{count:,}", "bold")))
        fields["params"] = (params, Text())
    return fields


def fit_header(fields: dict[str, tuple[Text, ...]], width: int) -> Text:
    """The header at its fullest that fits in ``width`` cells, on one line; at its fullest for
    a width not known yet (0).

    The SHRINK_STEPS are taken in turn until the header fits; then they are undone where there
    is room, most important first, so a short field that was dropped early comes back when a
    longer one's giving way made room for it (the separators stay narrow)."""
    level = dict.fromkeys(("separators", *fields), 0)
    text = _assemble(fields, level)
    if width <= 0:
        return text
    taken: list[str] = []
    for step in SHRINK_STEPS:
        if text.cell_len <= width:
            break
        if step in level and level[step] < len(fields.get(step, SEPARATORS)) - 1:
            level[step] += 1
            taken.append(step)
            text = _assemble(fields, level)
    for step in reversed(taken):
        if step == "separators":
            continue  # once anything gives way the separators stay narrow: one look at any width
        level[step] -= 1
        longer = _assemble(fields, level)
        if longer.cell_len <= width:
            text = longer
        else:
            level[step] += 1
    if text.cell_len > width:
        text.truncate(width, overflow="ellipsis")
    return text


def _assemble(fields: dict[str, tuple[Text, ...]], level: dict[str, int]) -> Text:
    separator = SEPARATORS[level["separators"]]
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    for name in FIELD_ORDER:
        if name not in fields or not (part := fields[name][level[name]]):
            continue
        if text:
            text.append(separator, "dim")
        text.append_text(part)
    return text


class RunHeader(TextLines, Widget):
    """Shows the header for the dashboard state it is given, fitted to its width."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.plain = ""  # what the header shows, as plain text
        self._fields: dict[str, tuple[Text, ...]] = {}

    def show(self, state: DashboardState, now: float | None = None) -> None:
        self._fields = header_fields(state, now)
        self.plain = fit_header(self._fields, self.size.width).plain
        self.refresh()  # one line, always: never a new layout

    def render(self) -> Text:
        # Also after a resize (TextLines renders again for a new width): fitted to that width.
        text = fit_header(self._fields, self.size.width)
        self.plain = text.plain
        return text
