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

from engine.allocator import keep_freed_memory
from engine.config import NUM_CLASSES, RunConfig, split_point
from engine.data import Split, make_series
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
    from engine.rundir.log import RunLog
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


def timed_rounds(config: RunConfig, rounds: int, epochs: int) -> tuple[list[float], list[float], list[float]]:
    """Epochs/s of the bare loop, the engine and the engine under the dashboard, ``rounds`` each.

    A shared machine's slow spells hit all three alike when they alternate; and the order
    within a round turns about (bare, engine, dashboard; then dashboard, engine, bare), so a
    machine that slows as a round goes on does not always charge the same loop. The engine
    stays in the middle: each ratio compares neighbours.
    """
    loops = {
        "bare": lambda: 1 / _in_fresh_thread(bare_seconds_per_epoch, config, epochs),
        "engine": lambda: 1 / engine_seconds_per_epoch(config, epochs),
        "dashboard": lambda: 1 / dashboard_seconds_per_epoch(config, epochs),
    }
    rates: dict[str, list[float]] = {name: [] for name in loops}
    for round_ in range(rounds):
        for name in list(loops) if round_ % 2 == 0 else reversed(loops):
            rates[name].append(loops[name]())
    return rates["bare"], rates["engine"], rates["dashboard"]


def run_bench(config: RunConfig, *, rounds: int = 3, epochs: int = 30, as_json: bool = False,
              scale: bool = True, scale_epochs: int = 0) -> int:
    """Print the figures. ``scale``: also the memory of the seed's 500k series at look-back 1,000
    (``scale_epochs`` whole epochs of it, or by default the first SCALE_CHUNKS chunks)."""
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
    bare, engine, dashboard = timed_rounds(config, rounds, epochs)
    engine_ratios = [e / b for e, b in zip(engine, bare)]
    dashboard_ratios = [d / e for d, e in zip(dashboard, engine)]
    interleaved = interleaved_dashboard(config)
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
        dashboard_live_over_quiet=statistics.median(interleaved["ratios"]),
        dashboard_live_over_quiet_mean=statistics.mean(interleaved["ratios"]),
        dashboard_live_over_quiet_each_pair=interleaved["ratios"],
        first_frame_s=statistics.median(f for f, _ in first_frames),
        engine_ready_s=statistics.median(r for _, r in first_frames),
        key_to_screen_p50_ms=1000 * statistics.median(latencies),
        key_to_screen_p95_ms=1000 * _p95(latencies),
        chart_key_to_screen_p50_ms=1000 * statistics.median(chart_latencies),
        chart_key_to_screen_p95_ms=1000 * _p95(chart_latencies),
        probe_cost=probes,
    )
    if scale:
        figures["scale"] = scale_figures(scale_config(config), epochs=scale_epochs)
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
    live = interleaved["ratios"]
    print(f"  UI thread live / quiet    {figures['dashboard_live_over_quiet']:8.3f}   (its drawing and folding alone; "
          f"one run, {len(live)} pairs of {INTERLEAVE_PERIOD_S:g} s windows; mean {statistics.mean(live):.3f}, "
          f"pairs {min(live):.2f}-{max(live):.2f})")
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
    if scale:
        print_scale(figures["scale"])
    return 0


# -- memory at the seed's scale (issue 6) -----------------------------------------------------

# The seed's "extremely long sequence": 500,000 days. At look-back 1,000 one full-batch epoch of
# both models took 834 s on a quiet 2-core CPU (1,279 chunks a model), so by default the bench
# trains the first SCALE_CHUNKS chunks of each model and of validation: every chunk is as big as
# in the whole epoch, so memory peaks as high (578 MiB over that whole epoch, 569 MiB over 40
# chunks), and the epoch's time is extrapolated from them.
SCALE_SETTING = {"series_length": 500_000, "look_back": 1_000}
SCALE_CHUNKS = 40
NDARRAY_VIEW_BYTES = sys.getsizeof(np.arange(2)[:1])  # a slice's header; it owns no data
LIST_SLOT_BYTES = 8  # one pointer in a Python list


def seed_dataset_bytes(series_length: int, look_back: int) -> dict[str, int]:
    """What the seed's ``create_dataset`` and one-hot encoding hold for a series, computed.

    With N = series_length - look_back windows (the seed keeps no validation split):

    * list_of_views  N x (ndarray view header + list slot): ``data_x`` before ``np.array``
    * windows_int64  N x look_back x 8: ``np.array(data_x)``, the draws as int64
    * one_hot_float32  N x look_back x 3 x 4: the input tensor the seed trains on
    * total  all three: the list and the int64 array are alive while the one-hot is built
    """
    n = series_length - look_back
    sizes = {
        "windows": n,
        "list_of_views": n * (NDARRAY_VIEW_BYTES + LIST_SLOT_BYTES),
        "windows_int64": n * look_back * 8,
        "one_hot_float32": n * look_back * NUM_CLASSES * 4,
    }
    sizes["total"] = sizes["list_of_views"] + sizes["windows_int64"] + sizes["one_hot_float32"]
    return sizes


def _peak_rss_bytes() -> int:
    """This process's peak resident memory.

    On Linux from VmHWM: getrusage's ru_maxrss survives exec, so a child started from a big
    process (pytest, the dashboard) would report its parent's size at the fork.
    """
    import resource

    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


def measure_scale(cfg: RunConfig, chunks: int, epochs: int) -> dict[str, Any]:
    """Train ``cfg`` in this process and report its peak resident memory (run it in a fresh one).

    ``epochs`` > 0: that many whole epochs. Otherwise one epoch of the first ``chunks`` chunks of
    the training split and of the validation split, chunked exactly as the whole splits are (the
    Trainer plans its chunk size once, for the whole split), and the whole epoch's time
    extrapolated from it. Then one probe, as a run makes after its first epoch.
    """
    import psutil

    from engine.probes import Prober
    from engine.trainer import Trainer, bytes_per_window

    device = resolve_device(cfg.device)
    started = time.perf_counter()
    trainer = Trainer(cfg, device)
    build_s = time.perf_counter() - started
    n_train, n_val = len(trainer.data.train), len(trainer.data.val)
    # One window through each model first: the runtime's one-time allocations (thread pools,
    # kernels) belong to the baseline, not to what a chunk costs.
    for model in trainer.models.values():
        inputs, targets = trainer.data.batch(trainer.data.train.starts[:1])
        trainer.loss_fn(model(inputs), targets).backward()
        model.zero_grad(set_to_none=True)
    baseline = psutil.Process().memory_info().rss
    if epochs <= 0:
        windows = chunks * trainer.chunk
        if windows < n_train:  # a prefix: not the split itself, so chunked like the whole one
            trainer.data.train = Split(trainer.data.train.starts[:windows])
        if windows < n_val:
            trainer.data.val = Split(trainer.data.val.starts[:windows])
    trained_train, trained_val = len(trainer.data.train), len(trainer.data.val)
    ends: list[Any] = []
    noop = lambda *_: None  # noqa: E731
    started = time.perf_counter()
    for _ in range(max(epochs, 1)):
        trainer.run_epoch(noop, lambda event: ends.append(event) if event.name == "epoch_end" else None)
    synchronize(device)
    run_s = time.perf_counter() - started
    started = time.perf_counter()
    Prober(trainer, cfg.probe_steps).probe(trainer.epoch)
    synchronize(device)
    probe_s = time.perf_counter() - started
    if epochs > 0:
        epoch_s = run_s / epochs
    else:  # each model's training and validation time, scaled to the whole splits
        epoch_s = 0.0
        for end in ends:
            train_s = trained_train / end.samples_per_s
            val_s = max(end.seconds - train_s, 0.0)
            epoch_s += train_s * n_train / trained_train + (val_s * n_val / trained_val if trained_val else 0)
    peak = _peak_rss_bytes()
    return {
        "series_length": cfg.series_length,
        "look_back": cfg.look_back,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "memory_budget": cfg.memory_budget,
        "bytes_per_window": bytes_per_window(cfg),
        "chunk_windows": trainer.chunk,
        "chunks_per_epoch": -(-n_train // trainer.chunk),
        "train_windows": n_train,
        "val_windows": n_val,
        "trained_windows": trained_train,
        "validated_windows": trained_val,
        "epochs": epochs,
        "build_s": build_s,
        "epoch_s": epoch_s,
        "epoch_s_estimated": epochs <= 0 and trained_train < n_train,
        "probe_s": probe_s,
        "baseline_rss": baseline,
        "peak_rss": peak,
        "peak_over_baseline": peak - baseline,
        "within_budget": peak - baseline <= cfg.memory_budget,
    }


def _scale_child() -> None:
    """Entry point of the fresh interpreter ``scale_figures`` starts: one JSON line out."""
    keep_freed_memory()  # as lstm-tui does: the peak is that of lstm-tui's own allocator settings
    cfg = RunConfig.from_dict(json.loads(sys.argv[1]))
    print(json.dumps(measure_scale(cfg, int(sys.argv[2]), int(sys.argv[3]))))


def scale_figures(cfg: RunConfig, chunks: int = SCALE_CHUNKS, epochs: int = 0,
                  timeout: float = 3600) -> dict[str, Any]:
    """``measure_scale`` in a fresh interpreter, so the peak resident memory is that run's alone,
    with the seed's ``create_dataset`` figures for the same setting."""
    import os
    import subprocess

    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    code = "from tui.bench.engine import _scale_child; _scale_child()"
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(cfg.to_dict()), str(chunks), str(epochs)],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=root,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the scale run failed (exit {done.returncode}): {last}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["seed_create_dataset"] = seed_dataset_bytes(cfg.series_length, cfg.look_back)
    # The seed's single full-batch pass over all N windows, at the Trainer's per-window estimate.
    figures["seed_full_batch_pass"] = figures["seed_create_dataset"]["windows"] * figures["bytes_per_window"]
    return figures


def scale_config(config: RunConfig) -> RunConfig:
    """The seed's 500k series at look-back 1,000, full batch, with the bench's budget and device."""
    return RunConfig(**SCALE_SETTING, memory_budget=config.memory_budget, device=config.device,
                     seed=config.seed)


def print_scale(scale: dict[str, Any]) -> None:
    from engine.config import format_size

    seed = scale["seed_create_dataset"]
    span = (f"{scale['epochs']} whole epoch(s)" if scale["epochs"] > 0 else
            f"the first {scale['trained_windows']:,} of {scale['train_windows']:,} training windows")
    how = "estimated from the windows trained" if scale["epoch_s_estimated"] else "measured"
    within = "within it" if scale["within_budget"] else "OVER IT"
    print(f"  memory at the seed's scale: series {scale['series_length']:,}, look-back {scale['look_back']:,}, "
          f"full batch, {scale['device']} ({span}, fresh process)")
    print(f"    peak resident memory    {format_size(scale['peak_rss']):>10}   (baseline "
          f"{format_size(scale['baseline_rss'])} + training {format_size(scale['peak_over_baseline'])}; "
          f"budget {format_size(scale['memory_budget'])}: {within})")
    print(f"    chunks                  {scale['chunk_windows']:>10,} windows, {scale['chunks_per_epoch']:,} "
          f"per model per epoch ({format_size(scale['bytes_per_window'])} a window, estimated)")
    print(f"    one epoch, both models  {scale['epoch_s']:>10.0f} s   ({how}; data built in "
          f"{scale['build_s']:.1f} s, one probe {scale['probe_s']:.2f} s)")
    print(f"    seed's create_dataset   {format_size(seed['total']):>10}   ({seed['windows']:,} x "
          f"{scale['look_back']:,} x 3 x 4 B one-hot float32 = {format_size(seed['one_hot_float32'])}, plus "
          f"{seed['windows']:,} x {scale['look_back']:,} x 8 B int64 windows = "
          f"{format_size(seed['windows_int64'])} and the list of {seed['windows']:,} views, "
          f"{format_size(seed['list_of_views'])})")
    print(f"    seed's full-batch pass  {format_size(scale['seed_full_batch_pass']):>10}   (all "
          f"{seed['windows']:,} windows in one forward/backward, at the estimate above)")


# -- the dashboard's cost (issue: live and light) ---------------------------------------------


def epoch_end_times(run_dir: Path) -> list[float]:
    """When each epoch of a logged run ended (the RNN trains second: its end is the epoch's)."""
    from engine.rundir.log import EVENTS_FILE, read_events

    return [e.time for e in read_events(run_dir / EVENTS_FILE) if e.name == "epoch_end" and e.model == "rnn"]


def dashboard_seconds_per_epoch(cfg: RunConfig, epochs: int, refresh_hz: float = 10.0) -> float:
    """The same run with the dashboard drawing at ``refresh_hz`` (headless, 120x40)."""
    import asyncio

    from tui.dashboard.app import DashboardApp

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
        ends = epoch_end_times(Path(tmp))
    if len(ends) < WARMUP_EPOCHS + epochs:
        raise RuntimeError("the dashboard run ended early")
    return (ends[-1] - ends[WARMUP_EPOCHS - 1]) / epochs


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
    import asyncio

    from tui.dashboard.app import DashboardApp

    windows: list[tuple[bool, float, float]] = []

    async def drive(run_dir: Path) -> None:
        app = DashboardApp(cfg.replace(epochs=1_000_000), refresh_hz=refresh_hz, run_dir=run_dir)
        async with app.run_test(headless=True, size=(120, 40)):
            while app.state.run_state != "running" or app.state.epoch < WARMUP_EPOCHS:
                if app.state.run_state == "failed":
                    raise RuntimeError(f"the dashboard run failed: {app.state.reason}")
                await asyncio.sleep(0.25)
            for _ in range(pairs):
                for live in (True, False):
                    if live:
                        app.pulse_timer.resume()
                    else:
                        app.pulse_timer.pause()
                    began = time.time()
                    await asyncio.sleep(period)
                    windows.append((live, began if live else began + SETTLE_S, time.time()))
            app.pulse_timer.resume()
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


_FIRST_FRAME_CHILD = """
import asyncio, time
from engine.allocator import keep_freed_memory
keep_freed_memory()
from engine.config import from_preset
from tui.dashboard.app import DashboardApp

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

    from tui.dashboard.app import DashboardApp
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
                build = chart._build_strips

                def timed_build(*args, build=build):  # type: ignore[no-untyped-def]
                    result = build(*args)
                    drawn.append(time.perf_counter())
                    return result

                chart._build_strips = timed_build  # type: ignore[method-assign]
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
