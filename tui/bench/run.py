"""`lstm-tui bench`: every figure, engine's and dashboard's, the models' costs and a sweep's,
run and printed (or as JSON).

Above tui/bench/paired.py (engine / bare and dashboard / engine, with intervals, on seed-10k and
on the echo preset), tui/bench/extras.py (where the engine's own time goes, piece by piece), tui/bench/engine.py
and tui/bench/dashboard.py (probes, memory at scale, the UI thread's own work, first frame, key
latency), tui/bench/costs.py (each model's cost) and tui/bench/sweep.py (a sweep's parallel
efficiency).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Sequence
from typing import Any

import torch

from engine.config import MODEL_KINDS, MODEL_TITLES, RunConfig, from_preset
from engine.device import device_name, resolve_device
from tui.bench.costs import model_costs, print_costs
from tui.bench.dashboard import (
    INTERLEAVE_PAIRS,
    INTERLEAVE_PERIOD_S,
    interleaved_dashboard,
    key_latencies,
)
from tui.bench.engine import (
    PROBE_PRESETS,
    in_fresh_thread,
    print_scale,
    probe_cost,
    scale_config,
    scale_figures,
)
from tui.bench.extras import engine_extras, print_extras
from tui.bench.first_frame import first_frame_figures, print_first_frame
from tui.bench.paired import BUDGET_S, PAIRS, ROUNDS, WINDOW_S, paired_settings
from tui.bench.sweep import print_sweep, sweep_figures

PAIRED_PRESETS = ("seed-10k", "echo")  # the paired figures' settings when no run flag picks one


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def bench_settings(config: RunConfig) -> list[RunConfig]:
    """The settings of the paired figures: seed-10k and echo (with ``config``'s models and device)
    when no run flag but those was given, else ``config`` alone."""
    plain = RunConfig()
    if config.preset is None and config.replace(models=plain.models, device=plain.device) == plain:
        return [from_preset(name, models=config.models, device=config.device) for name in PAIRED_PRESETS]
    return [config]


def run_bench(config: RunConfig, *, rounds: int = 3, epochs: int = 30, as_json: bool = False,
              scale: bool = True, scale_epochs: int = 0, only: str | None = None,
              cost_models: Sequence[str] = MODEL_KINDS, pairs: int = PAIRS, window_s: float = WINDOW_S,
              sweep: bool = True, budget_s: float = BUDGET_S, process_sets: int = ROUNDS) -> int:
    """Print the figures. ``pairs`` triples of windows of about ``window_s`` s for the paired
    figures (tui/bench/paired.py), on each of ``bench_settings(config)``; the other figures on
    the first of them. ``scale``: also the memory of the seed's 500k series at look-back 1,000
    (``scale_epochs`` whole epochs of it, or by default the first SCALE_CHUNKS chunks).
    ``cost_models``: the models of the cost table (tui/bench/costs.py, ``rounds`` x ``epochs``);
    the other figures train ``config.models``. ``sweep``: also a sweep's parallel efficiency
    (tui/bench/sweep.py). ``only="costs"``: the cost table alone."""
    settings = bench_settings(config)
    config = settings[0]
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
    figures["paired"] = {cfg.label: paired_settings(cfg, pairs=pairs, rounds=process_sets, window_s=window_s,
                                          budget_s=budget_s)
                          for cfg in settings}
    extras = engine_extras(config)
    interleaved = interleaved_dashboard(config, pairs=min(pairs, INTERLEAVE_PAIRS))
    probes = {preset: in_fresh_thread(probe_cost, preset, config.device, 5, config.models) for preset in PROBE_PRESETS}
    first_frame = first_frame_figures()
    latencies = key_latencies(config, "tab", presses=60)
    chart_latencies = key_latencies(config, "l", presses=60)
    figures.update(
        dashboard_live_over_quiet=statistics.median(interleaved["ratios"]),
        dashboard_live_over_quiet_mean=statistics.mean(interleaved["ratios"]),
        dashboard_live_over_quiet_each_pair=interleaved["ratios"],
        engine_extras=extras,
        first_frame=first_frame,
        key_to_screen_p50_ms=1000 * statistics.median(latencies),
        key_to_screen_p95_ms=1000 * _p95(latencies),
        chart_key_to_screen_p50_ms=1000 * statistics.median(chart_latencies),
        chart_key_to_screen_p95_ms=1000 * _p95(chart_latencies),
        probe_cost=probes,
        model_costs=_costs(config, cost_models, rounds, epochs),
    )
    if sweep:
        figures["sweep"] = sweep_figures(models=config.models, device=config.device)
    if scale:
        figures["scale"] = scale_figures(scale_config(config), epochs=scale_epochs)
    figures["targets"] = targets(figures)
    if as_json:
        print(json.dumps(figures, indent=2))
        return 0
    _print_header(figures, f"{_titles(config.model_names)} each epoch")
    for paired in figures["paired"].values():
        print_paired(paired)
    print_extras(figures["engine_extras"])
    live = interleaved["ratios"]
    print(f"  UI thread live / quiet    {figures['dashboard_live_over_quiet']:8.3f}   (its drawing and folding alone; "
          f"one run, {len(live)} pairs of {INTERLEAVE_PERIOD_S:g} s windows; mean {statistics.mean(live):.3f}, "
          f"pairs {min(live):.2f}-{max(live):.2f})")
    print_first_frame(figures['first_frame'])
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
    if sweep:
        print_sweep(figures["sweep"])
    if scale:
        print_scale(figures["scale"])
    print_targets(figures["targets"])
    return 0


def targets(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target the bench judges: its figure, the value it is judged on, and whether it is met."""
    out = []
    for label, paired in figures.get("paired", {}).items():
        for key, ratio in paired["ratios"].items():
            out.append({"figure": f"{key} ({label})", "judged_on": "the 95 % interval's lower bound",
                        "value": ratio["low"], "target": f">= {ratio['target']:g}", "met": ratio["met"]})
    if "sweep" in figures:
        sweep = figures["sweep"]
        out.append({"figure": "sweep parallel efficiency", "judged_on": "one sweep", "value": sweep["efficiency"],
                    "target": f">= {sweep['target']:g}", "met": sweep["met"]})
    if "first_frame" in figures:
        frame = figures["first_frame"]
        out.append({"figure": "first frame, lstm-tui / minimal Textual app", "judged_on":
                    f"medians of {len(frame['samples']['lstm_tui'])} alternating starts in a pty",
                    "value": frame["ratio"], "target": f"<= {frame['target_ratio']:g}", "met": frame["met"]})
    if "key_to_screen_p95_ms" in figures:
        out.append({"figure": "key to screen (tab), p95 ms", "judged_on": "60 presses",
                    "value": figures["key_to_screen_p95_ms"], "target": "<= 50",
                    "met": figures["key_to_screen_p95_ms"] <= 50})
    return out


def _interval(ratio: dict[str, Any]) -> str:
    if ratio["low"] is None:
        return f"{ratio['ratio']:.3f} (one sample: no interval)"
    return f"{ratio['ratio']:.3f} [{ratio['low']:.3f}, {ratio['high']:.3f}]"


def print_paired(paired: dict[str, Any]) -> None:
    """One setting's paired figures, as `lstm-tui bench` prints them."""
    batch = ("full batch" if paired["batch_size"] >= paired["train_windows"] else
             f"mini-batches of {paired['batch_size']}")
    print(f"  {paired['setting']}: {_titles(paired['models'])} each epoch, {paired['train_windows']:,} training "
          f"windows, {batch}; {paired['rounds']} sets of fresh processes (at least {paired['min_rounds']}, up to "
          f"{paired['max_rounds']} or {paired['budget_s']:g} s while a half-width was over {paired['aim']:g}), each "
          f"{paired['pairs_per_round']} triples of {paired['epochs_per_window']}-epoch windows (~{paired['window_s']:g} "
          f"s), each setting in a process of its own ({paired['seconds']:.0f} s); intervals over the sets")
    names = {"bare": "bare seed-style loop", "engine": "engine, headless", "dashboard": "engine + dashboard 10 Hz"}
    for kind, name in names.items():
        if kind not in paired["epochs_per_s"]:
            continue
        cpu, process = paired["cpu_s_per_epoch"][kind], paired["process_cpu_s_per_epoch"][kind]
        print(f"    {name:<24}{paired['epochs_per_s'][kind]:8.2f} epochs/s   CPU {1000 * cpu['mean']:7.1f} ms/epoch "
              f"(training threads; whole process {1000 * process['mean']:.1f}; waited for a core "
              f"{1000 * paired['run_queue_wait_s_per_epoch'][kind]:.1f}; probes "
              f"{paired['probes_per_epoch'][kind]:.2f}, checkpoints {paired['checkpoints_per_epoch'][kind]:.2f} "
              "an epoch)")
    for key, ratio in paired["ratios"].items():
        top, bottom = key.split("_over_")
        met = "met" if ratio["met"] else "NOT met"
        cpu = paired["cpu_ratios"][key]
        print(f"    {top + ' / ' + bottom:<24}{_interval(ratio)}   (epochs/s; target >= {ratio['target']:g} on the "
              f"lower bound: {met}); CPU s per epoch {top} / {bottom}: {_interval(cpu)}")


def print_targets(targets: list[dict[str, Any]]) -> None:
    print("  targets")
    for target in targets:
        value = "—" if target["value"] is None else f"{target['value']:.3f}"
        print(f"    {target['figure']:<40}{value:>9}   {target['target']:<7} {'met' if target['met'] else 'NOT met'}"
              f"   ({target['judged_on']})")


def _titles(models: Sequence[str]) -> str:
    return ", ".join(MODEL_TITLES[name] for name in models)


def _print_header(figures: dict[str, Any], what: str) -> None:
    print(f"lstm-tui bench — {figures['setting']} on {figures['device_name']} ({figures['device']}), "
          f"torch {figures['torch']}, {what}; cost table {figures['rounds']} rounds x {figures['epochs_per_round']} "
          "epochs")


def _costs(config: RunConfig, models: Sequence[str], rounds: int, epochs: int) -> dict[str, Any]:
    """The cost table's figures, trained on a fresh thread as the other loops are."""
    return in_fresh_thread(lambda: model_costs(config, models, rounds=rounds, epochs=epochs))
