"""A model's live loss chart: train and validation curves, chance line, best achievable loss."""

from __future__ import annotations

from rich.text import Text
from textual.app import RenderResult
from textual_plotext import PlotextPlot

from tui.plotext_text import figure_text
from tui.state import DashboardState, ModelState

TRAIN_COLOR = "cyan+"
VAL_COLOR = "yellow+"
CHANCE_COLOR = "red"
BEST_COLOR = "green+"


class LossChart(PlotextPlot):
    """Plots one model's losses; rebuilds the plotext figure only when data, size or scale change."""

    can_focus = True
    ALLOW_MAXIMIZE = True

    def __init__(self, model: str, title: str, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.model = model
        self.title = title
        self.log_scale = False
        self._data: ModelState | None = None
        self._chance = 1.0986
        self._best: float | None = None
        self._version = 0
        self._cache_key: tuple | None = None
        self._cache: Text | None = None
        self.border_title = title
        self.border_subtitle = "epoch"

    def show(self, state: DashboardState) -> None:
        """Take the latest data from the state; the figure is rebuilt on the next render."""
        model = state.models[self.model]
        self._data = model
        self._chance = state.chance_loss
        self._best = state.best_loss
        self._version += 1
        parts = [self.title]
        if model.train_loss is not None:
            parts.append(f"train {model.train_loss:.4f}")
        if model.val_loss is not None:
            parts.append(f"val {model.val_loss:.4f}")
        self.border_title = " · ".join(parts)
        self.refresh()

    def set_log_scale(self, on: bool) -> None:
        self.log_scale = on
        self.refresh()

    def render(self) -> RenderResult:
        width, height = self.size.width, self.size.height
        key = (self._version, width, height, self.log_scale, self.app.theme)
        if key != self._cache_key or self._cache is None:
            try:
                self._draw(width)
                self._cache = self._build_text(width, height)
            except Exception as exc:  # noqa: BLE001 - a plotting library's bug must not end the app
                self._cache = Text(f"chart unavailable: {type(exc).__name__}: {exc}", "red")
            self._cache_key = key
        return self._cache

    def _build_text(self, width: int, height: int) -> Text:
        """What PlotextPlot.render does, minus the ANSI round trip (see tui.plotext_text)."""
        plot = self.plt
        plot.plotsize(width, height)
        plot._set_size(width, height)  # as textual-plotext does: resizing misbehaves without it
        plot.theme(self._get_plotext_theme_name(self.app.theme))
        return figure_text(plot)

    def _draw(self, width: int) -> None:
        plt = self.plt
        plt.clear_figure()
        # About one point per column: plotext's cost grows with points, the screen's does not.
        budget = max(8, width - 8)
        data = self._data
        lows: list[float] = [self._chance]
        highs: list[float] = [self._chance]
        x_last = 1.0
        if data is not None:
            for series, label, color in ((data.train, "train", TRAIN_COLOR), (data.val, "val", VAL_COLOR)):
                xs, ys = series.points(budget)
                if xs:
                    plt.plot(xs, ys, label=label, color=color, marker="braille")
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
