"""A model's live loss chart: train and validation curves, chance line, best achievable loss."""

from __future__ import annotations

import time

import numpy as np

from tui.state import DashboardState, ModelState
from tui.widgets.cached_plot import CachedPlot

TRAIN_COLOR = "cyan+"
VAL_COLOR = "yellow+"
CHANCE_COLOR = "red"
BEST_COLOR = "green+"
RAW_COLOR = "gray"  # the raw curve, behind a smoothed one
X_MODES = ("epoch", "wall", "elapsed")  # `x` cycles them
X_LABELS = {"epoch": "epoch", "wall": "wall-clock time", "elapsed": "time since start"}


class LossChart(CachedPlot):
    """Plots one model's losses; rebuilds the plotext figure only when data, size or scale change."""

    def __init__(self, model: str, title: str, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.model = model
        self.title = title
        self._data: ModelState | None = None
        self._chance = 1.0986
        self._best: float | None = None
        self.smoothing = 0.0  # 0: raw curves; else the EMA weight drawn over dimmed raw ones
        self.x_mode = "epoch"
        self._started = 0.0  # wall time the run started, for "time since start"
        self.border_title = title
        self.border_subtitle = "epoch"

    def show(self, state: DashboardState) -> None:
        """Take the latest data from the state; the figure is rebuilt on the next render."""
        model = state.models[self.model]
        self._data = model
        self._chance = state.chance_loss
        self._best = state.best_loss
        self._started = state.started_at or 0.0
        parts = [self.title]
        if model.train_loss is not None:
            parts.append(f"train {model.train_loss:.4f}")
        if model.val_loss is not None:
            parts.append(f"val {model.val_loss:.4f}")
        self.border_title = " ".join(parts)
        # Named under the chart and in its legend: the title keeps the logged (raw) values.
        axis = X_LABELS[self.x_mode]
        self.border_subtitle = f"ema {self.smoothing:g} · {axis}" if self.smoothing else axis
        self.changed()

    def set_smoothing(self, weight: float, state: DashboardState) -> None:
        self.smoothing = weight
        self.show(state)

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
        seconds = np.interp(epochs, known_epochs, times)
        if self.x_mode == "elapsed":
            seconds = seconds - self._started
        return [float(t) for t in seconds]

    def draw(self, width: int) -> None:
        plt = self.plt
        # About one point per column: plotext's cost grows with points, the screen's does not.
        budget = max(8, width - 8)
        data = self._data
        lows: list[float] = [self._chance]
        highs: list[float] = [self._chance]
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
                epochs, ys = series.points(budget)
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
        lines = [(self._chance, "chance ln 3", CHANCE_COLOR)]
        if self._best is not None:
            lines.append((self._best, f"best {self._best:.3f}", BEST_COLOR))
            lows.append(self._best)
        for y, label, color in lines:
            if self.log_scale:
                # plotext cannot place text on a log axis (IndexError): name the line in the legend.
                plt.plot([x_low, x_high], [y, y], label=label, color=color)
            else:
                plt.hline(y, color)
                plt.text(label, x=x_low, y=y, color=color, alignment="left")
        low, high = min(lows), max(highs)
        if self.log_scale:
            plt.yscale("log")
            low = max(low, 1e-6)
        pad = (high - low) * 0.08 or 0.05
        plt.ylim(max(low - pad, 1e-6) if self.log_scale else low - pad, high + pad)
        plt.xlim(x_low, x_high)
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
