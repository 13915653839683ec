"""One model's validation loss for several runs on one chart, with a legend naming the runs.

The chart is given every compared run, in one order for every chart, so a run keeps its colour
on each; a run without this model (it trained others) has None and no curve here."""

from __future__ import annotations

import math

from engine.history import ModelHistory
from tui.widgets.cached_plot import CachedPlot

# plotext's 16 colours, red aside (the chance line's): a run keeps its colour on both charts.
PALETTE = ("cyan+", "orange+", "magenta+", "green+", "blue+", "white",
           "cyan", "orange", "magenta", "green", "blue")
CHANCE_COLOR = "red"
CHANCE_LOSS = math.log(3)


class CompareChart(CachedPlot):
    """Validation loss per run (train too, dimmed, when ``show_train``), and the chance line."""

    def __init__(self, model: str, title: str, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.model = model
        self.title = title
        self.show_train = False
        self._runs: list[tuple[str, ModelHistory | None]] = []
        self.border_title = title

    def show(self, runs: list[tuple[str, ModelHistory | None]]) -> None:
        """Take each run's name and this model's curves (None: the run has no such model); the
        figure is rebuilt on the next render."""
        self._runs = runs
        best = [(m.val_loss, name) for name, m in runs
                if m is not None and m.val_loss is not None and math.isfinite(m.val_loss)]
        self.border_title = f"{self.title} · validation loss"
        if best:
            loss, name = min(best)
            self.border_title += f" · lowest now {loss:.4f} ({name})"
        self.border_subtitle = " · ".join(
            ["train dimmed"] * self.show_train + ["log scale"] * self.log_scale + ["epoch"])
        self.changed()

    def set_show_train(self, on: bool) -> None:
        self.show_train = on
        self.show(self._runs)

    def curve_labels(self) -> list[str]:
        """The legend's entries, in drawing order."""
        labels = []
        for name, model in self._runs:
            if model is None:
                continue
            if self.show_train and model.train is not None and len(model.train):
                labels.append(f"{name} train")
            if model.val is not None and len(model.val):
                labels.append(name)
            elif model.train is not None and len(model.train):
                labels.append(f"{name} train")  # no validation split: its train curve stands in
        return labels

    def draw(self, width: int) -> None:
        plt = self.plt
        budget = max(8, width - 8)  # about one point per column, as the loss chart does
        lows, highs = [CHANCE_LOSS], [CHANCE_LOSS]
        x_last = 1.0
        for index, (name, model) in enumerate(self._runs):
            if model is None:
                continue
            color = PALETTE[index % len(PALETTE)]
            curves = []
            has_val = model.val is not None and len(model.val) > 0
            if model.train is not None and (self.show_train or not has_val):
                curves.append((model.train, f"{name} train", "dim" if has_val else None))
            if has_val:
                curves.append((model.val, name, None))
            for series, label, style in curves:
                xs, ys = series.points(budget)
                if not xs:
                    continue
                plt.plot(xs, ys, label=label, color=color, marker="braille", style=style)
                lows.append(min(ys))
                highs.append(max(ys))
                x_last = max(x_last, xs[-1])
        x_high = max(2.0, x_last)
        legend = len(self.curve_labels())
        if self.log_scale:
            # plotext cannot place text on a log axis: the chance line is named in the legend.
            # Three points: plotext draws a legend entry's sample from a curve's first three.
            xs = [1.0, (1.0 + x_high) / 2, x_high]
            plt.plot(xs, [CHANCE_LOSS] * 3, label="chance ln 3", color=CHANCE_COLOR, marker="braille")
            plt.yscale("log")
        else:
            plt.hline(CHANCE_LOSS, CHANCE_COLOR)
            # At the right: the legend takes the top left, where falling curves start.
            plt.text("chance ln 3", x=x_high, y=CHANCE_LOSS, color=CHANCE_COLOR, alignment="right")
        low, high = min(lows), max(highs)
        pad = (high - low) * 0.08 or 0.05
        if not self.log_scale:  # plotext's log axis fails (IndexError) on ylim spans within a decade
            # Room above the curves for the legend's rows (the plot has about height - 5 rows).
            rows = self.size.height - 5
            span = high - low + 2 * pad
            headroom = span * legend / (rows - legend) if rows > 2 * legend else 0.0
            plt.ylim(low - pad, high + pad + headroom)
        plt.xlim(1.0, x_high)
        count = max(2, min(6, width // 12))
        ticks = sorted({round(1.0 + i * (x_high - 1.0) / (count - 1)) for i in range(count)})
        plt.xticks(ticks, [f"{t:,}" for t in ticks])
