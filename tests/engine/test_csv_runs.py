"""Runs of the csv task: a file of 2 or of 64 classes trains end to end with a run directory, its
events name the classes, its models are that wide, its log folds without the file, and a resume
of a run whose file has changed since is refused in one line, the checkpoint kept."""

from __future__ import annotations

import hashlib
import math
import random
from pathlib import Path

import pytest
import torch

from engine.config import CLASS_NAMES, ConfigError, RunConfig, build_config, data_changed
from engine.events import Gates, Hidden, Prediction, RunStarted, RunStateChanged, from_dict
from engine.history import RunHistory
from engine.rundir.directory import CHECKPOINT_FILE, RunDirectory
from engine.session import Session
from tests.engine.recorder import Recorder


def is_state(state: str):
    return lambda e: isinstance(e, RunStateChanged) and e.state == state


def names_of(count: int) -> list[str]:
    return [f"state {i:02d}" for i in range(count)]


def write_series(path: Path, count: int, rows: int) -> list[str]:
    """A column of ``count`` classes, each seen, with a pattern a model can pick up; its classes."""
    rng = random.Random(count)
    names = names_of(count)
    days = [names[i % count] if i < count or rng.random() < 0.5 else names[(i // 3) % count] for i in range(rows)]
    path.write_text("step,state\n" + "".join(f"{i},{day}\n" for i, day in enumerate(days)), encoding="utf-8")
    return names


def config_for(path: Path, **values) -> RunConfig:
    return build_config({"task": "csv", "data": str(path), "column": "state", "look_back": 4, "epochs": 2,
                         "batch_size": 32, "device": "cpu", "models": "lstm,rnn,gru", **values})


def train(cfg: RunConfig, run_dir: Path, resume=None) -> None:
    rec = Recorder()
    session = Session(cfg, [rec], run=RunDirectory(run_dir).open_writer(cfg, resume=resume is not None),
                      resume=resume).start()
    try:
        rec.wait_for(is_state("finished"))
    finally:
        session.close()


@pytest.fixture(params=[2, 64], ids=["2 classes", "64 classes"])
def csv_run(request, tmp_path) -> tuple[RunConfig, list[str], Path]:
    count = request.param
    data = tmp_path / "states.csv"
    names = write_series(data, count, rows=max(300, 6 * count))
    cfg = config_for(data)
    train(cfg, tmp_path / "run")
    return cfg, names, tmp_path / "run"


def test_a_csv_run_logs_its_classes_its_chance_and_its_baselines(csv_run):
    cfg, names, run_dir = csv_run
    [started] = [e for e in RunDirectory(run_dir).events() if isinstance(e, RunStarted)]
    assert started.classes == sorted(names)
    assert started.chance_loss == pytest.approx(math.log(len(names)))
    assert started.best_loss is None  # nothing known of a file's series
    assert list(started.baselines) == ["chance", "frequency", "markov-1", "markov-2", "markov-3"]


def test_a_csv_runs_predictions_and_probes_are_over_its_classes(csv_run):
    cfg, names, run_dir = csv_run
    events = list(RunDirectory(run_dir).events())
    predictions = [e for e in events if isinstance(e, Prediction)]
    assert len(predictions) == 2 * 3  # each model, each epoch
    assert all(len(p.probabilities) == len(names) and p.true is None for p in predictions)
    assert all(sum(p.probabilities) == pytest.approx(1, abs=1e-5) for p in predictions)
    windows = [e.window for e in events if isinstance(e, (Gates, Hidden))]
    assert windows and all(0 <= c < len(names) for window in windows for c in window)


def test_a_csv_runs_models_take_and_give_one_value_per_class(csv_run):
    cfg, names, run_dir = csv_run
    checkpoint = torch.load(run_dir / CHECKPOINT_FILE, weights_only=True)
    assert tuple(checkpoint["lstm"]["lstm.weight_ih_l0"].shape) == (4 * cfg.hidden, len(names))
    assert tuple(checkpoint["gru"]["fc.weight"].shape) == (len(names), cfg.hidden)


def test_a_csv_runs_config_json_records_its_file_and_the_files_sha256(csv_run):
    cfg, _, run_dir = csv_run
    saved = RunDirectory(run_dir).load_config()
    assert saved.data == cfg.data and Path(saved.data).is_absolute()
    assert saved.data_file_sha256 == hashlib.sha256(Path(cfg.data).read_bytes()).hexdigest()


def test_a_csv_runs_log_folds_into_its_class_names_without_the_file(csv_run):
    cfg, names, run_dir = csv_run
    Path(cfg.data).unlink()
    history = RunHistory()
    history.apply_all(RunDirectory(run_dir).events())
    assert history.classes == tuple(sorted(names)) and history.task == "csv"
    assert all(len(model.prediction.probabilities) == len(names) for model in history.models.values())
    assert set(history.baselines) >= {"frequency", "markov-1"}


def test_an_unchanged_csv_run_resumes_and_trains_on(csv_run):
    cfg, _, run_dir = csv_run
    config, checkpoint = RunDirectory(run_dir).load_resume(epochs=3)
    train(config, run_dir, resume=checkpoint)
    assert torch.load(run_dir / CHECKPOINT_FILE, weights_only=True)["epoch"] == 3


def test_a_resume_of_a_run_whose_file_has_changed_is_refused_in_one_line_and_keeps_the_checkpoint(csv_run):
    cfg, names, run_dir = csv_run
    saved = (run_dir / CHECKPOINT_FILE).read_bytes()
    with Path(cfg.data).open("a", encoding="utf-8") as f:
        f.write(f"9999,{names[0]}\n")
    assert data_changed(cfg).startswith(f"the run's file {cfg.data} has changed since the run began")
    with pytest.raises(ConfigError) as info:
        RunDirectory(run_dir).load_resume(epochs=3)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"data: the run's file {cfg.data} has changed")
    assert (run_dir / CHECKPOINT_FILE).read_bytes() == saved


def test_a_resume_of_a_run_whose_file_is_gone_is_refused_in_one_line(tmp_path):
    data = tmp_path / "states.csv"
    write_series(data, 3, 300)
    cfg = config_for(data, epochs=1, probe_every=0)
    train(cfg, tmp_path / "run")
    data.unlink()
    with pytest.raises(ConfigError, match=f"^data: the run's file {data} is gone$"):
        RunDirectory(tmp_path / "run").load_resume()


def test_an_unchanged_file_is_no_change(tmp_path):
    data = tmp_path / "states.csv"
    write_series(data, 3, 300)
    assert data_changed(config_for(data)) is None
    assert data_changed(RunConfig()) is None  # the seed task reads no file


# -- the log's side: what a reader of the events makes of classes -------------------------------------


def started(**fields) -> dict:
    return {"event": "run_started", "config": RunConfig().to_dict(), "device": "cpu", "device_name": "CPU",
            "parameters": {"lstm": 1, "rnn": 1}, "train_windows": 1, "val_windows": 1, "data_sha256": "0",
            "chance_loss": math.log(3), "best_loss": math.log(3), "batches_per_epoch": 1, "chunks_per_batch": 1,
            **fields}


def test_a_log_from_before_the_csv_task_has_the_built_in_classes_and_no_baselines():
    event = from_dict(started())
    assert event.classes == list(CLASS_NAMES) and event.baselines == {}


def test_the_fold_drops_a_prediction_over_another_count_of_classes_than_the_runs():
    history = RunHistory()
    history.apply(from_dict(started(classes=["dry", "wet"], best_loss=None)))
    history.apply(Prediction(model="lstm", epoch=1, probabilities=[0.2, 0.5, 0.3], predicted=1, true=None))
    assert history.models["lstm"].prediction is None
    history.apply(Prediction(model="lstm", epoch=1, probabilities=[0.4, 0.6], predicted=1, true=None))
    assert history.models["lstm"].prediction.probabilities == [0.4, 0.6]
    assert (history.class_name(1), history.class_name(2)) == ("wet", "?")
