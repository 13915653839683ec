"""Trials for real (tiny configs): each a normal run directory, skipped once finished, resumed from
its checkpoint once interrupted, exactly; and the local executor's worker processes."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from engine.config import CheckpointCadence
from engine.events import RunStarted
from engine.rundir.directory import RunDirectory, RunStatus
from engine.sweep.executor import ExecutorOptions, LocalExecutor, local_workers
from engine.sweep.follow import SweepFollower, TrialState
from engine.sweep.grid import Grid, SweepDirectory
from engine.sweep.trials import TrialJob, TrialOutcome, run_trial
from tests.engine.recorder import logged_losses

TINY = {"series_length": "300", "look_back": "5", "device": "cpu", "probe_every": "0"}
WAIT_S = 120.0  # generous: the box is shared; a passing test never waits this long


def sweep_of(tmp_path: Path, **lists: str) -> tuple[SweepDirectory, Grid]:
    seeds = lists.pop("seeds", "1")
    grid = Grid.from_flags({**TINY, **lists}, seeds=seeds)
    sweep = SweepDirectory(tmp_path / "sweep")
    sweep.create(grid)
    return sweep, grid


def stop_after(run: RunDirectory, epochs: int):
    """A stop_reason that asks for a stop once the run's log has ``epochs`` epochs of every model."""

    def reason() -> str | None:
        try:
            done = logged_losses(run)
        except OSError:
            return None
        return "SIGINT" if sum(key[0] == "rnn" for key in done) >= epochs else None

    return reason


def test_a_trial_is_a_normal_run_directory(tmp_path) -> None:
    sweep, grid = sweep_of(tmp_path, epochs="2")
    trial = grid.trials[0]
    outcome = run_trial(TrialJob.of(sweep, trial))
    assert (outcome.state, outcome.epoch, outcome.trained) == (TrialState.FINISHED, 2, True)
    run = sweep.trial(trial.name)
    assert run.status() == RunStatus.FINISHED
    assert run.load_config() == trial.config
    assert run.load_resume()[1]["epoch"] == 2  # its checkpoint loads as a resume would
    assert len(logged_losses(run)) == 4


def test_a_finished_trial_is_skipped(tmp_path) -> None:
    sweep, grid = sweep_of(tmp_path, epochs="2")
    job = TrialJob.of(sweep, grid.trials[0])
    run_trial(job)
    log = sweep.trial(job.name).log_path
    before = log.read_bytes()
    outcome = run_trial(job)
    assert (outcome.state, outcome.trained, outcome.message) == (TrialState.FINISHED, False, "done already")
    assert log.read_bytes() == before


def test_an_interrupted_trial_resumes_from_its_checkpoint_exactly(tmp_path) -> None:
    # Mini-batches of 2: about 120 updates per model and epoch, so the stop lands mid-epoch.
    sweep, grid = sweep_of(tmp_path, epochs="6", batch_size="2")
    job = TrialJob.of(sweep, grid.trials[0])
    run = sweep.trial(job.name)
    stopped = run_trial(job, stop_after(run, 2))
    assert stopped.state == TrialState.INTERRUPTED and 2 <= stopped.epoch < 6
    assert "stopped by SIGINT" in stopped.message
    k = run.load_resume()[1]["epoch"]  # loadable, at the epoch the stop left

    resumed = run_trial(job)
    assert (resumed.state, resumed.epoch) == (TrialState.FINISHED, 6)
    starts = [e.resumed_from_epoch for e in run.events() if isinstance(e, RunStarted)]
    assert starts == [0, k]
    straight, _ = sweep_of(tmp_path / "straight", epochs="6", batch_size="2")
    run_trial(TrialJob.of(straight, grid.trials[0]))
    assert logged_losses(run) == logged_losses(straight.trial(job.name))  # bit for bit, as a run never stopped


def test_a_trial_whose_directory_holds_another_run_fails_and_writes_nothing(tmp_path) -> None:
    sweep, grid = sweep_of(tmp_path, epochs="3")
    job = TrialJob.of(sweep, grid.trials[0])
    run = sweep.trial(job.name)
    other = TrialJob(job.name, job.path, grid.trials[0].config.replace(lr=0.05, epochs=100_000).to_dict())
    assert run_trial(other, stop_after(run, 1)).state == TrialState.INTERRUPTED  # another run, resumable
    before = {path.name: path.read_bytes() for path in run.path.iterdir() if path.is_file()}
    outcome = run_trial(job)
    assert (outcome.state, outcome.trained) == (TrialState.FAILED, False)
    assert "holds another run" in outcome.message
    assert {path.name: path.read_bytes() for path in run.path.iterdir() if path.is_file()} == before


def test_a_stop_before_a_trial_begins_leaves_no_directory(tmp_path) -> None:
    sweep, grid = sweep_of(tmp_path, epochs="2")
    outcome = run_trial(TrialJob.of(sweep, grid.trials[0]), lambda: "SIGINT")
    assert (outcome.state, outcome.trained) == (TrialState.INTERRUPTED, False)
    assert not sweep.trial(grid.trials[0].name).path.exists()


# -- the local executor ----------------------------------------------------------------------------

def run_executor(executor: LocalExecutor, jobs: list[TrialJob]) -> tuple[threading.Thread, list[TrialOutcome]]:
    outcomes: list[TrialOutcome] = []
    thread = threading.Thread(target=executor.run, args=(jobs, outcomes.append), daemon=True)
    thread.start()
    return thread, outcomes


def test_the_local_executor_runs_every_trial_in_worker_processes(tmp_path) -> None:
    sweep, grid = sweep_of(tmp_path, epochs="2", lr="0.01,0.02", seeds="2")
    executor = LocalExecutor(2, log_path=sweep.workers_log)
    thread, outcomes = run_executor(executor, [TrialJob.of(sweep, t) for t in grid.trials])
    thread.join(WAIT_S)
    assert not thread.is_alive()
    assert sorted(o.name for o in outcomes) == sorted(t.name for t in grid.trials)
    assert {o.state for o in outcomes} == {TrialState.FINISHED}
    follower = SweepFollower(sweep, grid)
    follower.poll()
    assert follower.counts()[TrialState.FINISHED] == 4 and executor.pools == 1


def test_stopping_the_local_executor_stops_every_trial_with_a_checkpoint(tmp_path) -> None:
    sweep, grid = sweep_of(tmp_path, epochs="100000", seeds="3")
    executor = LocalExecutor(2, log_path=sweep.workers_log)
    thread, outcomes = run_executor(executor, [TrialJob.of(sweep, t) for t in grid.trials])
    follower = SweepFollower(sweep, grid)
    deadline = time.monotonic() + WAIT_S
    while sum(v.epoch >= 1 for v in follower.views.values()) < 2:
        assert time.monotonic() < deadline, "the trials never got going"
        follower.poll()
        time.sleep(0.1)
    executor.stop(signal.SIGINT)
    thread.join(WAIT_S)
    assert not thread.is_alive()
    by_name = {o.name: o for o in outcomes}
    assert len(by_name) == 3 and {o.state for o in outcomes} == {TrialState.INTERRUPTED}
    started = [o for o in outcomes if o.trained]
    assert len(started) == 2 and not by_name[grid.trials[2].name].trained  # the third never began
    for outcome in started:
        run = sweep.trial(outcome.name)
        assert run.status() == RunStatus.STOPPED
        assert run.load_resume()[1]["epoch"] >= 1
        assert "stopped by SIGINT" in outcome.message


def test_killing_the_local_executor_ends_its_workers_at_once_and_their_trials_resume(tmp_path) -> None:
    sweep, grid = sweep_of(tmp_path, epochs="100000", seeds="2")
    executor = LocalExecutor(2, log_path=sweep.workers_log)
    thread, outcomes = run_executor(executor, [TrialJob.of(sweep, t) for t in grid.trials])
    follower = SweepFollower(sweep, grid)
    deadline = time.monotonic() + WAIT_S
    while sum(v.epoch >= 1 for v in follower.views.values()) < 2:  # past their first checkpoint
        assert time.monotonic() < deadline, "the trials never got going"
        follower.poll()
        time.sleep(0.1)
    executor.kill()  # a second Ctrl+C
    thread.join(10)
    assert not thread.is_alive()
    assert sorted((o.name, o.state) for o in outcomes) == [(t.name, TrialState.INTERRUPTED) for t in grid.trials]
    assert all("it resumes from its last checkpoint" in o.message for o in outcomes)
    for trial in grid.trials:
        run = sweep.trial(trial.name)
        assert run.status() == RunStatus.CRASHED
        assert run.load_resume()[1]["epoch"] >= 0  # it loads: the checkpoint a resume starts from


def test_a_kill_after_a_stop_with_trials_still_queued_ends_the_executor(tmp_path) -> None:
    # Ctrl+C, then Ctrl+C again: the stop once cancelled the queued trials, and the pool's
    # manager, broken by the kill, crashed on them and left the executor waiting for ever.
    sweep, grid = sweep_of(tmp_path, epochs="100000", seeds="4")
    executor = LocalExecutor(1, log_path=sweep.workers_log)
    thread, outcomes = run_executor(executor, [TrialJob.of(sweep, t) for t in grid.trials])
    follower = SweepFollower(sweep, grid)
    deadline = time.monotonic() + WAIT_S
    while not any(v.epoch >= 1 for v in follower.views.values()):
        assert time.monotonic() < deadline, "the first trial never got going"
        follower.poll()
        time.sleep(0.1)
    executor.stop(signal.SIGINT)
    executor.kill()
    thread.join(15)
    assert not thread.is_alive()
    assert len({o.name for o in outcomes}) == len(grid.trials)  # every trial accounted for, once


@pytest.mark.slow  # about 20 s: two pools, and a straight run to compare with
def test_a_trial_whose_worker_dies_is_resumed_by_a_new_pool_and_loses_nothing(tmp_path) -> None:
    sweep, grid = sweep_of(tmp_path, epochs="10", batch_size="4")
    trial = grid.trials[0]
    run = sweep.trial(trial.name)
    executor = LocalExecutor(1, log_path=sweep.workers_log)
    every_epoch = CheckpointCadence(every=1, seconds=0)  # so the kill finds a checkpoint past epoch 0
    thread, outcomes = run_executor(executor, [TrialJob.of(sweep, trial, every_epoch)])
    deadline = time.monotonic() + WAIT_S
    while not (run.is_run and sum(key[0] == "rnn" for key in logged_losses(run)) >= 2):
        assert time.monotonic() < deadline, "the trial never got going"
        time.sleep(0.05)
    os.kill(run.trainer_pid(), signal.SIGKILL)  # as the kernel's out-of-memory killer would
    thread.join(WAIT_S)
    assert [(o.state, o.epoch) for o in outcomes] == [(TrialState.FINISHED, 10)]
    assert executor.pools == 2
    starts = [e.resumed_from_epoch for e in run.events() if isinstance(e, RunStarted)]
    assert len(starts) == 2 and starts[0] == 0 and starts[1] >= 1
    straight, _ = sweep_of(tmp_path / "straight", epochs="10", batch_size="4")
    run_trial(TrialJob.of(straight, trial))
    assert logged_losses(run) == logged_losses(straight.trial(trial.name))


def test_the_default_workers_are_one_per_core_on_the_cpu(monkeypatch) -> None:
    monkeypatch.setattr("engine.sweep.executor.cpu_cores", lambda: 16)
    assert local_workers(ExecutorOptions(), {"cpu"}) == (16, 0)
    assert local_workers(ExecutorOptions(cpus_per_trial=4), {"cpu"}) == (4, 0)
    assert local_workers(ExecutorOptions(workers=3), {"cpu"}) == (3, 0)


def test_on_cuda_several_trials_share_each_gpu(monkeypatch) -> None:
    monkeypatch.setattr("engine.sweep.executor.cpu_cores", lambda: 16)
    monkeypatch.setattr("engine.sweep.executor.cuda_devices", lambda: 2)
    assert local_workers(ExecutorOptions(), {"auto"}) == (8, 2)  # four per GPU, spread over both
    assert local_workers(ExecutorOptions(gpus_per_trial=0.5), {"cuda"}) == (4, 2)
    assert local_workers(ExecutorOptions(), {"cuda:1"}) == (8, 0)  # a named GPU: no spreading
    monkeypatch.setattr("engine.sweep.executor.cuda_devices", lambda: 0)
    assert local_workers(ExecutorOptions(), {"auto"}) == (16, 0)
