"""What a sweep reports, against hand computations: Wilson intervals, t intervals, volatility, and
the summary of crafted trial logs (each a normal run directory, folded by RunHistory)."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest

from engine.config import RunConfig
from engine.events import Cause, EpochEnd, RunStarted, RunState, RunStateChanged
from engine.rundir.directory import RunDirectory
from engine.sweep.follow import SweepFollower, TrialState
from engine.sweep.grid import Grid, SweepDirectory
from engine.sweep.summary import (
    default_success_loss,
    mean_interval,
    summary_csv,
    summary_json_lines,
    t_critical,
    volatility,
    wilson_interval,
)

LN3 = math.log(3)


# -- the statistics --------------------------------------------------------------------------------

@pytest.mark.parametrize(("k", "n", "low", "high"), [
    # By hand, in the other form of the interval: (2np + z² ± z·sqrt(z² + 4np(1-p))) / 2(n + z²),
    # z = 1.959964 (the published 3 of 10 is 0.1078 to 0.6032)
    (3, 10, 0.107791, 0.603222),
    (2, 3, 0.207660, 0.938508),
    (0, 10, 0.0, 0.277533),
    (10, 10, 0.722467, 1.0),
    (1, 1, 0.206549, 1.0),
    (50, 100, 0.403832, 0.596168),
])
def test_the_wilson_interval_matches_a_hand_computation(k: int, n: int, low: float, high: float) -> None:
    assert wilson_interval(k, n) == pytest.approx((low, high), abs=1e-6)


def test_no_trials_have_no_interval() -> None:
    assert wilson_interval(0, 0) is None


@pytest.mark.parametrize(("df", "t"), [(1, 12.706205), (2, 4.302653), (9, 2.262157), (30, 2.042272),
                                       (31, 2.039513), (60, 2.000298), (120, 1.979930), (1000, 1.962339)])
def test_t_quantiles_match_the_tables(df: int, t: float) -> None:
    assert t_critical(df) == pytest.approx(t, abs=2e-6)


def test_a_mean_interval_is_mean_plus_minus_t_sd_over_root_n() -> None:
    # values 0.4, 0.6, 0.9: mean 0.633333, sd 0.251661, t(2) 4.302653: half width 0.625161
    mean, low, high = mean_interval([0.4, 0.6, 0.9])
    assert (mean, low, high) == pytest.approx((0.633333, 0.008172, 1.258494), abs=1e-6)
    assert mean_interval([0.5]) == (0.5, None, None)
    assert mean_interval([]) == (None, None, None)


def test_volatility_is_the_sd_of_epoch_to_epoch_changes() -> None:
    # changes -0.2, -0.1, 0.05: mean -0.083333, squared deviations sum 0.031667, / 2, root
    assert volatility([1.0, 0.8, 0.7, 0.75]) == pytest.approx(0.125831, abs=1e-6)
    assert volatility([1.0, 0.9]) is None  # one change has no spread


def test_the_default_success_loss_is_halfway_between_chance_and_the_best() -> None:
    assert default_success_loss(LN3, 0.3) == pytest.approx((LN3 + 0.3) / 2)
    assert default_success_loss(LN3, LN3) is None  # the seed task: nothing to learn


# -- crafted trial logs ----------------------------------------------------------------------------

ECHO = {"task": "echo", "series_length": "300", "lag": "2", "epochs": "3", "device": "cpu"}


def craft(run: RunDirectory, config: RunConfig, losses: dict[str, list[tuple[float, float]]], *,
          best: float = 0.3, end: RunState | None = RunState.FINISHED, cause: Cause = Cause.COMPLETED,
          resumed_from: int = 0, first_epoch: int = 1) -> None:
    """A run directory as a trainer leaves it: run_started, the epochs' (train, val) losses per
    model, and a final state (None: the log ends mid-run, as after a crash)."""
    writer = run.open_writer(config, resume=resumed_from > 0)
    writer(RunStarted(config=config.to_dict(), device="cpu", device_name="cpu", parameters={m: 1 for m in losses},
                      train_windows=200, val_windows=50, data_sha256="ab" * 32, chance_loss=LN3, best_loss=best,
                      batches_per_epoch=1, chunks_per_batch=1, resumed_from_epoch=resumed_from))
    epochs = max(len(v) for v in losses.values())
    for i in range(epochs):
        for model, pairs in losses.items():
            train, val = pairs[i]
            writer(EpochEnd(model=model, epoch=first_epoch + i, train_loss=train, val_loss=val, val_acc=0.5,
                            grad_norm=1.0, lr=0.01, seconds=0.1, samples_per_s=1000.0))
    if end is not None:
        writer(RunStateChanged(state=end, cause=cause, epoch=first_epoch + epochs - 1))
    writer.close()


def same(vals: list[float], train: list[float] | None = None) -> list[tuple[float, float]]:
    return list(zip(train or [1.0] * len(vals), vals))


@pytest.fixture
def sweep(tmp_path: Path) -> tuple[SweepDirectory, Grid]:
    grid = Grid.from_flags(ECHO, seeds="3")
    sweep = SweepDirectory(tmp_path / "sweep")
    sweep.create(grid)
    return sweep, grid


def test_a_point_s_rates_and_medians_match_a_hand_count(sweep) -> None:
    sweep, grid = sweep
    t0, t1, t2 = grid.trials
    # Success loss (ln 3 + 0.3) / 2 = 0.699306.
    craft(sweep.trial(t0.name), t0.config, {"lstm": same([1.0, 0.6, 0.5], [1.0, 0.7, 0.4]),
                                            "rnn": same([1.1, 1.0, 0.9])})
    craft(sweep.trial(t1.name), t1.config, {"lstm": same([1.0, 0.9, 0.65], [1.0, 0.8, 0.6]),
                                            "rnn": same([1.1, 0.69, 1.2])})
    craft(sweep.trial(t2.name), t2.config, {"lstm": same([1.1, 1.0, 0.95], [1.0, 0.95, 0.9]),
                                            "rnn": same([1.1, 1.1, 1.1])})
    follower = SweepFollower(sweep, grid)
    follower.poll()
    lstm, rnn = follower.summary()
    assert (lstm.model, lstm.planned, lstm.trials, lstm.successes) == ("lstm", 3, 3, 2)
    assert lstm.success_loss == pytest.approx(0.699306, abs=1e-6)
    assert lstm.success_rate == pytest.approx(2 / 3)
    assert (lstm.rate_low, lstm.rate_high) == pytest.approx((0.207659, 0.938509), abs=1e-6)
    assert lstm.median_epochs_to_success == 2.5  # epochs 2 and 3
    assert lstm.median_best_val_loss == pytest.approx(0.65)  # of 0.5, 0.65, 0.95
    assert lstm.median_final_val_loss == pytest.approx(0.65)
    assert (lstm.final_train_loss, lstm.final_train_low, lstm.final_train_high) == pytest.approx(
        (0.633333, 0.008172, 1.258494), abs=1e-6)  # of 0.4, 0.6, 0.9 (as above)
    assert (rnn.successes, rnn.median_epochs_to_success) == (1, 2)  # 0.69 at epoch 2
    assert rnn.median_best_val_loss == pytest.approx(0.9)  # of 0.9, 0.69, 1.1
    assert rnn.median_final_val_loss == pytest.approx(1.1)  # of 0.9, 1.2, 1.1


def test_the_volatility_of_a_point_is_the_mean_over_seeds_with_a_t_interval(sweep) -> None:
    sweep, grid = sweep
    t0, t1, _ = grid.trials
    craft(sweep.trial(t0.name), t0.config, {"lstm": same([1.0] * 4, [1.0, 0.8, 0.7, 0.75]), "rnn": same([1.0] * 4)})
    craft(sweep.trial(t1.name), t1.config, {"lstm": same([1.0] * 4, [1.0, 0.9, 0.8, 0.7]), "rnn": same([1.0] * 4)})
    follower = SweepFollower(sweep, grid)
    follower.poll()
    lstm = follower.summary()[0]
    # seed 0: 0.125831 (above); seed 1: changes all -0.1, sd 0. Mean 0.062915, sd 0.088976,
    # t(1) 12.706205: half width 12.706205 * 0.088976 / sqrt(2) = 0.799414
    assert lstm.trials == 2
    assert (lstm.volatility, lstm.volatility_low, lstm.volatility_high) == pytest.approx(
        (0.062915, -0.736499, 0.862330), abs=1e-6)


def test_only_ended_trials_count(sweep) -> None:
    sweep, grid = sweep
    finished, crashed, failed = grid.trials
    craft(sweep.trial(finished.name), finished.config, {"lstm": same([0.5] * 3), "rnn": same([0.5] * 3)})
    craft(sweep.trial(crashed.name), crashed.config, {"lstm": same([0.5]), "rnn": same([0.5])}, end=None)
    craft(sweep.trial(failed.name), failed.config, {"lstm": same([0.5]), "rnn": same([0.5])},
          end=RunState.FAILED, cause=Cause.ERROR)
    follower = SweepFollower(sweep, grid)
    follower.poll()
    states = {name: view.state for name, view in follower.views.items()}
    assert states == {finished.name: TrialState.FINISHED, crashed.name: TrialState.INTERRUPTED,
                      failed.name: TrialState.FAILED}
    lstm = follower.summary()[0]
    assert (lstm.planned, lstm.trials, lstm.failed, lstm.successes) == (3, 1, 1, 1)
    assert [t.name for t in follower.to_run()] == [crashed.name, failed.name]


def test_a_trial_stopped_by_a_non_finite_loss_counts_with_the_epochs_it_had(sweep) -> None:
    sweep, grid = sweep
    trial = grid.trials[0]
    craft(sweep.trial(trial.name), trial.config, {"lstm": same([1.0, 0.6]), "rnn": same([1.0, 1.0])},
          end=RunState.STOPPED, cause=Cause.NON_FINITE)
    follower = SweepFollower(sweep, grid)
    follower.poll()
    view = follower.views[trial.name]
    assert (view.state, view.epoch) == (TrialState.DIVERGED, 2)
    assert follower.summary()[0].successes == 1
    assert trial.name not in [t.name for t in follower.to_run()]


def test_a_resumed_trial_counts_the_epochs_trained_after_its_checkpoint(sweep) -> None:
    sweep, grid = sweep
    trial = grid.trials[0]
    run = sweep.trial(trial.name)
    # Epochs 1-3, the process dies; resumed from the checkpoint after epoch 2, epoch 3 again.
    craft(run, trial.config, {"lstm": same([1.0, 1.0, 0.1]), "rnn": same([1.0, 1.0, 1.0])}, end=None)
    craft(run, trial.config, {"lstm": same([0.9]), "rnn": same([1.0])}, resumed_from=2, first_epoch=3)
    follower = SweepFollower(sweep, grid)
    follower.poll()
    lstm = follower.summary()[0]
    assert (lstm.trials, lstm.successes, lstm.median_best_val_loss) == (1, 0, 0.9)  # the lost 0.1 is gone


def test_the_seed_task_has_no_success_unless_a_success_loss_is_given(tmp_path) -> None:
    grid = Grid.from_flags({"series_length": "300", "look_back": "5", "epochs": "2", "device": "cpu"}, seeds="2")
    sweep = SweepDirectory(tmp_path)
    sweep.create(grid)
    for trial in grid.trials:
        craft(sweep.trial(trial.name), trial.config, {"lstm": same([1.09, 1.08]), "rnn": same([1.1, 1.1])}, best=LN3)
    follower = SweepFollower(sweep, grid)
    follower.poll()
    assert [row.successes for row in follower.summary()] == [None, None]
    given = SweepFollower(sweep, grid, success_loss=1.085)
    given.poll()
    assert [(row.successes, row.success_loss) for row in given.summary()] == [(2, 1.085), (0, 1.085)]


def test_a_follower_sees_a_trial_go_from_pending_to_running_to_finished(sweep) -> None:
    sweep, grid = sweep
    trial = grid.trials[0]
    follower = SweepFollower(sweep, grid)
    assert follower.poll() == [] and follower.views[trial.name].state == TrialState.PENDING
    writer = sweep.trial(trial.name).open_writer(trial.config)  # holds the lock: live
    writer(RunStarted(config=trial.config.to_dict(), device="cpu", device_name="cpu", parameters={"lstm": 1},
                      train_windows=1, val_windows=1, data_sha256="ab" * 32, chance_loss=LN3, best_loss=0.3,
                      batches_per_epoch=1, chunks_per_batch=1))
    writer(EpochEnd(model="lstm", epoch=1, train_loss=1.0, val_loss=1.0, val_acc=0.3, grad_norm=1.0, lr=0.01,
                    seconds=0.1, samples_per_s=1.0))
    writer(EpochEnd(model="rnn", epoch=1, train_loss=1.0, val_loss=1.0, val_acc=0.3, grad_norm=1.0, lr=0.01,
                    seconds=0.1, samples_per_s=1.0))
    changed = follower.poll()
    assert [(v.trial.name, v.state, v.epoch) for v in changed] == [(trial.name, TrialState.RUNNING, 1)]
    writer(RunStateChanged(state=RunState.FINISHED, cause=Cause.COMPLETED, epoch=1))
    writer.close()
    changed = follower.poll()
    assert [(v.state, v.result is not None) for v in changed] == [(TrialState.FINISHED, True)]


def test_summary_csv_has_a_column_per_axis_then_the_rows(tmp_path) -> None:
    grid = Grid.from_flags({**ECHO, "lag": "2,3"}, seeds="1")
    sweep = SweepDirectory(tmp_path)
    sweep.create(grid)
    for trial in grid.trials:
        craft(sweep.trial(trial.name), trial.config, {"lstm": same([1.0, 0.5, 0.5]), "rnn": same([1.0] * 3)})
    follower = SweepFollower(sweep, grid)
    follower.poll()
    rows = follower.summary()
    table = list(csv.DictReader(io.StringIO(summary_csv(grid, rows))))
    assert [(r["lag"], r["model"], r["successes"], r["trials"]) for r in table] == [
        ("2", "lstm", "1", "1"), ("2", "rnn", "0", "1"), ("3", "lstm", "1", "1"), ("3", "rnn", "0", "1")]
    assert table[0]["volatility"] == "0" and table[0]["median_epochs_to_success"] == "2"
    lines = [json.loads(line) for line in summary_json_lines(rows).splitlines()]
    assert lines[0]["point"] == {"lag": "2"} and lines[0]["successes"] == 1 and lines[0]["volatility"] == 0.0
