"""`lstm-tui train --models` and `export` with any set of models (issue 17): the progress line
and the final table show every model of the run in its order, whatever the terminal's width; the
run's files hold them; the export has each one's rows."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from engine.config import RunConfig
from engine.events import EpochEnd, RunStarted
from engine.rundir.directory import CONFIG_FILE, RunDirectory
from tui.cli.main import main
from tui.cli.train import HeadlessRun, run_headless
from tui.metrics import METRICS_COLUMNS, METRICS_FILE

TINY = ["--series-length", "300", "--look-back", "5", "--epochs", "2"]
THREE = RunConfig(series_length=300, look_back=5, epochs=3, models="lstm,rnn,gru", device="cpu")


def trained(config: RunConfig, width: int, tmp_path: Path) -> list[str]:
    out = io.StringIO()
    assert run_headless(config, run_dir=tmp_path / "run", console=Console(file=out, width=width)) == 0
    return out.getvalue().splitlines()


def progress_line(lines: list[str], config: RunConfig) -> str:
    (line,) = [line for line in lines if f" {config.epochs}/{config.epochs} " in line]
    return line


def table_models(lines: list[str]) -> list[str]:
    """The final table's model column, top to bottom."""
    return [cells[1].strip() for line in lines if len(cells := line.split("│")) > 2 and cells[1].strip()
            in ("LSTM", "RNN", "GRU")]


@pytest.mark.parametrize("width", [80, 120])
def test_three_models_each_show_on_the_progress_line_in_the_runs_order(width, tmp_path) -> None:
    config = THREE.replace(models="gru,lstm,rnn")
    lines = trained(config, width, tmp_path)
    line = progress_line(lines, config)
    assert len(line) <= width
    assert line.index("GRU") < line.index("LSTM") < line.index("RNN")
    assert table_models(lines) == ["GRU", "LSTM", "RNN"]


def test_at_120_columns_the_progress_line_has_each_models_train_and_validation_loss(tmp_path) -> None:
    lines = trained(THREE, 120, tmp_path)
    history = HeadlessRun(THREE)
    history.apply_all(RunDirectory(tmp_path / "run").events())
    expected = "  ".join(f"{title} {m.train_loss:.4f}/{m.val_loss:.4f}"
                         for title, m in zip(("LSTM", "RNN", "GRU"), history.models.values()))
    assert expected in progress_line(lines, THREE)


def test_at_80_columns_three_models_show_their_validation_losses_and_the_bar_stays_whole(tmp_path) -> None:
    lines = trained(THREE, 80, tmp_path)
    line = progress_line(lines, THREE)
    assert "val LSTM " in line and " RNN " in line and " GRU " in line
    assert "━" * 16 in line and "…" not in line  # nothing squeezed


def finished_history(models: str, val: bool = True) -> HeadlessRun:
    config = THREE.replace(models=models)
    run = HeadlessRun(config)
    run.apply(RunStarted(config=config.to_dict(), device="cpu", device_name="test CPU",
                         parameters={m: 1 for m in config.model_names}, train_windows=200, val_windows=50,
                         data_sha256="0", chance_loss=1.0986, best_loss=1.0986, batches_per_epoch=1,
                         chunks_per_batch=1))
    for i, model in enumerate(config.model_names):
        run.apply(EpochEnd(model=model, epoch=1, train_loss=1.0 + i / 10, val_loss=1.05 + i / 10 if val else None,
                           val_acc=0.5, grad_norm=0.1, lr=0.01, seconds=0.01, samples_per_s=1.0))
    return run


def test_the_losses_shrink_to_the_room_there_is() -> None:
    run = finished_history("lstm,rnn,gru")
    assert run.losses() == "LSTM 1.0000/1.0500  RNN 1.1000/1.1500  GRU 1.2000/1.2500"
    assert run.losses(50) == "LSTM 1.000/1.050 RNN 1.100/1.150 GRU 1.200/1.250"
    assert run.losses(40) == "val LSTM 1.050 RNN 1.150 GRU 1.250"
    assert run.losses(10) == "val LSTM 1.050 RNN 1.150 GRU 1.250"  # the shortest: Rich cuts the bar then


def test_without_a_validation_split_the_losses_never_drop_the_train_loss() -> None:
    assert finished_history("gru,rnn", val=False).losses(10) == "GRU 1.000/- RNN 1.100/-"


def test_the_seeds_pair_shows_as_it_always_did_where_it_fits() -> None:
    run = finished_history("lstm,rnn")
    assert run.losses(run.progress_room(100, "12.3 ep/s")) == "LSTM 1.0000/1.0500  RNN 1.1000/1.1500"


def test_train_models_writes_them_into_the_runs_config_and_log(tmp_path, capsys) -> None:
    run_dir = tmp_path / "run"
    assert main(["train", *TINY, "--models", "rnn,GRU", "--run-dir", str(run_dir)]) == 0
    assert json.loads((run_dir / CONFIG_FILE).read_text())["models"] == "rnn,gru"
    events = list(RunDirectory(run_dir).events())
    assert [e.model for e in events if isinstance(e, EpochEnd)] == ["rnn", "gru"] * 2
    assert sorted(next(e for e in events if isinstance(e, RunStarted)).parameters) == ["gru", "rnn"]
    out = capsys.readouterr().out
    assert "GRU" in out and "RNN" in out and "LSTM" not in out


@pytest.mark.parametrize("models", ["lstm,lstm", "lstm,foo"])
def test_bad_models_are_one_line_on_stderr_and_exit_2(models, tmp_path, capsys) -> None:
    assert main(["train", *TINY, "--models", models, "--run-dir", str(tmp_path / "run")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and err.startswith("lstm-tui train: error: models: ")
    assert not (tmp_path / "run").exists()


def test_export_of_a_three_model_run_has_each_models_rows_in_its_order(tmp_path, capsys) -> None:
    run_dir = tmp_path / "run"
    assert main(["train", *TINY, "--models", "gru,lstm,rnn", "--run-dir", str(run_dir)]) == 0
    assert main(["export", str(run_dir)]) == 0
    with (run_dir / METRICS_FILE).open() as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == METRICS_COLUMNS
        rows = list(reader)
    assert [(row["epoch"], row["model"]) for row in rows] == [
        (epoch, model) for epoch in ("1", "2") for model in ("gru", "lstm", "rnn")]
    logged = {(e.epoch, e.model): e.train_loss for e in RunDirectory(run_dir).events() if isinstance(e, EpochEnd)}
    assert all(float(row["train_loss"]) == logged[(int(row["epoch"]), row["model"])] for row in rows)
