"""`lstm-tui runs [DIR]`: every run under DIR in a table; marked runs compared on one chart.

The directories are listed at once and summarised in a thread, a batch at a time, so the
table shows before a large log has been read.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Input, Static
from textual.worker import get_current_worker

from engine.rundir.files import RunDirError
from tui.runs.listing import UNREADABLE, RunSummary, data_detail, list_run_dirs, summarise
from tui.runs.table import RunsTable, columns_for, ordered, run_models, table_models
from tui.widgets.footer import KeyFooter

BATCH_S = 0.25  # the table is rebuilt at most this often while runs are being read


class RunsRead(Message):
    """Summaries from the reading thread; ``done`` with the last batch."""

    def __init__(self, runs: list[RunSummary], done: bool) -> None:
        super().__init__()
        self.runs = runs
        self.done = done


def summarise_safely(path: Path) -> RunSummary:
    """One run's summary; whatever goes wrong with one run is that run's note, not the end of
    the listing."""
    try:
        return summarise(path)
    except Exception as exc:  # noqa: BLE001 - a strange directory must not stop the others
        return RunSummary(path, status=UNREADABLE, reason=f"{type(exc).__name__}: {exc}")


class RunsApp(App[int]):
    """The runs table; enter opens the compare view on the marked runs."""

    CSS_PATH = "runs.tcss"
    TITLE = "lstm-tui runs"
    BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/",
                tooltip="Filter the runs by a regular expression over name, task, models, state and note "
                "(case-insensitive)"),
        Binding("escape", "clear_filter", "Clear filter", tooltip="Clear the filter and show every run"),
        Binding("u", "reload", "Reload", tooltip="Read every run again: new runs, epochs and states"),
        Binding("q", "quit", "Quit", tooltip="Quit"),
    ]

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self.loading = 0  # runs still being read
        self.filter_open = False
        self.filter_error = ""

    def compose(self) -> ComposeResult:
        yield Static(id="runs-title")
        yield RunsTable(id="runs")
        yield Input(id="filter", placeholder="regular expression over name, task, models, state and note")
        yield Static(id="filter-error")
        yield Static(id="runs-detail")
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        # Kept by reference: while the compare view is open, app-level queries search that screen.
        self.table = self.query_one(RunsTable)
        self.filter_input = self.query_one("#filter", Input)
        self.filter_message = self.query_one("#filter-error", Static)
        self.title_line = self.query_one("#runs-title", Static)
        self.detail_line = self.query_one("#runs-detail", Static)
        self.action_reload()

    # -- reading the runs ------------------------------------------------------------------------

    def action_reload(self) -> None:
        try:
            paths = list_run_dirs(self.root)
        except OSError as exc:
            self.notify(f"cannot list {self.root}: {exc.strerror or exc}", severity="error")
            return
        # Rows show at once, "reading…"; the figures follow from the thread.
        self.table.runs.clear()
        self.table.marked &= {str(path) for path in paths}
        self.loading = len(paths)
        self.table.show_runs([RunSummary(path) for path in paths])
        self._read_runs(paths)

    @work(thread=True, exclusive=True, group="read", exit_on_error=False)
    def _read_runs(self, paths: list[Path]) -> None:
        worker = get_current_worker()
        batch: list[RunSummary] = []
        sent = time.monotonic()
        for path in paths:
            if worker.is_cancelled:
                return
            batch.append(summarise_safely(path))
            if time.monotonic() - sent > BATCH_S:
                self.post_message(RunsRead(batch, done=False))
                batch, sent = [], time.monotonic()
        self.post_message(RunsRead(batch, done=True))

    def on_runs_read(self, message: RunsRead) -> None:
        self.loading = 0 if message.done else max(0, self.loading - len(message.runs))
        self.table.show_runs(message.runs)

    # -- the status lines ------------------------------------------------------------------------

    def on_runs_table_changed(self) -> None:
        table = self.table
        parts = [f"runs in {self.root}", f"{len(table.runs)} runs", f"{table.row_count} shown",
                 f"{len(table.marked)} marked", f"sorted by {table.sort_label()}"]
        if table.pattern is not None:
            parts.append(f"filter /{table.pattern.pattern}/")
        if self.loading:
            parts.append(f"reading {self.loading}…")
        self.title_line.update(Text(" · ".join(parts)))
        self._show_detail()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        run = self.table.cursor_run
        text = ""
        if run is not None:
            models = ",".join(run_models(run))  # the models column may be off, or out of view
            text = f"{run.path}: {run.status}" + (f" · models {models}" if models else "")
            text += data_detail(run)
            text += f" — {run.reason}" if run.reason else ""
        self.detail_line.update(Text(text))

    # -- filter ----------------------------------------------------------------------------------

    def action_filter(self) -> None:
        self.filter_open = True
        self.filter_input.add_class("-open")
        self.filter_input.focus()
        self.refresh_bindings()

    def on_input_changed(self, event: Input.Changed) -> None:
        text = event.value
        try:
            pattern = re.compile(text, re.IGNORECASE) if text else None
        except re.error as exc:
            # The table keeps the last good filter while the expression is being typed.
            self._set_filter_error(f"not a regular expression: {exc}")
            return
        self._set_filter_error("")
        self.table.set_filter(pattern)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.filter_error:
            return  # stay in the input, with the message showing
        self._close_filter()

    def _set_filter_error(self, message: str) -> None:
        self.filter_error = message.splitlines()[0] if message else ""
        self.filter_message.update(Text(self.filter_error))
        self.filter_message.set_class(bool(message), "-shown")

    def _close_filter(self) -> None:
        self.filter_open = False
        self.filter_input.remove_class("-open")
        self.table.focus()
        self.refresh_bindings()

    def action_clear_filter(self) -> None:
        self.filter_input.value = ""  # posts Changed, which clears any message
        self._set_filter_error("")
        self.table.set_filter(None)
        self._close_filter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The table's keys are hidden (and off) while the compare view is over the table."""
        if action in ("filter", "clear_filter", "reload") and len(self.screen_stack) > 1:
            return False
        if action == "filter":
            return not self.filter_open  # in the input, / is a character of the expression
        if action == "clear_filter":  # shown (and active) only when there is something to clear
            return self.filter_open or self.table.pattern is not None
        return True

    # -- compare ---------------------------------------------------------------------------------

    def on_runs_table_compare(self, message: RunsTable.Compare) -> None:
        runs = [self.table.runs[str(path)] for path in message.paths]
        comparable = [run.path for run in runs if run.is_run]
        if not comparable:
            run = runs[0]
            self.notify(f"{run.name} is {run.status}" + (f": {run.reason}" if run.reason else ""),
                        title="Nothing to compare", severity="warning")
            return
        from tui.runs.compare import CompareScreen  # plotext loads on the first comparison, not at start

        self.push_screen(CompareScreen(comparable))


def runs_command(root: Path, *, listing: bool = False) -> int:
    """`lstm-tui runs`: the table, or with ``listing`` the runs as tab-separated lines."""
    if not root.exists():
        raise RunDirError(f"no such directory: {root}")
    if not root.is_dir():
        raise RunDirError(f"{root} is not a directory")
    if listing:
        return print_runs(root)
    from tui.dashboard.run import require_terminal
    from tui.dashboard.terminal import run_in_terminal  # a hang-up or SIGTERM ends it cleanly

    require_terminal("the runs table", f"list the runs with `lstm-tui runs --list {root}`")
    return run_in_terminal(RunsApp(root))


def print_runs(root: Path) -> int:
    """Each run as one tab-separated line under a header line, newest first (for scripts): the
    table's columns, every one, with the models column always there (a script reads which
    models each run trained from it). A stdout that fails ends the listing (`lstm-tui` says
    why, unless its reader went away)."""
    from tui.cli.ending import write_stdout

    runs = ordered([summarise_safely(path) for path in list_run_dirs(root)], "started", reverse=True)
    columns = columns_for(table_models(runs), with_models=True)
    lines = ["\t".join(column.label for column in columns)]
    lines += ["\t".join(column.cell(run) for column in columns) for run in runs]
    write_stdout("".join(line + "\n" for line in lines))
    return 0
