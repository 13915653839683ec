"""The seed's inference for one model: tomorrow's weather, its probabilities, and recent history."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from engine.config import CLASS_NAMES
from tui.dashboard.state import ModelState
from tui.widgets.text_lines import TextLines

CLASS_STYLES = ("bold yellow", "bold blue", "bold white")
BAR_WIDTH = 18
COMPACT = 22  # content narrower than this (a condensed column): short words, the bars as room allows


def probability_bar(p: float, width: int) -> str:
    """A bar of eighth-blocks, so small differences between classes still show."""
    eighths = round(max(0.0, min(1.0, p)) * width * 8)
    full, part = divmod(eighths, 8)
    bar = "█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")
    return bar.ljust(width, "·")


def prediction_text(model: ModelState, bar_width: int = BAR_WIDTH, *, narrow: bool = False,
                    compact: bool = False) -> Text:
    """Narrow (beside the loss chart) puts the prediction and the truth on lines of their own;
    compact (a condensed column) also shortens the words, and draws no bar at ``bar_width`` 0."""
    if model.probabilities is None or model.predicted is None:
        return Text("waiting…" if compact else "waiting for the first epoch…", "dim")
    narrow = narrow or compact
    text = Text("next " if compact else "next day ", no_wrap=True, overflow="crop")
    text.append(CLASS_NAMES[model.predicted], CLASS_STYLES[model.predicted])
    if model.true is not None:
        hit = model.true == model.predicted
        text.append("\ntrue " if compact else "\ntrue     " if narrow else "  true ", "dim")
        text.append(CLASS_NAMES[model.true], CLASS_STYLES[model.true])
        text.append(" ✓" if hit else " ✗", "green" if hit else "red")
    name_width = max(len(name) for name in CLASS_NAMES)
    for index, (name, p) in enumerate(zip(CLASS_NAMES, model.probabilities, strict=False)):
        text.append("\n")
        text.append(name.ljust(name_width), CLASS_STYLES[index] if index == model.predicted else "dim")
        if bar_width > 0:
            text.append(f" {probability_bar(p, bar_width)}", CLASS_STYLES[index])
        text.append(f" {p:6.1%}")
    acc = "--" if model.val_acc is None else f"{model.val_acc:.1%}"
    text.append("\nval acc ", "dim")
    text.append(acc)
    text.append("" if narrow else "  (chance 33.3%)", "dim")
    text.append("\n")
    if compact:  # the last epochs' predictions alone
        for _, cls, _ in model.recent:
            text.append(CLASS_NAMES[cls][0], CLASS_STYLES[cls])
        return text
    text.append_text(history_text(model, narrow=narrow))
    return text


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


class PredictionPanel(TextLines, Widget):
    """Redrawn from a ModelState when the app says its data changed."""

    can_focus = True
    ALLOW_MAXIMIZE = True

    def __init__(self, model: str, title: str, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.model = model
        self.border_title = title
        self._model: ModelState | None = None
        self._text = Text("waiting for the first epoch…", "dim")

    def on_resize(self) -> None:
        if self._model is not None:
            self.show(self._model)

    def show(self, model: ModelState) -> None:
        self._model = model
        content = self.content_region.width
        compact = 0 < content < COMPACT
        # A compact line is the name (6), the bar and the share (7): the bar takes what is left.
        width = (content - 14 if content >= 16 else 0) if compact else max(4, content - 16) if content else BAR_WIDTH
        lines = len(self._text.plain.splitlines())
        self._text = prediction_text(model, min(BAR_WIDTH * 2, width), narrow=0 < content < 34, compact=compact)
        # Its height is its lines': the screen is laid out again only when their number changes.
        self.refresh(layout=len(self._text.plain.splitlines()) != lines)

    def render(self) -> Text:
        return self._text
