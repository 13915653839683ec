"""The sweep's chart: success rate against the swept axis, a line per model, 95 % intervals as bars.

``draw_summary`` draws into any plotext figure (a CachedPlot's ``plt`` on the live screen, or a
bare figure here); ``summary_svg`` renders one through Rich into summary.svg. Where no row has a
success rate (the seed task: nothing to learn), the chart shows the mean volatility with its t
interval instead, and failing that the mean final validation loss.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.text import Text

from engine.config import MODEL_TITLES
from engine.sweep.grid import Grid
from engine.sweep.summary import SummaryRow

COLORS = ("cyan+", "orange+", "magenta+", "green+", "blue+", "red+", "cyan", "orange", "magenta", "green")
SVG_SIZE = (100, 30)  # columns and rows of the chart in summary.svg


@dataclass(frozen=True)
class Measure:
    """What the chart plots: a column of the rows, its interval's columns, and its words."""

    value: str
    low: str
    high: str
    label: str
    unit_range: bool  # a rate: the y axis runs from 0 to 1


RATE = Measure("success_rate", "rate_low", "rate_high", "success rate (95 % Wilson interval)", True)
VOLATILITY = Measure("volatility", "volatility_low", "volatility_high",
                     "volatility: sd of epoch-to-epoch train-loss changes (mean, 95 % t interval)", False)
FINAL_VAL = Measure("final_val_loss", "final_val_low", "final_val_high",
                    "final validation loss, nats (mean, 95 % t interval)", False)


def measure_of(rows: Sequence[SummaryRow]) -> Measure:
    for measure in (RATE, VOLATILITY, FINAL_VAL):
        if any(getattr(row, measure.value) is not None for row in rows):
            return measure
    return RATE


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def x_positions(grid: Grid) -> tuple[str | None, dict[str, float]]:
    """(the x axis's field: the first swept one, or None; each of its texts' x). A numeric axis
    (lag) is placed by value, any other (forget-bias default,2; a preset) one step apart."""
    if not grid.axes:
        return None, {"": 0.0}
    axis = grid.axes[0]
    texts = grid.flags[axis]
    numbers = [_number(text) for text in texts]
    if all(n is not None for n in numbers):
        return axis, {text: float(n) for text, n in zip(texts, numbers) if n is not None}
    return axis, {text: float(i) for i, text in enumerate(texts)}


LEGEND_HEADROOM = 0.08  # of the 0..1 range, per legend row
RATE_TICKS = [0, 0.25, 0.5, 0.75, 1]


def draw_summary(plt, grid: Grid, rows: Sequence[SummaryRow]) -> str:  # noqa: ANN001 - plotext's figure
    """Draw the chart into ``plt``; its title."""
    measure = measure_of(rows)
    axis, xs = x_positions(grid)
    series: dict[tuple[str, tuple[tuple[str, str], ...]], list[SummaryRow]] = {}
    for row in rows:
        rest = tuple((name, text) for name, text in row.point if name != axis)
        series.setdefault((row.model, rest), []).append(row)
    spacing = min((b - a for a, b in zip(sorted(xs.values()), sorted(xs.values())[1:])), default=1.0) or 1.0
    step = spacing * 0.5 / max(1, len(series))
    for i, ((model, rest), members) in enumerate(series.items()):
        color = COLORS[i % len(COLORS)]
        offset = (i - (len(series) - 1) / 2) * step
        label = " ".join([MODEL_TITLES.get(model, model), *(f"{n.replace('_', '-')} {t}" for n, t in rest)])
        points = []
        for row in members:
            value = getattr(row, measure.value)
            if value is None:
                continue
            x = xs[dict(row.point).get(axis, "")] + offset if axis else offset
            points.append((x, value, getattr(row, measure.low), getattr(row, measure.high)))
        if not points:
            continue
        points.sort()
        plt.plot([p[0] for p in points], [p[1] for p in points], label=label, color=color, marker="dot")
        for x, _, low, high in points:
            if low is not None and high is not None:
                plt.plot([x, x], [low, high], color=color, marker="│")
    if measure.unit_range:
        # Headroom above 1 for plotext's legend (top left, a row per line), so it never hides
        # the rates at 1.0 that short lags reach; the ticks stay within 0..1.
        plt.ylim(0, 1 + LEGEND_HEADROOM * len(series))
        plt.yticks(RATE_TICKS)
    if axis:  # ticks at the swept values themselves, as the user wrote them
        plt.xticks(list(xs.values()), list(xs))
    plt.xlabel(axis.replace("_", "-") if axis else "")
    title = measure.label + (f" against {axis.replace('_', '-')}" if axis else "")
    plt.title(title)
    return title


def summary_svg(grid: Grid, rows: Sequence[SummaryRow], title: str, size: tuple[int, int] = SVG_SIZE) -> str:
    """summary.svg: the chart drawn by plotext, recorded by a Rich Console, exported as SVG."""
    from plotext._figure import _figure_class

    figure = _figure_class()
    draw_summary(figure, grid, rows)
    width, height = size
    figure.plotsize(width, height)
    figure.theme("dark")
    console = Console(record=True, width=width, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", legacy_windows=False)
    console.print(Text.from_ansi(figure.build()), no_wrap=True, crop=True)
    return console.export_svg(title=title)
