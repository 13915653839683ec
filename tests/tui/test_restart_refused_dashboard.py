"""`c` with a config that cannot start: the form says why beside the field, or the engine refuses
the restart with an alert; either way the run on screen goes on as it was."""

from __future__ import annotations

import torch
from textual.widgets import Input

import engine.trainer
from engine.config import RunConfig
from tests.tui.helpers import notifications, wait_until
from tui.dashboard.app import DashboardApp
from tui.screens.config_form import ConfigForm
from tui.widgets.header import RunHeader

SIZE = (120, 40)


async def open_form(pilot, app: DashboardApp) -> ConfigForm:
    await wait_until(pilot, lambda: app.state.run_state == "running" and app.state.epoch >= 2, what="2 epochs")
    await pilot.press("c")
    await pilot.pause()
    assert isinstance(app.screen, ConfigForm)
    return app.screen


async def test_c_with_a_device_this_machine_lacks_says_so_beside_the_field(endless: RunConfig, monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    app = DashboardApp(endless)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot, app)
        form.query_one("#field-device", Input).value = "cuda"
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is form
        assert "cuda is not available: no CUDA GPU found" in str(form.query_one("#error-device").render())
        await pilot.press("escape")
        await pilot.pause(0.3)
        assert app.state.run_state == "running" and app.state.runs == 1
        assert app.config.device == "cpu"


async def test_a_restart_the_engine_refuses_is_an_alert_and_the_run_goes_on(endless: RunConfig, monkeypatch) -> None:
    real = engine.trainer.WeatherData

    def data(cfg, device):
        if cfg.series_length == 5_000:
            raise MemoryError
        return real(cfg, device)

    monkeypatch.setattr(engine.trainer, "WeatherData", data)
    app = DashboardApp(endless)
    state = app.state
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot, app)
        form.query_one("#field-series_length", Input).value = "5000"
        form.query_one("#field-epochs", Input).value = "7"
        await pilot.press("enter")
        await wait_until(pilot, lambda: any("restart refused" in n.message for n in notifications(app)),
                         what="the refusal")
        [toast] = [n for n in notifications(app) if "restart refused" in n.message]
        assert toast.severity == "error" and "not enough memory" in toast.message
        epoch = state.epoch
        await wait_until(pilot, lambda: state.epoch >= epoch + 2, what="two more epochs")
        header = app.query_one(RunHeader).plain
        assert "FAILED" not in header and "RUNNING" in header
        assert state.runs == 1 and state.total_epochs == endless.epochs and app.config == endless
