"""The dashboard holds the run's models (issue 17): three side by side from 120 columns, the
focused one wide and the others condensed below, the GRU's gates, and a restart or a watched
log with other models composing the columns again. Made-up events, but for the form's restart."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from textual.widgets import Input

from engine.config import RunConfig
from engine.events import RunStarted, RunStateChanged
from engine.rundir.directory import RunDirectory
from tests.tui.helpers import notifications, synthetic_probes, synthetic_run, visible_text, wait_until
from tui.dashboard.app import DashboardApp, EngineEvent
from tui.screens.config_form import ConfigForm
from tui.screens.help import HelpScreen
from tui.widgets.header import RunHeader
from tui.widgets.loss_chart import LossChart

THREE = RunConfig(series_length=300, look_back=10, epochs=40, models="lstm,rnn,gru")
PAIR = dataclasses.replace(THREE, models="lstm,rnn")


async def fed(pilot, app: DashboardApp, epochs: int = 12, probes: int = 3) -> None:  # noqa: ANN001
    """The app shows a made-up run of its config's models: ``epochs`` epochs, ``probes`` probes."""
    events = synthetic_run(app.config, epochs)
    for epoch in range(1, probes + 1):
        events += synthetic_probes(epoch, models=app.config.model_names)
    for event in events:
        app.post_message(EngineEvent(event))
    await wait_until(pilot, lambda: app.state.epoch == epochs, what="the epochs folded")
    await drawn(pilot, app)


async def drawn(pilot, app: DashboardApp) -> None:  # noqa: ANN001
    await wait_until(pilot, lambda: app.dashboard.caught_up, what="a frame")
    await pilot.pause()


def columns(app: DashboardApp) -> list[tuple[str, int, int]]:
    """(column id, x, width) of each model's column, left to right."""
    found = [(c.id or "", c.region.x, c.region.width) for c in app.dashboard.query(".column")]
    return sorted(found, key=lambda column: column[1])


# -- wide: three side by side -----------------------------------------------------------------


async def test_at_120_columns_three_models_stand_side_by_side_in_the_runs_order() -> None:
    app = DashboardApp(THREE, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed(pilot, app)
        shown = columns(app)
        assert [name for name, _, _ in shown] == ["column-lstm", "column-rnn", "column-gru"]
        assert {width for _, _, width in shown} <= {39, 40}  # a third each (a scrollbar takes one)


async def test_at_120_columns_every_panel_is_titled_by_its_model_and_its_chart_drawn() -> None:
    app = DashboardApp(THREE, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed(pilot, app)
        # synthetic_run: model i's train loss at epoch 12 is 1.1 - 0.24 / (1 + i)
        for model, losses in (("LSTM", "0.8600 val 0.8700"), ("RNN", "0.9800 val 0.9900"),
                              ("GRU", "1.0200 val 1.0300")):
            name = model.lower()
            chart = visible_text(app.dashboard.charts[name])
            assert f"{model} train {losses}" in chart
            assert "chance ln 3" in chart and "12" in chart  # the chart is drawn, to epoch 12
            assert f"{model} prediction" in visible_text(app.dashboard.predictions[name])
            assert "next day Rainy" in visible_text(app.dashboard.predictions[name])
        assert "LSTM forget gate f · epoch 3" in visible_text(app.dashboard.gates["lstm"])
        assert "RNN hidden state h · epoch 3" in visible_text(app.dashboard.gates["rnn"])
        assert "GRU update gate z · epoch 3" in visible_text(app.dashboard.gates["gru"])


async def test_the_gradient_flow_title_names_each_models_horizon_in_the_runs_order() -> None:
    app = DashboardApp(THREE, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed(pilot, app)
        assert "gradient flow · horizon LSTM 9 (c 9) · RNN 6 · GRU 8" in visible_text(app.dashboard.gradient_flow)
        history = visible_text(app.dashboard.gradient_history)
        assert "LSTM h=9" in history and "RNN h=6" in history and "GRU h=8" in history


async def test_the_header_gives_each_models_parameter_count() -> None:
    app = DashboardApp(THREE, start=False)
    async with app.run_test(size=(200, 40)) as pilot:
        await fed(pilot, app, probes=0)
        assert app.query_one(RunHeader).plain.endswith("params LSTM 633 · RNN 183 · GRU 483")


async def test_one_model_takes_the_whole_width() -> None:
    app = DashboardApp(dataclasses.replace(THREE, models="gru"), start=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await fed(pilot, app)
        assert [(name, x) for name, x, _ in columns(app)] == [("column-gru", 0)]
        assert list(app.dashboard.charts) == ["gru"]
        assert "GRU train 0.8600 val 0.8700" in visible_text(app.dashboard.charts["gru"])
        assert "next day Rainy" in visible_text(app.dashboard.predictions["gru"])  # beside the chart


# -- 80x24: the focused model's column wide, the others condensed -------------------------------


async def test_at_80x24_the_focused_models_column_is_wide_and_the_others_condensed() -> None:
    app = DashboardApp(THREE, start=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await fed(pilot, app)
        (lstm, _, wide), (_, _, rnn), (_, _, gru) = columns(app)
        assert app.focused is app.dashboard.charts["lstm"] and lstm == "column-lstm"
        assert wide >= 38 and rnn <= 20 and gru <= 20
        # The wide column reads as a pair's does at 80 columns; the condensed ones in short.
        assert "LSTM train 0.8600 val 0.8700" in visible_text(app.dashboard.charts["lstm"])
        assert "RNN val 0.990" in visible_text(app.dashboard.charts["rnn"])
        assert "GRU val 1.030" in visible_text(app.dashboard.charts["gru"])
        for model in ("rnn", "gru"):
            prediction = visible_text(app.dashboard.predictions[model])
            assert "next Rainy" in prediction and "true Cloudy ✗" in prediction and "50.0%" in prediction
        app.dashboard.gates["rnn"].scroll_visible(animate=False)
        await pilot.pause()
        assert "RNN h · ep 3" in visible_text(app.dashboard.gates["rnn"])


async def test_at_80x24_the_wide_column_follows_the_focus() -> None:
    app = DashboardApp(THREE, start=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await fed(pilot, app)
        app.dashboard.charts["gru"].focus()
        await pilot.pause()
        await drawn(pilot, app)
        widths = {name: width for name, _, width in columns(app)}
        assert widths["column-gru"] >= 38 and widths["column-lstm"] <= 20
        assert "GRU train 1.0200 val 1.0300" in visible_text(app.dashboard.charts["gru"])
        assert "LSTM val 0.870" in visible_text(app.dashboard.charts["lstm"])


async def test_the_help_screen_names_the_models_and_the_condensed_columns() -> None:
    app = DashboardApp(THREE, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        intro = visible_text(app.screen.query_one("#help-intro"))
        assert "LSTM, RNN and GRU train side by side" in intro
        assert "focused model's column is wide" in intro


# -- g: the focused model's gates ------------------------------------------------------------


async def test_g_cycles_the_gru_through_r_z_n_and_h_when_it_has_the_focus() -> None:
    app = DashboardApp(THREE, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed(pilot, app)
        panel = app.dashboard.gates["gru"]
        panel.focus()
        seen = []
        for _ in range(4):
            await pilot.press("g")
            seen.append(panel.view)
        assert seen == ["n", "h", "r", "z"]
        assert app.dashboard.gates["lstm"].view == "f"  # the others stay as they were


async def test_g_cycles_the_lstm_when_one_of_its_panels_has_the_focus() -> None:
    app = DashboardApp(THREE, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed(pilot, app)
        app.dashboard.predictions["lstm"].focus()
        await pilot.press("g", "g")
        assert app.dashboard.gates["lstm"].view == "o"
        assert app.dashboard.gates["gru"].view == "z"


async def test_g_on_the_rnn_says_it_has_only_its_hidden_state() -> None:
    app = DashboardApp(THREE, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed(pilot, app)
        app.dashboard.charts["rnn"].focus()
        await pilot.press("g")
        await pilot.pause()
        assert app.dashboard.gates["rnn"].view == "h"
        assert any("RNN has no gates" in n.message for n in notifications(app))


async def test_the_gru_heatmap_shows_each_of_r_z_n_and_h_from_its_probe() -> None:
    app = DashboardApp(THREE, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed(pilot, app)
        assert set(app.state.probes["gru"].arrays) == {"r", "z", "n", "h"}
        panel = app.dashboard.gates["gru"]
        panel.focus()
        # synthetic_probes at the last step (9), unit 0: r 0.45, z 0.9, n 0.8, h 0.4
        for view, name, value in (("z", "update gate z", 0.9), ("n", "candidate n", 0.8),
                                  ("h", "hidden state h", 0.4), ("r", "reset gate r", 0.45)):
            assert panel.view == view
            text = visible_text(panel)
            assert f"GRU {name} · epoch 3" in text and f"{view} = {value:.4f}" in text
            await pilot.press("g")
            await pilot.pause()
        saturation = visible_text(panel)
        assert all(f" {gate} 20%/" in saturation for gate in "rzn")  # synthetic low shares: 20 %


# -- another set of models: the columns composed again ----------------------------------------


def child_ids(app: DashboardApp) -> list[str]:
    return [widget.id or "" for widget in app.dashboard.query(LossChart)]


async def test_a_pulse_while_the_columns_are_composed_again_draws_nothing_until_they_are() -> None:
    """A pulse's redraw can land while the columns await their recompose: the new models are
    named by then, their panels not made yet."""
    app = DashboardApp(PAIR, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed(pilot, app, epochs=5)
        screen = app.dashboard
        rebuild = screen.columns.rebuild

        async def rebuilt_with_a_pulse_inside(models: tuple[str, ...]) -> None:
            screen.columns.models = models  # as the rebuild names them, before composing their panels
            screen.redraw()
            await rebuild(models)

        screen.columns.rebuild = rebuilt_with_a_pulse_inside
        for event in synthetic_run(THREE, 3):
            app.post_message(EngineEvent(event))
        await wait_until(pilot, lambda: app.dashboard.columns.models == THREE.model_names,
                         what="the columns for the new models")
        await wait_until(pilot, lambda: "gru" in screen.charts and screen.caught_up, what="every panel drawn")


async def test_a_run_of_other_models_composes_the_columns_again_with_nothing_stale() -> None:
    app = DashboardApp(PAIR, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed(pilot, app, epochs=5)
        for config in (THREE, dataclasses.replace(THREE, models="gru,lstm")):
            for event in synthetic_run(config, 3):
                app.post_message(EngineEvent(event))
            await wait_until(pilot, lambda config=config: app.dashboard.columns.models == config.model_names,
                             what="the columns for the new models")
            await drawn(pilot, app)
        assert child_ids(app) == ["loss-gru", "loss-lstm"]
        assert not app.dashboard.query("#loss-rnn") and not app.dashboard.query("#gates-rnn")
        assert [name for name, _, _ in columns(app)] == ["column-gru", "column-lstm"]
        assert "GRU train 1.0400 val 1.0500" in visible_text(app.dashboard.charts["gru"])  # epoch 3
        assert app.focused is not None and app.focused.is_attached
        assert set(app.state.versions) == {"header", "gradients", "system", "chart:gru", "prediction:gru",
                                           "gates:gru", "chart:lstm", "prediction:lstm", "gates:lstm"}


async def test_the_config_form_rejects_a_model_named_twice_beside_its_field() -> None:
    app = DashboardApp(THREE, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, ConfigForm)
        assert form.query_one("#field-models", Input).value == "lstm,rnn,gru"
        form.query_one("#field-models", Input).value = "lstm,lstm"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is form
        assert "lstm is named twice" in visible_text(form.query_one("#error-models"))


async def test_a_restart_from_the_form_with_other_models_trains_and_shows_them(endless: RunConfig) -> None:
    app = DashboardApp(endless)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.state.run_state == "running" and app.state.epoch >= 1, what="training")
        await pilot.press("c")
        await pilot.pause()
        app.screen.query_one("#field-models", Input).value = "GRU, lstm"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.state.runs == 2 and app.state.epoch >= 1, what="the restart")
        await wait_until(pilot, lambda: app.dashboard.columns.models == ("gru", "lstm"), what="new columns")
        assert app.config.models == "gru,lstm"
        assert child_ids(app) == ["loss-gru", "loss-lstm"]
        await wait_until(pilot, lambda: "GRU train" in str(app.dashboard.charts["gru"].border_title),
                         what="the GRU's losses")
        await pilot.press("s")


# -- watching -----------------------------------------------------------------------------------


def written_run(run_dir: Path, config: RunConfig, *, without_models: bool = False) -> Path:
    """A finished made-up run in ``run_dir``; ``without_models``: as one written before --models."""
    log = RunDirectory(run_dir).open_writer(config)
    events = synthetic_run(config, 4) + synthetic_probes(4, models=config.model_names)
    if without_models:
        started = events[0]
        assert isinstance(started, RunStarted)
        events[0] = dataclasses.replace(started, config={k: v for k, v in started.config.items() if k != "models"})
    for event in [*events, RunStateChanged(state="finished", epoch=4)]:
        log(event)
    log.close()
    if without_models:
        path = run_dir / "config.json"
        path.write_text(json.dumps({k: v for k, v in json.loads(path.read_text()).items() if k != "models"}))
    return run_dir


async def test_a_watched_three_model_run_shows_its_three_models(tmp_path) -> None:
    run_dir = written_run(tmp_path / "run", THREE)
    app = DashboardApp(RunDirectory(run_dir).load_config(), watch=run_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.state.run_state == "finished", what="the replay")
        await drawn(pilot, app)
        assert [name for name, _, _ in columns(app)] == ["column-lstm", "column-rnn", "column-gru"]
        assert "GRU train 1.0733 val 1.0833" in visible_text(app.dashboard.charts["gru"])  # 1.1 - 0.08 / 3
        assert "horizon LSTM 9 (c 9) · RNN 6 · GRU 8" in visible_text(app.dashboard.gradient_flow)


async def test_a_watched_run_from_before_models_shows_the_pair(tmp_path) -> None:
    run_dir = written_run(tmp_path / "run", PAIR, without_models=True)
    config = RunDirectory(run_dir).load_config()
    assert config.model_names == ("lstm", "rnn")
    # Even a dashboard opened with three models takes the log's: the pair, as that run trained.
    app = DashboardApp(THREE, watch=run_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.state.run_state == "finished", what="the replay")
        await wait_until(pilot, lambda: app.dashboard.columns.models == ("lstm", "rnn"), what="the pair's columns")
        await drawn(pilot, app)
        assert child_ids(app) == ["loss-lstm", "loss-rnn"]
        assert "RNN train 1.0600 val 1.0700" in visible_text(app.dashboard.charts["rnn"])
