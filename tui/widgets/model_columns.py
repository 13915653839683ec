"""The run's models side by side: a column each, in the run's order (loss chart, prediction, gates).

How the columns share the width (the classes app.tcss styles):

- a prediction sits beside its loss chart when each column has 50 cells or more (``-side``:
  two models from 100 columns, as the seed's pair always had; one from 50; three from 150),
  else under it (``-stacked``);
- three models under 120 columns are ``-crowded``: the focused model's column (``-focus``,
  the model of the panel last focused; tab moves it) takes twice the width of each of the
  others, which are condensed (shorter titles, compact predictions, a cell per step).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical

from engine.config import MODEL_TITLES
from tui.widgets.gate_heatmap import GatePanel
from tui.widgets.loss_chart import LossChart
from tui.widgets.prediction import PredictionPanel

SIDE_COLUMN = 50  # cells a column needs for its prediction beside its chart
CROWDED_MODELS = 3  # this many models or more share the width unevenly below CROWDED_WIDTH
CROWDED_WIDTH = 120
FIRST_CHART = "first-chart"  # the class of the first model's loss chart: where focus starts


def title(model: str) -> str:
    return MODEL_TITLES.get(model, model.upper())


class ModelColumns(Horizontal):
    """One column per model; ``rebuild`` composes them again for another set of models."""

    def __init__(self, models: tuple[str, ...], *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.models = models
        self.focus_model = models[0] if models else ""
        self.charts: dict[str, LossChart] = {}
        self.predictions: dict[str, PredictionPanel] = {}
        self.gates: dict[str, GatePanel] = {}
        self._width = 0

    def compose(self) -> ComposeResult:
        # Made here and kept by reference: each redraw reaches them without a query.
        self.charts = {m: LossChart(m, title(m), id=f"loss-{m}") for m in self.models}
        self.predictions = {m: PredictionPanel(m, f"{title(m)} prediction", id=f"prediction-{m}")
                            for m in self.models}
        self.gates = {m: GatePanel(m, title(m), id=f"gates-{m}") for m in self.models}
        crowded = self._crowded(self._width)
        for index, model in enumerate(self.models):
            if index == 0:
                self.charts[model].add_class(FIRST_CHART)
            # Classed for the width already set (lay_out): restyling them once mounted costs a frame's work.
            classes = ["column", *self._column_classes(model, crowded)]
            with Vertical(id=f"column-{model}", classes=" ".join(classes)):
                with Horizontal(classes="losses"):
                    yield self.charts[model]
                    yield self.predictions[model]
                yield self.gates[model]

    async def rebuild(self, models: tuple[str, ...]) -> None:
        """Columns for ``models`` instead, with nothing of the old ones left."""
        self.models = models
        if self.focus_model not in models:
            self.focus_model = models[0] if models else ""
        await self.recompose()
        self.lay_out(self._width)

    def focus_moved(self, model: str) -> None:
        """A panel of ``model`` took the focus: its column is the wide one when crowded."""
        if model in self.models and model != self.focus_model:
            self.focus_model = model
            self.lay_out(self._width)

    def lay_out(self, width: int) -> None:
        """Set the classes for a terminal ``width`` cells wide (0: not known yet); before the
        columns are composed, also theirs (they are composed with them)."""
        self._width = width
        side = width // max(1, len(self.models)) >= SIDE_COLUMN
        crowded = self._crowded(width)
        self.set_class(side, "-side")
        self.set_class(not side, "-stacked")
        self.set_class(crowded, "-crowded")
        for model in self.models:
            for column in self.query_children(f"#column-{model}"):
                column.set_class(crowded and model == self.focus_model, "-focus")
                column.set_class(crowded and model != self.focus_model, "-condensed")

    def _crowded(self, width: int) -> bool:
        return len(self.models) >= CROWDED_MODELS and 0 < width < CROWDED_WIDTH

    def _column_classes(self, model: str, crowded: bool) -> list[str]:
        """The classes ``lay_out`` gives ``model``'s column beside "column"."""
        if not crowded:
            return []
        return ["-focus" if model == self.focus_model else "-condensed"]
