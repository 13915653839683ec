"""The Ray executor for real (no mock of Ray): a local Ray instance it starts and stops, and a
simulated two-node cluster (ray.cluster_utils.Cluster) that loses a node mid-sweep. Every trial's
files land in the sweep directory here, live, and equal the local executor's: CPU training is
deterministic, so the same grid gives the same losses wherever it ran.

Ray binds to 127.0.0.1 only on these machines: every node is given that address, and
RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 is set before ray is imported (Ray reads it then; without it
Ray takes the machine's other address for "127.0.0.1").
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from engine.config import CheckpointCadence
from engine.events import RunStarted, RunState, RunStateChanged
from engine.rundir.directory import RunDirectory, RunStatus
from engine.sweep.executor import ExecutorThread, LocalExecutor
from engine.sweep.follow import SweepFollower, TrialState
from engine.sweep.grid import Grid, SweepDirectory
from engine.sweep.ray_executor import RAY_CLUSTER_ENV, RayExecutor, TrialMirror, _LocalCopy, trial_slots
from engine.sweep.trials import TrialJob, TrialOutcome
from tests.engine.recorder import logged_losses

EPOCHS = 8
TINY = {"series_length": "300", "look_back": "5", "device": "cpu", "probe_every": "0", "epochs": str(EPOCHS),
        "batch_size": "4"}  # batch 4: about 0.3 s an epoch, so a trial is caught mid-run
SEEDS = "3"
EVERY_EPOCH = CheckpointCadence(1, 0)  # a checkpoint after each epoch: a lost node loses at most one
NODE = {"node_ip_address": "127.0.0.1", "object_store_memory": 100 * 2**20}
FAST_DEATH = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500, "health_check_failure_threshold": 3}
WAIT_S = 120.0  # generous: the box is shared; a passing test never waits this long


def sweep_of(path: Path, **lists: str) -> tuple[SweepDirectory, Grid]:
    seeds = lists.pop("seeds", SEEDS)
    grid = Grid.from_flags({**TINY, **lists}, seeds=seeds)
    sweep = SweepDirectory(path)
    sweep.create(grid)
    return sweep, grid


def jobs_of(sweep: SweepDirectory, grid: Grid) -> list[TrialJob]:
    return [TrialJob.of(sweep, trial, EVERY_EPOCH) for trial in grid.trials]


def head_epoch(run: RunDirectory) -> int:
    """Epochs every model has on the head's copy of the log."""
    try:
        done = logged_losses(run)
    except OSError:
        return 0
    return sum(key[0] == "rnn" for key in done)


@pytest.fixture(scope="module")
def ray() -> Any:
    """The ray module, imported with Ray's node address on the loopback (it reads the setting then)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(RAY_CLUSTER_ENV, "0")
        yield pytest.importorskip("ray")


def start(executor, jobs: list[TrialJob]) -> tuple[ExecutorThread, list[TrialOutcome]]:
    outcomes: list[TrialOutcome] = []
    return ExecutorThread(executor, jobs, outcomes.append).start(), outcomes


def wait_for(condition, runner: ExecutorThread, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        assert runner.alive, f"the sweep ended before {what}"
        time.sleep(0.05)


def end(ray: Any, executor, runner: ExecutorThread | None) -> None:
    """A test that failed half-way leaves nothing running."""
    if runner is not None and runner.alive:
        executor.kill()
        runner.join(30)
    if ray.is_initialized():
        ray.shutdown()


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, tuple[dict, bytes]]:
    """The grid run by the local executor: each trial's epochs and config.json."""
    sweep, grid = sweep_of(tmp_path_factory.mktemp("local") / "sweep")
    runner, outcomes = start(LocalExecutor(2, log_path=sweep.workers_log), jobs_of(sweep, grid))
    runner.join(WAIT_S)
    assert not runner.alive and runner.error is None
    assert {o.state for o in outcomes} == {TrialState.FINISHED}
    return {t.name: (logged_losses(sweep.trial(t.name)), (sweep.trial(t.name).path / "config.json").read_bytes())
            for t in grid.trials}


def assert_as_the_local_executor(sweep: SweepDirectory, grid: Grid, reference: dict) -> None:
    for trial in grid.trials:
        run = sweep.trial(trial.name)
        epochs, config = reference[trial.name]
        assert run.status() == RunStatus.FINISHED, trial.name
        assert logged_losses(run) == epochs, trial.name  # every epoch of every model, the same losses
        assert len(epochs) == EPOCHS * 2
        assert (run.path / "config.json").read_bytes() == config
        assert run.load_resume()[1]["epoch"] == EPOCHS  # its checkpoint is here, and loads


@pytest.mark.slow  # about 30 s: a local Ray instance started and stopped, three trials on it
def test_a_local_ray_instance_runs_the_trials_as_the_local_executor_does_their_files_here_live_and_steerable(
        tmp_path, reference, ray) -> None:
    sweep, grid = sweep_of(tmp_path / "sweep")
    executor = RayExecutor(None, {"cpu"}, local_cpus=2)
    follower = SweepFollower(sweep, grid)
    seen_running: set[tuple[str, int]] = set()

    def follow() -> list:  # the sweep's files, followed here as the front end follows them
        follower.poll()
        running = [v for v in follower.running() if 1 <= v.epoch <= 2]
        seen_running.update((v.trial.name, v.epoch) for v in running)
        return running

    runner = None
    try:
        executor.connect()  # a local instance: this sweep's own
        assert ray.is_initialized()
        runner, outcomes = start(executor, jobs_of(sweep, grid))
        wait_for(follow, runner, "a trial's first epoch in the sweep directory")
        run = sweep.trial(follow()[0].trial.name)
        assert run.status() == RunStatus.LIVE  # held here while it trains in a Ray worker
        run.send("pause")  # as `lstm-tui watch` does, on the sweep directory's copy
        wait_for(lambda: any(isinstance(e, RunStateChanged) and e.state == RunState.PAUSED for e in run.events()),
                 runner, "the trial's pause to come back in its log")
        paused_at = head_epoch(run)
        time.sleep(1.0)
        assert head_epoch(run) == paused_at < EPOCHS  # paused, not just saying so
        run.send("resume")
        while runner.alive:
            follow()
            time.sleep(0.05)
        runner.join()
    finally:
        end(ray, executor, runner)
    assert runner.error is None
    assert not ray.is_initialized()  # the instance it started is stopped
    assert sorted((o.name, o.state) for o in outcomes) == sorted((t.name, TrialState.FINISHED) for t in grid.trials)
    assert_as_the_local_executor(sweep, grid, reference)  # a pause changes no number either
    assert any(epoch < EPOCHS for _, epoch in seen_running)  # live: epochs arrived while it trained
    attempts = executor.attempts
    assert sorted(a.name for a in attempts) == sorted(t.name for t in grid.trials)  # one attempt each
    # Ray kept its worker processes: 3 trials in at most 2 workers at once, and a later trial found
    # torch imported by an earlier one (the worker reported sys.modules as the trial began).
    assert len({a.pid for a in attempts}) < len(attempts)
    assert any(a.torch_loaded for a in attempts)


@pytest.mark.slow  # about 40 s: a two-node cluster, three trials, one node killed mid-trial
def test_on_two_nodes_the_trials_run_on_both_and_a_lost_node_s_trials_finish_on_the_other(
        tmp_path, reference, ray) -> None:
    from ray.cluster_utils import Cluster

    sweep, grid = sweep_of(tmp_path / "sweep")
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "include_dashboard": False, "_system_config": FAST_DEATH, **NODE})
    executor = runner = None
    try:
        worker = cluster.add_node(num_cpus=1, **NODE)
        executor = RayExecutor(cluster.address, {"cpu"})  # joins it, as --ray-address does
        executor.connect()
        head = ray.get_runtime_context().get_node_id()  # the driver's node: the mirror is here
        assert trial_slots(ray.nodes(), 1, 0) == 2
        runner, outcomes = start(executor, jobs_of(sweep, grid))

        def victim() -> str | None:  # a trial on the worker node, some epochs in, as the head sees it
            for attempt in executor.attempts_now():
                if attempt.node != head and head_epoch(sweep.trial(attempt.name)) >= 3:
                    return attempt.name
            return None

        wait_for(lambda: victim() is not None, runner, "a trial three epochs in on the worker node")
        lost = victim()
        cluster.remove_node(worker, allow_graceful=False)  # the node dies: raylet and workers, at once
        runner.join(WAIT_S)
        assert not runner.alive and runner.error is None
    finally:
        end(ray, executor, runner)
        cluster.shutdown()
    assert sorted((o.name, o.state) for o in outcomes) == sorted((t.name, TrialState.FINISHED) for t in grid.trials)
    assert_as_the_local_executor(sweep, grid, reference)  # nothing lost, to the last digit
    attempts = executor.attempts
    assert len({a.node for a in attempts}) == 2  # both nodes ran trials
    tries = [a for a in attempts if a.name == lost]
    assert tries[0].node != head and tries[-1].node == head and tries[-1].resumed
    starts = [e.resumed_from_epoch for e in sweep.trial(lost).events() if isinstance(e, RunStarted)]
    assert starts[0] == 0 and starts[-1] >= 1  # resumed on the head from the checkpoint the dead node sent


def test_a_trial_needs_a_node_with_its_cpus_and_gpus() -> None:
    nodes = [{"Alive": True, "Resources": {"CPU": 4.0, "GPU": 1.0}}, {"Alive": True, "Resources": {"CPU": 2.0}},
             {"Alive": False, "Resources": {"CPU": 64.0}}]
    assert trial_slots(nodes, 1, 0) == 6
    assert trial_slots(nodes, 2, 0) == 3
    assert trial_slots(nodes, 1, 0.25) == 4  # four trials share the one GPU; the other node has none
    assert trial_slots(nodes, 1, 0.3) == 3


def test_each_trial_s_task_asks_ray_for_its_cpus_and_its_share_of_a_gpu() -> None:
    executor = RayExecutor(None, {"cpu"}, cpus_per_trial=2, gpus_per_trial=0.25, retries=5)
    executor.gpus = 0.25  # as connect() decides it, once it has seen the cluster's GPUs
    job = TrialJob("seed-0", "trials/seed-0", {})
    assert executor._task_options(job) == {"num_cpus": 2, "num_gpus": 0.25, "max_retries": 5,
                                           "name": "lstm-tui trial seed-0"}
    executor.gpus = 0.0
    assert "num_gpus" not in executor._task_options(job)


def test_an_address_the_executor_cannot_use_is_refused_before_ray_starts(ray) -> None:
    for address, said in (("ray://example:10001", "Ray Client address"), ("example", "is not HOST:PORT"),
                          ("127.0.0.1:1", "no Ray cluster answers at 127.0.0.1:1")):
        with pytest.raises(ValueError, match=said):
            RayExecutor(address, {"cpu"}).connect()
        assert not ray.is_initialized()


# -- the mirror on its own (a plain class; Ray only carries its calls) --------------------------------

def test_a_retried_attempt_gets_the_head_s_latest_files_and_the_attempt_it_replaced_is_refused(tmp_path) -> None:
    mirror, path = TrialMirror(), tmp_path / "trial"
    first, files = mirror.open("trial", str(path), {"node": "a"})
    assert files == {} and RunDirectory(path).trainer_pid() == os.getpid()  # held here, as a trainer holds it
    reply = mirror.push(first, {"checkpoint.pt": b"epoch 1", "config.json": b"{}", "events.jsonl": (0, b"one\n")})
    assert reply == {"lost": False, "stop": None, "commands": b""}
    second, files = mirror.open("trial", str(path), {"node": "b"})  # Ray retried it: its node died
    assert files == {"checkpoint.pt": b"epoch 1", "config.json": b"{}", "events.jsonl": b"one\n"}
    assert mirror.push(first, {"events.jsonl": (4, b"stale\n")})["lost"]  # the old attempt stops
    mirror.push(second, {"events.jsonl": (4, b"two\n")})
    assert mirror.close(second, {}) is None
    assert (path / "events.jsonl").read_bytes() == b"one\ntwo\n"
    assert RunDirectory(path).trainer_pid() is None  # let go
    assert [(a.node, a.resumed) for a in mirror.attempts()] == [("a", False), ("b", True)]


def test_a_stop_reaches_the_open_trials_in_their_replies_and_no_trial_opens_after_it(tmp_path) -> None:
    mirror = TrialMirror()
    token, _ = mirror.open("running", str(tmp_path / "running"), {})
    assert mirror.stop("SIGINT") == ["running"]
    assert mirror.push(token, {})["stop"] == "SIGINT"
    assert mirror.open("queued", str(tmp_path / "queued"), {}) == (None, None)
    assert not (tmp_path / "queued").exists()


def test_a_trial_that_wrote_nothing_leaves_no_directory_and_one_another_process_trains_is_refused(tmp_path) -> None:
    mirror = TrialMirror()
    token, _ = mirror.open("trial", str(tmp_path / "trial"), {})
    assert TrialMirror().open("trial", str(tmp_path / "trial"), {})[1].endswith(f"(pid {os.getpid()})")
    mirror.close(token, {})
    assert not (tmp_path / "trial").exists()  # as run_trial leaves none when stopped before it began


def test_a_command_written_on_the_head_reaches_the_trial_s_commands_file_once_its_run_reads_it(tmp_path) -> None:
    mirror, head = TrialMirror(), RunDirectory(tmp_path / "head")
    token, files = mirror.open("trial", str(head.path), {})
    local = _LocalCopy(tmp_path / "node" / "trial", files)
    mirror.push(token, {"config.json": b"{}"})
    (tmp_path / "head" / "commands.jsonl").write_bytes(b'{"command": "pause"}\n{"command": "res')  # half a line
    local.forward(mirror.push(token, {})["commands"])
    assert not (local.path / "commands.jsonl").exists()  # its run has not opened the file yet
    (local.path / "events.jsonl").write_bytes(b'{"event": "run_started"}\n')  # now it has
    local.forward(mirror.push(token, {})["commands"])
    assert (local.path / "commands.jsonl").read_bytes() == b'{"command": "pause"}\n'  # whole lines only


def test_a_checkpoint_goes_to_the_head_with_the_log_read_a_push_after_it(tmp_path) -> None:
    local = _LocalCopy(tmp_path / "trial", {})
    (local.path / "checkpoint.pt").write_bytes(b"epoch 1")
    (local.path / "events.jsonl").write_bytes(b'{"epoch": 1')  # the log's writer trails the checkpoint
    assert local.changes() == {}  # the checkpoint waits for its epoch's lines; half a line never goes
    (local.path / "events.jsonl").write_bytes(b'{"epoch": 1}\n')
    assert local.changes() == {"events.jsonl": (0, b'{"epoch": 1}\n'), "checkpoint.pt": b"epoch 1"}
    (local.path / "new").write_bytes(b"epoch 2")
    os.replace(local.path / "new", local.path / "checkpoint.pt")  # as the checkpointer writes it
    assert local.changes(final=True) == {"checkpoint.pt": b"epoch 2"}  # the run closed: all of it, now
