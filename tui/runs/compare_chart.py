"""One model's validation loss for several runs on one chart, with a legend naming the runs.

The chart is given every compared run, in one order for every chart, so a run keeps its colour
on each; a run without this model (it trained others) has None and no curve here. Its reference
lines are the compared runs' own: each one's chance (ln K of its K classes), and a csv run's
lowest baseline (engine/baselines.py), each value drawn once."""

from __future__ import annotations

import math
from collections.abc import Sequence

from engine.baselines import CHANCE, baseline_title, best_baseline
from engine.config import CHANCE_LOSS, NUM_CLASSES
from engine.history import ModelHistory, RunHistory
from tui.reference_lines import against_baselines
from tui.widgets.cached_plot import CachedPlot

# plotext's 16 colours, red aside (the chance line's): a run keeps its colour on both charts.
PALETTE = ("cyan+", "orange+", "magenta+", "green+", "blue+", "white",
           "cyan", "orange", "magenta", "green", "blue")
CHANCE_COLOR = "red"
BASELINE_COLOR = "yellow"
Line = tuple[float, str, str]  # a reference line: loss, label, colour


def reference_lines(runs: Sequence[tuple[str, RunHistory]]) -> list[Line]:
    """The lines a comparison of ``runs`` (name, history) draws: each run's chance, ln K, and a
    csv run's lowest baseline; one line per value. A label that several values share (two files'
    Markov lines) names its run. Chance ln 3 while no run has said its classes."""
    found: dict[tuple[str, float], list[str]] = {}
    for name, history in runs:
        if not history.runs and history.task == "csv":
            continue  # its classes are in its log, not read yet
        found.setdefault((f"chance ln {len(history.classes)}", round(history.chance_loss, 6)), []).append(name)
        best = best_baseline(history.baselines) if against_baselines(history) else None
        if best is not None and best[0] != CHANCE:
            found.setdefault((baseline_title(best[0]), round(best[1], 6)), []).append(name)
    if not found:
        return [(CHANCE_LOSS, f"chance ln {NUM_CLASSES}", CHANCE_COLOR)]
    labels = [label for label, _ in found]
    return [(value, label if labels.count(label) == 1 else f"{label} ({', '.join(names)})",
             CHANCE_COLOR if label.startswith("chance") else BASELINE_COLOR)
            for (label, value), names in found.items()]


def merged_lines(lines: Sequence[Line], row: float) -> list[Line]:
    """``lines`` with those less than a ``row`` of loss apart drawn as one, their labels joined
    ('chance ln 64 · Markov order 1'): on one row of the chart a label would cover the other."""
    merged: list[Line] = []
    for value, label, color in sorted(lines):
        if merged and value - merged[-1][0] < row:
            first, joined, first_color = merged[-1]
            merged[-1] = (first, f"{joined} · {label}", first_color)
        else:
            merged.append((value, label, color))
    return merged


class CompareChart(CachedPlot):
    """Validation loss per run (train too, dimmed, when ``show_train``), and the runs' reference
    lines (reference_lines)."""

    def __init__(self, model: str, title: str, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.model = model
        self.title = title
        self.show_train = False
        self._runs: list[tuple[str, ModelHistory | None]] = []
        self.lines: list[Line] = reference_lines([])
        self.border_title = title

    def show(self, runs: list[tuple[str, ModelHistory | None]], lines: list[Line] | None = None) -> None:
        """Take each run's name and this model's curves (None: the run has no such model), and
        the reference lines (reference_lines; None: those shown); the figure is rebuilt on the
        next render."""
        self._runs = runs
        if lines is not None:
            self.lines = lines
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
        lows = [value for value, _, _ in self.lines]
        highs = list(lows)
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
        low, high = min(lows), max(highs)
        pad = (high - low) * 0.08 or 0.05
        if self.log_scale:
            # plotext cannot place text on a log axis: the lines are named in the legend.
            # Three points: plotext draws a legend entry's sample from a curve's first three.
            xs = [1.0, (1.0 + x_high) / 2, x_high]
            for value, label, color in self.lines:
                plt.plot(xs, [value] * 3, label=label, color=color, marker="braille")
            plt.yscale("log")
        else:  # plotext's log axis fails (IndexError) on ylim spans within a decade: no ylim there
            # Room above the curves for the legend's rows (the plot has about height - 5 rows).
            rows = self.size.height - 5
            span = high - low + 2 * pad
            headroom = span * legend / (rows - legend) if rows > 2 * legend else 0.0
            plt.ylim(low - pad, high + pad + headroom)
            for value, label, color in merged_lines(self.lines, (span + headroom) / max(1, rows)):
                plt.hline(value, color)
                # At the right: the legend takes the top left, where falling curves start.
                plt.text(label, x=x_high, y=value, color=color, alignment="right")
        plt.xlim(1.0, x_high)
        count = max(2, min(6, width // 12))
        ticks = sorted({round(1.0 + i * (x_high - 1.0) / (count - 1)) for i in range(count)})
        plt.xticks(ticks, [f"{t:,}" for t in ticks])
