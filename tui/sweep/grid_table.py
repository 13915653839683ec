"""The sweep's grid: a row per grid point, a column per model, each cell what the point's ended
trials say of the model: successes/trials and the rate's 95 % Wilson interval.

A cell fills in as the point's trials end (engine.sweep.summary's rows, recomputed by the live
sweep when one does). Where success is not defined (the seed task, no --success-loss), a cell
shows the trials and their median final validation loss instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from engine.config import MODEL_TITLES
from engine.sweep.grid import Grid
from engine.sweep.summary import SummaryRow

MISSING = "–"


def point_text(point: tuple[tuple[str, str], ...]) -> str:
    """'lag 10 · forget-bias 2'; 'every trial' for a grid with one point."""
    return " · ".join(f"{name.replace('_', '-')} {text}" for name, text in point) or "every trial"


def cell_text(row: SummaryRow | None) -> Text:
    """'2/5 [0.12,0.77]': successes of ended trials and the 95 % Wilson interval of their rate."""
    if row is None or row.trials == 0:
        return Text(MISSING, style="dim")
    if row.successes is None:  # nothing to learn: the trials, and their median final loss
        loss = row.median_final_val_loss
        return Text(f"{row.trials} · val {MISSING if loss is None else f'{loss:.3f}'}")
    text = Text(f"{row.successes}/{row.trials}", style="bold")
    if row.rate_low is not None and row.rate_high is not None:
        text.append(f" [{row.rate_low:.2f},{row.rate_high:.2f}]")
    rate = row.success_rate or 0.0
    text.stylize("green" if rate >= 0.5 else "yellow" if rate > 0 else "red", 0, len(text))
    return text


def cell_detail(row: SummaryRow) -> str:
    """Everything the summary says of one cell, in one line (under the grid, for the cursor's cell)."""
    title = MODEL_TITLES.get(row.model, row.model)
    parts = [f"{point_text(row.point)} · {title}: {row.trials} of {row.planned} trials ended"]
    if row.failed:
        parts.append(f"{row.failed} failed")
    if row.successes is not None and row.success_rate is not None:
        interval = "" if row.rate_low is None or row.rate_high is None else \
            f", 95% CI {row.rate_low:.2f}–{row.rate_high:.2f}"
        parts.append(f"{row.successes} learned (rate {row.success_rate:.2f}{interval})")
        if row.median_epochs_to_success is not None:
            parts.append(f"median epoch learned {row.median_epochs_to_success:g}")
    if row.median_best_val_loss is not None:
        parts.append(f"median best val {row.median_best_val_loss:.3f}")
    if row.median_final_val_loss is not None:
        parts.append(f"final {row.median_final_val_loss:.3f}")
    if row.success_loss is not None:
        parts.append(f"learned: below {row.success_loss:.3f}")
    return " · ".join(parts)


class GridTable(DataTable):
    """Grid points down, models across; ``enter`` on a cell asks for its trials (GridTable's
    CellSelected, which the app answers)."""

    BINDINGS = [
        Binding("enter", "select_cursor", "Open",
                tooltip="Open a trial of the cell's grid point in the dashboard"),
    ]

    def __init__(self, grid: Grid, models: Sequence[str], *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, cursor_type="cell", zebra_stripes=True)
        self.grid = grid
        self.models = tuple(models)
        self.border_title = "learned/ended (95% Wilson interval)"

    def on_mount(self) -> None:
        self.add_column(" · ".join(a.replace("_", "-") for a in self.grid.axes) or "point", key="point")
        self.add_column("ended", key="ended")
        for model in self.models:
            self.add_column(MODEL_TITLES.get(model, model), key=model)
        for index, point in enumerate(self.grid.points):
            self.add_row(point_text(point), MISSING, *(cell_text(None) for _ in self.models), key=str(index))
        self.move_cursor(column=2)

    def show(self, rows: Sequence[SummaryRow], ended: Sequence[int], running: Sequence[int]) -> None:
        """The cells from the summary ``rows``; ``ended``/``running``: trials per point."""
        by_cell = {(row.point, row.model): row for row in rows}
        seeds = len(self.grid.seeds)
        for index, point in enumerate(self.grid.points):
            done = f"{ended[index]}/{seeds}" + (f" +{running[index]}" if running[index] else "")
            self.update_cell(str(index), "ended", done, update_width=True)
            for model in self.models:
                self.update_cell(str(index), model, cell_text(by_cell.get((point, model))), update_width=True)

    def cell_at(self, coordinate: Coordinate) -> tuple[int, str | None]:
        """(grid point index, model or None for the point's own columns) at ``coordinate``."""
        model_index = coordinate.column - 2
        model = self.models[model_index] if 0 <= model_index < len(self.models) else None
        return coordinate.row, model
