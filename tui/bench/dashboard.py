"""The dashboard's figures for `lstm-tui bench`: what drawing costs training, time to the first
frame, and key-to-screen latency while training keeps the cores busy; and the dashboard setting of
the paired figures (GatedDashboard, gated_dashboard: tui/bench/paired.py runs it).

Each drives the real dashboard, headless, through its public seams: its state, its pacer
(tui/dashboard/pacing.py), each chart's ``built_at``, and Textual's ``post_display_hook``.
"""

from __future__ import annotations

import asyncio
import inspect
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import RunConfig
from tui.bench.engine import WARMUP_EPOCHS
from tui.dashboard.app import DashboardApp


def epoch_end_times(run_dir: Path) -> list[float]:
    """When each epoch of a logged run ended (the run's last model trains last: its end is the epoch's)."""
    from engine.rundir.directory import RunDirectory

    run = RunDirectory(run_dir)
    last = run.load_config().model_names[-1]
    return [e.time for e in run.events(only={"epoch_end"}) if e.model == last]


class GatedDashboard(DashboardApp):
    """The dashboard, handing each event of its run to ``gate`` too, on the training thread
    (tui/bench/paired.py's WindowGate, which holds that thread between windows)."""

    # Textual reads a relative CSS_PATH beside the module of the app's own class: this one's is here.
    CSS_PATH = Path(inspect.getfile(DashboardApp)).with_name(str(DashboardApp.CSS_PATH))
    gate: Any = None

    def receive(self, event: Any) -> None:
        super().receive(event)
        if self.gate is not None:
            self.gate.event(event)


def gated_dashboard(cfg: RunConfig, gate: Any, refresh_hz: float = 10.0) -> None:
    """The dashboard setting of tui/bench/paired.py (its process's whole work): the dashboard
    (headless, 120x40, drawing at ``refresh_hz``) training ``cfg`` a window at a time, as ``gate``
    (a WindowGate) says. Between windows its pacer is paused too, so the UI thread is quiet while
    another setting trains; its checkpoints' cadence and its redraws' read the gate's clock
    (which stops while the run is held), so a window draws what a continuous run would."""

    async def drive(run_dir: Path) -> None:
        app = GatedDashboard(cfg, refresh_hz=refresh_hz, run_dir=run_dir)
        pacer, checkpointer = app.dashboard.pacer, app.source.writer.checkpointer
        gate.checkpoints = lambda: checkpointer.written
        gate.on_hold = lambda: app.call_from_thread(pacer.pause)
        gate.on_release = lambda: app.call_from_thread(pacer.resume)
        checkpointer.clock = pacer.clock = gate.clock
        app.gate = gate
        async with app.run_test(headless=True, size=(120, 40)):
            await asyncio.get_running_loop().run_in_executor(None, gate.quitting.wait)
            app.shutdown()
        app.wait_for_worker(timeout=30)

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(drive(Path(tmp)))


# A shared machine's speed drifts by 10 % and more over tens of seconds, so separate runs
# resolve a few per cent poorly. Within one run, the dashboard alternates between live and
# quiet every INTERLEAVE_PERIOD_S, and adjacent windows see the same machine. This isolates the
# UI thread's own work (folding, drawing); what the dashboard changes for the whole run (the
# training threads' niceness, the GIL switch interval) is in dashboard / engine, not here.
# A window holds several frames even at the slowest pacing (SLOWEST_REDRAW_S), and a live one
# counts from its first moment: its first frame comes at once (the redraw is overdue after a
# quiet window), and with 2 s windows that began uncounted, this figure missed most frames.
INTERLEAVE_PERIOD_S = 6.0
INTERLEAVE_PAIRS = 10
SETTLE_S = 0.3  # a quiet window's start is not counted: a frame under way may spill into it


def epochs_done(ends: list[float], at: float) -> float:
    """Epochs completed by time ``at``, interpolated between epoch ends (no whole-epoch steps)."""
    return float(np.interp(at, ends, np.arange(1, len(ends) + 1)))


def interleaved_dashboard(cfg: RunConfig, pairs: int = INTERLEAVE_PAIRS, period: float = INTERLEAVE_PERIOD_S,
                          refresh_hz: float = 10.0) -> dict[str, Any]:
    """One dashboard run (headless, 120x40), alternately live for ``period`` s (folding events
    and drawing at ``refresh_hz``) and quiet for ``period`` s (its UI thread idle, as if no
    dashboard were there); the ratio of epochs/s live over quiet for each adjacent pair."""
    windows: list[tuple[bool, float, float]] = []

    async def drive(run_dir: Path) -> None:
        app = DashboardApp(cfg.replace(epochs=1_000_000), refresh_hz=refresh_hz, run_dir=run_dir)
        pacer = app.dashboard.pacer
        async with app.run_test(headless=True, size=(120, 40)):
            while app.state.run_state != "running" or app.state.epoch < WARMUP_EPOCHS:
                if app.state.run_state == "failed":
                    raise RuntimeError(f"the dashboard run failed: {app.state.reason}")
                await asyncio.sleep(0.25)
            for _ in range(pairs):
                for live in (True, False):
                    if live:
                        pacer.resume()
                    else:
                        pacer.pause()
                    began = time.time()
                    await asyncio.sleep(period)
                    windows.append((live, began if live else began + SETTLE_S, time.time()))
            pacer.resume()
            await asyncio.sleep(SETTLE_S)  # a pulse folds what waited: the epochs ended by now
            # The last window's rate needs an epoch end after it (interpolation stops at the
            # last one): on a loaded machine one epoch can outlast a window.
            ended_by_now, waited = app.state.epoch, 0.0
            while app.state.epoch < ended_by_now + 2 and waited < 60:
                await asyncio.sleep(0.1)
                waited += 0.1
            app.shutdown()
        app.wait_for_worker(timeout=30)

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(drive(Path(tmp)))
        ends = epoch_end_times(Path(tmp))
    rates = [(epochs_done(ends, b) - epochs_done(ends, a)) / (b - a) for _, a, b in windows]
    ratios = [live / quiet for live, quiet in zip(rates[::2], rates[1::2]) if quiet > 0]
    if len(ratios) < pairs:
        raise RuntimeError("the engine stalled during the interleaved dashboard run")
    return {"ratios": ratios, "windows": windows, "live_epochs_per_s": statistics.median(rates[::2]),
            "quiet_epochs_per_s": statistics.median(rates[1::2])}


class FrameTimedDashboard(DashboardApp):
    """The dashboard, calling ``on_frame`` each time a frame has gone to the terminal."""

    # Textual reads a relative CSS_PATH beside the module of the app's own class: this one's is here.
    CSS_PATH = Path(inspect.getfile(DashboardApp)).with_name(str(DashboardApp.CSS_PATH))
    on_frame: Callable[[], None] | None = None

    def post_display_hook(self) -> None:  # Textual calls it after each frame it displays
        if self.on_frame is not None:
            self.on_frame()


def key_latencies(cfg: RunConfig, key: str = "l", presses: int = 40) -> list[float]:
    """Seconds from a key press to the first frame handed to the terminal that shows its
    effect, while training keeps the cores busy. ``l`` (log scale) redraws every loss chart;
    ``tab`` moves focus, the commonest key."""
    from textual import events

    latencies: list[float] = []

    async def drive() -> None:
        app = FrameTimedDashboard(cfg.replace(epochs=10_000_000))
        async with app.run_test(headless=True, size=(120, 40)) as pilot:
            while not app.state.models[cfg.model_names[-1]].train.points(10)[0]:  # an epoch of every model
                await pilot.pause(0.05)
            await pilot.pause(1.0)  # let redraw pacing settle, as it has for a user
            charts = list(app.dashboard.charts.values())
            shown: list[float] = []  # frames out to the terminal that showed the key's effect
            pressed = 0.0
            focused_before: object = None

            def effect_drawn() -> bool:
                if key == "tab":
                    return app.focused is not focused_before
                return all(chart.built_at >= pressed for chart in charts)  # each chart rebuilt since

            def frame() -> None:
                if pressed and effect_drawn():
                    shown.append(time.perf_counter())

            app.on_frame = frame
            for _ in range(presses):
                focused_before = app.focused
                pressed = time.perf_counter()
                # Straight into the app's queue as a terminal's key would arrive; the Pilot's
                # press() also waits for the app to go idle, which a live run never does.
                app.post_message(events.Key(key, None if key == "tab" else key))
                deadline = pressed + 2.0
                while not any(t >= pressed for t in shown) and time.perf_counter() < deadline:
                    await asyncio.sleep(0.001)
                latencies.append(min([t for t in shown if t >= pressed], default=deadline) - pressed)
                await pilot.pause(0.1)
        app.shutdown()
        app.wait_for_worker(timeout=30)

    asyncio.run(drive())
    return latencies
