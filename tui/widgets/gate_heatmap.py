"""One model's states over the probe window as a heatmap: hidden units down, time steps across.

The LSTM panel shows the gate chosen with ``g`` (i, f, g, o, or the cell c and hidden h), the
GRU's its own (r, z, n, or the hidden h); the RNN panel shows its hidden state. A cursor (arrow
keys when focused) reads out the exact value, the step, its day in the series and the weather
fed in there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.text import Text
from textual.app import RenderResult
from textual.binding import Binding
from textual.widget import Widget

from engine.config import CLASS_NAMES
from tui.class_labels import short_labels
from tui.dashboard.state import ProbeState
from tui.heatmap import Scale, fit_cell, format_value, heat_cells, legend
from tui.widgets.prediction import class_styles
from tui.widgets.text_lines import TextLines

LSTM_VIEWS = ("i", "f", "g", "o", "c", "h")
GRU_VIEWS = ("r", "z", "n", "h")
VIEWS = {"lstm": LSTM_VIEWS, "gru": GRU_VIEWS, "rnn": ("h",)}  # what `g` cycles, per kind of model
# The view a panel opens on: the gate that decides what is kept from the step before, the
# article's whole argument (the LSTM's forget gate; the GRU's update gate, its share of h kept).
FIRST_VIEW = {"lstm": "f", "gru": "z", "rnn": "h"}
GATES = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}  # those with saturation shares
VIEW_NAMES = {
    "i": "input gate i",
    "f": "forget gate f",
    "g": "candidate g",
    "o": "output gate o",
    "c": "cell state c",
    "h": "hidden state h",
    "r": "reset gate r",
    "z": "update gate z",
    "n": "candidate n",
}
NARROW = 36  # a panel narrower than this (a condensed column) names its view by its letter
LABEL_WIDTH = 4  # "u12 "
EXTRA_LINES = 4  # under the map: inputs, cursor read-out, legend, saturation
SIDE_WIDTH = 26  # the read-out beside the map, when the column is wide enough
SIDE_GAP = 2
SIDE_LINES = 10  # legend, range, cursor (2), blank, saturation (5)


def view_scale(view: str, values: list[list[float]]) -> Scale:
    """Gates sit in [0, 1]; the candidates g, n and h in [-1, 1]; the cell is unbounded, so its
    own range."""
    if view in ("i", "f", "o", "r", "z"):
        return Scale(0.0, 1.0)
    if view == "c":
        peak = max((abs(v) for row in values for v in row if math.isfinite(v)), default=1.0) or 1.0
        return Scale(-peak, peak, diverging=True)
    return Scale(-1.0, 1.0, diverging=True)


def saturation_line(probe: ProbeState) -> Text:
    """Mean over units of each gate's saturated share (Karpathy et al.'s left/right fractions)."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if probe.overall_saturation is not None:  # the RNN
        per_unit = probe.saturation.get("h", ([],))[0]
        text.append("saturated |h|>0.95 ", "dim")
        text.append(f"{probe.overall_saturation:.0%}", "bold")
        text.append(" of cells", "dim")
        if per_unit:
            worst = max(range(len(per_unit)), key=per_unit.__getitem__)
            text.append(f" · most: u{worst} {per_unit[worst]:.0%}", "dim")
        return text
    text.append("sat <.1/>.9 ", "dim")
    for gate in gates_of(probe):
        low, high = probe.saturation.get(gate, ([], []))[:2]
        if not low:
            continue
        text.append(f"{gate} ", "bold")
        text.append(f"{sum(low) / len(low):.0%}/{sum(high) / len(high):.0%} ")
    return text


def gates_of(probe: ProbeState) -> tuple[str, ...]:
    """The gates with saturation shares in ``probe``, in their model's order."""
    known = next((gates for gates in GATES.values() if set(probe.saturation) <= set(gates)), ())
    return tuple(gate for gate in known if gate in probe.saturation)


class GatePanel(TextLines, Widget, can_focus=True):
    """Heatmap of one model's probe (rows hidden units, columns time steps) with a cursor."""

    ALLOW_MAXIMIZE = True
    BINDINGS = [
        Binding("left", "move_cursor(0, -1)", "Earlier", show=False, tooltip="Heatmap cursor one step earlier"),
        Binding("right", "move_cursor(0, 1)", "Later", show=False, tooltip="Heatmap cursor one step later"),
        Binding("up", "move_cursor(-1, 0)", "Unit up", show=False, tooltip="Heatmap cursor one unit up"),
        Binding("down", "move_cursor(1, 0)", "Unit down", show=False, tooltip="Heatmap cursor one unit down"),
    ]

    def __init__(self, model: str, title: str, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.model = model
        self.title = title
        self.view = FIRST_VIEW.get(model, "h")
        self.probe: ProbeState | None = None
        self.cursor_unit = 0
        self.cursor_step: int | None = None  # None: the last step, following new probes
        self.class_names: tuple[str, ...] = CLASS_NAMES  # the run's, class 0 first
        self._labels, self._styles = short_labels(CLASS_NAMES, 1), class_styles(CLASS_NAMES)
        self._update_titles()

    # -- data and state -----------------------------------------------------------------

    def show(self, probe: ProbeState | None, classes: Sequence[str] = CLASS_NAMES) -> None:
        if tuple(classes) != self.class_names:
            self.class_names = tuple(classes)
            self._labels, self._styles = short_labels(self.class_names, 1), class_styles(self.class_names)
        old_units = len(self.probe.arrays[self.view][0]) if self.probe and self.probe.steps else None
        self.probe = probe
        self._update_titles()
        new_units = self.units
        self.refresh(layout=old_units != new_units)

    @property
    def views(self) -> tuple[str, ...]:
        """What this model's panel can show, in the order `g` cycles them."""
        return VIEWS.get(self.model, ("h",))

    def set_view(self, view: str) -> None:
        if view in self.views:
            self.view = view
            self._update_titles()
            self.refresh()

    def next_view(self) -> str:
        """Show the model's next gate or state (the RNN has one: h); the view shown."""
        views = self.views
        self.set_view(views[(views.index(self.view) + 1) % len(views)] if self.view in views else views[0])
        return self.view

    def on_resize(self) -> None:
        self._update_titles()  # a condensed column's panel names its view shorter

    @property
    def values(self) -> list[list[float]]:
        """[step][unit] for the shown view, or empty."""
        if self.probe is None:
            return []
        return self.probe.arrays.get(self.view, [])

    @property
    def steps(self) -> int:
        return len(self.values)

    @property
    def units(self) -> int:
        values = self.values
        return len(values[0]) if values else 0

    def cursor(self) -> tuple[int, int]:
        """(unit, step) clamped to the data; step counts from the first shown step."""
        steps, units = self.steps, self.units
        step = steps - 1 if self.cursor_step is None else self.cursor_step
        return min(max(0, self.cursor_unit), max(0, units - 1)), min(max(0, step), max(0, steps - 1))

    def action_move_cursor(self, units: int, steps: int) -> None:
        unit, step = self.cursor()
        self.cursor_unit = min(max(0, unit + units), max(0, self.units - 1))
        step = min(max(0, step + steps), max(0, self.steps - 1))
        # At the last step the cursor follows the newest step, as a log viewer's tail does.
        self.cursor_step = None if step >= self.steps - 1 else step
        self._update_titles()
        self.refresh()

    def _update_titles(self) -> None:
        name = VIEW_NAMES[self.view]
        epoch = f" · epoch {self.probe.epoch}" if self.probe else ""
        title = f"{self.title} {name}{epoch}"
        if 0 < self.outer_size.width - 6 < len(title):  # as "GRU z · ep 12"
            title = f"{self.title} {self.view}{f' · ep {self.probe.epoch}' if self.probe else ''}"
        self.border_title = title
        self.border_subtitle = "g: next gate" if len(self.views) > 1 else "units × steps"

    # -- drawing ------------------------------------------------------------------------

    def layout_for(self, width: int) -> tuple[int, bool]:
        """(cells per step, read-out beside the map?): beside it when there is room, as in
        a wide column; under it otherwise."""
        room = width - LABEL_WIDTH
        for cell in (2, 1):
            if room - self.steps * cell - SIDE_GAP >= SIDE_WIDTH:
                return cell, True
        return fit_cell(self.steps, room), False

    def get_content_height(self, container, viewport, width: int) -> int:  # noqa: ANN001
        if not self.units:
            return 1
        _, side = self.layout_for(width)
        return max(self.units, SIDE_LINES) + 1 if side else self.units + EXTRA_LINES

    def render(self) -> RenderResult:
        values = self.values
        probe = self.probe
        if probe is None or not values or not values[0]:
            return Text("waiting for the first probe…", "dim")
        colour = not self.app.no_color
        width = max(8, self.content_region.width or self.size.width)
        steps, units = self.steps, self.units
        unit, step = self.cursor()
        scale = view_scale(self.view, values)
        cell, side = self.layout_for(width)
        room = width - LABEL_WIDTH
        shown = range(steps)
        if cell == 0 and not colour:  # half blocks need colour: show the steps around the cursor
            cell, start = 1, min(max(0, step - room // 2), steps - room)
            shown = range(start, start + room)
        extra = 1 if side else EXTRA_LINES
        rows_room = max(1, (self.size.height or units + extra) - extra)
        first_unit = min(max(0, unit - rows_room // 2), units - rows_room) if units > rows_room else 0
        shown_units = range(first_unit, min(units, first_unit + rows_room))

        low = min(v for row in values for v in row)
        high = max(v for row in values for v in row)
        value = values[step][unit]
        if side:
            notes = self._side_notes(scale, colour, low, high, unit, step, value)
        else:
            key = legend(scale, min(width, 30), colour=colour)
            key.append(f"  range {format_value(low)}…{format_value(high)}", "dim")
            notes = [self._readout(unit, step, value, first_unit, len(shown_units)), key, saturation_line(probe)]

        heat_width = len(shown) * cell if cell else (steps + 1) // 2
        lines: list[Text] = []
        for u in shown_units:
            line = Text(no_wrap=True, overflow="crop")
            line.append(f"u{u:<{LABEL_WIDTH - 1}}"[:LABEL_WIDTH], "reverse" if u == unit else "dim")
            line.append_text(heat_cells([values[s][u] for s in shown], scale, cell, colour=colour,
                                        mark=step - shown.start if u == unit else None))
            lines.append(line)
        if side:
            while len(lines) < len(notes):
                lines.append(Text(" " * LABEL_WIDTH))
            for line, note in zip(lines, notes, strict=False):
                line.pad_right(LABEL_WIDTH + heat_width + SIDE_GAP - line.cell_len)
                line.append_text(note)
            lines.append(self._inputs_row(cell, shown, step))
        else:
            lines.append(self._inputs_row(cell, shown, step))
            lines.extend(notes)
        return Text("\n", no_wrap=True, overflow="crop").join(lines)

    def _side_notes(self, scale: Scale, colour: bool, low: float, high: float, unit: int, step: int,
                    value: float) -> list[Text]:
        """Legend, cursor read-out and saturation, one short line each, for beside the map."""
        probe = self.probe
        assert probe is not None
        back = self.steps - 1 - step
        day = probe.window_start + len(probe.window) - self.steps + step
        cls = probe.step_input(step)
        where = Text.assemble((f"u{unit} ", "bold"), ("t" if back == 0 else f"t-{back}", "bold"),
                              (f" · day {day:,}", "dim"))
        what = Text()
        if cls is not None:
            what.append(f"{self.class_name(cls)} ".ljust(7), self.class_style(cls))
        what.append(f"{self.view} = ", "dim")
        what.append(f"{value:.4f}", "bold")
        notes = [legend(scale, SIDE_WIDTH, colour=colour),
                 Text(f"range {format_value(low)}…{format_value(high)}", "dim"), where, what, Text()]
        if probe.overall_saturation is not None:  # the RNN
            per_unit = probe.saturation.get("h", ([],))[0]
            notes.append(Text("saturated |h| > 0.95", "dim"))
            notes.append(Text.assemble(("all cells ", "dim"), (f"{probe.overall_saturation:6.0%}", "bold")))
            if per_unit:
                worst = max(range(len(per_unit)), key=per_unit.__getitem__)
                notes.append(Text.assemble((f"most u{worst}".ljust(10), "dim"), f"{per_unit[worst]:6.0%}"))
                if unit < len(per_unit):
                    notes.append(Text.assemble((f"cursor u{unit}".ljust(10), "dim"), f"{per_unit[unit]:6.0%}"))
            return notes
        notes.append(Text(f"saturated  <0.1  >0.9  u{unit}", "dim"))
        for gate in gates_of(probe):
            low_share, high_share = probe.saturation.get(gate, ([], []))[:2]
            if not low_share:
                continue
            row = Text()
            row.append(gate.ljust(10), "bold" if gate == self.view else "dim")
            row.append(f"{sum(low_share) / len(low_share):5.0%}{sum(high_share) / len(high_share):6.0%}")
            if unit < len(low_share):
                row.append(f"  {low_share[unit]:.0%}/{high_share[unit]:.0%}", "dim")
            notes.append(row)
        return notes

    def class_name(self, cls: int) -> str:
        return self.class_names[cls] if 0 <= cls < len(self.class_names) else "?"

    def class_style(self, cls: int | None) -> str:
        return self._styles[cls] if cls is not None and 0 <= cls < len(self._styles) else "dim"

    def _inputs_row(self, cell: int, shown: range, cursor_step: int) -> Text:
        """The class fed in at each step, as its short label (tui.class_labels) under the columns."""
        row = Text(no_wrap=True, overflow="crop")
        row.append("in".ljust(LABEL_WIDTH), "dim")
        probe = self.probe
        if probe is None:
            return row
        if cell == 0:
            row.append(f"{self.steps} steps, two per cell", "dim")
            return row
        for s in shown:
            cls = probe.step_input(s)
            letter = self._labels[cls] if cls is not None and 0 <= cls < len(self._labels) else "?"
            style = self.class_style(cls)
            if s == cursor_step:
                style += " reverse"
            row.append(letter.ljust(cell), style)
        return row

    def _readout(self, unit: int, step: int, value: float, first_unit: int, rows: int) -> Text:
        """Exactly what is under the cursor: unit, step, day, input and value."""
        probe = self.probe
        assert probe is not None
        back = self.steps - 1 - step
        day = probe.window_start + len(probe.window) - self.steps + step
        cls = probe.step_input(step)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"u{unit} ", "bold")
        text.append("t" if back == 0 else f"t-{back}", "bold")
        if self.size.width < NARROW:  # a condensed column: the value before what may be cut
            text.append(f" {self.view}=", "dim")
            text.append(f"{value:.3f} ", "bold")
            if cls is not None:
                text.append(self.class_name(cls), self.class_style(cls))
            text.append(f" day {day:,}", "dim")
            return text
        text.append(f" day {day:,} ", "dim")
        if cls is not None:
            text.append(self.class_name(cls), self.class_style(cls))
        text.append(f"  {self.view} = ", "dim")
        text.append(f"{value:.4f}", "bold")
        if self.units > rows:
            text.append(f"  units {first_unit}–{first_unit + rows - 1} of {self.units}", "dim")
        return text
