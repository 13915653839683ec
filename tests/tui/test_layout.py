"""The dashboard's layout, notifications, help and palette, fed with made-up events (no torch)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from textual.geometry import Region
from textual.widgets._footer import FooterKey

from engine.config import RunConfig, from_preset
from engine.events import Alert, RunFailed, RunStateChanged
from tests.tui.helpers import notifications, synthetic_run, visible_text, wait_until
from tui.dashboard.app import DashboardApp, EngineEvent
from tui.dashboard.pacing import ui_cpu_share
from tui.dashboard.tuning import training_niceness
from tui.screens.help import HelpScreen
from tui.widgets.footer import KeyFooter
from tui.widgets.header import RunHeader
from tui.widgets.loss_chart import LossChart

CONFIG = RunConfig(series_length=300, look_back=5, epochs=40)


async def fed_app(pilot, app: DashboardApp, epochs: int = 12) -> None:
    for event in synthetic_run(app.config, epochs):
        app.post_message(EngineEvent(event))
    await wait_until(pilot, lambda: app.state.epoch == epochs, what="events folded")
    await drawn(pilot, app)


async def drawn(pilot, app: DashboardApp) -> None:
    """Wait until the refresh timer has drawn every panel's latest data."""
    await wait_until(pilot, lambda: app.dashboard.caught_up, what="a frame")
    await pilot.pause()


@pytest.mark.parametrize("size", [(40, 12), (80, 24), (120, 40), (200, 60)])
async def test_renders_at_terminal_size(size: tuple[int, int]) -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=size) as pilot:
        await fed_app(pilot, app)
        assert "epoch 12/40" in app.query_one(RunHeader).plain


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_panels_do_not_overlap(size: tuple[int, int]) -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=size) as pilot:
        await fed_app(pilot, app)
        panels = [app.query_one(RunHeader), *app.dashboard.charts.values(), *app.dashboard.predictions.values()]
        for i, a in enumerate(panels):
            assert a.region.area > 0, f"{a} is not visible"
            for b in panels[i + 1 :]:
                assert not a.region.overlaps(b.region), f"{a} overlaps {b}"


async def test_survives_resizes_down_and_up() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed_app(pilot, app)
        for width, height in ((80, 24), (40, 12), (20, 6), (160, 50), (80, 24)):
            await pilot.resize_terminal(width, height)
            await pilot.pause(0.15)
        assert app.is_running
        assert "train" in visible_text(app.dashboard.charts["lstm"])


async def test_both_charts_title_their_latest_losses() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed_app(pilot, app, epochs=3)
        assert app.dashboard.charts["lstm"].border_title == "LSTM train 1.0400 val 1.0500"
        assert app.dashboard.charts["rnn"].border_title == "RNN train 1.0700 val 1.0800"


async def test_echo_chart_draws_chance_and_best_loss_lines() -> None:
    app = DashboardApp(from_preset("echo"), start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed_app(pilot, app, epochs=3)
        text = visible_text(app.dashboard.charts["lstm"])
        assert "chance ln 3" in text
        assert "best 0.290" in text


async def test_prediction_panel_shows_probabilities_truth_and_accuracy() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed_app(pilot, app, epochs=3)
        text = visible_text(app.dashboard.predictions["rnn"])
        assert "next day Rainy" in text
        assert "true     Cloudy ✗" in text  # beside the chart: truth on a line of its own
        assert "50.0%" in text and "20.0%" in text and "30.0%" in text
        assert "val acc 43.0%" in text
        assert "last 3 ep" in text and "RRR" in text


async def test_prediction_panel_under_a_narrow_chart_keeps_one_headline() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await fed_app(pilot, app, epochs=3)
        text = visible_text(app.dashboard.predictions["rnn"])
        assert "next day Rainy  true Cloudy ✗" in text
        assert "last 3 ep RRR" in text


async def test_run_failed_event_notifies_and_shows_in_header_without_crashing() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed_app(pilot, app, epochs=2)
        app.post_message(EngineEvent(RunFailed(message="RuntimeError: CUDA out of memory", traceback="")))
        app.post_message(EngineEvent(RunStateChanged(state="failed", reason="RuntimeError: CUDA out of memory")))
        await wait_until(pilot, lambda: app.state.run_state == "failed")
        await drawn(pilot, app)
        assert app.is_running
        assert [(n.severity, n.message) for n in notifications(app)] == [
            ("error", "RuntimeError: CUDA out of memory")
        ]
        assert "FAILED (RuntimeError: CUDA out of memory)" in app.query_one(RunHeader).plain


async def test_alert_event_notifies_with_its_severity() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        app.post_message(EngineEvent(Alert(level="warning", message="loss spiked")))
        await wait_until(pilot, lambda: app.state.last_alert is not None)
        assert [(n.severity, n.message) for n in notifications(app)] == [("warning", "loss spiked")]


async def test_non_finite_pause_shows_its_reason_in_the_header() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed_app(pilot, app, epochs=2)
        app.post_message(EngineEvent(RunStateChanged(state="paused", reason="non-finite loss in RNN")))
        await wait_until(pilot, lambda: app.state.run_state == "paused")
        await drawn(pilot, app)
        assert "PAUSED (non-finite loss in RNN)" in app.query_one(RunHeader).plain


async def test_log_scale_draws_losses_within_one_decade() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed_app(pilot, app, epochs=10)  # losses 0.90..1.10: a log axis inside one decade
        await pilot.press("l")
        app.redraw_now()
        await pilot.pause()
        for chart in app.dashboard.charts.values():
            text = visible_text(chart)
            assert "chart unavailable" not in text and "train" in text and "chance ln 3" in text


async def test_l_toggles_log_scale_on_both_charts() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed_app(pilot, app, epochs=3)
        await pilot.press("l")
        assert all(chart.log_scale for chart in app.query(LossChart))
        await pilot.press("l")
        assert not any(chart.log_scale for chart in app.query(LossChart))


async def test_z_zooms_the_focused_panel_and_back() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed_app(pilot, app, epochs=3)
        await pilot.press("tab")
        focused = app.focused
        assert focused is not None
        await pilot.press("z")
        await pilot.pause()
        assert app.screen.maximized is focused
        assert focused.region.width == 120
        await pilot.press("z")
        await pilot.pause()
        assert app.screen.maximized is None


async def test_tab_moves_focus_through_every_panel() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        seen = set()
        for _ in range(8):
            await pilot.press("tab")
            seen.add(app.focused.id if app.focused else None)
        assert seen == {"loss-lstm", "loss-rnn", "prediction-lstm", "prediction-rnn", "gates-lstm", "gates-rnn",
                        "gradient-flow", "gradient-history"}


async def test_help_lists_every_key_binding() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = visible_text(app.screen.query_one("#help-keys"))
        for binding in app.BINDINGS:
            assert binding.tooltip in text
        assert "ctrl+p" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


def test_every_binding_has_a_description() -> None:
    for binding in DashboardApp.BINDINGS:
        assert binding.description and binding.tooltip, binding.key


async def test_command_palette_offers_every_command() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)):
        titles = {command.title for command in app.get_system_commands(app.screen)}
        for binding in app.BINDINGS:
            assert binding.tooltip in titles or binding.action == "quit"
        assert "Quit" in titles


async def test_quit_without_a_run_needs_no_confirmation() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert app.return_value == 0


def test_importing_the_app_does_not_import_torch() -> None:
    code = "import sys, tui.dashboard.app; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


async def test_moving_focus_leaves_the_footer_as_it_is() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed_app(pilot, app, epochs=3)
        footer = app.query_one(KeyFooter)
        rebuilt = []
        footer.recompose = lambda: rebuilt.append(1)  # type: ignore[method-assign]
        for _ in range(8):
            await pilot.press("tab")
        await pilot.pause()
        assert rebuilt == []
        shown = {key.description for key in footer.query(FooterKey)}
        assert {"Pause", "Gate", "Quit"} <= shown


async def test_focused_panel_border_is_repainted_on_tab() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed_app(pilot, app, epochs=3)
        chart = app.dashboard.charts["rnn"]

        def border_style():  # the style of the top border's first cell, as drawn
            return next(iter(chart.render_lines(Region(0, 0, chart.outer_size.width, 1))[0])).style

        before = border_style()
        chart.focus()
        await pilot.pause()
        assert app.focused is chart
        assert border_style() != before


@pytest.mark.parametrize(("switch", "niceness"), [("1\n", 10), ("0\n", 5), (None, 5)])
def test_training_yields_fully_to_the_ui_only_within_an_autogroup(tmp_path, switch, niceness) -> None:
    path = tmp_path / "sched_autogroup_enabled"
    if switch is not None:
        path.write_text(switch)
    assert training_niceness(path) == niceness


def test_ui_drawing_budget_grows_with_the_cores_training_leaves() -> None:
    assert ui_cpu_share(2) == pytest.approx(0.04)
    assert ui_cpu_share(8) == pytest.approx(0.16)
    assert ui_cpu_share(256) == 0.25  # never more than a quarter of a core


async def test_the_dashboard_opens_on_the_lstm_loss_chart_at_the_top() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        # Named, not "the first focusable widget": in a real terminal the nested columns can
        # mount after the heatmaps, and Textual's default then focused (and scrolled to) those.
        assert [widget.id for widget in app.screen.query(app.AUTO_FOCUS)] == ["loss-lstm"]
        assert app.focused is app.dashboard.charts["lstm"]
        assert app.query_one("#main").scroll_y == 0
