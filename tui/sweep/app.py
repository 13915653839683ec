"""The live sweep screen: the grid filling in as trials end, the trials running now, the chart.

What it shows comes from the trials' run directories (tui/sweep/live.py's LiveSweep, looked at
about once a second); it never trains. ``enter`` on a running trial, or on a grid cell and then
one of its trials, ends this app with an OpenTrial: tui/sweep/run.py opens the dashboard on the
trial and brings this screen back when the dashboard quits. ``q`` while trials run asks, then
stops every trial with a checkpoint (the executor's stop, as Ctrl+C does headless) and quits once
they have (``q`` again: the workers end at once); a sweep whose trials have all ended stays on
screen until ``q``.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual import events
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.coordinate import Coordinate
from textual.screen import Screen
from textual.widgets import DataTable, Static

from engine.sweep.follow import TrialState
from engine.sweep.grid import point_label
from tui.palette import binding_commands
from tui.screens.help import HelpScreen
from tui.sweep.chart import SweepChart
from tui.sweep.grid_table import GridTable, cell_detail, point_text
from tui.sweep.header import SweepHeader
from tui.sweep.live import LiveSweep, OpenTrial
from tui.sweep.running_table import RunningTable
from tui.sweep.stop_confirm import StopConfirm
from tui.sweep.trial_picker import TrialPicker
from tui.widgets.footer import KeyFooter

STOPPING_LOOK_S = 0.25  # while the trials stop: look this often, so the screen goes as soon as they have
LEAST_SIZE = (60, 16)  # below it, the screen says so instead of drawing tables into nothing
WIDE = 150  # from here the grid and the running trials sit side by side (three models' columns fit)

INTRO = ("The grid: a row per grid point, a column per model. Each cell counts the point's ended trials "
         "in which the model learned (its best validation loss fell below the success loss), with the 95% "
         "Wilson interval of that rate; the line under the grid says everything about the cell under the "
         "cursor. The chart draws those rates against the swept axis, a line per model. enter on a running "
         "trial, or on a cell and then one of its trials, opens the trial in the dashboard (watching, "
         "steerable as `lstm-tui watch` is); quitting the dashboard comes back here. The screen follows the "
         "trials' files about once a second and never trains.")


def too_small_text(width: int, height: int) -> str:
    least = f"{LEAST_SIZE[0]}x{LEAST_SIZE[1]}"
    return (f"The terminal is {width}x{height}: the sweep screen needs at least {least}. "
            "Enlarge it, or press q to quit.")


class SweepApp(App[object]):
    """The sweep of ``live``; ends with an OpenTrial to open one, else with an exit status."""

    CSS_PATH = "app.tcss"
    TITLE = "lstm-tui sweep"
    HORIZONTAL_BREAKPOINTS = [(0, "-too-narrow"), (LEAST_SIZE[0], "-narrow"), (WIDE, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-too-short"), (LEAST_SIZE[1], "-short"), (30, "-tall")]
    AUTO_FOCUS = "#running"
    BINDINGS = [
        Binding("g", "focus('grid')", "Grid", tooltip="Move to the grid: enter on a cell lists its trials"),
        Binding("t", "focus('running')", "Running", tooltip="Move to the running trials: enter opens one"),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="Show every key"),
        Binding("q", "quit", "Quit",
                tooltip="Quit (while trials run: asks, then stops each with a checkpoint)"),
    ]

    def __init__(self, live: LiveSweep) -> None:
        super().__init__()
        self.live = live
        from tui.ascii import AsciiFilter, locale_is_utf8

        if not locale_is_utf8():  # as the dashboard does: nothing outside ASCII reaches such a terminal
            self._filters.append(AsciiFilter())
        self.models = live.grid.trials[0].config.model_names
        self._shown: tuple = ()  # what the grid last showed: its rows and each point's counts
        self._ended_said = False

    def compose(self) -> ComposeResult:
        yield SweepHeader(id="sweep-header")
        with Horizontal(id="top"):
            yield GridTable(self.live.grid, self.models, id="grid")
            yield RunningTable(self.models, id="running")
        yield Static(id="cell-detail")
        yield SweepChart(self.live.grid, id="chart")
        yield Static(id="too-small")
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        # Kept by reference: app-level queries search the screen on top (a dialog).
        self.header = self.query_one(SweepHeader)
        self.grid_table = self.query_one(GridTable)
        self.running_table = self.query_one(RunningTable)
        self.detail = self.query_one("#cell-detail", Static)
        self.chart = self.query_one(SweepChart)
        self.query_one("#too-small", Static).update(too_small_text(*self.size))
        self._ended_said = self.live.ended
        self.show(changed=True)
        memory = self.live.memory
        if memory.focus is not None:  # back from a trial's dashboard: as the screen was left
            self.grid_table.cursor_coordinate = Coordinate(*memory.grid_cursor)
            self.running_table.select_trial(memory.running_trial)
            (self.grid_table if memory.focus == "grid" else self.running_table).focus()
        elif not self.live.running():
            self.grid_table.focus()
        if memory.notice:
            self.notify(memory.notice, severity="error")
            memory.notice = ""
        self.set_timer(self.live.wait_s, self.look)

    # -- looking at the trials ------------------------------------------------------------------

    def look(self) -> None:
        """Bring the screen up to date from the trials' files, and look again in a while."""
        live = self.live
        look = live.look()
        for outcome in look.outcomes:
            if outcome.state == TrialState.FAILED:
                self.notify(f"{outcome.name}: {outcome.message}", title="Trial failed", severity="error",
                            timeout=10)
        self.show(changed=bool(look.changed or look.outcomes))
        if live.stopping and (live.ended or live.given_up):
            self.exit(0)
            return
        if live.ended and not self._ended_said:
            self._ended_said = True
            self.say_ended()
        self.set_timer(STOPPING_LOOK_S if live.stopping else live.wait_s, self.look)

    def say_ended(self) -> None:
        live = self.live
        if live.error is not None:
            self.notify(f"{type(live.error).__name__}: {live.error}", title="The executor failed",
                        severity="error", timeout=30)
            return
        left = live.counts()["queued"] + live.counts()["failed"]
        if left:
            self.notify(f"The sweep ended with {left} trials left: the same command goes on with them. "
                        "q quits.", title="Sweep", severity="warning")
        else:
            self.notify("Every trial has ended. q quits and writes summary.csv and summary.svg.",
                        title="Sweep")

    def show(self, *, changed: bool) -> None:
        live = self.live
        self.header.show(live)
        if not changed:
            return
        running = live.running()
        self.running_table.show(running)
        ended = [0] * len(live.grid.points)
        active = [0] * len(live.grid.points)
        for view in live.follower.views.values():
            if view.state == TrialState.RUNNING:
                active[view.trial.index] += 1
            elif view.result is not None:
                ended[view.trial.index] += 1
        shown = (live.rows_version, ended, active)
        if shown != self._shown:
            self._shown = shown
            self.grid_table.show(live.rows, ended, active)
            self.chart.show(live.rows)
            self._show_detail()

    def _show_detail(self) -> None:
        index, model = self.grid_table.cell_at(self.grid_table.cursor_coordinate)
        if not 0 <= index < len(self.live.grid.points):
            return
        point = self.live.grid.points[index]
        row = next((r for r in self.live.rows if r.point == point and r.model == model), None)
        if row is not None:
            self.detail.update(cell_detail(row))
        else:
            flags = point_label(point)
            self.detail.update(f"{point_text(point)}: {len(self.live.grid.seeds)} trials" +
                               (f" ({flags})" if flags else ""))

    def on_data_table_cell_highlighted(self, event: DataTable.CellHighlighted) -> None:
        if event.data_table is self.grid_table:
            self._show_detail()

    def on_resize(self, event: events.Resize) -> None:
        for message in self.query("#too-small").results(Static):  # none before the first compose
            message.update(too_small_text(*event.size))
        # A table hidden while the terminal was too small lost the focus: give it back.
        self.call_after_refresh(self._refocus)

    @property
    def too_small(self) -> bool:
        return self.size.width < LEAST_SIZE[0] or self.size.height < LEAST_SIZE[1]

    def _refocus(self) -> None:
        if self.focused is None and not self.too_small and self.screen is self.screen_stack[0]:
            (self.running_table if self.live.running() else self.grid_table).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The tables' keys are off while the terminal is too small to show them."""
        return not (action == "focus" and self.too_small)

    # -- opening a trial --------------------------------------------------------------------------

    def on_data_table_cell_selected(self, event: DataTable.CellSelected) -> None:
        if event.data_table is not self.grid_table:
            return
        index, model = self.grid_table.cell_at(event.coordinate)
        views = [view for view in self.live.follower.views.values() if view.trial.index == index]
        if len(views) == 1:
            self.open_trial(views[0].trial.name)
            return
        title = point_text(self.live.grid.points[index])

        def picked(name: str | None) -> None:
            if name is not None:
                self.open_trial(name)

        self.push_screen(TrialPicker(title, views, model), picked)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table is self.running_table and event.row_key.value is not None:
            self.open_trial(event.row_key.value)

    def open_trial(self, name: str) -> None:
        """End this screen for the dashboard on trial ``name`` (run_screen opens it)."""
        view = self.live.view(name)
        if view is None or view.state == TrialState.PENDING:
            self.notify(f"{name} has not started yet: nothing to show.", severity="warning")
            return
        memory = self.live.memory
        memory.focus = "grid" if self.focused is self.grid_table else "running"
        memory.grid_cursor = tuple(self.grid_table.cursor_coordinate)
        memory.running_trial = self.running_table.cursor_trial
        self.exit(OpenTrial(name))

    # -- keys -------------------------------------------------------------------------------------

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.key_rows(), INTRO))

    async def action_quit(self) -> None:
        live = self.live
        if live.stopping:  # asked again while the trials checkpoint: end the workers now
            if live.active:
                live.kill()
                self.notify("Ending the workers now: their trials resume from their last checkpoints.",
                            severity="warning")
            else:
                self.exit(0)
            return
        if not live.active:
            self.exit(0)
            return
        counts = live.counts()

        def answer(stop: bool | None) -> None:
            if stop:
                live.stop()
                self.header.show(live)

        self.push_screen(StopConfirm(counts["running"], counts["queued"]), answer)

    def key_rows(self) -> list[tuple[str, str]]:
        """Every key, as the help screen lists it."""
        rows = [("enter", "On a running trial: open it in the dashboard; on a grid cell: pick one of its "
                 "trials to open")]
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            rows.append((binding.key_display or binding.key, binding.tooltip or binding.description))
        return rows

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from binding_commands(self, self.BINDINGS)
        yield from super().get_system_commands(screen)
