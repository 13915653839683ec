"""The seed's inference for one model: tomorrow's weather, its probabilities, and recent history."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from engine.config import CLASS_NAMES
from tui.state import ModelState

CLASS_STYLES = ("bold yellow", "bold blue", "bold white")
BAR_WIDTH = 18


def probability_bar(p: float, width: int) -> str:
    """A bar of eighth-blocks, so small differences between classes still show."""
    eighths = round(max(0.0, min(1.0, p)) * width * 8)
    full, part = divmod(eighths, 8)
    bar = "█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")
    return bar.ljust(width, "·")


def prediction_text(model: ModelState, bar_width: int = BAR_WIDTH, *, narrow: bool = False) -> RenderableType:
    """Narrow (beside the loss chart) puts the prediction and the truth on lines of their own."""
    if model.probabilities is None or model.predicted is None:
        return Text("waiting for the first epoch…", "dim")
    headline = Text("next day ")
    headline.append(CLASS_NAMES[model.predicted], CLASS_STYLES[model.predicted])
    if model.true is not None:
        hit = model.true == model.predicted
        headline.append("\ntrue     " if narrow else "  true ", "dim")
        headline.append(CLASS_NAMES[model.true], CLASS_STYLES[model.true])
        headline.append(" ✓" if hit else " ✗", "green" if hit else "red")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    for index, (name, p) in enumerate(zip(CLASS_NAMES, model.probabilities, strict=False)):
        style = CLASS_STYLES[index] if index == model.predicted else "dim"
        grid.add_row(Text(name, style), Text(probability_bar(p, bar_width), CLASS_STYLES[index]), f"{p:6.1%}")
    acc = "--" if model.val_acc is None else f"{model.val_acc:.1%}"
    accuracy = Text.assemble(("val acc ", "dim"), acc, ("" if narrow else "  (chance 33.3%)", "dim"))
    return Group(headline, grid, accuracy, history_text(model, narrow=narrow))


def history_text(model: ModelState, *, narrow: bool = False) -> Text:
    """The prediction over the last epochs as class initials, and how often it changed."""
    recent = list(model.recent)
    text = Text("last ", "dim")
    if not recent:
        return text
    changes = sum(1 for a, b in zip(recent, recent[1:], strict=False) if a[1] != b[1])
    first_p, last_p = recent[0][2], recent[-1][2]
    if changes:
        summary = f"{changes} change{'s' if changes > 1 else ''}"
    elif len(recent) > 1:
        summary = f"p {first_p:.0%}→{last_p:.0%}"
    else:
        summary = ""
    text.append(f"{len(recent)} ep ", "dim")
    if narrow:  # the summary first, the initials on a line of their own
        text.append(f"{summary}\n", "dim")
    for _, cls, _ in recent:
        text.append(CLASS_NAMES[cls][0], CLASS_STYLES[cls])
    if summary and not narrow:
        text.append(f"  {summary}", "dim")
    return text


class PredictionPanel(Static):
    """Redrawn from a ModelState when the app says its data changed."""

    can_focus = True
    ALLOW_MAXIMIZE = True

    def __init__(self, model: str, title: str, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__("", id=id)
        self.model = model
        self.border_title = title
        self._model: ModelState | None = None

    def on_resize(self) -> None:
        if self._model is not None:
            self.show(self._model)

    def show(self, model: ModelState) -> None:
        self._model = model
        content = self.content_region.width
        width = max(4, content - 16) if content else BAR_WIDTH
        self.update(prediction_text(model, min(BAR_WIDTH * 2, width), narrow=0 < content < 34))
