"""The runs table: one row per run directory, sortable, filterable, with marks for comparing."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from engine.rundir.directory import RunStatus
from tui.runs.listing import NOT_A_RUN, READING, UNREADABLE, RunSummary, finite

MARK = "●"
STATE_ORDER = (*RunStatus, READING, UNREADABLE, NOT_A_RUN)
MISSING = "–"


def _loss(value: float | None) -> str:
    return MISSING if value is None else f"{value:.4f}"  # NaN shows as nan: a diverged model


def _started(value: float | None) -> str:
    return MISSING if value is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(value))


def _epochs(run: RunSummary) -> str:
    if not run.is_run:
        return MISSING
    return f"{run.epochs_done}/{run.epochs_total}" if run.epochs_total else str(run.epochs_done)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    cell: Callable[[RunSummary], str]
    value: Callable[[RunSummary], Any]  # what the column sorts by; None sorts last either way


def _model_columns(model: str, title: str) -> tuple[Column, Column, Column]:
    """A model's final train and validation loss, and its gradient horizon."""

    def get(attr: str) -> Callable[[RunSummary], Any]:
        return lambda run: getattr(run.models[model], attr)

    train, val, horizon = get("train_loss"), get("val_loss"), get("horizon")
    return (
        Column(f"{model}_train", f"{title} train", lambda r: _loss(train(r)), lambda r: finite(train(r))),
        Column(f"{model}_val", f"{title} val", lambda r: _loss(val(r)), lambda r: finite(val(r))),
        Column(f"{model}_horizon", f"{title} hzn", lambda r: MISSING if horizon(r) is None else str(horizon(r)),
               horizon),
    )


_LSTM_TRAIN, _LSTM_VAL, _LSTM_HORIZON = _model_columns("lstm", "LSTM")
_RNN_TRAIN, _RNN_VAL, _RNN_HORIZON = _model_columns("rnn", "RNN")
COLUMNS: tuple[Column, ...] = (
    Column("name", "run", lambda r: r.name, lambda r: r.name),
    Column("task", "task", lambda r: r.label or MISSING, lambda r: r.label or None),
    Column("state", "state", lambda r: r.status, lambda r: STATE_ORDER.index(r.status)
           if r.status in STATE_ORDER else len(STATE_ORDER)),
    Column("epochs", "epochs", _epochs, lambda r: r.epochs_done if r.is_run else None),
    _LSTM_TRAIN, _LSTM_VAL, _RNN_TRAIN, _RNN_VAL, _LSTM_HORIZON, _RNN_HORIZON,
    Column("started", "started", lambda r: _started(r.started), lambda r: r.started),
    Column("note", "note", lambda r: r.reason, lambda r: r.reason or None),
)
BY_KEY = {column.key: column for column in COLUMNS}

# The columns by importance, most first: when the table is narrower than its columns, the last
# of these go first (a column sorted by stays, after the name). The name shows at least as much
# as a run's timestamp (a default name is its start time, then its preset or task) and grows to
# its full width before the note, which takes what is left (the detail line has it in full).
IMPORTANCE = ("name", "state", "epochs", "lstm_val", "rnn_val", "task", "lstm_train", "rnn_train",
              "lstm_horizon", "rnn_horizon", "started", "note")
NAME_MIN = len("20261127T163501Z")
NOTE_MIN = len("no config…")


def column_widths(natural: dict[str, int], width: int, *, padding: int = 1, keep: str = "") -> dict[str, int]:
    """The columns (keys of ``natural``: each column's content width, "mark" and IMPORTANCE)
    shown in ``width`` cells, and each one's content width; ``padding`` cells either side of
    each; ``keep`` is shown second, after the name."""
    pad = 2 * padding
    left = width - natural["mark"] - pad
    widths = {"mark": natural["mark"], "name": max(1, min(natural["name"], NAME_MIN, left - pad))}
    left -= widths["name"] + pad
    order = [key for key in IMPORTANCE if key not in ("name", "note")]
    if keep in order:
        order.insert(0, order.pop(order.index(keep)))
    every = True
    for key in order:
        if natural[key] + pad > left:
            every = False  # by importance: none after it shows either
            break
        widths[key] = natural[key]
        left -= natural[key] + pad
    grow = max(0, min(left, natural["name"] - widths["name"]))
    widths["name"] += grow
    left -= grow
    if every and left - pad >= min(NOTE_MIN, natural["note"]):
        widths["note"] = min(natural["note"], left - pad)
    return widths


def _cut(text: Text, width: int) -> Text:
    """``text`` on one line of at most ``width`` cells, an ellipsis where it was cut."""
    text.no_wrap, text.overflow = True, "ellipsis"
    if text.cell_len > width:
        text.truncate(width, overflow="ellipsis")
    return text


def matches(run: RunSummary, pattern: re.Pattern[str] | None) -> bool:
    """Whether the filter finds ``pattern`` in the run's name, task, state or note (each on
    its own, so ^ and $ anchor to one of them)."""
    return pattern is None or any(pattern.search(text) for text in (run.name, run.label, run.status, run.reason))


def ordered(runs: Iterable[RunSummary], key: str, reverse: bool = False, marked: Collection[str] = (),
            pattern: re.Pattern[str] | None = None) -> list[RunSummary]:
    """The runs ``pattern`` matches, sorted by column ``key`` ("mark": marked first), then by
    name; those without a value (no epochs yet, a diverged loss) last in either direction."""
    column = BY_KEY.get(key)

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
        label = "mark" if self.sort_key == "mark" else BY_KEY[self.sort_key].label
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
        keys = [column.key for column in COLUMNS]
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
        cells = [[column.cell(run) for column in COLUMNS] for run in runs]
        headers = {column.key: self._header(column.key, column.label) for column in COLUMNS}
        natural = {"mark": self._header("mark", MARK).cell_len}
        for i, column in enumerate(COLUMNS):
            natural[column.key] = max([headers[column.key].cell_len, *(cell_len(row[i]) for row in cells)])
        widths = column_widths(natural, self._room(len(runs)), padding=self.cell_padding, keep=self.sort_key)
        shown = [(i, column.key) for i, column in enumerate(COLUMNS) if column.key in widths]
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
