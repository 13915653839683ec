"""The runs table: one row per run directory, sortable, filterable, with marks for comparing.

The columns follow the runs: a train, validation and horizon column for every model any run
trained (engine.config.MODEL_TITLES names them), and a models column when the runs did not all
train the same models, so a row says which models its run has (a model it lacks: a dash).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from engine.config import DEFAULT_MODELS, MODEL_KINDS, MODEL_TITLES
from engine.rundir.directory import RunStatus
from tui.runs.listing import NOT_A_RUN, READING, UNREADABLE, RunSummary, finite

MARK = "●"
STATE_ORDER = (*RunStatus, READING, UNREADABLE, NOT_A_RUN)
MISSING = "–"
MODEL_FIGURES = ("train", "val", "horizon")  # a model's columns: its key is f"{model}_{figure}"


def _loss(value: float | None) -> str:
    return MISSING if value is None else f"{value:.4f}"  # NaN shows as nan: a diverged model


def _started(value: float | None) -> str:
    return MISSING if value is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(value))


def _epochs(run: RunSummary) -> str:
    if not run.is_run:
        return MISSING
    return f"{run.epochs_done}/{run.epochs_total}" if run.epochs_total else str(run.epochs_done)


def run_models(run: RunSummary) -> tuple[str, ...]:
    """The models ``run`` trained, in its order; none for what is not (yet) a run."""
    return run.model_names if run.is_run else ()


def _models(run: RunSummary) -> str:
    return ",".join(run_models(run)) or MISSING  # spelt as --models and config.json spell it


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    cell: Callable[[RunSummary], str]
    value: Callable[[RunSummary], Any]  # what the column sorts by; None sorts last either way


def _model_columns(model: str) -> tuple[Column, Column, Column]:
    """A model's final train and validation loss, and its gradient horizon; a dash for a run
    without that model."""
    title = MODEL_TITLES.get(model, model.upper())

    def get(attr: str) -> Callable[[RunSummary], Any]:
        def value(run: RunSummary) -> Any:
            history = run.models.get(model)
            return None if history is None else getattr(history, attr)

        return value

    train, val, horizon = get("train_loss"), get("val_loss"), get("horizon")
    return (
        Column(f"{model}_train", f"{title} train", lambda r: _loss(train(r)), lambda r: finite(train(r))),
        Column(f"{model}_val", f"{title} val", lambda r: _loss(val(r)), lambda r: finite(val(r))),
        Column(f"{model}_horizon", f"{title} hzn", lambda r: MISSING if horizon(r) is None else str(horizon(r)),
               horizon),
    )


NAME = Column("name", "run", lambda r: r.name, lambda r: r.name)
TASK = Column("task", "task", lambda r: r.label or MISSING, lambda r: r.label or None)
STATE = Column("state", "state", lambda r: r.status, lambda r: STATE_ORDER.index(r.status)
               if r.status in STATE_ORDER else len(STATE_ORDER))
EPOCHS = Column("epochs", "epochs", _epochs, lambda r: r.epochs_done if r.is_run else None)
MODELS = Column("models", "models", _models, lambda r: _models(r) if r.is_run else None)
STARTED = Column("started", "started", lambda r: _started(r.started), lambda r: r.started)
NOTE = Column("note", "note", lambda r: r.reason, lambda r: r.reason or None)
FIXED = {column.key: column for column in (NAME, TASK, STATE, EPOCHS, MODELS, STARTED, NOTE)}
SEED_PAIR = tuple(DEFAULT_MODELS.split(","))


def table_models(runs: Iterable[RunSummary]) -> tuple[str, ...]:
    """Every model any of ``runs`` trained, in the order the runs list them (runs taken by
    path); the seed's pair while none has been read."""
    ordered_runs = sorted(runs, key=lambda run: str(run.path))
    return tuple(dict.fromkeys(m for run in ordered_runs for m in run_models(run))) or SEED_PAIR


def needs_models_column(runs: Iterable[RunSummary], models: Sequence[str]) -> bool:
    """Whether some run trained other models than the table's columns name (fewer, or in
    another order): then its models need a column of their own."""
    return any(run_models(run) not in ((), tuple(models)) for run in runs)


def columns_for(models: Sequence[str], *, with_models: bool) -> tuple[Column, ...]:
    """The table's columns, in the order shown: each model's train and validation loss, then
    the horizons, between the run's state and its start."""
    per_model = [_model_columns(model) for model in models]
    return (NAME, TASK, STATE, EPOCHS, *((MODELS,) if with_models else ()),
            *(column for train, val, _ in per_model for column in (train, val)),
            *(horizon for _, _, horizon in per_model), STARTED, NOTE)


def column_for(key: str) -> Column | None:
    """The column of ``key`` (a model's too, whether or not a run has it); None for "mark"."""
    if key in FIXED:
        return FIXED[key]
    model, _, figure = key.rpartition("_")
    if model in MODEL_KINDS and figure in MODEL_FIGURES:
        return _model_columns(model)[MODEL_FIGURES.index(figure)]
    return None


def importance(models: Sequence[str], keep: str = "") -> list[tuple[str, ...]]:
    """The columns by importance, most first, in groups that show whole or not at all (no
    table shows one model's train loss and not another's). The name comes before all of them
    and the note after; ``keep``, the column sorted by, right after the models' validation
    losses (the figures a narrow table is for)."""
    vals = tuple(f"{m}_val" for m in models)
    groups = [("state",), ("epochs",), vals, ("models",), ("task",), tuple(f"{m}_train" for m in models),
              tuple(f"{m}_horizon" for m in models), ("started",)]
    if keep and keep not in ("mark", "name", "note", *vals):
        after = groups.index(vals) + 1
        groups = [tuple(key for key in group if key != keep) for group in groups]
        groups.insert(after, (keep,))
    return [group for group in groups if group]


# When the table is narrower than its columns, the last groups of ``importance`` go first. The
# name shows at least as much as a run's timestamp (a default name is its start time, then its
# preset or task) and grows to its full width before the note, which takes what is left (the
# detail line has it in full). At 80 columns, runs of three models show each one's validation
# loss; the start time (the default sort) then gives way to them.
NAME_MIN = len("20261127T163501Z")
NOTE_MIN = len("no config…")


def column_widths(natural: dict[str, int], width: int, groups: Sequence[tuple[str, ...]], *,
                  padding: int = 1) -> dict[str, int]:
    """The columns (keys of ``natural``: each column's content width, "mark", "name" and "note"
    among them) shown in ``width`` cells, and each one's content width; the others by
    importance, ``groups`` (importance(): a key not in ``natural`` is not a column now);
    ``padding`` cells either side of each column."""
    pad = 2 * padding
    left = width - natural["mark"] - pad
    widths = {"mark": natural["mark"], "name": max(1, min(natural["name"], NAME_MIN, left - pad))}
    left -= widths["name"] + pad
    every = True
    for group in filter(None, (tuple(key for key in group if key in natural) for group in groups)):
        need = sum(natural[key] + pad for key in group)
        if need > left:
            every = False  # by importance: none after it shows either
            break
        widths.update({key: natural[key] for key in group})
        left -= need
    grow = max(0, min(left, natural["name"] - widths["name"]))
    widths["name"] += grow
    left -= grow
    if every and "note" in natural and left - pad >= min(NOTE_MIN, natural["note"]):
        widths["note"] = min(natural["note"], left - pad)
    return widths


def _cut(text: Text, width: int) -> Text:
    """``text`` on one line of at most ``width`` cells, an ellipsis where it was cut."""
    text.no_wrap, text.overflow = True, "ellipsis"
    if text.cell_len > width:
        text.truncate(width, overflow="ellipsis")
    return text


def matches(run: RunSummary, pattern: re.Pattern[str] | None) -> bool:
    """Whether the filter finds ``pattern`` in the run's name, task, models, state or note (each
    on its own, so ^ and $ anchor to one of them)."""
    return pattern is None or any(pattern.search(text) for text in
                                  (run.name, run.label, ",".join(run_models(run)), run.status, run.reason))


def ordered(runs: Iterable[RunSummary], key: str, reverse: bool = False, marked: Collection[str] = (),
            pattern: re.Pattern[str] | None = None) -> list[RunSummary]:
    """The runs ``pattern`` matches, sorted by column ``key`` ("mark": marked first), then by
    name; those without a value (no epochs yet, a diverged loss) last in either direction."""
    column = column_for(key)

    def value(run: RunSummary) -> Any:
        return (str(run.path) not in marked) if column is None else column.value(run)

    runs = [run for run in runs if matches(run, pattern)]
    present = sorted((r for r in runs if value(r) is not None), key=lambda r: (value(r), r.name), reverse=reverse)
    return present + sorted((r for r in runs if value(r) is None), key=lambda r: r.name)


class RunsTable(DataTable):
    """Shows the runs it is given (``show_runs``); the app owns reading them.

    Rows are rebuilt in order on every sort, filter or new batch of runs (500 runs: about
    80 ms on a 2-core box; drawing the visible rows after costs as much as any frame of a full
    table). DataTable.sort could only order by the cells' text, where "–" and "nan" would sort
    among the numbers.
    """

    BINDINGS = [
        Binding("space", "mark", "Mark", tooltip="Mark or unmark the run under the cursor (then move down)"),
        Binding("enter", "compare", "Compare",
                tooltip="Compare the marked runs' loss curves (the run under the cursor when none is marked)"),
        Binding("s", "cycle_sort", "Sort", tooltip="Sort by the next column (clicking a header sorts by it)"),
        Binding("r", "reverse_sort", "Reverse", tooltip="Reverse the sort order"),
    ]

    class Compare(Message):
        """The user asked to compare these runs."""

        def __init__(self, paths: list[Path]) -> None:
            super().__init__()
            self.paths = paths

    class Changed(Message):
        """Rows, marks or order changed: what the status line counts."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.runs: dict[str, RunSummary] = {}  # by str(path), the row key
        self.marked: set[str] = set()
        self.pattern: re.Pattern[str] | None = None
        self.sort_key = "started"
        self.sort_reverse = True  # newest first
        self._laid_out_for = 0  # the width the columns were last fitted to
        self.models: tuple[str, ...] = SEED_PAIR  # whose columns the table has (table_models)
        self.all_columns = columns_for(self.models, with_models=False)  # shown or not, by width

    # -- attributes down -----------------------------------------------------------------------

    def show_runs(self, runs: list[RunSummary]) -> None:
        """Add or replace these runs' rows."""
        for run in runs:
            self.runs[str(run.path)] = run
        # A cursor the user moved stays on its run; one still on the first row stays there, as
        # rows keep arriving while the runs are read.
        self._rebuild(follow=self.cursor_row > 0)

    def set_filter(self, pattern: re.Pattern[str] | None) -> None:
        self.pattern = pattern
        self._rebuild()

    def sort_by(self, key: str, reverse: bool | None = None) -> None:
        """Sort by column ``key``; the same column again reverses the order."""
        if reverse is None:
            reverse = not self.sort_reverse if key == self.sort_key else False
        self.sort_key, self.sort_reverse = key, reverse
        self._rebuild()

    # -- what the app reads ----------------------------------------------------------------------

    def shown(self) -> list[RunSummary]:
        """The runs passing the filter, in the table's order."""
        return ordered(self.runs.values(), self.sort_key, self.sort_reverse, self.marked, self.pattern)

    @property
    def cursor_run(self) -> RunSummary | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self.runs.get(key or "")

    def sort_label(self) -> str:
        column = column_for(self.sort_key)
        label = self.sort_key if column is None else column.label
        return f"{label} {'▼' if self.sort_reverse else '▲'}"

    # -- actions ---------------------------------------------------------------------------------

    def action_mark(self) -> None:
        run = self.cursor_run
        if run is None:
            return
        key = str(run.path)
        self.marked ^= {key}
        self.update_cell(key, "mark", MARK if key in self.marked else "")
        self.action_cursor_down()
        self.post_message(self.Changed())

    def action_compare(self) -> None:
        # The table's order; marked runs the filter hides come last, still compared.
        shown = [str(run.path) for run in self.shown()]
        paths = [Path(key) for key in [*shown, *self.runs] if key in self.marked]
        paths = list(dict.fromkeys(paths))
        if not paths and self.cursor_run is not None:
            paths = [self.cursor_run.path]
        if paths:
            self.post_message(self.Compare(paths))

    def action_cycle_sort(self) -> None:
        keys = [column.key for column in self.all_columns]
        self.sort_by(keys[(keys.index(self.sort_key) + 1) % len(keys)] if self.sort_key in keys else keys[0],
                     reverse=False)

    def action_reverse_sort(self) -> None:
        self.sort_by(self.sort_key, reverse=not self.sort_reverse)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(str(event.column_key.value))

    # -- drawing ---------------------------------------------------------------------------------

    def _room(self, rows: int) -> int:
        """The cells the columns may take: the table's width, less the scrollbar that ``rows``
        rows will need (every column at its full width while the table has no size yet)."""
        width = self.size.width
        if not width:
            return 10_000
        return width - (self.styles.scrollbar_size_vertical if rows + 1 > self.size.height else 0)

    def _header(self, key: str, label: str) -> Text:
        if key != self.sort_key:
            return Text(label)
        return Text(f"{label} {'▼' if self.sort_reverse else '▲'}", style="bold")

    def on_resize(self) -> None:
        if self.size.width != self._laid_out_for:
            self._rebuild()

    def _rebuild(self, follow: bool = True) -> None:
        cursor = self.cursor_run if follow else None
        runs = self.shown()
        # Every run's models, not only those the filter shows: a filter does not move columns.
        self.models = table_models(self.runs.values())
        columns = self.all_columns = columns_for(
            self.models, with_models=needs_models_column(self.runs.values(), self.models))
        cells = [[column.cell(run) for column in columns] for run in runs]
        headers = {column.key: self._header(column.key, column.label) for column in columns}
        natural = {"mark": self._header("mark", MARK).cell_len}
        for i, column in enumerate(columns):
            natural[column.key] = max([headers[column.key].cell_len, *(cell_len(row[i]) for row in cells)])
        widths = column_widths(natural, self._room(len(runs)), importance(self.models, keep=self.sort_key),
                               padding=self.cell_padding)
        shown = [(i, column.key) for i, column in enumerate(columns) if column.key in widths]
        self._laid_out_for = self.size.width
        self.clear(columns=True)
        self.add_column(self._header("mark", MARK), key="mark", width=widths["mark"])
        for _, key in shown:
            self.add_column(_cut(headers[key], widths[key]), key=key, width=widths[key])
        for run, row in zip(runs, cells):
            key = str(run.path)
            # Dimmed rows are what is not a run: no colour, so NO_COLOR and 16 colours read alike.
            style = "dim" if not run.is_run else "bold" if run.status == RunStatus.LIVE else ""
            self.add_row(MARK if key in self.marked else "",
                         *(_cut(Text(row[i], style=style), widths[key]) for i, key in shown), key=key)
        if cursor is not None and str(cursor.path) in self.rows:
            self.move_cursor(row=self.get_row_index(str(cursor.path)), animate=False)
        self.post_message(self.Changed())
