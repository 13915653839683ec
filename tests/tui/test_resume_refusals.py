"""`--resume DIR` refuses what it cannot continue exactly, in one line with exit 2, and leaves
the run directory as it was: a config.json with settings missing, a checkpoint with any part
unusable."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from engine.rundir.directory import CHECKPOINT_FILE, CONFIG_FILE
from tui.cli.main import main

TINY = ["--series-length", "300", "--look-back", "5", "--epochs", "3"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    assert main(["train", *TINY, "--run-dir", str(run_dir)]) == 0
    return run_dir


@pytest.fixture
def run_dir(finished, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(finished, copy)
    return copy


def files(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run_dir.iterdir()) if p.is_file()}


@pytest.mark.parametrize("extra", [[], ["--epochs", "5"]], ids=["as it was", "extended"])
def test_a_config_json_without_epochs_is_refused_naming_it(extra, run_dir, capsys):
    config = json.loads((run_dir / CONFIG_FILE).read_text())
    del config["epochs"]
    (run_dir / CONFIG_FILE).write_text(json.dumps(config, indent=2))
    before = files(run_dir)
    assert main(["train", "--resume", str(run_dir), *extra]) == 2
    err = capsys.readouterr().err
    assert err == f"lstm-tui train: error: {run_dir / CONFIG_FILE} is not a valid config: epochs: missing\n"
    assert files(run_dir) == before


def test_a_checkpoint_without_optimiser_groups_is_refused_and_kept(run_dir, capsys):
    path = run_dir / CHECKPOINT_FILE
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["optimizers"]["lstm"]["param_groups"] = []
    torch.save(checkpoint, path)
    before = files(run_dir)
    assert main(["train", "--resume", str(run_dir), "--epochs", "5"]) == 2
    err = capsys.readouterr().err
    assert err == (f"lstm-tui train: error: {path} has an unusable optimiser state for the LSTM: "
                   "0 parameter groups, not 1\n")
    assert files(run_dir) == before
