"""Every key of the dashboard, listed from the app's own bindings so it cannot drift."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from engine.config import MODEL_TITLES
from engine.history import RunHistory
from tui.reference_lines import against_baselines
from tui.widgets.model_columns import CROWDED_MODELS, CROWDED_WIDTH


def help_intro(models: tuple[str, ...], history: RunHistory | None = None) -> str:
    """What the help screen says first: the run's models, how they share the screen, and what
    the loss charts measure them against (``history``: the run's, for its classes and baselines;
    None: a built-in task's three classes)."""
    titles = [MODEL_TITLES.get(name, name) for name in models] or ["The run's models"]
    named = titles[0] if len(titles) == 1 else f"{', '.join(titles[:-1])} and {titles[-1]}"
    classes = len(history.classes) if history is not None else 3
    if history is not None and against_baselines(history):
        lines = (f"against chance (ln {classes}) and the data's baselines (the class frequencies, and Markov "
                 "chains of order 1 to 3): a model under the lowest has learned more than the last few steps say.")
        data = f"the same series ({history.label}, {classes} classes)"
    else:
        lines, data = f"against chance (ln {classes}).", "the same weather data"
    text = (f"{named} {'trains' if len(titles) == 1 else 'train side by side'} on {data}, "
            f"a column each. Loss charts show train and validation cross-entropy {lines}")
    if len(titles) >= CROWDED_MODELS:
        text += (f" Under {CROWDED_WIDTH} columns the focused model's column is wide and the others "
                 "condensed: tab moves the focus, and the wide column with it.")
    return text


# Keys that Textual handles itself and the dashboard relies on.
BUILTIN_KEYS = (
    ("tab / shift+tab", "Move focus between panels"),
    ("ctrl+p", "Command palette: every command by name"),
)


def key_label(key: str) -> str:
    names = {"space": "space", "left_square_bracket": "[", "right_square_bracket": "]",
             "question_mark": "?"}
    return " / ".join(names.get(k.strip(), k.strip()) for k in key.split(","))


def keys_table(bindings: list[tuple[str, str]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(justify="right", style="bold")
    table.add_column()
    for key, description in bindings:
        table.add_row(Text(key, "bold cyan"), description)
    return table


class HelpScreen(ModalScreen[None]):
    """A modal list of keys; any of escape, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close help")]

    def __init__(self, bindings: list[tuple[str, str]], intro: str | None = None) -> None:
        super().__init__()
        self.rows = [*bindings, *BUILTIN_KEYS]
        self.intro = intro or help_intro(("lstm", "rnn"))

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog", classes="dialog") as scroll:
            scroll.border_title = "Keys"
            scroll.border_subtitle = "escape closes"
            yield Static(self.intro, id="help-intro")
            yield Static(keys_table(self.rows), id="help-keys")

    def action_close(self) -> None:
        self.dismiss(None)
