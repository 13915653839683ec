"""`lstm-tui bench`, memory at scale: the seed's create_dataset arithmetic and a measured run."""

from __future__ import annotations

import sys

import numpy as np
import torch

from engine.config import RunConfig
from tests.seed_reference import create_dataset
from tui.bench.engine import print_scale, scale_config, scale_figures, seed_dataset_bytes
from tui.cli.main import build_parser


def test_seed_dataset_bytes_are_what_the_seeds_own_arrays_hold():
    raw_data = np.random.RandomState(42).randint(0, 3, size=300)
    x, _ = create_dataset(raw_data, 7)
    one_hot = torch.nn.functional.one_hot(torch.from_numpy(x), 3).float()
    sizes = seed_dataset_bytes(300, 7)
    assert sizes["windows"] == len(x) == 293
    assert sizes["windows_int64"] == x.nbytes
    assert sizes["one_hot_float32"] == one_hot.numel() * one_hot.element_size()
    assert sizes["list_of_views"] == 293 * (sys.getsizeof(raw_data[0:7]) + 8)


def test_seed_dataset_bytes_at_500k_and_look_back_1000():
    sizes = seed_dataset_bytes(500_000, 1_000)
    assert sizes["windows"] == 499_000
    assert sizes["one_hot_float32"] == 499_000 * 1_000 * 3 * 4 == 5_988_000_000
    assert sizes["windows_int64"] == 3_992_000_000
    assert sizes["total"] == sizes["one_hot_float32"] + sizes["windows_int64"] + sizes["list_of_views"]


def test_the_scale_setting_is_the_seeds_series_at_look_back_1000_with_the_benchs_budget():
    cfg = scale_config(RunConfig(memory_budget=512 * 2**20, device="cpu"))
    assert (cfg.series_length, cfg.look_back, cfg.batch_size) == (500_000, 1_000, None)
    assert cfg.memory_budget == 512 * 2**20
    assert cfg.models == "lstm,rnn"


def test_the_scale_setting_trains_the_benchs_models():
    assert scale_config(RunConfig(models="gru,lstm", device="cpu")).model_names == ("gru", "lstm")


def test_a_scaled_down_scale_run_reports_its_peak_memory_and_the_budget(capsys):
    budget = 16 * 2**20
    cfg = RunConfig(series_length=20_000, look_back=200, memory_budget=budget, device="cpu")
    figures = scale_figures(cfg, chunks=3)
    assert figures["memory_budget"] == budget
    assert figures["chunk_windows"] == budget // (4 * 200 * (3 + 16 * 10 + 48)) == 99
    assert figures["trained_windows"] == figures["validated_windows"] == 3 * 99
    assert 0 < figures["baseline_rss"] <= figures["peak_rss"]
    assert figures["peak_over_baseline"] == figures["peak_rss"] - figures["baseline_rss"]
    # a few chunks cost a few budgets at most, nowhere near one pass over every window
    assert figures["peak_over_baseline"] < 4 * budget < figures["seed_full_batch_pass"] / 10
    assert figures["epoch_s_estimated"] and figures["epoch_s"] > 0
    assert figures["seed_create_dataset"] == seed_dataset_bytes(20_000, 200)

    print_scale(figures)
    out = capsys.readouterr().out
    assert "peak resident memory" in out and "budget 16.0 MiB" in out
    assert figures["models"] == ["lstm", "rnn"] and "(LSTM, RNN; estimated" in out
    assert "19,800 x 200 x 3 x 4 B one-hot float32" in out


def test_bench_takes_no_scale_and_scale_epochs():
    parser = build_parser("bench")
    assert parser.parse_args([]).scale is True and parser.parse_args([]).scale_epochs == 0
    args = parser.parse_args(["--no-scale", "--scale-epochs", "2"])
    assert args.scale is False and args.scale_epochs == 2
