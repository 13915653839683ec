"""A run directory written before `--models` (issue 17): no "models" in its config.json, its log's
configs or its checkpoint. Every front end takes it for what it was, the seed's pair, LSTM and RNN:
it loads, resumes, is watched, listed and exported as lstm,rnn, and nothing says GRU."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import torch

from engine.events import EpochEnd
from engine.rundir.directory import CHECKPOINT_FILE, CONFIG_FILE, EVENTS_FILE, RunDirectory
from tests.tui.test_runs_view import loaded, rows
from tests.tui.test_runs_width import columns
from tui.cli.main import main
from tui.dashboard.app import SCREEN_FILE
from tui.metrics import METRICS_COLUMNS, METRICS_FILE
from tui.runs.app import RunsApp
from tui.runs.listing import summarise

TINY = ["--series-length", "300", "--look-back", "5"]


def without_models(config: dict) -> dict:
    return {key: value for key, value in config.items() if key != "models"}


@pytest.fixture(scope="module")
def written_before(tmp_path_factory) -> Path:
    """A finished two-epoch run, its files rewritten as a version before --models wrote them."""
    run_dir = tmp_path_factory.mktemp("old") / "run"
    assert main(["train", *TINY, "--epochs", "2", "--run-dir", str(run_dir)]) == 0
    config = json.loads((run_dir / CONFIG_FILE).read_text())
    (run_dir / CONFIG_FILE).write_text(json.dumps(without_models(config), indent=2))
    lines = []
    for line in (run_dir / EVENTS_FILE).read_text().splitlines():
        event = json.loads(line)
        if isinstance(event.get("config"), dict):  # run_started's, a restart's command
            event["config"] = without_models(event["config"])
        lines.append(json.dumps(event, separators=(",", ":")))
    (run_dir / EVENTS_FILE).write_text("\n".join(lines) + "\n")
    checkpoint = torch.load(run_dir / CHECKPOINT_FILE, weights_only=True)
    checkpoint["config"] = without_models(checkpoint["config"])
    torch.save(checkpoint, run_dir / CHECKPOINT_FILE)
    return run_dir


@pytest.fixture
def old_run(written_before, tmp_path) -> Path:
    """A copy of the old run, for a test that writes into it."""
    run_dir = tmp_path / "runs" / "old-run"
    shutil.copytree(written_before, run_dir)
    return run_dir


def test_the_crafted_directory_has_no_models_anywhere(written_before) -> None:
    assert '"models"' not in (written_before / CONFIG_FILE).read_text()
    assert '"models"' not in (written_before / EVENTS_FILE).read_text()
    assert "models" not in torch.load(written_before / CHECKPOINT_FILE, weights_only=True)["config"]


def test_it_loads_as_the_seeds_pair(written_before) -> None:
    assert RunDirectory(written_before).load_config().model_names == ("lstm", "rnn")
    summary = summarise(written_before)
    assert (summary.status, summary.reason, summary.model_names, summary.epochs_done) == (
        "finished", "", ("lstm", "rnn"), 2)


def test_it_resumes_with_lstm_and_rnn(old_run, capsys) -> None:
    assert main(["train", "--resume", str(old_run), "--epochs", "3"]) == 0
    out = capsys.readouterr().out
    assert "resumed after epoch 2" in out and "LSTM" in out and "RNN" in out and "GRU" not in out
    third = [e.model for e in RunDirectory(old_run).events() if isinstance(e, EpochEnd) and e.epoch == 3]
    assert third == ["lstm", "rnn"]
    assert summarise(old_run).epochs_done == 3


def test_watch_json_prints_its_log_as_it_is(written_before, capsys) -> None:
    assert main(["watch", "--json", str(written_before)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == (written_before / EVENTS_FILE).read_text().splitlines() and err == ""


def test_it_lists_as_lstm_and_rnn(old_run, capsys) -> None:
    assert main(["runs", str(old_run.parent), "--list"]) == 0
    header, line = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    row = dict(zip(header, line))
    assert (row["run"], row["state"], row["epochs"], row["models"]) == ("old-run", "finished", "2/2", "lstm,rnn")
    assert row["LSTM val"] != "–" and row["RNN val"] != "–" and not any(key.startswith("GRU") for key in row)


async def test_the_runs_table_shows_it_as_the_seeds_pair(old_run) -> None:
    app = RunsApp(old_run.parent)
    async with app.run_test(size=(170, 40)) as pilot:
        await loaded(pilot, app)
        assert [key for key in columns(app) if key.endswith("_val") or key == "models"] == ["lstm_val", "rnn_val"]
        (row,) = rows(app)
        assert row["lstm_val"] != "–" and row["rnn_val"] != "–"


def test_it_exports_the_rows_and_columns_it_always_had(old_run, capsys) -> None:
    assert main(["export", str(old_run)]) == 0
    assert "skipped" not in capsys.readouterr().err
    with (old_run / METRICS_FILE).open() as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == METRICS_COLUMNS
        assert [(row["epoch"], row["model"]) for row in reader] == [("1", "lstm"), ("1", "rnn"), ("2", "lstm"),
                                                                   ("2", "rnn")]
    screen = (old_run / SCREEN_FILE).read_text()  # the dashboard, watching it
    assert "LSTM" in screen and "RNN" in screen and "GRU" not in screen
