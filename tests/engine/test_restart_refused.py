"""A restart whose config cannot start is refused before anything changes: the run it would have
replaced goes on (or stays ended, and resumable), its config.json and checkpoint as they were."""

from __future__ import annotations

import pytest
import torch

import engine.trainer
from engine.config import RunConfig
from engine.events import Alert, CommandApplied, EpochEnd, RunStarted, RunStateChanged
from engine.rundir.directory import CHECKPOINT_FILE, CONFIG_FILE, RunDirectory
from engine.session import Session
from tests.engine.recorder import Recorder

ENDLESS = RunConfig(series_length=300, look_back=5, epochs=100_000, device="cpu")
SHORT = ENDLESS.replace(epochs=3)
ON_CUDA = ENDLESS.replace(device="cuda")
REFUSED = "restart refused, nothing changed: device: cuda is not available: no CUDA GPU found (try --device cpu)"


@pytest.fixture(autouse=True)
def no_cuda(monkeypatch):
    """The issue's machine: CPU only, whatever this one has."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def is_state(state: str):
    return lambda e: isinstance(e, RunStateChanged) and e.state == state


def test_a_restart_on_a_missing_device_is_refused_with_an_alert_and_the_run_trains_on(start):
    rec = Recorder()
    session = start(ENDLESS, rec)
    rec.wait_for(lambda e: isinstance(e, EpochEnd))
    session.restart(ON_CUDA)
    at, alert = rec.wait_for(lambda e: isinstance(e, Alert))
    assert (alert.level, alert.message) == ("error", REFUSED)
    _, later = rec.wait_for(lambda e: isinstance(e, EpochEnd) and e.model == "rnn", after=at)
    events = rec.snapshot()
    assert session.run_state == "running" and session.config == ENDLESS
    assert sum(isinstance(e, RunStarted) for e in events) == 1
    assert not any(isinstance(e, CommandApplied) and e.command == "restart" for e in events)
    assert not any(isinstance(e, RunStateChanged) and e.state == "failed" for e in events)


def test_a_refused_restart_leaves_config_json_and_the_checkpoint_resumable(tmp_path):
    run = RunDirectory(tmp_path)
    rec = Recorder()
    session = Session(ENDLESS, [rec], run=run.open_writer(ENDLESS)).start()
    try:
        rec.wait_for(lambda e: isinstance(e, EpochEnd))
        session.pause()
        rec.wait_for(is_state("paused"))
        config_before = (tmp_path / CONFIG_FILE).read_bytes()
        checkpoint_before = (tmp_path / CHECKPOINT_FILE).read_bytes()
        session.restart(ON_CUDA)
        rec.wait_for(lambda e: isinstance(e, Alert))
        assert (tmp_path / CONFIG_FILE).read_bytes() == config_before
        assert (tmp_path / CHECKPOINT_FILE).read_bytes() == checkpoint_before
        assert session.run_state == "paused"
    finally:
        session.close()
    config, _ = run.load_resume()  # not "config.json differs in device"
    assert config == ENDLESS


def test_a_refused_restart_of_a_finished_run_leaves_it_finished_and_resumable(tmp_path):
    run = RunDirectory(tmp_path)
    rec = Recorder()
    session = Session(SHORT, [rec], run=run.open_writer(SHORT)).start()
    try:
        rec.wait_for(is_state("finished"))
        session.restart(SHORT.replace(device="cuda"))
        _, alert = rec.wait_for(lambda e: isinstance(e, Alert))
        assert alert.message.startswith("restart refused, nothing changed: device: cuda")
        assert session.run_state == "finished"
    finally:
        session.close()
    config, checkpoint = run.load_resume(epochs=5)
    assert config.device == "cpu" and checkpoint["epoch"] == 3


@pytest.fixture
def too_big(monkeypatch) -> RunConfig:
    """A config whose data does not fit in memory (Trainer() has seeded torch by then)."""
    config = ENDLESS.replace(series_length=5_000, seed=7)
    real = engine.trainer.WeatherData

    def data(cfg, device):
        if cfg == config:
            raise MemoryError
        return real(cfg, device)

    monkeypatch.setattr(engine.trainer, "WeatherData", data)
    return config


def test_a_restart_whose_data_does_not_fit_in_memory_is_refused(start, too_big):
    rec = Recorder()
    session = start(ENDLESS, rec)
    rec.wait_for(lambda e: isinstance(e, EpochEnd))
    session.restart(too_big)
    at, alert = rec.wait_for(lambda e: isinstance(e, Alert))
    assert alert.message == "restart refused, nothing changed: not enough memory for its data and models (MemoryError)"
    rec.wait_for(lambda e: isinstance(e, EpochEnd) and e.model == "rnn", after=at)
    assert session.run_state == "running"


def test_a_refused_restart_leaves_the_run_s_random_streams_as_they_were(start, too_big):
    rec = Recorder()
    session = start(ENDLESS, rec)
    rec.wait_for(lambda e: isinstance(e, EpochEnd))
    session.pause()
    rec.wait_for(is_state("paused"))
    before = session.trainer.rng_state()
    session.restart(too_big)
    rec.wait_for(lambda e: isinstance(e, Alert))
    after = session.trainer.rng_state()
    assert all(torch.equal(after[k], before[k]) for k in before)

