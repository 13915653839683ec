"""`--resume DIR` continues a run exactly: the same weights and per-epoch losses, bit for bit, as a
run that was never interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from engine.events import EpochEnd, RunStarted
from engine.models import MODEL_NAMES
from engine.rundir.directory import CHECKPOINT_FILE, EVENTS_FILE, RunDirectory
from tui.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--series-length", "300", "--look-back", "5"]
BATCHES = {"full-batch": ["--batch-size", "full"], "mini-batch": ["--batch-size", "32"]}


def losses(run_dir: Path) -> dict:
    """(model, epoch) -> (train, validation loss), as a reader of the log sees them: a run that
    starts or resumes drops the epochs past its start."""
    seen: dict = {}
    for event in RunDirectory(run_dir).events():
        if isinstance(event, RunStarted):
            seen = {key: v for key, v in seen.items() if key[1] <= event.resumed_from_epoch}
        elif isinstance(event, EpochEnd):
            seen[(event.model, event.epoch)] = (event.train_loss, event.val_loss)
    return seen


def assert_same_checkpoint(a: Path, b: Path, models: tuple[str, ...] = ("lstm", "rnn")) -> None:
    """The checkpoints hold ``models``, whose weights and optimisers' moments are bit for bit equal."""
    x = torch.load(a / CHECKPOINT_FILE, weights_only=True)
    y = torch.load(b / CHECKPOINT_FILE, weights_only=True)
    assert x["epoch"] == y["epoch"]
    assert [name for name in MODEL_NAMES if name in x] == [name for name in MODEL_NAMES if name in y] == sorted(
        models, key=MODEL_NAMES.index)
    for name in models:
        for key in x[name]:
            assert torch.equal(x[name][key], y[name][key]), f"{name}.{key}"
        for index, state in x["optimizers"][name]["state"].items():
            for key, value in state.items():
                assert torch.equal(value, y["optimizers"][name]["state"][index][key]), f"{name} {key}"


@pytest.mark.parametrize("batch", BATCHES.values(), ids=BATCHES)
def test_a_run_resumed_with_more_epochs_equals_one_trained_straight_through(batch, tmp_path, capsys):
    interrupted, straight = tmp_path / "interrupted", tmp_path / "straight"
    assert main(["train", *TINY, *batch, "--epochs", "3", "--run-dir", str(interrupted)]) == 0
    assert main(["train", "--resume", str(interrupted), "--epochs", "6"]) == 0
    assert main(["train", *TINY, *batch, "--epochs", "6", "--run-dir", str(straight)]) == 0
    assert losses(interrupted) == losses(straight)
    assert len(losses(straight)) == 12
    assert_same_checkpoint(interrupted, straight)


def test_the_resumed_run_says_where_it_resumed_from(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "2", "--run-dir", str(run_dir)]) == 0
    assert main(["train", "--resume", str(run_dir), "--epochs", "3"]) == 0
    started = [e for e in RunDirectory(run_dir).events() if isinstance(e, RunStarted)]
    assert [e.resumed_from_epoch for e in started] == [0, 2]
    assert "resumed after epoch 2" in capsys.readouterr().out


def test_a_run_stopped_by_sigterm_mid_epoch_resumes_exactly(tmp_path, capsys):
    # Mini-batches of 4: ~60 updates per model per epoch, so the stop usually lands mid-epoch.
    config = [*TINY, "--batch-size", "4"]
    interrupted, straight = tmp_path / "interrupted", tmp_path / "straight"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli.main", "train", *config, "--epochs", "100000", "--run-dir", str(interrupted)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},  # the arithmetic of this process (tests/conftest.py)
    )
    deadline = time.monotonic() + 60
    while sum(key[0] == "rnn" for key in _losses_or_none(interrupted)) < 2:
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read() if proc.poll() else ""
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 143
    k = torch.load(interrupted / CHECKPOINT_FILE, weights_only=True)["epoch"]

    assert main(["train", "--resume", str(interrupted), "--epochs", str(k + 2)]) == 0
    assert main(["train", *config, "--epochs", str(k + 2), "--run-dir", str(straight)]) == 0
    assert losses(interrupted) == losses(straight)
    assert_same_checkpoint(interrupted, straight)


def _losses_or_none(run_dir: Path) -> dict:
    return losses(run_dir) if (run_dir / EVENTS_FILE).exists() else {}


def test_a_three_model_run_resumes_with_its_three_models_exactly(tmp_path, capsys):
    interrupted, straight = tmp_path / "interrupted", tmp_path / "straight"
    three = [*TINY, "--models", "gru,lstm,rnn"]
    assert main(["train", *three, "--epochs", "2", "--run-dir", str(interrupted)]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(interrupted), "--epochs", "4"]) == 0
    out = capsys.readouterr().out
    assert "resumed after epoch 2" in out
    assert [line.split()[1] for line in out.splitlines() if line.split()[1:2] in (["GRU"], ["LSTM"], ["RNN"])] == [
        "GRU", "LSTM", "RNN"]  # the final table's rows, in the run's order
    assert main(["train", *three, "--epochs", "4", "--run-dir", str(straight)]) == 0
    assert losses(interrupted) == losses(straight)
    assert {model for model, _ in losses(interrupted)} == {"gru", "lstm", "rnn"} and len(losses(straight)) == 12
    assert_same_checkpoint(interrupted, straight, ("gru", "lstm", "rnn"))
