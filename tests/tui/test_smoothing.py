"""`m`: TensorBoard's debiased EMA over the loss curves, drawn over the dimmed raw ones."""

from __future__ import annotations

import pytest

from engine.config import RunConfig
from tests.tui.helpers import synthetic_run, visible_text, wait_until
from tui.dashboard.app import DashboardApp, EngineEvent
from tui.dashboard.state import SmoothedSeries

CONFIG = RunConfig(series_length=300, look_back=5, epochs=40)


def tensorboard_ema(values: list[float], weight: float) -> list[float]:
    """TensorBoard's scalar smoothing, written out as its dashboard computes it."""
    out, last = [], 0.0
    for n, v in enumerate(values, start=1):
        last = last * weight + (1 - weight) * v
        out.append(last / (1 - weight**n))
    return out


@pytest.mark.parametrize("weight", [0.6, 0.9, 0.99])
def test_smoothed_curve_is_tensorboards_debiased_ema(weight: float) -> None:
    values = [1.1, 0.9, 1.3, 0.7, 0.75, 0.72, 0.5, 0.55]
    series = SmoothedSeries()
    for x, y in enumerate(values, start=1):
        series.add(x, y)
    _, ys = series.curves[weight].points()
    assert ys == pytest.approx(tensorboard_ema(values, weight))


def test_the_first_smoothed_point_is_not_pulled_toward_zero() -> None:
    series = SmoothedSeries()
    series.add(1, 1.0986)
    assert series.curves[0.99].points()[1] == [pytest.approx(1.0986)]


def test_non_finite_losses_do_not_poison_the_average() -> None:
    series = SmoothedSeries()
    for x, y in enumerate([1.0, float("nan"), 1.0], start=1):
        series.add(x, y)
    assert series.curves[0.9].points()[1] == [pytest.approx(1.0), pytest.approx(1.0)]


async def test_m_cycles_the_weight_and_the_chart_names_it() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        for event in synthetic_run(CONFIG, 5):
            app.post_message(EngineEvent(event))
        await wait_until(pilot, lambda: app.state.epoch == 5)
        named = []
        for _ in range(4):
            await pilot.press("m")
            await pilot.pause()
            chart = app.dashboard.charts["rnn"]
            named.append((str(chart.border_subtitle), "train ema" in visible_text(chart)))
        assert named == [("ema 0.6 · epoch", True), ("ema 0.9 · epoch", True), ("ema 0.99 · epoch", True),
                         ("epoch", False)]


async def test_smoothing_leaves_the_latest_logged_values_in_the_title() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        for event in synthetic_run(CONFIG, 3):
            app.post_message(EngineEvent(event))
        await wait_until(pilot, lambda: app.state.epoch == 3)
        await pilot.press("m", "m")
        assert str(app.dashboard.charts["lstm"].border_title) == "LSTM train 1.0400 val 1.0500"
        assert app.dashboard.smoothing == 0.9


async def test_a_wide_chart_names_the_weight_in_its_title_too() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(200, 50)) as pilot:
        for event in synthetic_run(CONFIG, 3):
            app.post_message(EngineEvent(event))
        await wait_until(pilot, lambda: app.state.epoch == 3)
        await pilot.press("m", "m")
        assert str(app.dashboard.charts["lstm"].border_title) == "LSTM train 1.0400 val 1.0500 · ema 0.9"
