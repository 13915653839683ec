"""`lstm-tui bench`: the engine's overhead against a bare loop written like the seed's.

Both loops run in this process, alternating, on the same model, data, batch and validation
pass; the figure that matters is the ratio of their epochs per second, which cancels most
of a shared machine's noise.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.config import NUM_CLASSES, RunConfig, split_point
from engine.data import make_series
from engine.device import device_name, resolve_device, synchronize
from engine.models import LSTM, StandardRNN

# Timed epochs start after these: start-up (the app's first paints, caches, the first
# frames before redraw pacing settles) is measured apart, as time to first frame.
WARMUP_EPOCHS = 20


def _seed_dataset(series, look_back: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The seed's create_dataset + one_hot_encode + permute, materialised up front."""
    xs, ys = [], []
    for i in range(len(series) - look_back):
        xs.append(series[i : i + look_back])
        ys.append(series[i + look_back])
    x = torch.nn.functional.one_hot(torch.from_numpy(np.array(xs)), NUM_CLASSES).float().permute(1, 0, 2)
    return x.contiguous().to(device), torch.from_numpy(np.array(ys)).long().to(device)


def bare_seconds_per_epoch(cfg: RunConfig, epochs: int) -> float:
    """Both models, one full-batch epoch each, like the seed's loop plus the same validation."""
    device = resolve_device(cfg.device)
    series = make_series(cfg)[: cfg.series_length]
    split = split_point(cfg)
    x, y = _seed_dataset(series[:split], cfg.look_back, device)
    xv, yv = _seed_dataset(series[split:], cfg.look_back, device)
    torch.manual_seed(cfg.seed)
    models = [m(NUM_CLASSES, cfg.hidden, NUM_CLASSES, cfg.layers).to(device) for m in (LSTM, StandardRNN)]
    optimizers = [torch.optim.Adam(m.parameters(), lr=cfg.lr) for m in models]
    criterion = nn.CrossEntropyLoss()
    start = 0.0
    for epoch in range(WARMUP_EPOCHS + epochs):
        if epoch == WARMUP_EPOCHS:
            synchronize(device)
            start = time.perf_counter()
        for model, optimizer in zip(models, optimizers):
            model.train()
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            loss.item()
            model.eval()
            with torch.no_grad():
                out = model(xv)
                criterion(out, yv).item()
                (out.argmax(1) == yv).sum().item()
    return (time.perf_counter() - start) / epochs


def engine_seconds_per_epoch(cfg: RunConfig, epochs: int) -> float:
    """The Session as `lstm-tui train` runs it: worker thread, events, a run log on disk."""
    from engine.runlog import RunLog
    from engine.session import Session

    ends: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        run_log = RunLog(Path(tmp), cfg)
        done = threading.Event()

        def timing(event: Any) -> None:
            if event.name == "epoch_end" and event.model == "rnn":
                ends.append(event.time)
            if event.name == "state" and event.state in ("finished", "failed", "stopped"):
                done.set()

        session = Session(cfg.replace(epochs=WARMUP_EPOCHS + epochs), [timing, run_log]).start()
        done.wait()
        session.close()
        run_log.close()
    if len(ends) < WARMUP_EPOCHS + epochs:
        raise RuntimeError("the engine run ended early")
    return (ends[-1] - ends[WARMUP_EPOCHS - 1]) / epochs


PROBE_PRESETS = ("seed-10k", "seed-50k", "seed-100k", "echo")


def probe_cost(preset: str, device_choice: str, probes: int = 5) -> dict[str, float]:
    """One probe's time against one epoch's (both models), and the share of training time
    probes take at the default cadence (``probe_every`` 1, at most one per ``probe_seconds``)."""
    from engine.config import from_preset
    from engine.probes import Prober
    from engine.trainer import Trainer

    cfg = from_preset(preset, device=device_choice)
    device = resolve_device(cfg.device)
    trainer = Trainer(cfg, device)
    noop = lambda *_: None  # noqa: E731
    trainer.run_epoch(noop, noop)  # warm-up: allocations, kernels
    synchronize(device)
    started = time.perf_counter()
    trainer.run_epoch(noop, noop)
    synchronize(device)
    epoch_s = time.perf_counter() - started
    prober = Prober(trainer, cfg.probe_steps)
    prober.probe(trainer.epoch)
    synchronize(device)
    started = time.perf_counter()
    for _ in range(probes):
        prober.probe(trainer.epoch)
    synchronize(device)
    probe_s = (time.perf_counter() - started) / probes
    # At the defaults a probe follows an epoch at most once per probe_seconds.
    interval = max(epoch_s * cfg.probe_every, cfg.probe_seconds)
    return {"epoch_ms": 1000 * epoch_s, "probe_ms": 1000 * probe_s,
            "share_every_epoch": probe_s / epoch_s, "share_at_defaults": probe_s / (interval + probe_s)}


def _in_fresh_thread(fn: Any, *args: Any) -> Any:
    """Run ``fn`` on a new thread, as the Session runs training.

    Each thread that computes gets its own OpenMP pool, and a pool left behind by the main
    thread costs every other thread about 30% on 2 cores (measured here). So no loop runs on
    the main thread: bare and engine each start on equal footing.
    """
    result: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(fn(*args))
        except BaseException as exc:  # re-raised on the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=target, name="lstm-tui-bench")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def run_bench(config: RunConfig, *, rounds: int = 3, epochs: int = 30, as_json: bool = False) -> int:
    if config.preset is None and config == RunConfig():
        config = config.replace(preset="seed-10k")
    if config.batch_size is not None:
        print("lstm-tui bench: error: batch-size: the bare seed loop is full-batch; use --batch-size full",
              file=sys.stderr)
        return 2
    device = resolve_device(config.device)
    figures: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "device": str(device),
        "device_name": device_name(device),
        "torch": torch.__version__,
        "setting": config.label,
        "series_length": config.series_length,
        "look_back": config.look_back,
        "epochs_per_round": epochs,
        "rounds": rounds,
    }
    # Alternating rounds: a shared machine's slow spells hit all three loops alike.
    bare, engine, dashboard = [], [], []
    for _ in range(rounds):
        bare.append(1 / _in_fresh_thread(bare_seconds_per_epoch, config, epochs))
        engine.append(1 / engine_seconds_per_epoch(config, epochs))
        dashboard.append(1 / dashboard_seconds_per_epoch(config, epochs))
    engine_ratios = [e / b for e, b in zip(engine, bare)]
    dashboard_ratios = [d / e for d, e in zip(dashboard, engine)]
    probes = {preset: _in_fresh_thread(probe_cost, preset, config.device) for preset in PROBE_PRESETS}
    first_frames = [first_frame_seconds() for _ in range(3)]
    latencies = key_latencies(config, "tab", presses=60)
    chart_latencies = key_latencies(config, "l", presses=60)
    figures.update(
        bare_epochs_per_s=statistics.median(bare),
        engine_epochs_per_s=statistics.median(engine),
        dashboard_epochs_per_s=statistics.median(dashboard),
        engine_over_bare=statistics.median(engine_ratios),
        engine_over_bare_each_round=engine_ratios,
        dashboard_over_engine=statistics.median(dashboard_ratios),
        dashboard_over_engine_each_round=dashboard_ratios,
        first_frame_s=statistics.median(f for f, _ in first_frames),
        engine_ready_s=statistics.median(r for _, r in first_frames),
        key_to_screen_p50_ms=1000 * statistics.median(latencies),
        key_to_screen_p95_ms=1000 * _p95(latencies),
        chart_key_to_screen_p50_ms=1000 * statistics.median(chart_latencies),
        chart_key_to_screen_p95_ms=1000 * _p95(chart_latencies),
        probe_cost=probes,
    )
    if as_json:
        print(json.dumps(figures, indent=2))
        return 0
    each = lambda values: ", ".join(f"{v:.3f}" for v in values)  # noqa: E731
    print(f"lstm-tui bench — {figures['setting']} on {figures['device_name']} ({figures['device']}), "
          f"torch {figures['torch']}, {rounds} rounds x {epochs} epochs, both models per epoch")
    print(f"  bare seed-style loop      {figures['bare_epochs_per_s']:8.2f} epochs/s")
    print(f"  engine, headless          {figures['engine_epochs_per_s']:8.2f} epochs/s")
    print(f"  engine + dashboard 10 Hz  {figures['dashboard_epochs_per_s']:8.2f} epochs/s")
    print(f"  engine / bare             {figures['engine_over_bare']:8.3f}   (target >= 0.95; rounds: "
          f"{each(engine_ratios)})")
    print(f"  dashboard / engine        {figures['dashboard_over_engine']:8.3f}   (target >= 0.95; rounds: "
          f"{each(dashboard_ratios)})")
    print(f"  first frame               {figures['first_frame_s']:8.2f} s   (engine and torch ready at "
          f"{figures['engine_ready_s']:.2f} s)")
    print(f"  key to screen (tab)       {figures['key_to_screen_p95_ms']:8.1f} ms p95   (target <= 50; "
          f"median {figures['key_to_screen_p50_ms']:.1f} ms, {len(latencies)} presses while training)")
    print(f"  key to screen (l, charts) {figures['chart_key_to_screen_p95_ms']:8.1f} ms p95   (median "
          f"{figures['chart_key_to_screen_p50_ms']:.1f} ms: both loss charts rebuilt)")
    print("  probes (both models)      per probe   per epoch   share at defaults (target <= 5%)")
    for preset, cost in probes.items():
        print(f"    {preset:<22}{cost['probe_ms']:7.1f} ms {cost['epoch_ms']:8.0f} ms   {cost['share_at_defaults']:8.1%}"
              f"   (every epoch: {cost['share_every_epoch']:.1%})")
    return 0


# -- the dashboard's cost (issue: live and light) ---------------------------------------------


def dashboard_seconds_per_epoch(cfg: RunConfig, epochs: int, refresh_hz: float = 10.0) -> float:
    """The same run with the dashboard drawing at ``refresh_hz`` (headless, 120x40)."""
    import asyncio

    from engine.runlog import read_events
    from tui.app import DashboardApp

    async def drive(run_dir: Path) -> None:
        app = DashboardApp(cfg.replace(epochs=WARMUP_EPOCHS + epochs), refresh_hz=refresh_hz, run_dir=run_dir)
        async with app.run_test(headless=True, size=(120, 40)):
            # A plain sleep: the Pilot's pause() visits every widget and repaints the screen,
            # work a user's terminal never asks for, and it would be charged to the dashboard.
            while app.state.run_state not in ("finished", "failed"):
                await asyncio.sleep(0.25)
        app.wait_for_worker(timeout=30)

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(drive(Path(tmp)))
        ends = [e.time for e in read_events(Path(tmp) / "events.jsonl")
                if e.name == "epoch_end" and e.model == "rnn"]
    if len(ends) < WARMUP_EPOCHS + epochs:
        raise RuntimeError("the dashboard run ended early")
    return (ends[-1] - ends[WARMUP_EPOCHS - 1]) / epochs


_FIRST_FRAME_CHILD = """
import asyncio, time
from engine.config import from_preset
from tui.app import DashboardApp

async def main():
    app = DashboardApp(from_preset("seed-10k"))
    async with app.run_test(headless=True, size=(120, 40)) as pilot:
        first = time.time()  # run_test yields once the first frame is composed and painted
        while app.session is None:  # the worker thread is still importing torch
            await pilot.pause(0.02)
        print(first, time.time())
    app.wait_for_worker(timeout=30)

asyncio.run(main())
"""


def first_frame_seconds() -> tuple[float, float]:
    """Seconds from launching a fresh interpreter to the dashboard's first frame, and to the
    engine (torch included) being loaded and the run started."""
    import subprocess
    import sys

    launched = time.time()
    out = subprocess.run([sys.executable, "-c", _FIRST_FRAME_CHILD], capture_output=True, text=True,
                         check=True, timeout=120).stdout.split()
    first, ready = float(out[0]), float(out[1])
    return first - launched, ready - launched


def key_latencies(cfg: RunConfig, key: str = "l", presses: int = 40) -> list[float]:
    """Seconds from a key press to the first frame handed to the terminal that shows its
    effect, while training keeps the cores busy. ``l`` (log scale) redraws both loss charts;
    ``tab`` moves focus, the commonest key."""
    import asyncio

    from textual import events

    from tui.app import DashboardApp
    from tui.widgets.loss_chart import LossChart

    latencies: list[float] = []

    async def drive() -> None:
        app = DashboardApp(cfg.replace(epochs=10_000_000))
        async with app.run_test(headless=True, size=(120, 40)) as pilot:
            while not app.state.models["rnn"].train.points(10)[0]:
                await pilot.pause(0.05)
            await pilot.pause(1.0)  # let redraw pacing settle, as it has for a user
            charts = list(app.query(LossChart).results(LossChart))
            drawn: list[float] = []  # when a chart finished drawing
            shown: list[float] = []  # frames out to the terminal that showed the key's effect
            pressed = 0.0
            focused_before: object = None

            def effect_drawn() -> bool:
                if key == "tab":
                    return app.focused is not focused_before
                return sum(t >= pressed for t in drawn) >= len(charts)

            for chart in charts:
                render = chart.render

                def timed_render(render=render):  # type: ignore[no-untyped-def]
                    result = render()
                    drawn.append(time.perf_counter())
                    return result

                chart.render = timed_render  # type: ignore[method-assign]
            display = app._display

            def timed_display(screen, renderable):  # type: ignore[no-untyped-def]
                display(screen, renderable)
                if pressed and effect_drawn():
                    shown.append(time.perf_counter())

            app._display = timed_display  # type: ignore[method-assign]
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
