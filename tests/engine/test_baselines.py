"""The baselines a run logs: the cross-entropy on its validation targets of the training part's
class frequencies and of order-1..3 Markov chains (add-one smoothed), checked against a hand
computation with plain dicts; and which line a loss is under."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from engine.baselines import baselines, beaten_baseline, best_baseline
from engine.config import RunConfig, build_config, split_point
from engine.sweep.summary import default_success_loss
from engine.trainer import Trainer

LN3 = math.log(3)


def hand_markov(days: list[str], classes: list[str], order: int, split: int, first_target: int) -> float:
    """The add-one smoothed order-k chain, counted with dicts over days[:split] and scored on
    days[first_target:], each day given the ``order`` days before it."""
    counts: dict[tuple[str, ...], dict[str, int]] = {}
    for t in range(order, split):
        after = counts.setdefault(tuple(days[t - order:t]), {})
        after[days[t]] = after.get(days[t], 0) + 1
    total = 0.0
    for t in range(first_target, len(days)):
        after = counts.get(tuple(days[t - order:t]), {})
        total -= math.log((after.get(days[t], 0) + 1) / (sum(after.values()) + len(classes)))
    return total / (len(days) - first_target)


# 18 training days (sun 8, rain 6, fog 4), then 6 validation days: with a look-back of 2 the
# validation windows' targets are the last 4 (sun, rain, sun, fog).
TRAINING = ["sun", "rain", "sun", "fog", "rain", "sun", "sun", "rain", "fog",
            "sun", "rain", "rain", "sun", "fog", "sun", "rain", "fog", "sun"]
VALIDATION = ["rain", "rain", "sun", "rain", "sun", "fog"]
DAYS = TRAINING + VALIDATION


@pytest.fixture
def tiny(tmp_path) -> RunConfig:
    path = tmp_path / "tiny.csv"
    path.write_text("day,sky\n" + "".join(f"{i},{sky}\n" for i, sky in enumerate(DAYS)), encoding="utf-8")
    cfg = build_config({"task": "csv", "data": str(path), "column": "sky", "look_back": 2, "val_fraction": 0.25,
                        "epochs": 1, "device": "cpu", "probe_every": 0})
    assert split_point(cfg) == len(TRAINING)
    return cfg


def logged_baselines(cfg: RunConfig) -> dict[str, float]:
    return Trainer(cfg, torch.device("cpu")).started_event().baselines


def test_the_frequency_baseline_is_the_training_days_add_one_frequencies_on_the_validation_targets(tiny):
    # p(sun) = (8 + 1) / (18 + 3), p(rain) = 7 / 21, p(fog) = 5 / 21; targets sun, rain, sun, fog.
    expected = -(2 * math.log(9 / 21) + math.log(7 / 21) + math.log(5 / 21)) / 4
    assert logged_baselines(tiny)["frequency"] == pytest.approx(expected)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_each_markov_baseline_is_the_hand_counted_chain_on_the_validation_targets(tiny, order):
    classes = sorted(set(DAYS))
    expected = hand_markov(DAYS, classes, order, len(TRAINING), len(TRAINING) + 2)
    assert logged_baselines(tiny)[f"markov-{order}"] == pytest.approx(expected)


def test_the_first_order_chain_by_hand(tiny):
    # In training, after sun: rain 4, fog 2, sun 1 (of 7); after rain: sun 3, fog 2, rain 1 (of 6).
    # Targets: sun after rain, rain after sun, sun after rain, fog after sun.
    expected = -(2 * math.log(4 / 9) + math.log(5 / 10) + math.log(3 / 10)) / 4
    assert logged_baselines(tiny)["markov-1"] == pytest.approx(expected)


def test_chance_is_ln_of_the_class_count_and_the_baselines_come_in_order(tiny):
    lines = logged_baselines(tiny)
    assert list(lines) == ["chance", "frequency", "markov-1", "markov-2", "markov-3"]
    assert lines["chance"] == pytest.approx(math.log(3))


def test_a_64_class_series_is_counted_as_by_hand():
    rng = random.Random(5)
    days = [rng.choice(range(64)) if rng.random() < 0.5 else 7 for _ in range(3_000)]
    for order in (1, 2, 3):
        assert baselines(np.array(days), 64, 2_400, 4)[f"markov-{order}"] == pytest.approx(
            hand_markov(days, list(range(64)), order, 2_400, 2_404))


def test_a_context_reaching_back_past_the_split_is_read_from_the_training_days():
    days = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1]
    # look-back 1: the first target is day 16, its order-3 context days 13..15, before the split at 15
    assert baselines(np.array(days), 3, 15, 1)["markov-3"] == pytest.approx(hand_markov(days, [0, 1, 2], 3, 15, 16))


def test_without_a_validation_split_there_is_only_chance():
    assert baselines(np.zeros(30, dtype=int), 3, 30, 5) == {"chance": pytest.approx(LN3)}


def test_on_the_seeds_uniform_weather_every_baseline_is_the_chance_line():
    lines = logged_baselines(RunConfig(series_length=10_000, device="cpu", epochs=1, probe_every=0))
    assert lines["chance"] == pytest.approx(LN3)
    # Counting 8,000 draws cannot beat chance, and 27 contexts cost little: within 0.01 nats.
    assert all(LN3 - 0.005 < loss < LN3 + 0.01 for loss in lines.values())


# -- which line a loss is under ----------------------------------------------------------------------


LINES = {"chance": 1.61, "frequency": 1.09, "markov-1": 0.80, "markov-2": 0.76, "markov-3": 0.79}


def test_the_best_baseline_is_the_lowest():
    assert best_baseline(LINES) == ("markov-2", 0.76)
    assert best_baseline({}) is None


@pytest.mark.parametrize(("loss", "line"), [(1.7, None), (1.2, "chance"), (0.9, "frequency"), (0.795, "markov-1"), (0.785, "markov-3"),
                                            (0.77, "markov-3"), (0.70, "markov-2")])
def test_a_loss_is_under_the_lowest_line_above_it(loss, line):
    assert beaten_baseline(loss, LINES) == line


def test_a_sweeps_default_success_on_a_file_is_beating_its_best_baseline():
    assert default_success_loss(math.log(5), None, LINES) == 0.76
    assert default_success_loss(math.log(5), None, {}) is None
    assert default_success_loss(LN3, 0.3, LINES) == pytest.approx((LN3 + 0.3) / 2)  # a known best: as before

