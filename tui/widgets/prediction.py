"""The seed's inference for one model: the next step's class, its probabilities, and recent history.

A bar per class of the run (its history's names: the built-in three, or a csv column's 2 to 64);
where the panel has fewer rows than the classes need, the likeliest classes and a line saying how
many it left out.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget

from engine.config import CLASS_NAMES
from tui.class_labels import short_labels
from tui.dashboard.state import ModelState
from tui.widgets.text_lines import TextLines

CLASS_STYLES = ("bold yellow", "bold blue", "bold white")  # the built-in three: sun, rain, cloud
# Other classes: a palette cycled in class order (neighbours differ; 64 classes repeat it).
PALETTE = ("bold yellow", "bold blue", "bold white", "bold green", "bold magenta", "bold cyan", "bold red",
           "yellow", "blue", "green", "magenta", "cyan", "red")
BAR_WIDTH = 18
COMPACT = 22  # content narrower than this (a condensed column): short words, the bars as room allows
NAME_WIDTH = 10  # longer class names are cut to this beside their bars
SHOWN_AT_LEAST = 3  # classes kept before the accuracy and history lines give up their rows


def class_styles(classes: Sequence[str]) -> tuple[str, ...]:
    """A style per class: the built-in three's own colours, else the palette in turn."""
    if tuple(classes) == CLASS_NAMES:
        return CLASS_STYLES
    return tuple(PALETTE[i % len(PALETTE)] for i in range(len(classes)))


def probability_bar(p: float, width: int) -> str:
    """A bar of eighth-blocks, so small differences between classes still show."""
    eighths = round(max(0.0, min(1.0, p)) * width * 8)
    full, part = divmod(eighths, 8)
    bar = "█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")
    return bar.ljust(width, "·")


def name_width(classes: Sequence[str]) -> int:
    return min(NAME_WIDTH, max((len(name) for name in classes), default=1))


def bars_shown(classes: int, head: int, tails: Sequence[int], rows: int | None) -> tuple[int, int]:
    """(classes given a bar, lines of the tail kept) for a text of at most ``rows`` lines: every
    class where they fit; else the tail's sections dropped, last first, until ``SHOWN_AT_LEAST``
    classes fit with the "+N more" line, and as many classes as the rows then leave (one at least)."""
    if rows is None or head + classes + sum(tails) <= rows:
        return classes, len(tails)
    for kept in range(len(tails), -1, -1):
        tail = sum(tails[:kept])
        if head + classes + tail <= rows:
            return classes, kept
        room = rows - head - tail - 1  # the "+N more" line
        if room >= min(SHOWN_AT_LEAST, classes) or kept == 0:
            return max(1, min(classes, room)), kept
    return 1, 0


def prediction_text(model: ModelState, bar_width: int = BAR_WIDTH, *, narrow: bool = False,
                    compact: bool = False, classes: Sequence[str] = CLASS_NAMES,
                    rows: int | None = None) -> Text:
    """Narrow (beside the loss chart) puts the prediction and the truth on lines of their own;
    compact (a condensed column) also shortens the words, and draws no bar at ``bar_width`` 0.
    ``rows``: the most lines the panel shows (None: no limit)."""
    if model.probabilities is None or model.predicted is None:
        return Text("waiting…" if compact else "waiting for the first epoch…", "dim")
    narrow = narrow or compact
    styles = class_styles(classes)

    def name(index: int) -> str:
        return classes[index] if 0 <= index < len(classes) else "?"

    def style(index: int) -> str:
        return styles[index] if 0 <= index < len(styles) else "dim"

    text = Text("next " if compact else "next day ", no_wrap=True, overflow="crop")
    text.append(name(model.predicted), style(model.predicted))
    head = 1
    if model.true is not None:  # a csv run's prediction has no truth to show
        hit = model.true == model.predicted
        text.append("\ntrue " if compact else "\ntrue     " if narrow else "  true ", "dim")
        text.append(name(model.true), style(model.true))
        text.append(" ✓" if hit else " ✗", "green" if hit else "red")
        head += 1 if narrow else 0
    probabilities = list(model.probabilities)
    # The tail: the accuracy line, then the history (two lines when narrow, as history_text draws it).
    tails = (1, 1) if compact else (1, 2 if narrow else 1)
    count, kept = bars_shown(len(probabilities), head, tails, rows)
    order = list(range(len(probabilities)))
    if count < len(probabilities):  # the likeliest first; ties in class order
        order = sorted(order, key=lambda i: -probabilities[i])[:count]
    width = name_width(classes)
    for index in order:
        text.append("\n")
        text.append(name(index)[:width].ljust(width), style(index) if index == model.predicted else "dim")
        if bar_width > 0:
            text.append(f" {probability_bar(probabilities[index], bar_width)}", style(index))
        text.append(f" {probabilities[index]:6.1%}")
    if count < len(probabilities):
        text.append(f"\n+{len(probabilities) - count} more", "dim")
    if kept >= 1:
        acc = "--" if model.val_acc is None else f"{model.val_acc:.1%}"
        text.append("\nval acc ", "dim")
        text.append(acc)
        text.append("" if narrow else f"  (chance {1 / max(1, len(probabilities)):.1%})", "dim")
    if kept < 2:
        return text
    text.append("\n")
    if compact:  # the last epochs' predictions alone
        labels = short_labels(classes, 1)
        for _, cls, _ in model.recent:
            text.append(labels[cls] if 0 <= cls < len(labels) else "?", style(cls))
        return text
    text.append_text(history_text(model, narrow=narrow, classes=classes))
    return text


def history_text(model: ModelState, *, narrow: bool = False, classes: Sequence[str] = CLASS_NAMES) -> Text:
    """The prediction over the last epochs as the classes' short labels, and how often it changed."""
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
    if narrow:  # the summary first, the labels on a line of their own
        text.append(f"{summary}\n", "dim")
    labels, styles = short_labels(classes, 1), class_styles(classes)
    for _, cls, _ in recent:
        known = 0 <= cls < len(labels)
        text.append(labels[cls] if known else "?", styles[cls] if known else "dim")
    if summary and not narrow:
        text.append(f"  {summary}", "dim")
    return text


class PredictionPanel(TextLines, Widget):
    """Redrawn from a ModelState when the app says its data changed; laid out again for its
    height, which decides how many classes get a bar."""

    can_focus = True
    ALLOW_MAXIMIZE = True

    def __init__(self, model: str, title: str, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.model = model
        self.border_title = title
        self._model: ModelState | None = None
        self._class_names: tuple[str, ...] = CLASS_NAMES
        self._lines = 1  # the whole text's lines, every class included: the height it asks for
        self._text = Text("waiting for the first epoch…", "dim")

    def on_resize(self) -> None:
        if self._model is not None:
            self.show(self._model, self._class_names)

    def show(self, model: ModelState, classes: Sequence[str] = CLASS_NAMES) -> None:
        self._model, self._class_names = model, tuple(classes)
        lines = self._lines
        self._lines = len(self._build(None).plain.splitlines())
        # Its height is its lines': the screen is laid out again only when their number changes.
        self.refresh(layout=self._lines != lines)

    def _build(self, rows: int | None) -> Text:
        model = self._model
        if model is None:
            return self._text
        content = self.content_region.width
        compact = 0 < content < COMPACT
        # A line is the name, the bar and the share (7): the bar takes what is left.
        room = content - name_width(self._class_names) - 8
        width = (room if room >= 2 else 0) if compact else max(4, room - 2) if content else BAR_WIDTH
        return prediction_text(model, min(BAR_WIDTH * 2, width), narrow=0 < content < 34, compact=compact,
                               classes=self._class_names, rows=rows)

    def get_content_height(self, container, viewport, width: int) -> int:  # noqa: ANN001
        return self._lines  # every class's line: the layout caps it (max-height), render fits into it

    def render(self) -> Text:
        height = self.content_region.height
        self._text = self._build(height if height > 0 else None)
        return self._text
