"""A model's live loss chart: train and validation curves, chance line, best achievable loss."""

from __future__ import annotations

from tui.state import DashboardState, ModelState
from tui.widgets.cached_plot import CachedPlot

TRAIN_COLOR = "cyan+"
VAL_COLOR = "yellow+"
CHANCE_COLOR = "red"
BEST_COLOR = "green+"
RAW_COLOR = "gray"  # the raw curve, behind a smoothed one


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
        self.border_title = title
        self.border_subtitle = "epoch"

    def show(self, state: DashboardState) -> None:
        """Take the latest data from the state; the figure is rebuilt on the next render."""
        model = state.models[self.model]
        self._data = model
        self._chance = state.chance_loss
        self._best = state.best_loss
        parts = [self.title]
        if model.train_loss is not None:
            parts.append(f"train {model.train_loss:.4f}")
        if model.val_loss is not None:
            parts.append(f"val {model.val_loss:.4f}")
        self.border_title = " ".join(parts)
        # Named under the chart and in its legend: the title keeps the logged (raw) values.
        self.border_subtitle = f"ema {self.smoothing:g} · epoch" if self.smoothing else "epoch"
        self.changed()

    def set_smoothing(self, weight: float, state: DashboardState) -> None:
        self.smoothing = weight
        self.show(state)

    def draw(self, width: int) -> None:
        plt = self.plt
        # About one point per column: plotext's cost grows with points, the screen's does not.
        budget = max(8, width - 8)
        data = self._data
        lows: list[float] = [self._chance]
        highs: list[float] = [self._chance]
        x_last = 1.0
        if data is not None:
            curves = ((data.train, data.train_smoothed, "train", TRAIN_COLOR),
                      (data.val, data.val_smoothed, "val", VAL_COLOR))
            if self.smoothing:  # raw curves first, dimmed, so the smoothed ones draw over them
                for raw, _, _, _ in curves:
                    xs, ys = raw.points(budget)
                    if xs:
                        plt.plot(xs, ys, color=RAW_COLOR, marker="braille")
                        lows.append(min(ys))
                        highs.append(max(ys))
            for raw, smoothed, label, color in curves:
                series = smoothed.curves.get(self.smoothing, raw) if self.smoothing else raw
                xs, ys = series.points(budget)
                if xs:
                    name = f"{label} ema {self.smoothing:g}" if self.smoothing else label
                    plt.plot(xs, ys, label=name, color=color, marker="braille")
                    lows.append(min(ys))
                    highs.append(max(ys))
                    x_last = max(x_last, xs[-1])
        lines = [(self._chance, "chance ln 3", CHANCE_COLOR)]
        if self._best is not None:
            lines.append((self._best, f"best {self._best:.3f}", BEST_COLOR))
            lows.append(self._best)
        for y, label, color in lines:
            if self.log_scale:
                # plotext cannot place text on a log axis (IndexError): name the line in the legend.
                plt.plot([1, max(2.0, x_last)], [y, y], label=label, color=color)
            else:
                plt.hline(y, color)
                plt.text(label, x=1, y=y, color=color, alignment="left")
        low, high = min(lows), max(highs)
        if self.log_scale:
            plt.yscale("log")
            low = max(low, 1e-6)
        pad = (high - low) * 0.08 or 0.05
        plt.ylim(max(low - pad, 1e-6) if self.log_scale else low - pad, high + pad)
        x_high = max(2.0, x_last)
        plt.xlim(1, x_high)
        # Whole epochs on the axis: plotext's own ticks would read 4.5, 8.0, ...
        count = max(2, min(6, width // 12))
        ticks = sorted({round(1 + i * (x_high - 1) / (count - 1)) for i in range(count)})
        plt.xticks(ticks, [f"{t:,}" for t in ticks])
