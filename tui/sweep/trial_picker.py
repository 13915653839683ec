"""The trials of one grid point (a grid cell's), to pick the one to open in the dashboard."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from engine.config import MODEL_TITLES
from engine.sweep.follow import TrialState, TrialView


def trial_line(view: TrialView, model: str | None) -> Text:
    """'seed 3 · finished · LSTM best 0.612, learned at epoch 2 · GRU best 1.088': ``model``'s
    figures first (the cell's), then the others'."""
    text = Text(f"seed {view.trial.seed}", style="bold") + Text(f" · {view.state}")
    if view.state == TrialState.RUNNING:
        text.append(f" · epoch {view.epoch}/{view.total_epochs}")
    elif view.state == TrialState.PENDING:
        text.append(" · not started yet", style="dim")
    elif view.reason and view.result is None:
        text.append(f" · epoch {view.epoch}/{view.total_epochs}: {view.reason}", style="dim")
    result = view.result
    if result is not None:
        names = sorted(result.models, key=lambda name: name != model)
        for name in names:
            figures = result.models[name]
            best = "–" if figures.best_val_loss is None else f"{figures.best_val_loss:.3f}"
            part = f" · {MODEL_TITLES.get(name, name)} best {best}"
            if result.learned(name):
                part += f", learned at epoch {figures.success_epoch}"
            text.append(part, style="bold" if name == model else "")
    return text


class TrialPicker(ModalScreen[str | None]):
    """Dismisses with the picked trial's name, or None."""

    BINDINGS = [Binding("escape,q", "close", "Back", tooltip="Back to the sweep")]

    def __init__(self, title: str, views: Sequence[TrialView], model: str | None) -> None:
        super().__init__()
        self.title_text = title
        self.views = list(views)
        self.model = model

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-dialog", classes="dialog") as dialog:
            dialog.border_title = self.title_text
            dialog.border_subtitle = "enter opens the trial's dashboard · escape goes back"
            yield Label("The grid point's trials, one per seed:", id="picker-intro")
            yield OptionList(*(Option(trial_line(view, self.model), id=view.trial.name,
                                      disabled=view.state == TrialState.PENDING) for view in self.views),
                             id="picker-trials")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.focus()
        first = next((i for i, view in enumerate(self.views) if view.state != TrialState.PENDING), None)
        options.highlighted = first

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_close(self) -> None:
        self.dismiss(None)
