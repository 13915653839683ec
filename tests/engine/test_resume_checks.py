"""A failed resume keeps the checkpoint: every part of checkpoint.pt is checked before the run
starts (one line naming what is wrong), and a resumed Session writes nothing over it until an
epoch has completed after it."""

from __future__ import annotations

import pytest
import torch

from engine.config import RunConfig
from engine.events import RunFailed, RunStateChanged
from engine.rundir.checkpoint import CheckpointError
from engine.rundir.directory import CHECKPOINT_FILE, RunDirectory
from engine.session import Session
from engine.trainer import Trainer
from tests.engine.recorder import Recorder

CFG = RunConfig(series_length=300, look_back=5, epochs=3, device="cpu", probe_every=0)


def is_state(state: str):
    return lambda e: isinstance(e, RunStateChanged) and e.state == state


@pytest.fixture
def finished_run(tmp_path):
    rec = Recorder()
    session = Session(CFG, [rec], run=RunDirectory(tmp_path).open_writer(CFG)).start()
    rec.wait_for(is_state("finished"))
    session.close()
    return tmp_path


def edit_checkpoint(run_dir, edit) -> bytes:
    """Apply ``edit`` to the saved checkpoint dict; the file's new bytes."""
    path = run_dir / CHECKPOINT_FILE
    checkpoint = torch.load(path, weights_only=True)
    edit(checkpoint)
    torch.save(checkpoint, path)
    return path.read_bytes()


def lstm_adam(checkpoint) -> dict:
    return checkpoint["optimizers"]["lstm"]


def set_in(d: dict, key, value) -> None:
    d[key] = value


CORRUPT = {  # the case first
    "no parameter groups": (lambda c: set_in(lstm_adam(c), "param_groups", []),
                            "unusable optimiser state for the LSTM: 0 parameter groups, not 1"),
    "a group of too few parameters": (lambda c: set_in(lstm_adam(c)["param_groups"][0], "params", [0, 1]),
                                      "does not hold the model's 6 parameters"),
    "an infinite learning rate": (lambda c: set_in(lstm_adam(c)["param_groups"][0], "lr", float("inf")),
                                  "learning rate inf, not a positive number"),
    "another Adam's betas": (lambda c: set_in(lstm_adam(c)["param_groups"][0], "betas", (0.5, 0.9)),
                             "betas is (0.5, 0.9), not (0.9, 0.999)"),
    "a moment of another shape": (lambda c: set_in(lstm_adam(c)["state"][0], "exp_avg", torch.zeros(2)),
                                  "exp_avg of parameter 0 is of shape (2,), not (40, 3)"),
    "a NaN moment": (lambda c: lstm_adam(c)["state"][1]["exp_avg_sq"].fill_(float("nan")),
                     "exp_avg_sq of parameter 1 is not finite"),
    "a negative step count": (lambda c: set_in(lstm_adam(c)["state"][0], "step", torch.tensor(-1.0)),
                              "parameter 0 has step count -1.0"),
    "a parameter without moments": (lambda c: set_in(lstm_adam(c)["state"], 0, {}),
                                    "parameter 0 has no step count and moments"),
    "weights of whole numbers": (lambda c: set_in(c["rnn"], "fc.bias", torch.zeros(3, dtype=torch.long)),
                                 "RNN weights that cannot train: fc.bias is a tensor of torch.int64"),
    "infinite weights": (lambda c: c["rnn"]["fc.bias"].fill_(float("inf")), "fc.bias is not finite"),
    "a cut random state": (lambda c: set_in(c["rng"], "shuffle", torch.zeros(3, dtype=torch.uint8)),
                           "unusable shuffle random-generator state"),
    "more epochs than the run has": (lambda c: set_in(c, "epoch", 99), "has trained 99 epochs, more than"),
    "a config without epochs": (lambda c: c["config"].pop("epochs"), "unusable config (epochs: missing)"),
}


@pytest.mark.parametrize(("edit", "says"), CORRUPT.values(), ids=CORRUPT)
def test_a_checkpoint_with_any_part_unusable_is_refused_in_one_line_and_kept(edit, says, finished_run):
    saved = edit_checkpoint(finished_run, edit)
    with pytest.raises(CheckpointError) as refused:
        RunDirectory(finished_run).load_resume(epochs=5)
    assert says in str(refused.value) and "\n" not in str(refused.value)
    assert (finished_run / CHECKPOINT_FILE).read_bytes() == saved


def resume(run_dir, checkpoint: dict, rec: Recorder) -> Session:
    config = CFG.replace(epochs=5)
    return Session(config, [rec], run=RunDirectory(run_dir).open_writer(config, resume=True),
                   resume=checkpoint).start()


def test_a_resume_whose_state_cannot_be_loaded_writes_no_fresh_model_over_the_checkpoint(finished_run):
    saved = (finished_run / CHECKPOINT_FILE).read_bytes()
    _, checkpoint = RunDirectory(finished_run).load_resume(epochs=5)
    checkpoint["optimizers"]["lstm"]["param_groups"] = []  # past the checks: the Session's own guard
    rec = Recorder()
    session = resume(finished_run, checkpoint, rec)
    rec.wait_for(lambda e: isinstance(e, RunFailed))
    session.close()
    assert (finished_run / CHECKPOINT_FILE).read_bytes() == saved


def test_a_resumed_run_that_fails_before_its_first_epoch_completes_keeps_the_checkpoint(finished_run, monkeypatch):
    def fail(self, between_batches, emit):
        raise RuntimeError("the device went away")

    monkeypatch.setattr(Trainer, "run_epoch", fail)
    saved = (finished_run / CHECKPOINT_FILE).read_bytes()
    rec = Recorder()
    session = resume(finished_run, RunDirectory(finished_run).load_resume(epochs=5)[1], rec)
    rec.wait_for(lambda e: isinstance(e, RunFailed))
    session.close()
    assert session.checkpointer.written == 0
    assert (finished_run / CHECKPOINT_FILE).read_bytes() == saved


def test_a_resumed_run_paused_and_closed_before_its_first_epoch_writes_nothing(finished_run):
    saved = (finished_run / CHECKPOINT_FILE).read_bytes()
    config = CFG.replace(epochs=5)
    rec = Recorder()
    session = Session(config, [rec], run=RunDirectory(finished_run).open_writer(config, resume=True),
                      resume=RunDirectory(finished_run).load_resume(epochs=5)[1])
    session.pause()  # queued before the start: taken before the first batch
    session.start()
    _, paused = rec.wait_for(is_state("paused"))
    session.close()
    assert paused.epoch == CFG.epochs
    assert session.checkpointer.written == 0
    assert (finished_run / CHECKPOINT_FILE).read_bytes() == saved
