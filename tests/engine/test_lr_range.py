"""The learning rate stays within [LR_MIN, LR_MAX]: [ and ] stop at the ends with an alert, and a
factor that is not a finite positive number is refused wherever one comes in."""

from __future__ import annotations

import json
import math

import pytest
import torch

from engine.config import LR_MAX, LR_MIN, ConfigError, RunConfig
from engine.events import Alert, CommandApplied, EpochEnd
from engine.rundir.commands import parse_command
from engine.rundir.directory import RunDirectory
from engine.session import Session
from engine.trainer import Trainer
from tests.engine.recorder import Recorder

ENDLESS = RunConfig(series_length=300, look_back=5, epochs=100_000, device="cpu")
CPU = torch.device("cpu")
NOT_FACTORS = [math.nan, math.inf, -math.inf, 0.0, -2.0, True, "2", None]


def test_the_trainer_stops_the_rate_at_either_end_of_its_range():
    trainer = Trainer(ENDLESS, CPU)
    assert trainer.scale_lr(1e300) == LR_MAX
    assert trainer.scale_lr(1e300) == LR_MAX  # 10 x 1e300 x 1e300 overflows to inf: still the top
    assert trainer.scale_lr(1e-300) == LR_MIN
    assert all(group["lr"] == LR_MIN for opt in trainer.optimizers.values() for group in opt.param_groups)


def test_two_hundred_doublings_hold_the_rate_at_the_top_with_an_alert_and_training_goes_on(start):
    rec = Recorder()
    session = start(ENDLESS, rec)
    rec.wait_for(lambda e: isinstance(e, EpochEnd))
    for _ in range(200):  # as ] pressed 200 times
        session.scale_lr(2.0)
    at, _ = rec.wait_for(lambda e: isinstance(e, CommandApplied) and e.lr == LR_MAX)
    _, later = rec.wait_for(lambda e: isinstance(e, EpochEnd) and e.lr == LR_MAX and e.model == "rnn", after=at)
    alerts = [e for e in rec.snapshot() if isinstance(e, Alert)]
    assert alerts and alerts[0].level == "warning"
    assert alerts[0].message == "learning rate held at 10, the top of its range (1e-06 to 10)"
    assert math.isfinite(later.train_loss) and session.run_state == "running"


def test_halving_stops_at_the_bottom_of_the_range_with_an_alert(start):
    rec = Recorder()
    session = start(ENDLESS, rec)
    rec.wait_for(lambda e: isinstance(e, EpochEnd))
    for _ in range(20):  # 0.01 / 2^20 < 1e-6
        session.scale_lr(0.5)
    rec.wait_for(lambda e: isinstance(e, CommandApplied) and e.lr == LR_MIN)
    _, alert = rec.wait_for(lambda e: isinstance(e, Alert))
    assert alert.message == "learning rate held at 1e-06, the bottom of its range (1e-06 to 10)"


def test_a_factor_of_1e300_from_the_command_file_leaves_a_checkpoint_that_resumes(tmp_path):
    run = RunDirectory(tmp_path)
    rec = Recorder()
    session = Session(ENDLESS, [rec], run=run.open_writer(ENDLESS)).start()
    try:
        rec.wait_for(lambda e: isinstance(e, EpochEnd))
        run.send("scale_lr", factor=1e300)
        at, _ = rec.wait_for(lambda e: isinstance(e, CommandApplied) and e.command == "scale_lr")
        rec.wait_for(lambda e: isinstance(e, EpochEnd) and e.model == "rnn", after=at)
        assert session.run_state == "running"
    finally:
        session.close()
    config, checkpoint = run.load_resume()
    trainer = Trainer(config, CPU)
    trainer.load_state_dict(checkpoint)
    assert trainer.lr == LR_MAX
    trainer.run_epoch(lambda: None, lambda e: None)  # no "cannot be converted to type float"


def test_a_checkpoint_from_before_the_clamp_resumes_at_the_top_of_the_range():
    trainer = Trainer(ENDLESS, CPU)
    state = trainer.state_dict()
    for optimizer in state["optimizers"].values():
        optimizer["param_groups"][0]["lr"] = 1e300  # what 200 presses of ] used to leave
    resumed = Trainer(ENDLESS, CPU)
    resumed.load_state_dict(state)
    assert resumed.lr == LR_MAX
    resumed.run_epoch(lambda: None, lambda e: None)
    assert resumed.epoch == 1


@pytest.mark.parametrize("factor", NOT_FACTORS, ids=repr)
def test_the_session_refuses_a_factor_that_is_not_a_finite_positive_number(factor):
    session = Session(ENDLESS)  # not started: a refusal needs no worker
    with pytest.raises(ValueError, match="finite positive number"):
        session.scale_lr(factor)


@pytest.mark.parametrize("line", ['{"command": "scale_lr", "factor": 1e999}', '{"command": "scale_lr", "factor": NaN}',
                                  '{"command": "scale_lr", "factor": -1}', '{"command": "scale_lr", "factor": "2"}'])
def test_the_command_file_refuses_a_factor_that_is_not_a_finite_positive_number(line):
    with pytest.raises(ValueError, match="scale_lr: a learning-rate factor must be a finite positive number"):
        parse_command(json.loads(line))


@pytest.mark.parametrize("lr", [5e-7, 10.5])
def test_a_config_learning_rate_outside_the_range_is_refused_naming_it(lr):
    with pytest.raises(ConfigError, match=r"^lr: .* is out of range \(allowed \[1e-06, 10\]\)$"):
        RunConfig(lr=lr)
