"""The gate heatmaps and gradient-flow panels, fed with made-up probe events (no torch)."""

from __future__ import annotations

import pytest

from engine.config import RunConfig, from_preset
from engine.events import GradientFlow
from tests.tui.helpers import synthetic_probes, synthetic_run, visible_text, wait_until
from tui.dashboard.app import DashboardApp, EngineEvent
from tui.dashboard.state import DashboardState, FlowHistory
from tui.widgets.gate_heatmap import GatePanel
from tui.widgets.gradient_flow import relative_log10

CONFIG = RunConfig(series_length=300, look_back=10, epochs=40)


async def probed_app(pilot, app: DashboardApp, epochs: int = 3) -> None:
    events = synthetic_run(app.config, epochs)
    for epoch in range(1, epochs + 1):
        events += synthetic_probes(epoch)
    for event in events:
        app.post_message(EngineEvent(event))
    await wait_until(pilot, lambda: app.state.flows["rnn"].epoch == epochs, what="probes folded")
    await wait_until(pilot, lambda: app.dashboard.caught_up, what="a frame")
    await pilot.pause()


# -- state ----------------------------------------------------------------------------------


def test_state_keeps_the_latest_probe_of_each_model() -> None:
    state = DashboardState(CONFIG)
    state.apply_all(synthetic_run(CONFIG, 2) + synthetic_probes(1) + synthetic_probes(2))
    assert state.probes["lstm"].epoch == 2
    assert set(state.probes["lstm"].arrays) == {"i", "f", "g", "o", "c", "h"}
    assert state.probes["rnn"].overall_saturation == 0.25
    assert state.flows["rnn"].horizon == 6
    assert [epoch for epoch, _ in state.flows["lstm"].history.rows] == [1, 2]


def test_probe_window_step_inputs_line_up_with_the_last_steps() -> None:
    state = DashboardState(CONFIG)
    state.apply_all(synthetic_probes(1, steps=4, units=2))
    probe = state.probes["lstm"]
    # The window is two days longer than the steps shown: shown step 0 is window day 2.
    assert probe.steps == 4
    assert [probe.step_input(s) for s in range(4)] == probe.window[2:]


def test_a_restart_clears_probes_and_gradient_history() -> None:
    state = DashboardState(CONFIG)
    state.apply_all(synthetic_run(CONFIG, 1) + synthetic_probes(1))
    state.apply_all(synthetic_run(CONFIG, 1)[:1])  # the restart's run_started
    assert state.probes == {}
    assert state.flows["lstm"].history.rows == []


def test_probes_bump_only_their_panels() -> None:
    state = DashboardState(CONFIG)
    before = dict(state.versions)
    state.apply_all(synthetic_probes(1))
    changed = {key for key in state.versions if state.versions[key] != before[key]}
    assert changed == {"gates:lstm", "gates:rnn", "gradients"}


def test_flow_history_stays_bounded_and_spread_over_the_run() -> None:
    history = FlowHistory(capacity=8)
    for epoch in range(1, 1001):
        history.add(epoch, [1.0])
    epochs = [epoch for epoch, _ in history.rows]
    assert len(epochs) <= 8
    assert epochs[0] == 1
    assert epochs[-1] > 800  # recent probes are kept, not only the first ones
    gaps = {b - a for a, b in zip(epochs, epochs[1:], strict=False)}
    assert len(gaps) == 1  # evenly spaced


def test_relative_log10_starts_at_zero_and_floors_zero_norms() -> None:
    assert relative_log10([2.0, 0.2, 0.0]) == [0.0, -1.0, -12.0]
    assert relative_log10([0.0, 1.0]) == []


# -- the gate panel -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_gate_heatmap_shows_every_unit_and_step(size: tuple[int, int]) -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=size) as pilot:
        await probed_app(pilot, app)
        panel = app.dashboard.gates["lstm"]
        panel.focus()  # scrolls it into view on a short terminal
        await pilot.pause()
        text = visible_text(panel)
        assert "LSTM forget gate f · epoch 3" in text
        for unit in range(10):
            assert f"u{unit} " in text
        inputs = next(line for line in text.splitlines() if line.lstrip("│").startswith("in "))
        assert sum(inputs.count(letter) for letter in "SRC") == 10  # one input per step shown


async def test_g_cycles_the_lstm_view_through_gates_and_states() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await probed_app(pilot, app)
        seen = []
        for _ in range(6):
            await pilot.press("g")
            seen.append(app.dashboard.gates["lstm"].view)
        assert seen == ["g", "o", "c", "h", "i", "f"]
        await pilot.press("g")
        await pilot.pause()
        assert "LSTM candidate g" in visible_text(app.dashboard.gates["lstm"])
        assert app.dashboard.gates["rnn"].view == "h"  # the RNN has no gates to cycle


async def test_cursor_reads_out_the_exact_value_step_and_input() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await probed_app(pilot, app)
        panel = app.dashboard.gates["lstm"]
        panel.focus()
        await pilot.press("left", "left", "down", "down", "down")
        await pilot.pause()
        unit, step = panel.cursor()
        assert (unit, step) == (3, 7)
        text = visible_text(panel)
        assert "u3 t-2" in text
        probe = app.state.probes["lstm"]
        day = probe.window_start + len(probe.window) - 10 + 7
        assert f"day {day:,}" in text
        value = (7 * 10 + 3) / 100  # synthetic_probes' forget gate at step 7, unit 3
        assert f"f = {value:.4f}" in text
        weather = ("Sunny", "Rainy", "Cloudy")[probe.step_input(7)]
        assert weather in text


async def test_cursor_stops_at_the_edges() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await probed_app(pilot, app)
        panel = app.dashboard.gates["rnn"]
        panel.focus()
        await pilot.press(*["right"] * 3, *["up"] * 3)
        assert panel.cursor() == (0, 9)
        await pilot.press(*["left"] * 30, *["down"] * 30)
        assert panel.cursor() == (9, 0)


async def test_gate_panel_shows_saturation_per_gate() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await probed_app(pilot, app)
        lstm = visible_text(app.dashboard.gates["lstm"])
        assert "saturated" in lstm
        # synthetic low shares average 4.5 % per gate, high shares 50 %
        assert sum(1 for line in lstm.splitlines() if "5%   50%" in line) == 4
        rnn = visible_text(app.dashboard.gates["rnn"])
        assert "25%" in rnn  # share of saturated cells
        assert "most u9" in rnn


# -- gradient flow --------------------------------------------------------------------------


async def test_gradient_flow_chart_names_each_models_horizon() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await probed_app(pilot, app)
        text = visible_text(app.dashboard.gradient_flow)
        assert "horizon LSTM 9 (c 9) · RNN 6" in text
        assert "1e-3" in text


async def test_gradient_flow_marks_the_echo_lag() -> None:
    app = DashboardApp(from_preset("echo", look_back=40, lag=30), start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        events = synthetic_run(app.config, 1) + synthetic_probes(1, steps=40)
        for event in events:
            app.post_message(EngineEvent(event))
        await wait_until(pilot, lambda: app.dashboard.caught_up and app.state.flows["rnn"].epoch == 1)
        await pilot.pause()
        assert "lag 30" in visible_text(app.dashboard.gradient_flow)


async def test_gradient_history_adds_a_row_per_probe() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await probed_app(pilot, app, epochs=4)
        text = visible_text(app.dashboard.gradient_history)
        assert "4 probes" in text
        rows = [line for line in text.splitlines() if line.strip("│ ").split(" ")[0] in {"1", "2", "3", "4"}]
        assert len(rows) == 4
        assert "LSTM h=9" in text and "RNN h=6" in text


async def test_a_probe_with_a_zero_last_norm_draws_without_crashing() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await probed_app(pilot, app, epochs=1)
        app.post_message(EngineEvent(GradientFlow(model="rnn", epoch=2, norms=[0.0] * 10, cell_norms=None,
                                                  horizon=0, cell_horizon=None)))
        await wait_until(pilot, lambda: app.state.flows["rnn"].epoch == 2)
        await wait_until(pilot, lambda: app.dashboard.caught_up)
        await pilot.pause()
        assert "chart unavailable" not in visible_text(app.dashboard.gradient_flow)
        assert app.is_running


async def test_help_lists_the_heatmap_cursor_keys() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        text = visible_text(app.screen.query_one("#help-keys"))
        for binding in GatePanel.BINDINGS:
            assert binding.tooltip in text
