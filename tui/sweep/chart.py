"""The live sweep's chart: success rate against the swept axis, a line per model, the intervals
as bars, drawn by tui/sweep/plot.py's draw_summary (the one summary.svg is drawn by)."""

from __future__ import annotations

from collections.abc import Sequence

from engine.sweep.grid import Grid
from engine.sweep.summary import SummaryRow
from tui.sweep.plot import draw_summary, measure_of, x_positions
from tui.widgets.cached_plot import CachedPlot


class SweepChart(CachedPlot):
    """Redrawn when ``show`` brings new rows (a trial ended), never on a timer of its own."""

    def __init__(self, grid: Grid, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.grid = grid
        self.rows: list[SummaryRow] = []
        self.border_title = measure_of([]).label + " · no trial has ended yet"

    def show(self, rows: Sequence[SummaryRow]) -> None:
        self.rows = list(rows)
        self.changed()

    def draw(self, width: int) -> None:
        # The title goes on the border (its top, which a short terminal keeps): the figure needs the row.
        title = draw_summary(self.plt, self.grid, self.rows)
        self.plt.title("")
        if not any(row.trials for row in self.rows):
            title += " · no trial has ended yet"
        axis, xs = x_positions(self.grid)
        if axis and len(xs) > 1:  # the whole axis from the start: the chart does not rescale as cells fill in
            values = sorted(xs.values())
            spacing = min(b - a for a, b in zip(values, values[1:])) or 1.0
            # draw_summary sets each model's points apart by up to a quarter of the spacing.
            pad = max(0.35 * spacing, 0.03 * (values[-1] - values[0]))
            self.plt.xlim(values[0] - pad, values[-1] + pad)
        if title != self.border_title:  # a title set refreshes the widget: only when it changes
            self.border_title = title
