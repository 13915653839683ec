"""The weather series, its windows and the train/validation split, checked against the seed."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import torch

from engine.config import RunConfig, split_point
from engine.data import (
    WeatherData,
    best_achievable_loss,
    echo_series,
    make_series,
    series_sha256,
    weather_series,
    windows,
)
from tests.seed_reference import create_dataset

# -- the seed article's code, as the reference ------------------------------------------------


def one_hot_encode(sequences, num_classes):
    """The seed calls this but never shows it: (B, L) class indices -> (B, L, C) floats."""
    return torch.from_numpy(np.eye(num_classes, dtype=np.float32)[sequences])


def seed_raw_data(n: int) -> np.ndarray:
    """``np.random.seed(42); np.random.randint(0, 3, size=n)``, leaving numpy's state as found."""
    state = np.random.get_state()
    try:
        np.random.seed(42)
        return np.random.randint(0, 3, size=n)
    finally:
        np.random.set_state(state)


# -- the series ----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [10_000, 100_000])
def test_seed_series_equals_the_seed_articles_draws_bit_for_bit(n):
    series = weather_series(n)[:n]
    expected = seed_raw_data(n)
    assert series.dtype == expected.dtype
    np.testing.assert_array_equal(series, expected)


def day_by_day_echo(length: int, lag: int, p: float, seed: int) -> np.ndarray:
    """The echo task's rule, one day at a time: with the seed's draws as the fresh days, then one
    coin per day, day t is day t - lag when its coin is below p, else its fresh draw."""
    rng = np.random.RandomState(seed)
    fresh = rng.randint(0, 3, size=length + 1)
    coins = rng.random_sample(length + 1)
    days: list[int] = []
    for t, (draw, coin) in enumerate(zip(fresh, coins)):
        days.append(days[t - lag] if t >= lag and coin < p else int(draw))
    return np.array(days)


def test_weather_series_is_the_draws_of_its_seed_plus_tomorrow():
    np.testing.assert_array_equal(weather_series(500, seed=7), np.random.RandomState(7).randint(0, 3, size=501))


@pytest.mark.parametrize(("length", "lag", "p", "seed"), [(1_000, 7, 0.5, 42), (999, 30, 0.9, 3), (64, 1, 0.2, 11)])
def test_echo_series_follows_the_echo_rule_day_by_day(length, lag, p, seed):
    np.testing.assert_array_equal(echo_series(length, lag, p, seed), day_by_day_echo(length, lag, p, seed))


@pytest.mark.parametrize("seed", [42, 7])
def test_a_runs_data_is_its_tasks_series_from_its_seed(cpu, seed):
    echo = RunConfig(task="echo", series_length=2_000, look_back=12, lag=9, echo_p=0.6, seed=seed)
    expected = day_by_day_echo(2_000, 9, 0.6, seed)
    data = WeatherData(echo, cpu)
    np.testing.assert_array_equal(data.series, expected[:2_000])
    assert data.tomorrow == expected[2_000]
    seed_task = WeatherData(echo.replace(task="seed"), cpu)
    np.testing.assert_array_equal(seed_task.series, np.random.RandomState(seed).randint(0, 3, size=2_000))


def test_seed_task_series_is_the_seed_series(tiny):
    cfg = tiny.replace(series_length=10_000)
    np.testing.assert_array_equal(make_series(cfg)[:10_000], seed_raw_data(10_000))


def test_generating_the_series_leaves_numpys_global_generator_alone():
    before = np.random.get_state()
    weather_series(1_000)
    echo_series(1_000, lag=7, p=0.5)
    after = np.random.get_state()
    assert before[0] == after[0]
    np.testing.assert_array_equal(before[1], after[1])
    assert before[2:] == after[2:]


def test_tomorrow_is_the_generators_next_draw(tiny, cpu):
    n = 10_000
    data = WeatherData(tiny.replace(series_length=n), cpu)
    assert data.tomorrow == int(np.random.RandomState(42).randint(0, 3, size=n + 1)[n])
    assert len(data.series) == n


def test_echo_with_p_zero_is_the_seed_series():
    n = 20_000
    np.testing.assert_array_equal(echo_series(n, lag=30, p=0.0)[:n], seed_raw_data(n))


@pytest.mark.parametrize("lag", [1, 7, 30])
def test_echo_with_p_one_repeats_with_period_lag(lag):
    series = echo_series(5_000, lag=lag, p=1.0)
    np.testing.assert_array_equal(series[lag:], series[:-lag])
    np.testing.assert_array_equal(series[:lag], seed_raw_data(lag))


@pytest.mark.parametrize("p", [0.3, 0.9])
def test_echo_returns_the_day_lag_back_with_probability_p_plus_a_third_of_the_rest(p):
    lag = 20
    series = echo_series(200_000, lag=lag, p=p)
    same = np.mean(series[lag:] == series[:-lag])
    assert same == pytest.approx(p + (1 - p) / 3, abs=0.01)


def test_echo_series_takes_only_the_three_classes():
    assert set(np.unique(echo_series(10_000, lag=5, p=0.5))) == {0, 1, 2}


# -- windows -------------------------------------------------------------------------------


@pytest.mark.parametrize("look_back", [1, 3, 10])
def test_windows_equal_the_seeds_create_dataset(look_back):
    series = seed_raw_data(200)
    inputs, targets = windows(series, look_back)
    ref_x, ref_y = create_dataset(series, look_back)
    np.testing.assert_array_equal(inputs, ref_x)
    np.testing.assert_array_equal(targets, ref_y)


def test_windows_are_views_of_the_series_not_copies():
    series = seed_raw_data(200)
    inputs, targets = windows(series, 10)
    assert np.shares_memory(inputs, series)
    assert np.shares_memory(targets, series)


# -- the chronological split ----------------------------------------------------------------


@pytest.mark.parametrize("val_fraction", [0.1, 0.2, 0.5])
def test_no_training_window_reaches_the_held_out_tail(tiny, cpu, val_fraction):
    cfg = tiny.replace(val_fraction=val_fraction)
    data = WeatherData(cfg, cpu)
    split = split_point(cfg)
    train = data.train.starts.numpy()
    # a training window is series[i : i+L] and predicts series[i+L]: all of it before the split
    assert (train + cfg.look_back < split).all()


@pytest.mark.parametrize("val_fraction", [0.1, 0.2, 0.5])
def test_every_validation_window_starts_at_or_after_the_split(tiny, cpu, val_fraction):
    cfg = tiny.replace(val_fraction=val_fraction)
    data = WeatherData(cfg, cpu)
    val = data.val.starts.numpy()
    assert (val >= split_point(cfg)).all()
    assert (val + cfg.look_back <= cfg.series_length - 1).all()  # the target exists


def test_split_counts_add_up_to_all_windows_less_those_straddling_the_split(tiny, cpu):
    cfg = tiny
    data = WeatherData(cfg, cpu)
    split = split_point(cfg)
    assert split == 300 - 60
    assert len(data.train) == split - cfg.look_back
    assert len(data.val) == cfg.series_length - split - cfg.look_back
    # the look_back windows that start before the split and end after it belong to neither
    assert len(data.train) + len(data.val) + cfg.look_back == cfg.num_windows
    # and each window is used once
    starts = np.concatenate([data.train.starts.numpy(), data.val.starts.numpy()])
    assert len(np.unique(starts)) == len(starts)


def test_without_validation_every_window_trains(tiny, cpu):
    data = WeatherData(tiny.replace(val_fraction=0.0), cpu)
    assert len(data.val) == 0
    np.testing.assert_array_equal(data.train.starts.numpy(), np.arange(tiny.num_windows))


# -- batches -------------------------------------------------------------------------------


def test_batch_is_one_hot_seq_first_with_three_classes(tiny, cpu):
    data = WeatherData(tiny, cpu)
    inputs, targets = data.batch(data.train.starts[:17])
    assert inputs.shape == (tiny.look_back, 17, 3)
    assert inputs.dtype == torch.float32
    assert targets.shape == (17,)
    assert torch.all(inputs.sum(dim=2) == 1)


def test_batch_equals_the_seeds_one_hot_windows_permuted_seq_first(tiny, cpu):
    data = WeatherData(tiny, cpu)
    starts = torch.tensor([0, 3, 100, 57, 200, 11])
    inputs, targets = data.batch(starts)
    ref_x, ref_y = create_dataset(data.series, tiny.look_back)
    expected = one_hot_encode(ref_x[starts.numpy()], 3).permute(1, 0, 2)
    torch.testing.assert_close(inputs, expected, rtol=0, atol=0)
    np.testing.assert_array_equal(targets.numpy(), ref_y[starts.numpy()])


def test_every_tensor_of_the_data_lives_on_the_runs_device(tiny):
    meta = torch.device("meta")  # a device other than the CPU, on any machine: shapes, no values
    data = WeatherData(tiny, meta)
    inputs, targets = data.batch(data.train.starts[:4])
    assert data.device == meta
    tensors = (data.train.starts, data.val.starts, inputs, targets, data.inference_window())
    assert [t.device for t in tensors] == [meta] * 5
    assert inputs.shape == (tiny.look_back, 4, 3) and targets.shape == (4,)


def test_the_validation_inputs_with_the_inference_window_are_both_and_in_that_order(tiny, cpu):
    data = WeatherData(tiny, cpu)
    inputs, targets = data.val_and_inference_window()
    val_inputs, val_targets = data.batch(data.val.starts)
    assert inputs.shape == (tiny.look_back, len(data.val) + 1, data.num_classes)
    assert torch.equal(inputs[:, :-1], val_inputs) and torch.equal(targets, val_targets)
    last_days = torch.from_numpy(data.series[-tiny.look_back:])
    assert torch.equal(inputs[:, -1].argmax(dim=1), last_days)  # the last look_back days, oldest first
    assert torch.equal(inputs[:, -1:], data.inference_window())


def test_inference_window_is_the_last_look_back_days(tiny, cpu):
    data = WeatherData(tiny, cpu)
    window = data.inference_window()
    expected = one_hot_encode(data.series[-tiny.look_back :][None, :], 3).permute(1, 0, 2)
    torch.testing.assert_close(window, expected, rtol=0, atol=0)


# -- best achievable loss --------------------------------------------------------------------


def test_best_loss_of_the_seed_task_is_ln_3(tiny):
    assert best_achievable_loss(tiny) == pytest.approx(math.log(3), rel=1e-12)


def test_best_loss_of_the_seed_task_is_ln_3_even_with_an_echo_lag_inside_its_window(tiny):
    cfg = tiny.replace(look_back=35, lag=30, echo_p=0.9)  # the echo's settings, on the seed's data
    assert best_achievable_loss(cfg) == pytest.approx(math.log(3), rel=1e-12)


@pytest.mark.parametrize("p", [0.0, 0.5, 0.9, 1.0])
def test_best_loss_of_the_echo_task_is_the_entropy_of_tomorrow_given_the_day_lag_back(tiny, p):
    cfg = tiny.replace(task="echo", lag=5, echo_p=p)
    same, other = p + (1 - p) / 3, (1 - p) / 3
    entropy = -same * math.log(same) - (2 * other * math.log(other) if other > 0 else 0.0)
    assert best_achievable_loss(cfg) == pytest.approx(entropy, rel=1e-12, abs=1e-12)


def test_best_loss_of_the_echo_task_matches_the_bayes_predictors_cross_entropy():
    lag, p, n = 12, 0.7, 300_000
    cfg = RunConfig(task="echo", series_length=n, look_back=lag, lag=lag, echo_p=p)
    series = echo_series(n, lag, p)[:n]
    same, other = p + (1 - p) / 3, (1 - p) / 3
    hit = series[lag:] == series[:-lag]
    empirical = -np.mean(np.where(hit, math.log(same), math.log(other)))
    assert empirical == pytest.approx(best_achievable_loss(cfg), abs=0.01)


# -- fingerprint ---------------------------------------------------------------------------


def test_data_sha256_is_the_hash_of_the_little_endian_int64_bytes(tiny, cpu):
    data = WeatherData(tiny, cpu)
    raw = b"".join(int(v).to_bytes(8, "little", signed=True) for v in data.series)
    assert data.sha256 == hashlib.sha256(raw).hexdigest()
    assert series_sha256(data.series.astype(np.int32)) == data.sha256
