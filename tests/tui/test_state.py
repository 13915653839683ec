"""DashboardState folds engine events into what the panels show, with bounded history."""

from __future__ import annotations

import dataclasses
import math

from engine.config import RunConfig, from_preset
from engine.events import Alert, CommandApplied, EpochEnd, Prediction, RunFailed, RunStateChanged
from tests.tui.helpers import synthetic_run
from tui.dashboard.state import HISTORY_BUCKETS, PREDICTION_HISTORY, DashboardState, MinMaxSeries

CONFIG = RunConfig(series_length=300, look_back=5, epochs=50)


def epoch_end(model: str, epoch: int, loss: float, t: float = 0.0) -> EpochEnd:
    return EpochEnd(model=model, epoch=epoch, train_loss=loss, val_loss=loss, val_acc=0.5, grad_norm=0.1,
                    lr=0.01, seconds=0.01, samples_per_s=1.0, time=t)


def test_epoch_counts_only_epochs_both_models_finished() -> None:
    state = DashboardState(CONFIG)
    state.apply_all(synthetic_run(CONFIG, 3))
    state.apply(epoch_end("lstm", 4, 1.0))
    assert state.epoch == 3
    state.apply(epoch_end("rnn", 4, 1.0))
    assert state.epoch == 4


def test_run_started_resets_history_and_counts_runs() -> None:
    state = DashboardState(CONFIG)
    state.apply_all(synthetic_run(CONFIG, 5))
    state.apply_all(synthetic_run(CONFIG, 0))
    assert state.runs == 2
    assert state.epoch == 0
    assert len(state.models["lstm"].train) == 0
    assert state.models["lstm"].probabilities is None


def test_latest_losses_and_prediction_are_kept_per_model() -> None:
    state = DashboardState(CONFIG)
    state.apply_all(synthetic_run(CONFIG, 2))
    lstm = state.models["lstm"]
    assert lstm.train_loss == 1.1 - 0.02 * 2
    assert lstm.val_loss == lstm.train_loss + 0.01
    assert lstm.probabilities == [0.2, 0.5, 0.3]
    assert (lstm.predicted, lstm.true) == (1, 2)
    assert state.models["rnn"].train_loss == 1.1 - 0.02 * 2 / 2


def test_prediction_history_is_bounded() -> None:
    state = DashboardState(CONFIG)
    state.apply_all(synthetic_run(CONFIG, PREDICTION_HISTORY + 10))
    recent = state.models["lstm"].recent
    assert len(recent) == PREDICTION_HISTORY
    assert recent[-1][0] == PREDICTION_HISTORY + 10


def test_echo_run_keeps_best_loss_and_seed_run_does_not() -> None:
    echo = DashboardState()
    echo.apply_all(synthetic_run(from_preset("echo"), 0))
    assert echo.best_loss == 0.29
    seed = DashboardState()
    seed.apply_all(synthetic_run(from_preset("seed-10k"), 0))
    assert seed.best_loss is None


def test_lr_follows_commands_and_epochs() -> None:
    state = DashboardState(CONFIG)
    assert state.lr == CONFIG.lr == 0.01  # before any event: the config's
    state.apply(CommandApplied(command="scale_lr", lr=0.02))
    assert state.lr == 0.02
    state.apply(CommandApplied(command="pause"))  # a command that leaves the rate alone
    assert state.lr == 0.02
    state.apply(dataclasses.replace(epoch_end("lstm", 1, 1.0), lr=0.005))  # the epoch trained at 0.005
    assert state.lr == 0.005
    state.apply(CommandApplied(command="scale_lr", lr=0.01))
    assert state.lr == 0.01


def test_failure_shows_in_run_state_with_message() -> None:
    state = DashboardState(CONFIG)
    state.apply_all(synthetic_run(CONFIG, 1))
    state.apply(RunFailed(message="RuntimeError: boom", traceback=""))
    state.apply(RunStateChanged(state="failed"))
    assert state.run_state == "failed"
    assert state.reason == "RuntimeError: boom"


def test_non_finite_pause_keeps_its_reason() -> None:
    state = DashboardState(CONFIG)
    state.apply(Alert(level="error", message="non-finite loss"))
    state.apply(RunStateChanged(state="paused", reason="non-finite loss in LSTM"))
    assert (state.run_state, state.reason) == ("paused", "non-finite loss in LSTM")


def test_elapsed_excludes_pauses() -> None:
    state = DashboardState(CONFIG)
    state.apply(RunStateChanged(state="running", time=100.0))
    state.apply(RunStateChanged(state="paused", time=110.0))
    state.apply(RunStateChanged(state="running", time=200.0))
    assert state.elapsed(now=205.0) == 15.0


def test_epochs_per_second_and_eta_from_recent_epochs() -> None:
    state = DashboardState(RunConfig(series_length=300, look_back=5, epochs=100))
    state.apply(RunStateChanged(state="running", time=0.0))
    for epoch in range(1, 11):
        state.apply(epoch_end("lstm", epoch, 1.0, t=epoch * 0.5))
        state.apply(epoch_end("rnn", epoch, 1.0, t=epoch * 0.5))
    assert math.isclose(state.epochs_per_s or 0, 2.0)
    assert math.isclose(state.eta() or 0, 45.0)


def test_panel_versions_move_only_for_the_panels_an_event_touches() -> None:
    state = DashboardState(CONFIG)
    before = dict(state.versions)
    state.apply(Prediction(model="rnn", epoch=1, probabilities=[0.1, 0.2, 0.7], predicted=2, true=None))
    changed = {k for k in state.versions if state.versions[k] != before[k]}
    assert changed == {"prediction:rnn"}


def test_100k_epochs_keep_bounded_history_with_extremes() -> None:
    state = DashboardState(RunConfig(series_length=300, look_back=5, epochs=100_000))
    for epoch in range(1, 100_001):
        # A slow decline with one spike and one dip that decimation must not lose.
        loss = 1.1 - epoch * 1e-6 + (5.0 if epoch == 31_337 else 0) - (0.9 if epoch == 77_777 else 0)
        state.apply(epoch_end("lstm", epoch, loss))
    train = state.models["lstm"].train
    assert train.count == 100_000
    assert len(train) <= HISTORY_BUCKETS
    xs, ys = train.points()
    assert len(xs) <= 2 * HISTORY_BUCKETS
    assert max(ys) > 6.0 and xs[ys.index(max(ys))] == 31_337
    assert min(ys) < 0.2 and xs[ys.index(min(ys))] == 77_777


def test_points_decimate_to_the_width_asked_and_keep_extremes() -> None:
    series = MinMaxSeries(capacity=64)
    for x in range(1, 5001):
        series.add(x, math.sin(x / 50) + (5 if x == 4321 else 0))
    xs, ys = series.points(max_points=40)
    assert len(xs) <= 40
    assert xs == sorted(xs)
    assert max(ys) > 3.9
    assert math.isclose(min(ys), min(math.sin(x / 50) for x in range(1, 5001)), abs_tol=0.01)


def test_non_finite_losses_are_skipped_not_plotted() -> None:
    series = MinMaxSeries()
    series.add(1, float("nan"))
    series.add(2, 1.0)
    assert (series.count, series.skipped, series.points()) == (1, 1, ([2], [1.0]))


def test_a_resumed_run_keeps_its_history_up_to_the_checkpoint() -> None:
    config = RunConfig(series_length=300, look_back=5, epochs=40)
    state = DashboardState(config)
    state.apply_all(synthetic_run(config, 6))
    resumed = dataclasses.replace(synthetic_run(config, 1)[0], resumed_from_epoch=4)
    state.apply(resumed)
    xs, _ = state.models["lstm"].train.points()
    assert xs == [1, 2, 3, 4]
    assert state.epoch == 4


def test_a_resume_without_history_starts_its_count_at_the_checkpoint() -> None:
    config = RunConfig(series_length=300, look_back=5, epochs=40)
    state = DashboardState(config)
    state.apply(dataclasses.replace(synthetic_run(config, 1)[0], resumed_from_epoch=7))
    assert state.epoch == 7
    assert state.models["rnn"].train.points() == ([], [])


def test_min_max_series_forgets_points_after_a_resume_point() -> None:
    series = MinMaxSeries(capacity=64)
    for x in range(1, 11):
        series.add(x, float(x))
    series.truncate_after(6)
    assert series.points()[0] == [1, 2, 3, 4, 5, 6]
    assert series.last == (6, 6.0)
