"""Checkpoints: always of a completed epoch, written atomically; a resumed run equals one never stopped."""

from __future__ import annotations

import functools
import json
import os

import pytest
import torch

import engine.rundir.checkpoint
import engine.rundir.files
import engine.session
from engine.config import RunConfig
from engine.events import Alert, EpochEnd, RunStarted, RunStateChanged
from engine.rundir.checkpoint import FORMAT, CheckpointError, read_checkpoint, save_checkpoint
from engine.rundir.directory import CHECKPOINT_FILE, CheckpointCadence, RunDirectory
from engine.session import Session
from engine.trainer import Trainer
from tests.engine.recorder import Recorder, logged_losses

WAIT = 30.0
CPU = torch.device("cpu")
# 235 training windows: one batch per epoch, or 8 shuffled batches of 32.
FULL = RunConfig(series_length=300, look_back=5, epochs=6, device="cpu")
MINI = FULL.replace(batch_size=32)
TRIO = MINI.replace(models="gru,lstm,rnn")  # the GRU first: its order is the run's, not the draw's
CONFIGS = {"full-batch": FULL, "mini-batch": MINI, "three-models-mini-batch": TRIO}
# between_batches calls inside one epoch (every model): every training chunk (one per batch
# here) and the one validation chunk
CALLS_PER_EPOCH = {FULL: 4, MINI: 18, TRIO: 27}


class Interrupt(Exception):
    pass


def record_losses(losses: dict):
    def emit(event) -> None:
        if isinstance(event, EpochEnd):
            losses[(event.model, event.epoch)] = (event.train_loss, event.val_loss)

    return emit


@functools.lru_cache
def reference(config: RunConfig) -> tuple[dict, Trainer]:
    """Per-epoch losses and the final trainer of a run never interrupted."""
    losses: dict = {}
    trainer = Trainer(config, CPU)
    while trainer.epoch < config.epochs:
        trainer.run_epoch(lambda: None, record_losses(losses))
    return losses, trainer


def assert_same_state(a: Trainer, b: Trainer) -> None:
    """Weights and every optimiser's moments are bit for bit equal."""
    assert list(a.models) == list(b.models)
    for name in a.models:
        for (key, x), y in zip(a.models[name].state_dict().items(), b.models[name].state_dict().values()):
            assert torch.equal(x, y), f"{name}.{key}"
        for p, q in zip(a.optimizers[name].state.values(), b.optimizers[name].state.values()):
            for key in p:
                assert torch.equal(p[key], q[key]), f"{name} optimiser {key}"


# -- the trainer's state: exact at any interruption ----------------------------------------------


# Where to interrupt: the n-th between-batches call inside run_epoch, n per epoch (both models).
POINTS = {
    "epoch-1-start": lambda n: 1,
    "epoch-1-second-model": lambda n: n // 2 + 1,
    "epoch-2-start": lambda n: n + 1,
    "epoch-3-first-model-middle": lambda n: 2 * n + n // 4 + 1,
    "epoch-3-second-model-middle": lambda n: 2 * n + 3 * n // 4 + 1,
    "epoch-5-last-batch": lambda n: 5 * n,
}


def train_until_interrupted(config: RunConfig, call: int, losses: dict) -> Trainer:
    calls = 0

    def between() -> None:
        nonlocal calls
        calls += 1
        if calls == call:
            raise Interrupt

    trainer = Trainer(config, CPU)
    with pytest.raises(Interrupt):
        while True:
            trainer.run_epoch(between, record_losses(losses))
    return trainer


@pytest.mark.parametrize("where", POINTS)
@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS)
def test_a_run_interrupted_anywhere_and_resumed_equals_one_never_interrupted(config, where, tmp_path):
    want_losses, want = reference(config)
    call = POINTS[where](CALLS_PER_EPOCH[config])
    losses: dict = {}
    save_checkpoint(tmp_path / CHECKPOINT_FILE, train_until_interrupted(config, call, losses))
    checkpoint = read_checkpoint(tmp_path / CHECKPOINT_FILE)
    k = checkpoint["epoch"]
    assert k == (call - 1) // CALLS_PER_EPOCH[config]  # the last completed epoch

    resumed = Trainer(config, CPU)
    resumed.load_state_dict(checkpoint)
    losses = {key: v for key, v in losses.items() if key[1] <= k}
    while resumed.epoch < config.epochs:
        resumed.run_epoch(lambda: None, record_losses(losses))
    assert losses == want_losses
    assert_same_state(resumed, want)


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS)
def test_a_checkpoint_taken_mid_epoch_leaves_the_live_run_untouched(config, tmp_path):
    want_losses, want = reference(config)
    calls = 0

    def between() -> None:  # a pause that checkpoints, in the middle of epoch 3's second model
        nonlocal calls
        calls += 1
        if calls == 2 * CALLS_PER_EPOCH[config] + CALLS_PER_EPOCH[config] // 2 + 1:
            save_checkpoint(tmp_path / CHECKPOINT_FILE, trainer)

    losses: dict = {}
    trainer = Trainer(config, CPU)
    while trainer.epoch < config.epochs:
        trainer.run_epoch(between, record_losses(losses))
    assert losses == want_losses
    assert_same_state(trainer, want)
    assert read_checkpoint(tmp_path / CHECKPOINT_FILE)["epoch"] == 2


def test_a_checkpoint_holds_both_models_both_optimisers_the_epoch_rngs_config_and_format(tmp_path):
    _, trainer = reference(MINI)
    save_checkpoint(tmp_path / CHECKPOINT_FILE, trainer)
    checkpoint = torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)  # plain data only
    assert checkpoint["format"] == FORMAT
    assert checkpoint["epoch"] == MINI.epochs
    assert checkpoint["config"] == MINI.to_dict()
    assert set(checkpoint["lstm"]) == set(trainer.models["lstm"].state_dict())
    assert set(checkpoint["rnn"]) == set(trainer.models["rnn"].state_dict())
    assert set(checkpoint["optimizers"]) == {"lstm", "rnn"}
    assert set(checkpoint["rng"]) == {"shuffle", "torch"}


# -- atomic writes ---------------------------------------------------------------------------------


def test_a_crash_between_write_and_rename_leaves_the_old_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / CHECKPOINT_FILE
    trainer = Trainer(FULL, CPU)
    trainer.run_epoch(lambda: None, lambda e: None)
    save_checkpoint(path, trainer)
    before = path.read_bytes()
    trainer.run_epoch(lambda: None, lambda e: None)

    def crash(src, dst):
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(engine.rundir.files.os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        save_checkpoint(path, trainer)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert read_checkpoint(path)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_FILE]  # no temporary left over


# -- when checkpoints are written ------------------------------------------------------------------


def test_the_cadence_checkpoints_every_nth_epoch_at_most_once_per_s_seconds(tmp_path):
    now = [0.0]
    checkpointer = RunDirectory(tmp_path).checkpointer(CheckpointCadence(every=2, seconds=10), clock=lambda: now[0])
    now[0] = 5.0
    assert not checkpointer.due(2)  # too soon after the start
    now[0] = 10.0
    assert not checkpointer.due(3)  # not every 2nd epoch
    assert checkpointer.due(4)


def test_every_0_writes_only_when_asked(tmp_path):
    checkpointer = RunDirectory(tmp_path).checkpointer(CheckpointCadence(every=0, seconds=0))
    assert not any(checkpointer.due(epoch) for epoch in range(1, 50))


def test_a_checkpoint_of_an_unchanged_state_is_not_written_again(tmp_path):
    checkpointer = RunDirectory(tmp_path).checkpointer(CheckpointCadence(seconds=0))
    trainer = Trainer(FULL, CPU)
    assert checkpointer.write(trainer)
    assert not checkpointer.write(trainer)  # a pause, then a stop: the same epoch
    trainer.scale_lr(0.5)
    assert checkpointer.write(trainer)  # the learning rate changed while paused


# -- the session: checkpoints at every end and pause -----------------------------------------------


def is_state(state: str):
    return lambda e: isinstance(e, RunStateChanged) and e.state == state


def checkpoint_epoch(run_dir) -> int:
    return read_checkpoint(run_dir / CHECKPOINT_FILE)["epoch"]


def writer(run_dir, config: RunConfig, **options):
    return RunDirectory(run_dir).open_writer(config, **options)


def load_resume(run_dir, epochs: int | None = None):
    return RunDirectory(run_dir).load_resume(epochs)


def test_a_finished_run_leaves_a_checkpoint_of_its_last_epoch(tmp_path):
    rec = Recorder()
    session = Session(FULL, [rec], run=writer(tmp_path, FULL)).start()
    rec.wait_for(is_state("finished"))
    session.close()
    assert checkpoint_epoch(tmp_path) == FULL.epochs


def test_a_run_checkpoints_at_its_start_so_the_directory_always_has_one(tmp_path):
    rec = Recorder()
    endless = FULL.replace(epochs=100_000)
    session = Session(endless, [rec], run=writer(tmp_path, endless)).start()
    rec.wait_for(lambda e: isinstance(e, RunStarted))
    assert (tmp_path / CHECKPOINT_FILE).exists()
    session.close()


def test_the_checkpoint_is_on_disk_before_the_pause_is_announced(tmp_path):
    seen: list[int] = []

    def sink(event) -> None:  # runs on a delivery thread, after the worker emitted the state
        if isinstance(event, RunStateChanged) and event.state == "paused":
            seen.append(checkpoint_epoch(tmp_path))

    rec = Recorder()
    endless = FULL.replace(epochs=100_000)
    session = Session(endless, [rec, sink], run=writer(tmp_path, endless)).start()
    rec.wait_for(lambda e: isinstance(e, EpochEnd) and e.epoch >= 2)
    session.pause()
    _, paused = rec.wait_for(is_state("paused"))
    session.close()
    assert seen == [paused.epoch]


def test_close_writes_a_final_checkpoint(tmp_path):
    rec = Recorder()
    endless = FULL.replace(epochs=100_000)
    session = Session(endless, [rec], run=writer(tmp_path, endless, cadence=CheckpointCadence(every=0))).start()
    rec.wait_for(lambda e: isinstance(e, EpochEnd) and e.epoch >= 3)
    session.close()
    assert checkpoint_epoch(tmp_path) == session.epoch >= 2


def test_a_checkpoint_that_cannot_be_written_pauses_the_run_with_an_error_alert(tmp_path, monkeypatch):
    def disk_full(path, trainer):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(engine.rundir.checkpoint, "save_checkpoint", disk_full)
    rec = Recorder()
    session = Session(FULL, [rec], run=writer(tmp_path, FULL)).start()
    _, paused = rec.wait_for(is_state("paused"))
    session.close()
    _, alert = rec.wait_for(lambda e: isinstance(e, Alert))
    assert alert.level == "error" and "No space left" in alert.message and CHECKPOINT_FILE in alert.message
    assert paused.cause == "disk"


# -- the session: stop or pause, then resume, equals never stopping --------------------------------


def interrupt_session(monkeypatch, at_call: int, command: str) -> list[Session]:
    """The next Session's trainer sends that Session ``command`` (pause or stop) at its
    ``at_call``-th between-batches call, so it lands at an exact point inside an epoch. Put
    the Session in the returned list."""
    holder: list[Session] = []

    class Interrupting(Trainer):
        calls = 0

        def run_epoch(self, between_batches, emit):
            def between() -> None:
                Interrupting.calls += 1
                if Interrupting.calls == at_call:
                    getattr(holder[0], command)()
                between_batches()

            super().run_epoch(between, emit)

    monkeypatch.setattr(engine.session, "Trainer", Interrupting)
    return holder


def resume_and_finish(run_dir) -> Session:
    config, checkpoint = load_resume(run_dir)
    rec = Recorder()
    session = Session(config, [rec], run=writer(run_dir, config, resume=True), resume=checkpoint).start()
    rec.wait_for(is_state("finished"))
    session.close()
    return session


@pytest.mark.parametrize("where", ["epoch-1-second-model", "epoch-3-first-model-middle", "epoch-5-last-batch"])
@pytest.mark.parametrize("command", ["pause", "stop"])
@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS)
def test_a_session_paused_or_stopped_mid_epoch_and_resumed_equals_one_never_stopped(
    config, command, where, tmp_path, monkeypatch
):
    want_losses, want = reference(config)
    call = POINTS[where](CALLS_PER_EPOCH[config])
    holder = interrupt_session(monkeypatch, call, command)
    rec = Recorder()
    holder.append(Session(config, [rec], run=writer(tmp_path, config)))
    holder[0].start()
    _, interrupted = rec.wait_for(is_state("paused" if command == "pause" else "stopped"))
    assert interrupted.epoch == (call - 1) // CALLS_PER_EPOCH[config] == checkpoint_epoch(tmp_path)
    holder[0].close()
    monkeypatch.undo()

    resumed = resume_and_finish(tmp_path)
    assert logged_losses(tmp_path) == want_losses
    assert_same_state(resumed.trainer, want)


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS)
def test_a_run_stopped_whenever_session_stop_lands_resumes_exactly(config, tmp_path):
    long = config.replace(epochs=100_000)
    rec = Recorder()
    session = Session(long, [rec], run=writer(tmp_path, long)).start()
    rec.wait_for(lambda e: isinstance(e, EpochEnd) and e.epoch >= 2)
    session.stop()
    rec.wait_for(is_state("stopped"))
    session.close()
    k = checkpoint_epoch(tmp_path)

    target = config.replace(epochs=k + 2)  # extend: the epoch count is no part of the arithmetic
    config_again, checkpoint = load_resume(tmp_path, epochs=target.epochs)
    assert config_again == long.replace(epochs=target.epochs)
    rec = Recorder()
    resumed = Session(config_again, [rec], run=writer(tmp_path, config_again, resume=True),
                      resume=checkpoint).start()
    _, started = rec.wait_for(lambda e: isinstance(e, RunStarted))
    rec.wait_for(is_state("finished"))
    resumed.close()

    assert started.resumed_from_epoch == k
    want_losses, want = reference(target)
    assert logged_losses(tmp_path) == want_losses
    assert_same_state(resumed.trainer, want)
    assert json.loads((tmp_path / "config.json").read_text())["epochs"] == k + 2


# -- resuming refuses what it cannot use -----------------------------------------------------------


@pytest.fixture
def finished_run(tmp_path):
    rec = Recorder()
    session = Session(FULL, [rec], run=writer(tmp_path, FULL)).start()
    rec.wait_for(is_state("finished"))
    session.close()
    return tmp_path


def test_resume_reads_the_config_and_the_checkpoint(finished_run):
    config, checkpoint = load_resume(finished_run, epochs=9)
    assert config == FULL.replace(epochs=9)
    assert checkpoint["epoch"] == FULL.epochs


def test_resume_refuses_fewer_epochs_than_trained(finished_run):
    with pytest.raises(CheckpointError, match="fewer than the 6 epochs"):
        load_resume(finished_run, epochs=3)


def test_resume_refuses_a_checkpoint_of_another_config(finished_run):
    (finished_run / "config.json").write_text(json.dumps(FULL.replace(hidden=7).to_dict()))
    with pytest.raises(CheckpointError, match="differs in hidden"):
        load_resume(finished_run)


def test_resume_refuses_a_checkpoint_of_another_format(finished_run):
    checkpoint = read_checkpoint(finished_run / CHECKPOINT_FILE)
    torch.save({**checkpoint, "format": FORMAT + 1}, finished_run / CHECKPOINT_FILE)
    with pytest.raises(CheckpointError, match="format"):
        load_resume(finished_run)


def test_resume_refuses_weights_of_another_shape(finished_run):
    checkpoint = read_checkpoint(finished_run / CHECKPOINT_FILE)
    checkpoint["rnn"]["fc.weight"] = torch.zeros(3, 11)
    torch.save(checkpoint, finished_run / CHECKPOINT_FILE)
    with pytest.raises(CheckpointError, match="RNN weights of another shape"):
        load_resume(finished_run)


def test_resume_refuses_a_truncated_checkpoint(finished_run):
    path = finished_run / CHECKPOINT_FILE
    data = path.read_bytes()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
        os.fsync(f.fileno())
    with pytest.raises(CheckpointError, match="corrupt"):
        load_resume(finished_run)


def test_a_run_directory_from_before_models_resumes_as_the_seeds_pair(finished_run):
    # config.json and the checkpoint's config as versions before --models wrote them: no models key.
    old = {k: v for k, v in FULL.to_dict().items() if k != "models"}
    (finished_run / "config.json").write_text(json.dumps(old))
    checkpoint = read_checkpoint(finished_run / CHECKPOINT_FILE)
    torch.save({**checkpoint, "config": old}, finished_run / CHECKPOINT_FILE)
    config, checkpoint = load_resume(finished_run, epochs=8)
    assert config.models == "lstm,rnn" and config == FULL.replace(epochs=8)
    resumed = Trainer(config, CPU)
    resumed.load_state_dict(checkpoint)
    assert list(resumed.models) == ["lstm", "rnn"] and resumed.epoch == FULL.epochs


def test_resume_refuses_a_checkpoint_without_one_of_the_configs_models(tmp_path):
    rec = Recorder()
    session = Session(TRIO, [rec], run=writer(tmp_path, TRIO)).start()
    rec.wait_for(is_state("finished"))
    session.close()
    checkpoint = read_checkpoint(tmp_path / CHECKPOINT_FILE)
    del checkpoint["gru"]
    torch.save(checkpoint, tmp_path / CHECKPOINT_FILE)
    with pytest.raises(CheckpointError, match="incomplete: no gru"):
        load_resume(tmp_path)


def test_a_three_model_checkpoint_holds_each_model_and_its_optimiser(tmp_path):
    _, trainer = reference(TRIO)
    save_checkpoint(tmp_path / CHECKPOINT_FILE, trainer)
    checkpoint = torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)
    assert {"gru", "lstm", "rnn"} <= set(checkpoint)
    assert set(checkpoint["gru"]) == set(trainer.models["gru"].state_dict())
    assert set(checkpoint["optimizers"]) == {"gru", "lstm", "rnn"}
