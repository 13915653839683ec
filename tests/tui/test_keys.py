"""Each key does what the help screen says, against a real (tiny) training run."""

from __future__ import annotations

import re

from textual.widgets import Input

from engine.config import RunConfig
from engine.events import Event
from tests.tui.helpers import notifications, visible_text, wait_until
from tui.dashboard.app import DashboardApp
from tui.screens.config_form import ConfigForm
from tui.screens.quit_confirm import QuitConfirm
from tui.widgets.header import RunHeader

SIZE = (120, 40)


async def running(pilot, app: DashboardApp, epochs: int = 2) -> None:
    await wait_until(pilot, lambda: app.state.run_state == "running" and app.state.epoch >= epochs,
                     what=f"{epochs} epochs")


async def test_both_columns_show_losses_after_a_few_epochs(endless: RunConfig) -> None:
    app = DashboardApp(endless)
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, app, 3)
        for model in ("lstm", "rnn"):
            assert app.state.models[model].train.count >= 3
            # Redraws are paced to the UI's CPU budget: on a busy box up to 2 s apart.
            chart = app.query_one(f"#loss-{model}")
            await wait_until(pilot, lambda chart=chart: re.search(r"train \d+\.\d{4}", str(chart.border_title)),
                             what="the chart title with the latest loss")
            assert "next day" in visible_text(app.query_one(f"#prediction-{model}"))


async def test_space_pauses_and_the_epoch_count_stops(endless: RunConfig) -> None:
    app = DashboardApp(endless)
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, app)
        await pilot.press("space")
        await wait_until(pilot, lambda: app.state.run_state == "paused", what="paused")
        paused_at = app.state.epoch
        await pilot.pause(0.5)
        assert app.state.epoch == paused_at
        assert "PAUSED" in app.query_one(RunHeader).plain
        await pilot.press("space")
        await wait_until(pilot, lambda: app.state.epoch > paused_at, what="resumed training")


async def test_n_while_paused_trains_exactly_one_epoch(endless: RunConfig) -> None:
    app = DashboardApp(endless)
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, app)
        await pilot.press("space")
        await wait_until(pilot, lambda: app.state.run_state == "paused", what="paused")
        before = app.state.epoch
        await pilot.press("n")
        await wait_until(pilot, lambda: app.state.run_state == "paused" and app.state.reason.startswith("stepped"),
                         what="stepped")
        await pilot.pause(0.3)
        assert app.state.epoch == before + 1


async def test_s_stops_the_run(endless: RunConfig) -> None:
    app = DashboardApp(endless)
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, app)
        await pilot.press("s")
        await wait_until(pilot, lambda: app.state.run_state == "stopped", what="stopped")
        assert app.session is not None and not app.session.active


async def test_r_restarts_from_epoch_zero(endless: RunConfig) -> None:
    app = DashboardApp(endless)
    seen: list[tuple[str, int]] = []
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, app, 3)
        fold = app.state.apply

        def spy(event: Event) -> None:
            fold(event)
            seen.append((event.name, app.state.epoch))

        app.state.apply = spy  # type: ignore[method-assign]
        await pilot.press("r")
        await wait_until(pilot, lambda: app.state.runs == 2 and app.state.epoch >= 1, what="restart")
        names = [name for name, _ in seen]
        restart = names.index("run_started")
        assert seen[restart] == ("run_started", 0)
        first_epoch = next(e for name, e in seen[restart:] if name == "epoch_end" and e > 0)
        assert first_epoch == 1


async def test_brackets_halve_and_double_the_learning_rate_shown(endless: RunConfig) -> None:
    app = DashboardApp(endless)
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, app)
        header = app.query_one(RunHeader)
        assert "lr 0.01 " in header.plain
        await pilot.press("right_square_bracket")
        await wait_until(pilot, lambda: "lr 0.02 " in header.plain, what="lr 0.02")
        await pilot.press("left_square_bracket", "left_square_bracket")
        await wait_until(pilot, lambda: "lr 0.005 " in header.plain, what="lr 0.005")


async def test_q_asks_while_a_run_is_active_and_n_stays(endless: RunConfig) -> None:
    app = DashboardApp(endless)
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, app)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, QuitConfirm)
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, QuitConfirm)
        assert app.return_value is None
        await pilot.press("q", "y")
        await pilot.pause()
        assert app.return_value == 0


async def test_quit_stops_the_worker_and_leaves_a_complete_log(endless: RunConfig, tmp_path) -> None:
    from engine.rundir.log import read_events

    app = DashboardApp(endless, run_dir=tmp_path / "run")
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, app)
        session = app.session
        await pilot.press("q", "y")
        await pilot.pause()
    # As lstm-tui does on leaving: quit stops the worker; a loaded machine may take it past
    # close's second to reach the end of its batch.
    assert app.wait_for_worker(timeout=30)
    assert session is not None and not session.alive
    events = list(read_events(tmp_path / "run" / "events.jsonl"))
    assert events[0].name == "run_started"
    assert events[-1].name == "state" and events[-1].state == "stopped"


async def test_c_form_rejects_a_bad_value_beside_its_field(endless: RunConfig) -> None:
    app = DashboardApp(endless)
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, app)
        await pilot.press("c")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, ConfigForm)
        form.query_one("#field-look_back", Input).value = "400"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is form
        error = str(form.query_one("#error-look_back").render())
        assert "shorter than the series" in error
        assert app.state.runs == 1


async def test_c_form_applies_a_good_value_and_restarts(endless: RunConfig) -> None:
    app = DashboardApp(endless)
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, app)
        await pilot.press("c")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, ConfigForm)
        form.query_one("#field-epochs", Input).value = "7"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.state.runs == 2, what="restart with the new config")
        assert app.config.epochs == 7
        assert app.state.total_epochs == 7
        await wait_until(pilot, lambda: app.state.run_state == "finished", what="7 epochs")
        assert app.state.epoch == 7


async def test_failed_start_is_shown_and_a_restart_from_the_form_recovers() -> None:
    # mps is not on this machine: the engine reports the device error as a failed run.
    app = DashboardApp(RunConfig(series_length=300, look_back=5, epochs=5, device="mps"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.state.run_state == "failed", what="failure")
        await pilot.pause(0.3)
        assert "FAILED" in app.query_one(RunHeader).plain
        assert any(n.severity == "error" and "mps" in n.message for n in notifications(app))
        await pilot.press("c")
        await pilot.pause()
        app.screen.query_one("#field-device", Input).value = "cpu"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.state.run_state == "finished", what="recovered run")
        assert app.state.epoch == 5


async def test_seed_preset_keys_restart_with_that_preset(endless: RunConfig) -> None:
    app = DashboardApp(endless)
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, app)
        await pilot.press("4")
        await wait_until(pilot, lambda: app.state.runs == 2, what="restart")
        assert app.config.preset == "echo"
        assert app.state.label == "echo"
        assert app.state.best_loss is not None
        await pilot.press("s")  # the echo preset's epochs are long: end the run before quitting
