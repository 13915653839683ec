"""The trials running now: each one's epoch of its total, a bar, and each model's latest validation loss."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from engine.config import MODEL_TITLES
from engine.sweep.follow import TrialView

BAR_CELLS = 6


def epoch_bar(epoch: int, total: int, cells: int = BAR_CELLS) -> Text:
    """A bar of ``cells`` for ``epoch`` of ``total``."""
    filled = 0 if total <= 0 else min(cells, round(cells * epoch / total))
    return Text("█" * filled, style="green") + Text("░" * (cells - filled), style="dim")


def val_loss_text(view: TrialView, model: str) -> str:
    """``model``'s latest validation loss in the trial, as far as it has got ('' before its first epoch)."""
    history = view.history
    state = history.models.get(model) if history is not None else None
    loss = state.val_loss if state is not None else None
    if loss is None:
        return ""
    return f"{loss:.3f}" if math.isfinite(loss) else str(loss)


class RunningTable(DataTable):
    """A row per running trial, keyed by its name; ``enter`` opens the trial (RowSelected)."""

    BINDINGS = [Binding("enter", "select_cursor", "Open", tooltip="Open the trial in the dashboard")]

    def __init__(self, models: Sequence[str], *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.models = tuple(models)
        self.names: list[str] = []
        self.border_title = "running"

    def on_mount(self) -> None:
        self.add_column("trial", key="trial")
        self.add_column("epoch", key="epoch")
        self.add_column("", key="bar")
        for model in self.models:  # the latest validation loss of each
            self.add_column(MODEL_TITLES.get(model, model), key=model)

    def show(self, views: Sequence[TrialView]) -> None:
        """The running trials, in grid order; the cursor stays on its trial while it runs."""
        names = [view.trial.name for view in views]
        if names != self.names:
            keep = self.cursor_trial
            self.clear()
            for view in views:
                self.add_row(view.trial.name, "", "", *("" for _ in self.models), key=view.trial.name)
            self.names = names
            self.select_trial(keep)
        for view in views:
            name = view.trial.name
            self.update_cell(name, "epoch", f"{view.epoch}/{view.total_epochs}", update_width=True)
            self.update_cell(name, "bar", epoch_bar(view.epoch, view.total_epochs), update_width=True)
            for model in self.models:
                self.update_cell(name, model, val_loss_text(view, model), update_width=True)
        self.border_title = f"running: {len(views)} · validation loss now" if views else "running: none"

    def select_trial(self, name: str | None) -> None:
        """The cursor on trial ``name``, while it runs."""
        if name in self.names:
            self.move_cursor(row=self.names.index(name))

    @property
    def cursor_trial(self) -> str | None:
        if not self.names or not 0 <= self.cursor_row < len(self.names):
            return None
        return self.names[self.cursor_row]
