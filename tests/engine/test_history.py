"""RunHistory: a run's events folded once; a restart clears, a resume truncates."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

from engine.config import RunConfig
from engine.events import (
    Cause,
    CommandApplied,
    EpochEnd,
    GradientFlow,
    Prediction,
    RunFailed,
    RunStarted,
    RunState,
    RunStateChanged,
)
from engine.history import RunHistory

CFG = RunConfig(series_length=300, look_back=5, epochs=20)


def started(config: RunConfig = CFG, resumed: int = 0, time: float = 1.0) -> RunStarted:
    return RunStarted(config=config.to_dict(), device="cpu", device_name="cpu", parameters={"lstm": 1, "rnn": 1},
                      train_windows=1, val_windows=1, data_sha256="0", chance_loss=1.0986, best_loss=0.5,
                      batches_per_epoch=1, chunks_per_batch=1, resumed_from_epoch=resumed, time=time)


def epoch(model: str, k: int, train: float) -> EpochEnd:
    return EpochEnd(model=model, epoch=k, train_loss=train, val_loss=train + 1, val_acc=0.5, grad_norm=0.1,
                    lr=0.01, seconds=0.1, samples_per_s=1.0)


def both(k: int, train: float) -> list[EpochEnd]:
    return [epoch("lstm", k, train), epoch("rnn", k, train)]


def flow(model: str, k: int, horizon: int) -> GradientFlow:
    return GradientFlow(model=model, epoch=k, norms=[1.0], cell_norms=None, horizon=horizon, cell_horizon=None)


def folded(*events, **options) -> RunHistory:
    history = RunHistory(**options)
    history.apply_all(events)
    return history


def test_it_imports_without_torch() -> None:
    # The dashboard folds a watched run's log before torch has loaded (or without it at all).
    code = "import sys, engine.history, engine.rundir.directory, engine.rundir.follow; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_the_epoch_count_is_the_epochs_both_models_completed() -> None:
    history = folded(started(), *both(1, 1.0), epoch("lstm", 2, 0.9))
    assert history.epoch == 1


def test_the_last_figures_are_the_last_epochs() -> None:
    lstm = folded(started(), *both(1, 1.0), *both(2, 0.9)).models["lstm"]
    assert (lstm.epoch, lstm.train_loss, lstm.val_loss, lstm.val_acc) == (2, 0.9, 1.9, 0.5)


def test_a_restart_clears_everything_of_the_run_before() -> None:
    history = folded(started(), *both(1, 1.0), *both(2, 0.9), flow("lstm", 2, 5), started())
    lstm = history.models["lstm"]
    assert (history.epoch, lstm.train_loss, lstm.horizon, len(lstm.train)) == (0, None, None, 0)
    assert history.runs == 2


def test_a_resume_truncates_the_curves_and_the_figures_to_its_checkpoint() -> None:
    history = folded(started(), *[e for k in range(1, 7) for e in both(k, 1 - k / 10)], started(resumed=4))
    lstm = history.models["lstm"]
    assert history.epoch == 4
    assert lstm.train.points()[0] == [1, 2, 3, 4]
    assert lstm.train_loss == 1 - 4 / 10  # epoch 4's, not the lost epoch 6's


def test_a_resume_drops_the_probes_and_predictions_of_the_lost_epochs() -> None:
    prediction = Prediction(model="lstm", epoch=2, probabilities=[1.0, 0, 0], predicted=0, true=None)
    later = dataclasses.replace(prediction, epoch=5, predicted=2)
    history = folded(started(), flow("lstm", 2, 7), prediction, flow("lstm", 5, 9), later, started(resumed=3))
    lstm = history.models["lstm"]
    assert (lstm.horizon, lstm.prediction) == (7, prediction)


def test_the_epochs_after_a_resume_continue_its_history() -> None:
    history = folded(started(), *both(1, 1.0), *both(2, 0.9), *both(3, 0.8), started(resumed=1), *both(2, 0.7))
    assert history.models["rnn"].train.points() == ([1, 2], [1.0, 0.7])


def test_a_resume_with_its_log_lost_starts_at_its_checkpoint() -> None:
    history = folded(started(resumed=7))
    assert history.epoch == 7 and history.models["lstm"].train_loss is None


def test_every_epoch_is_kept_when_asked_and_a_resume_drops_the_lost_ones() -> None:
    history = folded(started(), *both(1, 1.0), *both(2, 0.9), flow("rnn", 2, 3), *both(3, 0.8),
                     started(resumed=2), keep_epochs=True)
    rnn = history.models["rnn"]
    assert sorted(rnn.logged) == [1, 2] and rnn.horizons == {2: 3}


def test_a_history_without_curves_keeps_the_figures_only() -> None:
    lstm = folded(started(), *both(1, 1.0), curves=False).models["lstm"]
    assert (lstm.train, lstm.val, lstm.train_loss) == (None, None, 1.0)


def test_a_restart_command_with_a_config_names_the_next_run_before_it_starts() -> None:
    echo = RunConfig(task="echo", series_length=300, look_back=10, lag=6, epochs=9)
    history = folded(started(), CommandApplied(command="restart", config=echo.to_dict(), lr=echo.lr))
    assert (history.label, history.total_epochs) == ("echo lag 6", 9)


def test_the_run_state_and_its_cause_follow_the_state_events() -> None:
    history = folded(started(), RunStateChanged(state="paused", cause="non_finite", reason="non-finite loss in RNN"))
    assert (history.run_state, history.cause, history.reason) == (RunState.PAUSED, Cause.NON_FINITE,
                                                                  "non-finite loss in RNN")


def test_a_failure_without_words_takes_the_failures_message() -> None:
    history = folded(started(), RunFailed(message="RuntimeError: boom", traceback=""), RunStateChanged(state="failed"))
    assert (history.run_state, history.reason) == ("failed", "RuntimeError: boom")


def test_a_watcher_stops_a_run_nobody_trains_any_more_and_leaves_an_ended_one_be() -> None:
    running = folded(started(), RunStateChanged(state="running"))
    gone = running.trainer_gone("crashed")
    assert gone is not None and (gone.state, gone.cause) == (RunState.STOPPED, Cause.TRAINER_GONE)
    assert folded(started(), RunStateChanged(state="finished")).trainer_gone("finished") is None


def test_first_started_is_the_first_fresh_start_and_started_the_current_runs() -> None:
    history = folded(started(time=10.0), started(time=20.0), started(resumed=1, time=30.0))
    assert (history.first_started_at, history.started_at) == (10.0, 20.0)
