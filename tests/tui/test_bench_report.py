"""`lstm-tui bench` as a whole: which settings it measures, and every figure in its JSON and its
printed report. The measurements themselves are stood in for here (each has its own tests)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import tui.bench.run as bench
from engine.config import RunConfig
from tui.bench.costs import model_costs
from tui.bench.extras import engine_extras
from tui.bench.paired import interleave, summarise
from tui.cli.main import main

TINY = RunConfig(series_length=120, look_back=4, hidden=4, device="cpu")


class FakeSetting:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def window(self, epochs: int) -> dict[str, Any]:
        return {"epochs": epochs, "seconds": self.seconds, "training_cpu_s": 0.05 * epochs,
                "process_cpu_s": 0.06 * epochs, "probes": 0, "checkpoints": 0, "cpu_between_s": 0.0}


def fake_sweep() -> dict[str, Any]:
    run = {"trials": 4, "lead_s": 0.1, "span_s": 10.0, "trial_epochs": 12, "trial_epochs_per_s": 1.2}
    return {"setting": "echo", "models": ["lstm", "rnn"], "epochs_per_trial": 3, "workers": 2,
            "lone_trial_epochs_per_s": 0.7, "efficiency": 1.2 / 1.4, "target": 0.85, "met": True,
            "torch_import_s": 2.0, "first_trial_setup_s": [3.0, 3.1], "later_trial_setup_s": [0.1, 0.1],
            "once_per_worker_s": 2.95, "import_paid_per_trial": False, "peak_rss_per_worker_max": 300 * 2**20,
            "per_worker": [{"peak_rss": 300 * 2**20}, {"peak_rss": 290 * 2**20}], "lone": run, "sweep": run}


@pytest.fixture
def measured(monkeypatch: pytest.MonkeyPatch) -> list[tuple[RunConfig, int, float]]:
    """Every measurement stood in for; the settings and arguments the paired figures were asked for."""
    asked: list[tuple[RunConfig, int, float]] = []

    def paired(cfg: RunConfig, *, pairs: int, rounds: int, window_s: float, budget_s: float) -> dict[str, Any]:
        asked.append((cfg, pairs, window_s))
        settings = {"bare": FakeSetting(1.0), "engine": FakeSetting(1.02), "dashboard": FakeSetting(1.03)}
        figures = summarise(interleave(settings, pairs, 10))
        figures.update(setting=cfg.label, models=list(cfg.model_names), batch_size=cfg.batch_size or 1000,
                       train_windows=1000, pairs=pairs, rounds=rounds, min_rounds=rounds,
                       max_rounds=4 * rounds, pairs_per_round=pairs, budget_s=budget_s,
                       aim=0.02, epochs_per_window=10, window_s=window_s, seconds=30.0)
        return figures

    monkeypatch.setattr(bench, "paired_settings", paired)
    monkeypatch.setattr(bench, "interleaved_dashboard", lambda cfg, pairs: {"ratios": [0.99, 1.01]})
    monkeypatch.setattr(bench, "probe_cost", lambda *args: {"epoch_ms": 70.0, "probe_ms": 10.0,
                                                            "share_every_epoch": 0.14, "share_at_defaults": 0.01})
    monkeypatch.setattr(bench, "first_frame_figures", lambda repeats=3: {
        "lstm_tui_s": 0.6, "minimal_s": 0.5, "ratio": 1.2, "target_ratio": 1.5, "met": True,
        "samples": {"lstm_tui": [0.6] * repeats, "minimal": [0.5] * repeats}, "pair_ratios": [1.2] * repeats})
    monkeypatch.setattr(bench, "key_latencies", lambda cfg, key, presses: [0.01, 0.02, 0.03])
    monkeypatch.setattr(bench, "model_costs", lambda cfg, models, rounds, epochs: model_costs(
        TINY, models, rounds=1, epochs=1, warmup=0))
    monkeypatch.setattr(bench, "sweep_figures", lambda models, device: fake_sweep())
    monkeypatch.setattr(bench, "engine_extras", lambda cfg: engine_extras(TINY, epochs=3, warmup=1))
    return asked


def test_bench_measures_seed_10k_and_the_echo_preset_unless_run_flags_pick_a_setting() -> None:
    both = bench.bench_settings(RunConfig(models="gru,lstm", device="cpu"))
    assert [cfg.label for cfg in both] == ["seed-10k", "echo"]
    assert [cfg.batch_size for cfg in both] == [None, 128]
    assert all(cfg.models == "gru,lstm" and cfg.device == "cpu" for cfg in both)
    mini = RunConfig(batch_size=64)
    assert bench.bench_settings(mini) == [mini]


def test_the_json_holds_every_paired_figure_with_its_interval_and_each_target(measured, capsys) -> None:  # noqa: ANN001
    assert main(["bench", "--json", "--no-scale", "--pairs", "3", "--window-seconds", "0.5"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert [(cfg.label, pairs, window) for cfg, pairs, window in measured] == [("seed-10k", 3, 0.5), ("echo", 3, 0.5)]
    assert set(figures["paired"]) == {"seed-10k", "echo"}
    for paired in figures["paired"].values():
        for key in ("engine_over_bare", "dashboard_over_engine"):
            ratio = paired["ratios"][key]
            assert {"ratio", "low", "high", "half_width", "pairs", "each_pair", "target", "met"} <= set(ratio)
            assert ratio["pairs"] == 3 and ratio["target"] == 0.97
            assert {"ratio", "low", "high"} <= set(paired["cpu_ratios"][key])
        assert set(paired["cpu_s_per_epoch"]) == set(paired["process_cpu_s_per_epoch"]) == {"bare", "engine",
                                                                                             "dashboard"}
    assert figures["sweep"]["efficiency"] == pytest.approx(1.2 / 1.4)
    assert [t["figure"] for t in figures["targets"]] == [
        "engine_over_bare (seed-10k)", "dashboard_over_engine (seed-10k)", "engine_over_bare (echo)",
        "dashboard_over_engine (echo)", "sweep parallel efficiency",
        "first frame, lstm-tui / minimal Textual app", "key to screen (tab), p95 ms"]
    paired = figures["paired"]["echo"]["ratios"]["engine_over_bare"]
    assert figures["targets"][2]["value"] == paired["low"] and figures["targets"][2]["met"] == paired["met"]
    for kept in ("first_frame", "key_to_screen_p95_ms", "probe_cost", "model_costs", "dashboard_live_over_quiet",
                 "engine_extras"):
        assert kept in figures
    assert "scale" not in figures


def test_the_report_prints_each_setting_its_intervals_and_which_targets_are_met(measured, capsys) -> None:  # noqa: ANN001
    assert main(["bench", "--no-scale", "--pairs", "2"]) == 0
    out = capsys.readouterr().out
    assert "  seed-10k: LSTM, RNN each epoch" in out and "  echo: LSTM, RNN each epoch" in out
    assert "mini-batches of 128" in out and "full batch" in out
    engine = [line for line in out.splitlines() if line.strip().startswith("engine / bare")]
    assert len(engine) == 2 and all("[" in line and "target >= 0.97" in line for line in engine)
    assert "parallel efficiency" in out and "torch per trial         not paid" in out
    assert "the engine's own work" in out and "    rollback copy " in out
    targets = out.split("  targets\n")[1].splitlines()
    assert len(targets) == 7 and targets[4].strip().startswith("sweep parallel efficiency")


def test_bench_takes_a_mini_batch_setting(measured, capsys) -> None:  # noqa: ANN001
    assert main(["bench", "--batch-size", "64", "--json", "--no-scale", "--no-sweep", "--pairs", "2"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert [cfg.batch_size for cfg, _, _ in measured] == [64]
    assert "sweep" not in figures and len(figures["targets"]) == 4


@pytest.mark.parametrize("flags", [["--window-seconds", "0"], ["--window-seconds", "nan"], ["--pairs", "1"]])
def test_bench_refuses_a_window_or_pair_count_out_of_range_in_one_line(flags: list[str], capsys) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit) as exit_:
        main(["bench", *flags])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and flags[0][2:] in err
