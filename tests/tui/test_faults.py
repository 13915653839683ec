"""Faults while the dashboard trains a real (tiny) run: a loss that blows up, a probe that raises,
a sink that blocks, a terminal resized again and again."""

from __future__ import annotations

import math
import re
import threading
import time

from textual.events import Resize
from textual.geometry import Size

from engine.config import RunConfig
from engine.events import Event
from tests.tui.helpers import notifications, visible_text, wait_until
from tui.dashboard.app import DashboardApp
from tui.widgets.header import RunHeader

SIZE = (120, 40)
# lr 0.01 becomes ~3e36, past what float32 weights hold. No key or command goes past LR_MAX
# (engine/config.py), so the test sets it on the paused trainer's optimisers itself.
BLOW_UP = 2.0**128


def notified(app: DashboardApp, severity: str, *words: str) -> bool:
    return any(n.severity == severity and all(w in n.message for w in words) for n in notifications(app))


async def test_a_blown_up_loss_pauses_with_an_alert_and_a_lower_lr_trains_on(endless: RunConfig) -> None:
    app = DashboardApp(endless.replace(batch_size=64))
    state = app.state
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: state.run_state == "running" and state.epoch >= 2, what="2 epochs")
        # Pause at the end of an epoch, so the first update with the new lr is an epoch's first.
        await pilot.press("space")
        await wait_until(pilot, lambda: state.run_state == "paused", what="paused")
        await pilot.press("n")
        await wait_until(pilot, lambda: state.run_state == "paused" and state.reason.startswith("stepped"),
                         what="stepped to the end of an epoch")
        assert app.session is not None and app.session.trainer is not None
        for optimizer in app.session.trainer.optimizers.values():  # the worker waits, paused
            for group in optimizer.param_groups:
                group["lr"] *= BLOW_UP
        await pilot.press("space")
        await wait_until(pilot, lambda: state.run_state == "paused" and "non-finite" in state.reason,
                         what="the pause for a non-finite loss")

        await wait_until(pilot, lambda: notified(app, "error", "loss inf", "lower the learning rate"),
                         what="an error toast")
        header = app.query_one(RunHeader)
        await wait_until(pilot, lambda: "PAUSED" in header.plain and "non-finite loss in" in header.plain,
                         what="the header naming the reason")

        paused_at = state.epoch
        app.session.scale_lr(1 / BLOW_UP)
        await pilot.press("left_square_bracket", "left_square_bracket")
        await wait_until(pilot, lambda: state.lr == endless.lr / 4, what="lr / 4")
        await pilot.press("space")
        await wait_until(pilot, lambda: state.epoch >= paused_at + 3 or "non-finite" in state.reason,
                         what="three more epochs")
        assert state.run_state == "running"
        for model in state.models.values():
            assert math.isfinite(model.train_loss) and math.isfinite(model.val_loss)
            assert model.train.skipped == 0  # no non-finite point ever reached a chart


async def test_a_probe_that_raises_shows_a_warning_and_the_run_finishes(monkeypatch) -> None:
    import engine.probes

    def broken(*args, **kwargs):
        raise RuntimeError("probe bug")

    monkeypatch.setattr(engine.probes, "gradient_horizon", broken)  # in each gradient-flow event
    config = RunConfig(series_length=300, look_back=5, epochs=30, device="cpu")
    app = DashboardApp(config)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.state.run_state in ("finished", "failed"), timeout=60,
                         what="the end of the run")
        assert app.state.run_state == "finished"
        assert app.state.epoch == 30
        await wait_until(pilot, lambda: notified(app, "warning", "gradient flow", "probe bug"),
                         what="a warning toast")
        assert app.state.probes  # the gate and hidden-state probes still came
        assert all(not flow.history.rows for flow in app.state.flows.values())


async def test_a_sink_that_blocks_for_seconds_does_not_hold_the_dashboard_run_up() -> None:
    release = threading.Event()
    slow_got: list[Event] = []

    def blocked(event: Event) -> None:  # held in its first event until the run has finished
        slow_got.append(event)
        release.wait(60.0)  # only ends a hang

    config = RunConfig(series_length=300, look_back=5, epochs=30, device="cpu")
    app = DashboardApp(config, extra_sinks=[blocked])
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.state.run_state == "finished", timeout=60, what="finished")
            behind = len(slow_got)
            assert app.state.epoch == 30
            for model in app.state.models.values():
                assert model.train.count == 30  # the dashboard's own sink got every epoch
            assert behind <= 1  # still held in its first event (if it had got one)
            release.set()  # before the app closes, which waits on its sinks
    finally:
        release.set()


SIZES = [(40, 12), (200, 60), (80, 24), (41, 13), (160, 50), (100, 30), (60, 20), (200, 12), (40, 60),
         (120, 40)]


async def resize(pilot, width: int, height: int) -> None:
    """What pilot.resize_terminal does, then 50 ms of the app running. resize_terminal's own wait
    for an idle CPU never ends while training keeps the cores busy; it gives up after a second."""
    size = Size(width, height)
    pilot.app._driver._size = size  # the headless driver's terminal size, as resize_terminal sets it
    pilot.app.post_message(Resize(size, size))
    await pilot.pause(0.05)


async def test_resizing_the_terminal_again_and_again_while_training_breaks_nothing(endless: RunConfig) -> None:
    app = DashboardApp(endless)
    state = app.state
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: state.run_state == "running" and state.epoch >= 2, what="2 epochs")
        before = state.epoch
        started = time.perf_counter()
        for width, height in SIZES * 2:
            await resize(pilot, width, height)
        await pilot.resize_terminal(*SIZES[-1])
        print(f"{len(SIZES) * 2 + 1} resizes in {time.perf_counter() - started:.1f} s, epochs {before} -> {state.epoch}")
        assert app.is_running
        assert app.session is not None and app.session.alive
        assert state.run_state == "running" and state.epoch > before
        assert app.size == SIZES[-1]

        for model in ("lstm", "rnn"):
            await wait_until(pilot, lambda m=model: re.search(r"train \d\.\d{4}", str(app.dashboard.charts[m].border_title)),
                             what=f"the {model} loss in its chart's title")
            await wait_until(pilot, lambda m=model: "train" in visible_text(app.dashboard.charts[m]), what=f"{model} chart")
            await wait_until(pilot, lambda m=model: "next day" in visible_text(app.dashboard.predictions[m]),
                             what=f"{model} prediction")
            await wait_until(pilot, lambda m=model: "waiting" not in visible_text(app.dashboard.gates[m]),
                             what=f"{model} gates")
        await wait_until(pilot, lambda: "waiting" not in visible_text(app.dashboard.gradient_history), what="history")
