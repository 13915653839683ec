"""A model's live loss chart: train and validation curves against reference lines: chance and the
best achievable loss on a built-in task; on a csv file's series, chance, the class frequencies'
line and the lowest of its data's baselines (tui.reference_lines), and which of them the model's
validation loss is under."""

from __future__ import annotations

import time

from textual import events
from textual.binding import Binding
from textual.message import Message

from engine.baselines import CHANCE, FREQUENCY, baseline_title, best_baseline
from tui.dashboard.state import DashboardState, ModelState
from tui.reference_lines import against_baselines, verdict
from tui.runs.compare_chart import merged_lines
from tui.widgets.cached_plot import CachedPlot

TRAIN_COLOR = "cyan+"
VAL_COLOR = "yellow+"
CHANCE_COLOR = "red"
BEST_COLOR = "green+"
BASELINE_COLOR = "yellow"  # as the compare view's (tui/runs/compare_chart.py)
RAW_COLOR = "gray"  # the raw curve, behind a smoothed one
CURSOR_COLOR = "white"
X_MODES = ("epoch", "wall", "elapsed")  # `x` cycles them
X_LABELS = {"epoch": "epoch", "wall": "wall-clock time", "elapsed": "time since start"}
Line = tuple[float, str, str]  # a reference line: loss, label, colour


def chart_lines(state: DashboardState) -> list[Line]:
    """The reference lines of the run's charts: chance (ln K), then on a csv series the class
    frequencies' line and its lowest baseline (when that is neither), else the best achievable
    loss where the task has one (the echo's)."""
    lines: list[Line] = [(state.chance_loss, f"chance ln {len(state.classes)}", CHANCE_COLOR)]
    if against_baselines(state):
        best = best_baseline(state.baselines)
        for name in dict.fromkeys((FREQUENCY, best[0] if best else FREQUENCY)):
            if name != CHANCE and name in state.baselines:
                lines.append((state.baselines[name], baseline_title(name), BASELINE_COLOR))
    elif state.best_loss is not None:
        lines.append((state.best_loss, f"best {state.best_loss:.3f}", BEST_COLOR))
    return lines


class LossChart(CachedPlot):
    """Plots one model's losses; rebuilds the plotext figure only when data, size or scale change.

    With focus, left/right/home/end move a cursor (an epoch, shared by every model's chart: the
    screen moves them together); the bottom border then reads out that epoch's losses. A click puts
    the cursor there; the mouse wheel zooms the x range around it.
    """

    BINDINGS = [
        Binding("left", "cursor('left')", "Earlier", show=False, tooltip="Loss-chart cursor one epoch earlier"),
        Binding("right", "cursor('right')", "Later", show=False, tooltip="Loss-chart cursor one epoch later"),
        Binding("home", "cursor('home')", "First", show=False, tooltip="Loss-chart cursor to the first epoch"),
        Binding("end", "cursor('end')", "Live", show=False,
                tooltip="Loss-chart cursor to the last epoch, following new ones"),
    ]

    class CursorMove(Message):
        """The user moved the cursor: ``kind`` is left, right, home, end or to (``epoch``)."""

        def __init__(self, kind: str, epoch: float | None = None) -> None:
            super().__init__()
            self.kind = kind
            self.epoch = epoch

    class Zoom(Message):
        """The mouse wheel over a chart: ``factor`` < 1 zooms in around the cursor."""

        def __init__(self, factor: float) -> None:
            super().__init__()
            self.factor = factor

    def __init__(self, model: str, title: str, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.model = model
        self.title = title
        self._data: ModelState | None = None
        self._lines: list[Line] = [(1.0986, "chance ln 3", CHANCE_COLOR)]
        self._verdict = ""  # on a csv series: the baseline the validation loss is under
        self.smoothing = 0.0  # 0: raw curves; else the EMA weight drawn over dimmed raw ones
        self.x_mode = "epoch"
        self.cursor_epoch: int | None = None
        self.zoom: tuple[float, float] | None = None  # epochs shown, when zoomed in
        self._started = 0.0  # wall time the run started, for "time since start"
        self._x_span: tuple[float, float] = (1.0, 2.0)  # the x range last drawn, for clicks
        self.border_title = title
        self.border_subtitle = "epoch"

    def show(self, state: DashboardState) -> None:
        """Take the latest data from the state; the figure is rebuilt on the next render."""
        model = state.models[self.model]
        self._data = model
        self._lines = chart_lines(state)
        self._verdict = verdict(model.val_loss, state.baselines) if against_baselines(state) else ""
        self._started = state.started_at or 0.0
        self._update_title()
        # Also named under the chart and in its legend: the title's values stay the logged ones.
        axis = X_LABELS[self.x_mode]
        axis = f"ema {self.smoothing:g} · {axis}" if self.smoothing else axis
        self.border_subtitle = axis
        if self._verdict and self._verdict != "-":  # first: where the border is short, it alone, shorter
            said = self._verdict
            shorter = said.replace("Markov order ", "Markov ").replace("(the lowest)", "(lowest)")
            room = self.outer_size.width - 6
            self.border_subtitle = next((t for t in (f"{said} · {axis}", f"{shorter} · {axis}", said)
                                         if len(t) <= room), shorter)
        if self.cursor_epoch is not None:
            self.border_subtitle = self.readout(model, self.cursor_epoch)
        self.changed()

    def _update_title(self) -> None:
        """The model's name and latest losses, as short as the border needs (a condensed column)."""
        model = self._data
        if model is None:
            return
        parts = [self.title]
        if model.train_loss is not None:
            parts.append(f"train {model.train_loss:.4f}")
        if model.val_loss is not None:
            parts.append(f"val {model.val_loss:.4f}")
        title = " ".join(parts)
        room = self.outer_size.width - 6  # the border's corners, and a line and a space each side
        if 0 < room < len(title) and model.train_loss is not None:
            # Shorter, as a condensed column needs: both losses, else the validation one alone.
            train, val = f"{model.train_loss:.3f}", f"{model.val_loss:.3f}" if model.val_loss is not None else None
            shorter = [f"{self.title} {train}/{val}", f"{self.title} val {val}", f"{self.title} {val}"] if val \
                else [f"{self.title} {train}"]
            title = next((t for t in shorter if len(t) <= room), shorter[-1])
        if self.smoothing and len(title) + 10 <= self.size.width - 4:  # when the border has room
            title += f" · ema {self.smoothing:g}"
        self.border_title = title

    def on_resize(self) -> None:
        self._update_title()

    def set_smoothing(self, weight: float, state: DashboardState) -> None:
        self.smoothing = weight
        self.show(state)

    @staticmethod
    def readout(model: ModelState, epoch: int) -> str:
        """The logged losses at ``epoch`` (a range, when that stretch of a long run is thinned)."""
        parts = [f"ep {epoch:,}"]
        for name, series in (("train", model.train), ("val", model.val)):
            reading = series.at(epoch)
            if reading is None:
                continue
            if reading.exact:
                parts.append(f"{name} {reading.low:.4f}")
            else:
                parts.append(f"{name} {reading.low:.4f}–{reading.high:.4f} "
                             f"(ep {reading.first_x:,.0f}–{reading.last_x:,.0f})")
        return " ".join(parts)  # the chart's bottom border is narrow: no separators

    def set_cursor(self, epoch: int | None, state: DashboardState) -> None:
        self.cursor_epoch = epoch
        self.show(state)

    def set_zoom(self, span: tuple[float, float] | None, state: DashboardState) -> None:
        self.zoom = span
        self.show(state)

    def action_cursor(self, kind: str) -> None:
        self.post_message(self.CursorMove(kind))

    def on_click(self, event: events.Click) -> None:
        """The cursor goes to the epoch under the pointer (the plot's frame is found in the
        drawn text: plotext puts the box corners at the plot area's edges)."""
        text = self.drawn_lines
        top = next((line for line in text if "┌" in line and "┐" in line), None)
        if top is None:
            return
        left, right = top.index("┌") + 1, top.rindex("┐") - 1
        x = event.x - self.gutter.left
        if right <= left or not left <= x <= right:
            return
        low, high = self._x_span
        position = low + (x - left) / (right - left) * (high - low)
        epoch = self._to_epoch(position)
        self.post_message(self.CursorMove("to", epoch))

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.post_message(self.Zoom(0.8))

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.post_message(self.Zoom(1.25))

    def _to_epoch(self, x: float) -> float:
        """The inverse of ``_to_x``: an x position on the axis as an epoch."""
        data = self._data
        if self.x_mode == "epoch" or data is None:
            return x
        known_epochs, times = data.times.points()
        if not known_epochs:
            return x
        if self.x_mode == "elapsed":
            x += self._started
        import numpy as np  # loaded with the charts' drawing, after the first frame

        return float(np.interp(x, times, known_epochs))

    def set_x_mode(self, mode: str, state: DashboardState) -> None:
        self.x_mode = mode
        self.show(state)

    def _to_x(self, epochs: list[float]) -> list[float]:
        """Epochs as the x axis shows them: epochs, or seconds (wall clock or since the start),
        interpolated between the epochs whose end times the state kept."""
        data = self._data
        if self.x_mode == "epoch" or data is None:
            return epochs
        known_epochs, times = data.times.points()
        if not known_epochs:
            return epochs
        import numpy as np  # loaded with the charts' drawing, after the first frame

        seconds = np.interp(epochs, known_epochs, times)
        if self.x_mode == "elapsed":
            seconds = seconds - self._started
        return [float(t) for t in seconds]

    def draw(self, width: int) -> None:
        plt = self.plt
        # About one point per column: plotext's cost grows with points, the screen's does not.
        budget = max(8, width - 8)
        data = self._data
        lows: list[float] = [value for value, _, _ in self._lines]
        highs: list[float] = [self._lines[0][0]]  # chance: where the curves start
        x_first = x_last = None
        if data is not None:
            curves = ((data.train, data.train_smoothed, "train", TRAIN_COLOR),
                      (data.val, data.val_smoothed, "val", VAL_COLOR))
            drawn = []
            if self.smoothing:  # raw curves first, dimmed, so the smoothed ones draw over them
                drawn += [(raw, None, RAW_COLOR) for raw, _, _, _ in curves]
            for raw, smoothed, label, color in curves:
                series = smoothed.curves.get(self.smoothing, raw) if self.smoothing else raw
                drawn.append((series, f"{label} ema {self.smoothing:g}" if self.smoothing else label, color))
            for series, name, color in drawn:
                epochs, ys = series.points(budget, between=self.zoom)
                if not epochs:
                    continue
                xs = self._to_x(epochs)
                plt.plot(xs, ys, label=name, color=color, marker="braille")
                lows.append(min(ys))
                highs.append(max(ys))
                x_first = xs[0] if x_first is None else min(x_first, xs[0])
                x_last = xs[-1] if x_last is None else max(x_last, xs[-1])
        x_low = x_first if x_first is not None else (1.0 if self.x_mode == "epoch" else 0.0)
        x_high = max(x_low + 1.0, x_last if x_last is not None else x_low + 1.0)
        low, high = min(lows), max(highs)
        rows = max(1, self.size.height - 3)  # the plot's rows: all but its frame and the x ticks
        # Lines within a row of each other drawn as one, labels joined: else one label covers another.
        lines = self._lines if self.log_scale else merged_lines(self._lines, (high - low) * 1.16 / rows)
        for y, label, color in lines:
            if self.log_scale:
                # plotext cannot place text on a log axis (IndexError): name the line in the legend.
                plt.plot([x_low, x_high], [y, y], label=label, color=color)
            else:
                plt.hline(y, color)
                plt.text(label, x=x_low, y=y, color=color, alignment="left")
        if self.log_scale:
            # plotext's own log-axis range: limits set within one decade (the usual case near
            # ln 3) make it fail with an IndexError while laying out the ticks.
            plt.yscale("log")
        else:
            pad = (high - low) * 0.08 or 0.05
            plt.ylim(low - pad, high + pad)
        if self.zoom is not None:  # the zoomed range, even where a curve has no point
            x_low, x_high = self._to_x([self.zoom[0]])[0], self._to_x([self.zoom[1]])[0]
            x_high = max(x_high, x_low + 1e-9)
        if self.cursor_epoch is not None:
            plt.vline(self._to_x([self.cursor_epoch])[0], CURSOR_COLOR)
        plt.xlim(x_low, x_high)
        self._x_span = (x_low, x_high)
        # Whole epochs, or readable times, on the axis: plotext's own ticks would read 4.5, 8.0...
        count = max(2, min(6, width // 12))
        ticks = sorted({x_low + i * (x_high - x_low) / (count - 1) for i in range(count)})
        if self.x_mode == "epoch":
            ticks = sorted({round(t) for t in ticks})
        plt.xticks(ticks, [tick_label(t, self.x_mode) for t in ticks])


def tick_label(x: float, mode: str) -> str:
    """An x tick: an epoch number, a local clock time, or a duration since the start."""
    if mode == "epoch":
        return f"{round(x):,}"
    if mode == "wall":
        return time.strftime("%H:%M:%S", time.localtime(x))
    seconds = max(0, round(x))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
