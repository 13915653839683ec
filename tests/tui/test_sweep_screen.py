"""The live sweep screen, through the Pilot: the grid fills in as trials end, the running trials
show their epochs, enter opens a trial's dashboard, q stops the trials; on crafted trial
directories (a SweepFollower follows them as it follows real ones), and once on a real sweep."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import pytest
from textual.widgets import OptionList

import tui.sweep.live
from engine.events import Cause, EpochEnd, RunStarted, RunState, RunStateChanged
from engine.sweep.grid import Grid, SweepDirectory, Trial
from engine.sweep.trials import TrialOutcome
from tests.tui.helpers import visible_text, wait_until
from tui.cli.main import main
from tui.dashboard.app import DashboardApp
from tui.screens.help import HelpScreen
from tui.sweep.app import SweepApp
from tui.sweep.live import LiveSweep, OpenTrial
from tui.sweep.run import run_screen, trial_dashboard
from tui.sweep.stop_confirm import StopConfirm
from tui.sweep.trial_picker import TrialPicker
from tui.widgets.header import RunHeader

LN3 = math.log(3)
FLAGS = {"task": "echo", "series_length": "300", "lag": "2,5", "epochs": "3", "device": "cpu"}
LEARNED = [1.0, 0.6, 0.5]  # below the success loss, (ln 3 + 0.3) / 2 = 0.699, from epoch 2
NOT_LEARNED = [1.0, 1.0, 0.9]


@pytest.fixture(autouse=True)
def quick_looks(monkeypatch) -> None:
    """The screen looks at the files ten times a second here, not once: the tests wait less."""
    monkeypatch.setattr(tui.sweep.live, "POLL_S", 0.1)


@pytest.fixture
def crafted(tmp_path: Path) -> tuple[SweepDirectory, Grid]:
    """A sweep of two lags x two seeds, LSTM and GRU, with no trial started."""
    grid = Grid.from_flags(FLAGS, seeds="2", models="lstm,gru")
    sweep = SweepDirectory(tmp_path / "sweep")
    sweep.create(grid)
    return sweep, grid


def begin(sweep: SweepDirectory, trial: Trial, epochs: dict[str, list[float]]):
    """A trial's directory as its trainer writes it while running: run_started and the epochs'
    validation losses; the writer (holding the trial's lock: live) is returned open."""
    writer = sweep.trial(trial.name).open_writer(trial.config)
    writer(RunStarted(config=trial.config.to_dict(), device="cpu", device_name="cpu",
                      parameters={model: 1 for model in epochs}, train_windows=200, val_windows=50,
                      data_sha256="ab" * 32, chance_loss=LN3, best_loss=0.3, batches_per_epoch=1,
                      chunks_per_batch=1))
    for i in range(max(len(losses) for losses in epochs.values())):
        for model, losses in epochs.items():
            writer(EpochEnd(model=model, epoch=i + 1, train_loss=1.0, val_loss=losses[i], val_acc=0.5,
                            grad_norm=1.0, lr=0.01, seconds=0.1, samples_per_s=1000.0))
    return writer


def finish(sweep: SweepDirectory, trial: Trial, epochs: dict[str, list[float]]) -> None:
    writer = begin(sweep, trial, epochs)
    last = len(next(iter(epochs.values())))
    writer(RunStateChanged(state=RunState.FINISHED, cause=Cause.COMPLETED, epoch=last))
    writer.close()


def followed(crafted: tuple[SweepDirectory, Grid]) -> LiveSweep:
    sweep, grid = crafted
    live = LiveSweep(sweep, grid)
    live.start()
    return live


def cell(app: SweepApp, point: int, model: str) -> str:
    return str(app.grid_table.get_cell(str(point), model))


def screen_text(app: SweepApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


# -- the grid, the running trials, the chart -------------------------------------------------------

async def test_a_cell_fills_in_when_a_trial_finishes(crafted) -> None:
    sweep, grid = crafted
    app = SweepApp(followed(crafted))
    async with app.run_test(size=(120, 40)) as pilot:
        assert cell(app, 0, "lstm") == "–"
        finish(sweep, grid.trials[0], {"lstm": LEARNED, "gru": NOT_LEARNED})  # lag 2, seed 0
        await wait_until(pilot, lambda: cell(app, 0, "lstm") != "–", what="the cell filled in")
        assert cell(app, 0, "lstm") == "1/1 [0.21,1.00]"  # Wilson interval of 1 in 1
        assert cell(app, 0, "gru") == "0/1 [0.00,0.79]"
        assert cell(app, 1, "lstm") == "–"  # lag 5: no trial has ended
        assert str(app.grid_table.get_cell("0", "ended")) == "1/2"


async def test_the_line_under_the_grid_says_everything_about_the_cursor_s_cell(crafted) -> None:
    sweep, grid = crafted
    finish(sweep, grid.trials[0], {"lstm": LEARNED, "gru": NOT_LEARNED})
    app = SweepApp(followed(crafted))
    async with app.run_test(size=(120, 40)) as pilot:
        app.grid_table.focus()
        await pilot.pause()
        detail = str(app.detail.render())
        assert "lag 2 · LSTM: 1 of 2 trials ended" in detail
        assert "1 learned (rate 1.00, 95% CI 0.21–1.00)" in detail
        await pilot.press("right")  # the GRU's cell
        assert "lag 2 · GRU: 1 of 2 trials ended · 0 learned" in str(app.detail.render())


async def test_the_running_list_shows_a_running_trial_s_epoch_of_its_total(crafted) -> None:
    sweep, grid = crafted
    trial = grid.trials[1]  # lag 5, seed 0
    writer = begin(sweep, trial, {"lstm": [1.0, 0.9], "gru": [1.0, 0.8]})
    try:
        app = SweepApp(followed(crafted))
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: app.running_table.row_count == 1, what="the running trial")
            row = [str(value) for value in app.running_table.get_row(trial.name)]
            assert row[0] == trial.name
            assert row[1] == "2/3"
            assert row[3:] == ["0.900", "0.800"]  # each model's latest validation loss
            assert str(app.grid_table.get_cell("1", "ended")) == "0/2 +1"
            assert "1 running" in str(app.header.render())
            writer(EpochEnd(model="lstm", epoch=3, train_loss=1.0, val_loss=0.5, val_acc=0.5, grad_norm=1.0,
                            lr=0.01, seconds=0.1, samples_per_s=1000.0))
            writer(EpochEnd(model="gru", epoch=3, train_loss=1.0, val_loss=0.5, val_acc=0.5, grad_norm=1.0,
                            lr=0.01, seconds=0.1, samples_per_s=1000.0))
            await wait_until(pilot, lambda: str(app.running_table.get_cell(trial.name, "epoch")) == "3/3",
                             what="the next epoch")
    finally:
        writer.close()


async def test_the_chart_draws_each_model_s_rate_against_the_swept_axis(crafted) -> None:
    sweep, grid = crafted
    for trial in grid.trials:
        finish(sweep, trial, {"lstm": LEARNED, "gru": NOT_LEARNED})
    app = SweepApp(followed(crafted))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        drawn = "\n".join(app.chart.drawn_lines)
        assert "LSTM" in drawn and "GRU" in drawn  # the legend: a line per model
        assert "1.00" in drawn and "0.00" in drawn  # the rate's axis
        assert "lag" in drawn
        assert app.chart.border_title == "success rate (95 % Wilson interval) against lag"


async def test_the_chart_says_when_no_trial_has_ended(crafted) -> None:
    app = SweepApp(followed(crafted))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.chart.border_title.endswith("· no trial has ended yet")


# -- sizes ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_every_part_is_readable_and_none_overlaps(crafted, size: tuple[int, int]) -> None:
    sweep, grid = crafted
    finish(sweep, grid.trials[0], {"lstm": LEARNED, "gru": NOT_LEARNED})
    writer = begin(sweep, grid.trials[1], {"lstm": [1.0], "gru": [1.0]})
    try:
        app = SweepApp(followed(crafted))
        async with app.run_test(size=size) as pilot:
            await wait_until(pilot, lambda: app.running_table.row_count == 1, what="the running trial")
            await pilot.pause()
            parts = [app.header, app.grid_table, app.running_table, app.detail, app.chart]
            for i, a in enumerate(parts):
                assert a.region.area > 0, f"{a} is not visible"
                for b in parts[i + 1:]:
                    assert not a.region.overlaps(b.region), f"{a} overlaps {b}"
            text = screen_text(app)
            assert "1/1 [0.21,1.00]" in text and "0/1 [0.00,0.79]" in text  # the cells, whole
            assert grid.trials[1].name in text and "1/3" in text  # the running trial and its epoch
            assert "1/4 done · 1 running · 2 queued" in text
            assert app.chart.size.height >= 6
    finally:
        writer.close()


async def test_a_tiny_terminal_says_how_big_the_screen_must_be(crafted) -> None:
    app = SweepApp(followed(crafted))
    async with app.run_test(size=(50, 12)) as pilot:
        await pilot.pause()
        message = app.query_one("#too-small")
        assert message.region.area > 0
        words = " ".join(visible_text(message).split())  # wrapped to the width
        assert "The terminal is 50x12: the sweep screen needs at least 60x16. Enlarge it, or press q" in words
        assert not app.grid_table.display or app.grid_table.region.area == 0
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert app.grid_table.region.area > 0 and message.region.area == 0
        assert app.focused is not None  # the focus is back on a table


# -- opening a trial -------------------------------------------------------------------------------

async def test_enter_on_a_running_trial_ends_the_screen_to_open_it(crafted) -> None:
    sweep, grid = crafted
    trial = grid.trials[1]
    writer = begin(sweep, trial, {"lstm": [1.0], "gru": [1.0]})
    try:
        live = followed(crafted)
        app = SweepApp(live)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: app.running_table.row_count == 1, what="the running trial")
            app.running_table.focus()
            await pilot.press("enter")
            await wait_until(pilot, lambda: app.return_value is not None, what="the screen to end")
        assert app.return_value == OpenTrial(trial.name)
        assert live.memory.focus == "running"  # kept for the screen's return
    finally:
        writer.close()


async def test_the_trial_opened_shows_in_the_dashboard_watching_it(crafted) -> None:
    sweep, grid = crafted
    trial = grid.trials[1]
    writer = begin(sweep, trial, {"lstm": [1.0, 0.9], "gru": [1.0, 0.8]})
    try:
        live = followed(crafted)
        dashboard = trial_dashboard(live, trial.name)
        async with dashboard.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: dashboard.state.epoch == 2, what="the trial's epochs")
            await wait_until(pilot, lambda: dashboard.watch_status == "live", what="its status")
            assert dashboard.run_dir == sweep.trial(trial.name).path
            assert trial.name in dashboard.query_one(RunHeader).plain
            assert dashboard.source.refusal("pause") is None  # steerable, as `watch` is
    finally:
        writer.close()


async def test_enter_on_a_cell_lists_the_point_s_trials_and_opens_the_one_picked(crafted) -> None:
    sweep, grid = crafted
    lag_2 = [trial for trial in grid.trials if trial.index == 0]
    finish(sweep, lag_2[1], {"lstm": LEARNED, "gru": NOT_LEARNED})  # seed 1 ended; seed 0 not started
    app = SweepApp(followed(crafted))
    async with app.run_test(size=(120, 40)) as pilot:
        app.grid_table.focus()
        await pilot.press("enter")  # on lag 2's LSTM cell
        await wait_until(pilot, lambda: isinstance(app.screen, TrialPicker), what="the trials")
        options = app.screen.query_one(OptionList)
        assert options.option_count == 2
        assert "seed 0 · pending · not started yet" in str(options.get_option_at_index(0).prompt)
        second = str(options.get_option_at_index(1).prompt)
        assert "seed 1 · finished · LSTM best 0.500, learned at epoch 2" in second
        assert options.get_option_at_index(0).disabled
        await pilot.press("enter")  # the highlighted one: the first that started
        await wait_until(pilot, lambda: app.return_value is not None, what="the screen to end")
    assert app.return_value == OpenTrial(lag_2[1].name)


async def test_a_trial_not_started_cannot_be_opened(crafted) -> None:
    app = SweepApp(followed(crafted))
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_trial(crafted[1].trials[0].name)
        await pilot.pause()
        assert app.return_value is None and app.is_running


def test_quitting_the_trial_s_dashboard_comes_back_to_the_sweep(crafted) -> None:
    """run_screen: the sweep screen, enter, the dashboard on that trial, q, the sweep screen again, q."""
    sweep, grid = crafted
    trial = grid.trials[1]
    writer = begin(sweep, trial, {"lstm": [1.0, 0.9], "gru": [1.0, 0.8]})
    shown: list[str] = []

    def run_sweep(app: SweepApp, release) -> int:  # noqa: ANN001 - run_in_terminal's seam
        async def script(pilot) -> None:  # noqa: ANN001
            await wait_until(pilot, lambda: app.running_table.row_count == 1, what="the running trial")
            shown.append(f"sweep, focus on {app.focused.id if app.focused else None}")
            if len(shown) == 1:
                app.running_table.focus()
                await pilot.press("enter")
            else:
                await pilot.press("q", "y")

        app.run(headless=True, size=(120, 40), auto_pilot=script)
        release(1.0)
        return app.return_code or 0

    def run_trial(app: DashboardApp) -> int:
        async def script(pilot) -> None:  # noqa: ANN001
            await wait_until(pilot, lambda: app.state.epoch == 2, what="the trial's epochs")
            shown.append(f"dashboard on {app.run_dir.name}")
            await pilot.press("q")

        app.run(headless=True, size=(120, 40), auto_pilot=script)
        return app.return_code or 0

    try:
        live = LiveSweep(sweep, grid)
        assert run_screen(live, run_sweep=run_sweep, run_trial=run_trial) == 0
    finally:
        writer.close()
    assert shown == ["sweep, focus on running", f"dashboard on {trial.name}", "sweep, focus on running"]


# -- quitting --------------------------------------------------------------------------------------

class HeldExecutor:
    """An executor whose trials run until it is stopped: the stop and the kill are recorded."""

    name = "local"
    workers = 2

    def __init__(self) -> None:
        self.stopped = threading.Event()
        self.stops: list[int] = []
        self.kills = 0

    def run(self, jobs, report) -> None:  # noqa: ANN001
        self.stopped.wait(30)
        for job in jobs:
            report(TrialOutcome(job.name, "interrupted", message="stopped", trained=False))

    def stop(self, signum: int = -1) -> None:
        self.stops.append(signum)
        self.stopped.set()

    def kill(self) -> None:
        self.kills += 1
        self.stop()


@pytest.fixture
def held(monkeypatch, crafted) -> tuple[LiveSweep, HeldExecutor]:
    from engine.sweep.executor import ExecutorOptions

    executor = HeldExecutor()
    monkeypatch.setattr(tui.sweep.live, "make_executor", lambda *args: executor)
    sweep, grid = crafted
    live = LiveSweep(sweep, grid, options=ExecutorOptions())
    live.start()
    return live, executor


async def test_q_while_trials_run_asks_then_stops_every_trial_with_a_checkpoint(held) -> None:
    live, executor = held
    app = SweepApp(live)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: live.workers == 2, what="the executor")
        assert "local ×2" in str(app.header.render())
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, StopConfirm), what="the question")
        await pilot.press("n")  # stay: nothing stopped
        await pilot.pause()
        assert executor.stops == [] and app.is_running
        await pilot.press("q", "y")
        await wait_until(pilot, lambda: app.return_value is not None, what="the screen to end")
    assert executor.stops == [-1]  # the executor's stop: every trial checkpoints and ends
    assert executor.kills == 0 and not live.active


class StuckExecutor(HeldExecutor):
    """Neither its stop nor its kill makes its run return (an executor whose pool hung)."""

    def stop(self, signum: int = -1) -> None:
        self.stops.append(signum)


async def test_q_again_while_the_trials_stop_ends_the_workers_and_the_screen_goes(monkeypatch,
                                                                                  crafted) -> None:
    from engine.sweep.executor import ExecutorOptions

    executor = StuckExecutor()
    monkeypatch.setattr(tui.sweep.live, "make_executor", lambda *args: executor)
    monkeypatch.setattr(tui.sweep.live, "KILL_WAIT_S", 0.3)
    live = LiveSweep(*crafted, options=ExecutorOptions())
    live.start()
    app = SweepApp(live)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: live.workers == 2, what="the executor")
        await pilot.press("q", "y")
        await wait_until(pilot, lambda: "stopping with checkpoints" in str(app.header.render()),
                         what="stopping")
        await pilot.press("q")  # the trials take too long: end the workers now
        await wait_until(pilot, lambda: not app.is_running, what="the screen to end")
    assert executor.kills == 1 and app.return_value == 0
    executor.stopped.set()


async def test_a_sweep_whose_trials_have_all_ended_stays_until_q(crafted) -> None:
    sweep, grid = crafted
    for trial in grid.trials:
        finish(sweep, trial, {"lstm": LEARNED, "gru": NOT_LEARNED})
    app = SweepApp(followed(crafted))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.5)  # several looks
        assert app.is_running
        assert "4/4 done" in str(app.header.render()) and "done" in str(app.header.render())
        assert cell(app, 1, "lstm") == "2/2 [0.34,1.00]"
        await pilot.press("q")  # nothing runs: no question
        await wait_until(pilot, lambda: not app.is_running, what="the screen to end")
    assert app.return_value == 0


# -- keys: footer, help and palette say what they do ----------------------------------------------

async def test_every_key_is_in_the_help_with_its_description(crafted) -> None:
    app = SweepApp(followed(crafted))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        rows = dict(app.screen.rows)
        assert rows["enter"].startswith("On a running trial: open it in the dashboard")
        assert rows["q"].startswith("Quit (while trials run: asks")
        assert {"g", "t", "?"} <= set(rows)


async def test_the_footer_shows_open_while_a_table_has_the_focus(crafted) -> None:
    app = SweepApp(followed(crafted))
    async with app.run_test(size=(120, 40)) as pilot:
        app.grid_table.focus()
        await pilot.pause()
        shown = {binding.description for (_, binding, enabled, _) in app.screen.active_bindings.values()
                 if binding.show and enabled}
        assert {"Open", "Grid", "Running", "Help", "Quit"} <= shown


# -- the command line ------------------------------------------------------------------------------

def test_a_terminal_gets_the_live_screen_and_headless_the_rich_progress(monkeypatch, tmp_path) -> None:
    import tui.cli.sweep

    chosen: list[str] = []
    monkeypatch.setattr(tui.cli.sweep, "on_terminal", lambda: True)
    monkeypatch.setattr(tui.cli.sweep, "run_live", lambda plan, sweep: chosen.append("live") or 0)
    monkeypatch.setattr(tui.cli.sweep, "run_headless",
                        lambda plan, sweep, as_json: chosen.append("headless") or 0)
    argv = ["sweep", "--series-length", "300", "--look-back", "5", "--epochs", "2", "--device", "cpu",
            "--seeds", "2", "--sweep-dir"]
    assert main([*argv, str(tmp_path / "a")]) == 0
    assert main([*argv, str(tmp_path / "b"), "--headless"]) == 0
    assert main([*argv, str(tmp_path / "c"), "--json"]) == 0
    monkeypatch.setattr(tui.cli.sweep, "on_terminal", lambda: False)
    assert main([*argv, str(tmp_path / "d")]) == 0
    assert chosen == ["live", "headless", "headless", "headless"]


# -- a real sweep ----------------------------------------------------------------------------------

@pytest.mark.slow
async def test_a_real_sweep_fills_the_grid_as_its_trials_finish(tmp_path) -> None:
    from engine.sweep.executor import ExecutorOptions

    grid = Grid.from_flags({"series_length": "300", "look_back": "5", "epochs": "2", "device": "cpu",
                            "probe_every": "0", "lr": "0.01,0.02"}, seeds="1", models="lstm,gru")
    sweep = SweepDirectory(tmp_path / "real")
    sweep.create(grid)
    live = LiveSweep(sweep, grid, options=ExecutorOptions(workers=2), success_loss=1.2)
    live.start()
    app = SweepApp(live)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: live.ended and live.counts()["done"] == 2, timeout=120,
                             what="both trials")
            await pilot.pause(0.5)
            assert cell(app, 0, "lstm").startswith("1/1") and cell(app, 1, "gru").startswith("1/1")
            assert "2/2 done" in str(app.header.render())
            await pilot.press("q")
    finally:
        live.finish(timeout=30)
