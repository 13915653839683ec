"""Gradient flow over the run: one row per probe (epochs down), steps back across, per model.

The colour is log10 of the norm relative to the last step, from 0 (bright) down to -6 (dark):
a horizon that collapses shows as the bright band narrowing row after row.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from engine.config import MODEL_TITLES
from tui.dashboard.state import DashboardState, FlowState
from tui.heatmap import Scale, fit_cell, heat_cells, legend
from tui.widgets.gradient_flow import relative_log10
from tui.widgets.text_lines import TextLines

SCALE = Scale(-6.0, 0.0)  # log10 relative norm; 1e-3, the horizon's threshold, sits mid-ramp
LABEL_WIDTH = 7  # "12,345 "
GAP = 2


def pick_rows(count: int, room: int) -> list[int]:
    """``room`` row indices spread evenly over ``count``, always ending with the newest."""
    if count <= room:
        return list(range(count))
    if room <= 1:
        return [count - 1]
    return sorted({round(i * (count - 1) / (room - 1)) for i in range(room)})


class GradientHistory(TextLines, Widget, can_focus=True):
    """Every model's gradient-flow history side by side, in the run's order."""

    ALLOW_MAXIMIZE = True

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self._flows: dict[str, FlowState] = {}
        self.border_title = "gradient flow history"
        self.border_subtitle = "steps back →"

    def show(self, state: DashboardState) -> None:
        self._flows = state.flows
        seen = max((f.history.seen for f in state.flows.values()), default=0)
        epoch = max((f.epoch for f in state.flows.values()), default=0)
        self.border_title = (f"gradient flow history · {seen} probe{'s' if seen > 1 else ''} · epoch {epoch}" if seen
                             else "gradient flow history")
        self.refresh()

    def render(self) -> RenderResult:
        flows = [(model, flow) for model, flow in self._flows.items() if flow.history.rows]
        if not flows:
            return Text("waiting for the first probe…", "dim")
        colour = not self.app.no_color
        width = max(10, self.content_region.width or self.size.width)
        height = max(3, self.content_region.height or self.size.height)
        panel = (width - LABEL_WIDTH - GAP * (len(flows) - 1)) // len(flows)
        steps = max(len(flow.history.rows[-1][1]) for _, flow in flows)
        cell = fit_cell(steps, panel, widest=3)
        rows_room = height - 2  # model names above, legend below
        text = Text(no_wrap=True, overflow="crop")
        text.append(" " * LABEL_WIDTH)
        for index, (model, flow) in enumerate(flows):
            title = MODEL_TITLES.get(model, model.upper())
            name = f"{title} h={flow.horizon}" if flow.horizon is not None else title
            text.append(name[:panel].ljust(panel + (GAP if index < len(flows) - 1 else 0)), "bold")
        text.append("\n")
        # Rows are picked per model by position, so two models probed together line up.
        count = max(len(flow.history.rows) for _, flow in flows)
        for position in pick_rows(count, rows_room):
            epoch = None
            line = Text(no_wrap=True, overflow="crop")
            for index, (_, flow) in enumerate(flows):
                rows = flow.history.rows
                row_index = min(len(rows) - 1, round(position * (len(rows) - 1) / max(1, count - 1)))
                row_epoch, norms = rows[row_index]
                epoch = row_epoch if epoch is None else epoch
                cells = heat_cells(relative_log10(norms) or [SCALE.low] * len(norms), SCALE, cell, colour=colour)
                cells.truncate(panel, pad=True)
                line.append_text(cells)
                if index < len(flows) - 1:
                    line.append(" " * GAP)
            text.append(f"{epoch:>{LABEL_WIDTH - 1},} "[-LABEL_WIDTH:], "dim")
            text.append_text(line)
            text.append("\n")
        key = legend(SCALE, min(width - LABEL_WIDTH, 34), colour=colour, label="log10 rel.")
        text.append(" " * LABEL_WIDTH)
        text.append_text(key)
        return text
