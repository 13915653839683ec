"""The loss charts' shared cursor: arrows, home/end, following live, click and wheel zoom."""

from __future__ import annotations

from textual.geometry import Offset

from engine.config import RunConfig
from tests.tui.helpers import synthetic_run, visible_text, wait_until
from tui.dashboard.app import DashboardApp, EngineEvent
from tui.dashboard.state import MinMaxSeries
from tui.widgets.loss_chart import LossChart

CONFIG = RunConfig(series_length=300, look_back=5, epochs=40)


async def fed(pilot, app: DashboardApp, epochs: int) -> None:
    for event in synthetic_run(CONFIG, epochs):
        app.post_message(EngineEvent(event))
    await wait_until(pilot, lambda: app.state.epoch == epochs, what="events folded")
    await wait_until(pilot, lambda: app.dashboard.caught_up, what="a frame")


def subtitles(app: DashboardApp) -> list[str]:
    return [str(app.dashboard.charts[m].border_subtitle) for m in ("lstm", "rnn")]


async def test_left_moves_both_charts_cursor_and_reads_out_both_models() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed(pilot, app, 10)
        app.dashboard.charts["lstm"].focus()
        await pilot.press("left", "left")
        assert app.dashboard.cursor_epoch == 8
        # synthetic_run: train 1.1 - 0.02 * epoch / (1 + i), val = train + 0.01
        assert subtitles(app) == ["ep 8 train 0.9400 val 0.9500", "ep 8 train 1.0200 val 1.0300"]


async def test_home_and_end_jump_to_the_first_and_last_epoch() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed(pilot, app, 6)
        app.dashboard.charts["rnn"].focus()
        await pilot.press("home")
        assert app.dashboard.cursor_epoch == 1 and not app.dashboard.cursor_follow
        await pilot.press("left")
        assert app.dashboard.cursor_epoch == 1  # no epoch 0
        await pilot.press("end")
        assert app.dashboard.cursor_epoch == 6 and app.dashboard.cursor_follow


async def test_on_the_last_epoch_the_cursor_follows_new_ones() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed(pilot, app, 4)
        app.dashboard.charts["lstm"].focus()
        await pilot.press("end")
        for event in synthetic_run(CONFIG, 7)[2 + 4 * 4:]:  # epochs 5 to 7
            app.post_message(EngineEvent(event))
        await wait_until(pilot, lambda: app.dashboard.cursor_epoch == 7, what="the cursor to follow")
        await pilot.press("left")
        for event in synthetic_run(CONFIG, 8)[2 + 4 * 7:]:  # epoch 8
            app.post_message(EngineEvent(event))
        await wait_until(pilot, lambda: app.state.epoch == 8)
        await wait_until(pilot, lambda: app.dashboard.caught_up)
        assert app.dashboard.cursor_epoch == 6  # moved off the last epoch: it stays put


async def test_a_click_puts_the_cursor_under_the_pointer() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed(pilot, app, 30)
        chart = app.dashboard.charts["lstm"]

        def plot_top() -> str | None:  # the plot's frame, once drawn (redraws are paced on a busy box)
            return next((line for line in visible_text(chart).splitlines() if "┌" in line), None)

        await wait_until(pilot, lambda: plot_top() is not None, what="the chart's frame drawn")
        top = plot_top()
        assert top is not None
        left, right = top.index("┌"), top.rindex("┐")
        await pilot.click(LossChart, offset=Offset(right - 1, 5))
        assert app.dashboard.cursor_epoch is not None and app.dashboard.cursor_epoch >= 28
        await pilot.click(LossChart, offset=Offset(left + 1, 5))
        assert app.dashboard.cursor_epoch is not None and app.dashboard.cursor_epoch <= 3


async def test_the_wheel_zooms_around_the_cursor_and_back_out() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed(pilot, app, 40)
        app.dashboard.charts["lstm"].focus()
        await pilot.press("home", *["right"] * 19)
        assert app.dashboard.cursor_epoch == 20
        for _ in range(3):
            app.dashboard.charts["lstm"].post_message(LossChart.Zoom(0.8))
        await pilot.pause()
        low, high = app.dashboard.x_zoom
        assert low < 20 < high and high - low < 39 * 0.6
        assert app.dashboard.charts["rnn"].zoom == app.dashboard.x_zoom  # both columns show the same epochs
        for _ in range(6):
            app.dashboard.charts["lstm"].post_message(LossChart.Zoom(1.25))
        await pilot.pause()
        assert app.dashboard.x_zoom is None


async def test_a_restart_clears_the_cursor() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed(pilot, app, 5)
        app.dashboard.charts["lstm"].focus()
        await pilot.press("left")
        app.post_message(EngineEvent(synthetic_run(CONFIG, 1)[0]))
        await wait_until(pilot, lambda: app.dashboard.cursor_epoch is None, what="the cursor to go")
        await wait_until(pilot, lambda: app.dashboard.caught_up, what="a frame")
        assert subtitles(app) == ["epoch", "epoch"]


def test_a_thinned_stretch_reads_out_as_a_range() -> None:
    series = MinMaxSeries(capacity=4)
    for epoch in range(1, 17):
        series.add(epoch, 1.0 + epoch / 100)
    reading = series.at(6)
    assert not reading.exact and reading.first_x <= 6 <= reading.last_x
    assert reading.low <= 1.06 <= reading.high
