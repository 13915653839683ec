"""The compare view: several runs' loss curves overlaid, one chart per model, following live logs."""

from __future__ import annotations

import threading
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from engine.events import Event
from engine.history import MODELS
from engine.rundir.directory import RunDirectory
from engine.rundir.follow import RunFollower
from tui.runs.compare_chart import CompareChart
from tui.runs.listing import SUMMARY_EVENTS, RunSummary
from tui.widgets.footer import KeyFooter

POLL_S = 0.5  # how often the logs are looked at: a stat and a read of what was appended
TITLES = {"lstm": "LSTM", "rnn": "RNN"}


class CompareScreen(Screen[None]):
    """Opened on runs; escape goes back to the table. A thread reads the logs, the UI folds."""

    BINDINGS = [
        Binding("escape", "close", "Back", tooltip="Close the comparison and go back to the runs table"),
        Binding("t", "toggle_train", "Train", tooltip="Show or hide each run's train-loss curve (dimmed)"),
        Binding("l", "toggle_log", "Log", tooltip="Toggle a log scale on both comparison charts"),
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
        self.runs = [RunSummary(path, curves=True) for path in paths]
        self.show_train = False
        self.log_scale = False
        self._stop = threading.Event()

    def compose(self) -> ComposeResult:
        yield Static(id="compare-title")
        with Vertical(id="compare-charts"):
            for model in MODELS:
                yield CompareChart(model, TITLES[model], id=f"compare-{model}")
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        self.charts = [self.query_one(f"#compare-{model}", CompareChart) for model in MODELS]
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
        self._redraw()

    def _redraw(self) -> None:
        for chart in self.charts:
            chart.show([(run.name, run.models[chart.model]) for run in self.runs])
        parts = [f"{run.name} {run.status} {run.epochs_done}/{run.epochs_total or '?'}" for run in self.runs]
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
