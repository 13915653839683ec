"""The compare view: several runs' loss curves overlaid, one chart per model, following live logs.

One chart for every model any compared run trained, in the order the runs list them (the first
run's models first): a run of lstm,rnn beside one of lstm,rnn,gru gives LSTM, RNN and GRU charts,
the GRU's with one curve. Where the charts do not all fit (three on 24 rows), they scroll."""

from __future__ import annotations

import threading
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from engine.config import MODEL_TITLES, RunConfig
from engine.events import Event
from engine.rundir.directory import RunDirectory
from engine.rundir.files import RunDirError
from engine.rundir.follow import RunFollower
from tui.runs.compare_chart import CompareChart, reference_lines
from tui.runs.listing import SUMMARY_EVENTS, RunSummary
from tui.widgets.footer import KeyFooter

POLL_S = 0.5  # how often the logs are looked at: a stat and a read of what was appended


def run_config(path: Path) -> RunConfig | None:
    """The run's config.json, for its models before its log is read (None: unreadable now;
    the log's run_started says them)."""
    try:
        return RunDirectory(path).load_config()
    except RunDirError:
        return None


def compared_models(runs: list[RunSummary]) -> tuple[str, ...]:
    """Every model of the compared runs, each where it first appears."""
    return tuple(dict.fromkeys(model for run in runs for model in run.model_names))


class CompareScreen(Screen[None]):
    """Opened on runs; escape goes back to the table. A thread reads the logs, the UI folds."""

    BINDINGS = [
        Binding("escape", "close", "Back", tooltip="Close the comparison and go back to the runs table"),
        Binding("t", "toggle_train", "Train", tooltip="Show or hide each run's train-loss curve (dimmed)"),
        Binding("l", "toggle_log", "Log", tooltip="Toggle a log scale on every comparison chart"),
    ]

    class Appended(Message):
        """New events (and the current status) of run ``index``, from the follow thread."""

        def __init__(self, index: int, events: list[Event], status: str) -> None:
            super().__init__()
            self.index = index
            self.events = events
            self.status = status

    def __init__(self, paths: list[Path]) -> None:
        super().__init__()
        self.paths = paths
        self.runs = [RunSummary(path, config=run_config(path), curves=True) for path in paths]
        self.models = compared_models(self.runs)  # whose charts show
        self.charts: list[CompareChart] = []
        self.show_train = False
        self.log_scale = False
        self._stop = threading.Event()

    def compose(self) -> ComposeResult:
        self.charts = []
        for model in self.models:
            chart = CompareChart(model, MODEL_TITLES.get(model, model.upper()), id=f"compare-{model}")
            chart.show_train, chart.log_scale = self.show_train, self.log_scale
            self.charts.append(chart)
        yield Static(id="compare-title")
        # The charts share the height, none shorter than it can be read (runs.tcss): three of
        # them on a 24-row terminal scroll, and tab brings each into view.
        with VerticalScroll(id="compare-charts"):
            yield from self.charts
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        self._redraw()
        self._follow()

    def on_unmount(self) -> None:
        self._stop.set()

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def _follow(self) -> None:
        """Read each run's log from the start, then what is appended, every POLL_S seconds."""
        followers = [RunFollower(RunDirectory(path), only=SUMMARY_EVENTS) for path in self.paths]
        told: list[str | None] = [None] * len(followers)
        while not self._stop.is_set():
            for index, follower in enumerate(followers):
                update = follower.poll()
                if update.events or update.status != told[index]:
                    told[index] = update.status
                    self.post_message(self.Appended(index, update.events, str(update.status)))
            self._stop.wait(POLL_S)

    def on_compare_screen_appended(self, message: Appended) -> None:
        run = self.runs[message.index]
        run.status = message.status
        for event in message.events:
            run.apply(event)
        if compared_models(self.runs) != self.models:  # a run restarted with other models
            self.models = compared_models(self.runs)
            self.run_worker(self._recharted(), group="charts", exclusive=True)
            return
        self._redraw()

    async def _recharted(self) -> None:
        await self.recompose()
        self._redraw()

    def _redraw(self) -> None:
        lines = reference_lines([(run.name, run.history) for run in self.runs])
        for chart in self.charts:
            chart.show([(run.name, run.models.get(chart.model)) for run in self.runs], lines)
        differ = len({run.model_names for run in self.runs}) > 1  # else every chart names them
        parts = [f"{run.name} {run.status} {run.epochs_done}/{run.epochs_total or '?'}"
                 + (f" ({','.join(run.model_names)})" if differ else "") for run in self.runs]
        count = f"{len(self.runs)} run{'s' if len(self.runs) > 1 else ''}"
        self.query_one("#compare-title", Static).update(Text(f"Comparing {count}: " + " · ".join(parts)))

    def action_close(self) -> None:
        self.app.pop_screen()

    def action_toggle_train(self) -> None:
        self.show_train = not self.show_train
        for chart in self.charts:
            chart.set_show_train(self.show_train)

    def action_toggle_log(self) -> None:
        self.log_scale = not self.log_scale
        for chart in self.charts:
            chart.set_log_scale(self.log_scale)
        self._redraw()  # the subtitles say so
