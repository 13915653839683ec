"""`x`: the loss charts' x axis as epochs, wall-clock time, or time since the start."""

from __future__ import annotations

import dataclasses
import time

from engine.config import RunConfig
from tests.tui.helpers import synthetic_run, visible_text, wait_until
from tui.dashboard.app import DashboardApp, EngineEvent
from tui.widgets.loss_chart import tick_label

CONFIG = RunConfig(series_length=300, look_back=5, epochs=40)
T0 = 1_800_000_000.0


def timed_run(epochs: int, seconds_per_epoch: float = 10.0) -> list:
    """synthetic_run with the run started at T0 and epoch k ending at T0 + k * seconds_per_epoch."""
    timed = []
    for event in synthetic_run(CONFIG, epochs):
        epoch = getattr(event, "epoch", 0)
        timed.append(dataclasses.replace(event, time=T0 + epoch * seconds_per_epoch))
    return timed


def test_tick_labels_read_as_epochs_clock_times_and_durations() -> None:
    assert tick_label(1234.4, "epoch") == "1,234"
    assert tick_label(T0, "wall") == time.strftime("%H:%M:%S", time.localtime(T0))
    assert tick_label(75, "elapsed") == "1:15"
    assert tick_label(3 * 3600 + 125, "elapsed") == "3:02:05"


async def test_x_cycles_the_axis_and_its_label() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        labels = []
        for _ in range(3):
            await pilot.press("x")
            labels.append(str(app.dashboard.charts["lstm"].border_subtitle))
        assert labels == ["wall-clock time", "time since start", "epoch"]


async def test_time_since_start_spans_the_runs_duration() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        for event in timed_run(6):
            app.post_message(EngineEvent(event))
        await wait_until(pilot, lambda: app.state.epoch == 6)
        await pilot.press("x", "x")
        await pilot.pause()
        text = visible_text(app.dashboard.charts["rnn"])
        assert "0:10" in text and "1:00" in text  # epoch 1 ended 10 s in, epoch 6 at 60 s
        await pilot.press("x")
        await pilot.pause()
        text = visible_text(app.dashboard.charts["rnn"])
        assert "1:00" not in text and "6" in text.splitlines()[-2]


async def test_the_x_axis_never_changes_the_curves_values() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        for event in timed_run(4):
            app.post_message(EngineEvent(event))
        await wait_until(pilot, lambda: app.state.epoch == 4)
        before = app.state.models["lstm"].train.points()
        await pilot.press("x")
        assert app.state.models["lstm"].train.points() == before
        assert str(app.dashboard.charts["lstm"].border_title) == "LSTM train 1.0200 val 1.0300"
