"""`lstm-tui bench`: every figure, engine's and dashboard's, and the models' costs, run and
printed (or as JSON).

Above tui/bench/engine.py, tui/bench/dashboard.py and tui/bench/costs.py: it alternates their
loops in rounds, so a shared machine's slow spells hit each alike.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import torch

from engine.config import MODEL_KINDS, MODEL_TITLES, RunConfig
from engine.device import device_name, resolve_device
from tui.bench.costs import model_costs, print_costs
from tui.bench.dashboard import (
    INTERLEAVE_PERIOD_S,
    dashboard_seconds_per_epoch,
    first_frame_seconds,
    interleaved_dashboard,
    key_latencies,
)
from tui.bench.engine import (
    PROBE_PRESETS,
    bare_seconds_per_epoch,
    engine_seconds_per_epoch,
    in_fresh_thread,
    print_scale,
    probe_cost,
    scale_config,
    scale_figures,
)


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
        "bare": lambda: 1 / in_fresh_thread(bare_seconds_per_epoch, config, epochs),
        "engine": lambda: 1 / engine_seconds_per_epoch(config, epochs),
        "dashboard": lambda: 1 / dashboard_seconds_per_epoch(config, epochs),
    }
    rates: dict[str, list[float]] = {name: [] for name in loops}
    for round_ in range(rounds):
        for name in list(loops) if round_ % 2 == 0 else reversed(loops):
            rates[name].append(loops[name]())
    return rates["bare"], rates["engine"], rates["dashboard"]


def run_bench(config: RunConfig, *, rounds: int = 3, epochs: int = 30, as_json: bool = False,
              scale: bool = True, scale_epochs: int = 0, only: str | None = None,
              cost_models: Sequence[str] = MODEL_KINDS) -> int:
    """Print the figures. ``scale``: also the memory of the seed's 500k series at look-back 1,000
    (``scale_epochs`` whole epochs of it, or by default the first SCALE_CHUNKS chunks).
    ``cost_models``: the models of the cost table (tui/bench/costs.py); the other figures train
    ``config.models``. ``only="costs"``: the cost table alone."""
    plain = RunConfig()
    # The models and the device leave the data as it is: it is still the preset's.
    if config.preset is None and config.replace(models=plain.models, device=plain.device) == plain:
        config = config.replace(preset="seed-10k")
    # The cost table trains with the engine's own Trainer, which takes mini-batches too.
    if config.batch_size is not None and only != "costs":
        print("lstm-tui bench: error: batch-size: the bare seed loop is full-batch; use --batch-size full "
              "(or --only costs)", file=sys.stderr)
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
    if only == "costs":
        figures["model_costs"] = _costs(config, cost_models, rounds, epochs)
        if as_json:
            print(json.dumps(figures, indent=2))
            return 0
        _print_header(figures, "the models' costs only")
        print_costs(figures["model_costs"])
        return 0
    figures["models"] = list(config.model_names)  # what the loops below train each epoch
    bare, engine, dashboard = timed_rounds(config, rounds, epochs)
    engine_ratios = [e / b for e, b in zip(engine, bare)]
    dashboard_ratios = [d / e for d, e in zip(dashboard, engine)]
    interleaved = interleaved_dashboard(config)
    probes = {preset: in_fresh_thread(probe_cost, preset, config.device, 5, config.models) for preset in PROBE_PRESETS}
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
        model_costs=_costs(config, cost_models, rounds, epochs),
    )
    if scale:
        figures["scale"] = scale_figures(scale_config(config), epochs=scale_epochs)
    if as_json:
        print(json.dumps(figures, indent=2))
        return 0
    each = lambda values: ", ".join(f"{v:.3f}" for v in values)  # noqa: E731
    _print_header(figures, f"{_titles(config.model_names)} each epoch")
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
          f"{figures['chart_key_to_screen_p50_ms']:.1f} ms: every loss chart rebuilt)")
    print(f"  {'probes (' + _titles(config.model_names) + ')':<26}per probe   per epoch   share at defaults "
          "(target <= 5%)")
    for preset, cost in probes.items():
        print(f"    {preset:<22}{cost['probe_ms']:7.1f} ms {cost['epoch_ms']:8.0f} ms   {cost['share_at_defaults']:8.1%}"
              f"   (every epoch: {cost['share_every_epoch']:.1%})")
    print_costs(figures["model_costs"])
    if scale:
        print_scale(figures["scale"])
    return 0


def _titles(models: Sequence[str]) -> str:
    return ", ".join(MODEL_TITLES[name] for name in models)


def _print_header(figures: dict[str, Any], what: str) -> None:
    print(f"lstm-tui bench — {figures['setting']} on {figures['device_name']} ({figures['device']}), "
          f"torch {figures['torch']}, {figures['rounds']} rounds x {figures['epochs_per_round']} epochs, {what}")


def _costs(config: RunConfig, models: Sequence[str], rounds: int, epochs: int) -> dict[str, Any]:
    """The cost table's figures, trained on a fresh thread as the other loops are."""
    return in_fresh_thread(lambda: model_costs(config, models, rounds=rounds, epochs=epochs))
