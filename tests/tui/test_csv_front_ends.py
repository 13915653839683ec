"""A csv run of 2 and of 64 classes through the front ends other than the dashboard: `train`'s
final table names the run's classes and the baseline each model's validation loss is under;
`export` writes a probability column per class, named by class; `runs` lists the runs by their
column; the short labels of 64 classes are unique, in ASCII too; the config form says in one
line that seattle needs its extra."""

from __future__ import annotations

import csv
import importlib.util
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import Input, Select

from engine.config import RunConfig
from engine.events import EpochEnd, Prediction, RunStarted
from engine.rundir.directory import RunDirectory
from tests.tui.helpers import visible_text, wait_until
from tui.ascii import ascii_text
from tui.class_labels import short_labels
from tui.cli.main import main
from tui.metrics import PREDICTIONS_FILE
from tui.runs.app import RunsApp
from tui.runs.compare import CompareScreen
from tui.runs.compare_chart import CompareChart
from tui.screens.config_form import ConfigForm

ROOT = Path(__file__).resolve().parents[2]
ROWS = 200
# 64 names whose initials collide (most start with "s"), one outside ASCII.
MANY = ["sun", "snow", "sleet", "storm", "étoile", "etoile"] + [f"state {i}" for i in range(58)]
CLASSES = {2: ["dry", "wet"], 64: MANY}
TITLES = {"chance": "chance", "frequency": "class frequencies",
          **{f"markov-{k}": f"Markov order {k}" for k in (1, 2, 3)}}


def write_series(path: Path, names: list[str]) -> None:
    """ROWS rows of a column 'sky' holding every name at least once, the rest drawn at random."""
    rng = random.Random(7)
    values = names + [rng.choice(names) for _ in range(ROWS - len(names))]
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["day", "sky"])
        writer.writerows([i, value] for i, value in enumerate(values))


@pytest.fixture(scope="module", params=sorted(CLASSES), ids=lambda k: f"{k}-classes")
def trained(request, tmp_path_factory) -> tuple[int, Path, str]:
    """(classes, run directory, what `lstm-tui train` printed) of one epoch on a generated file."""
    k = request.param
    root = tmp_path_factory.mktemp(f"csv{k}")
    data = root / "data.csv"
    write_series(data, CLASSES[k])
    run_dir = root / "runs" / f"run-{k}"
    env = {**os.environ, "COLUMNS": "120"}
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli.main", "train", "--task", "csv", "--data", str(data), "--column", "sky",
         "--look-back", "5", "--epochs", "1", "--device", "cpu", "--run-dir", str(run_dir)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return k, run_dir, done.stdout


def logged(run_dir: Path) -> tuple[RunStarted, dict[str, EpochEnd], dict[str, Prediction]]:
    events = list(RunDirectory(run_dir).events())
    started = next(e for e in events if isinstance(e, RunStarted))
    last = {e.model: e for e in events if isinstance(e, EpochEnd)}
    predictions = {e.model: e for e in events if isinstance(e, Prediction)}
    return started, last, predictions


def under(loss: float, lines: dict[str, float]) -> str:
    """By hand: the lowest line above ``loss``, and whether it is the lowest of all."""
    above = sorted((value, name) for name, value in lines.items() if loss < value)
    if not above:
        return "above every baseline"
    return f"under {TITLES[above[0][1]]}" + (" (the lowest)" if above[0][0] == min(lines.values()) else "")


def test_train_ends_naming_the_classes_and_the_baseline_each_model_is_under(trained) -> None:
    k, run_dir, out = trained
    started, last, predictions = logged(run_dir)
    assert started.classes == sorted(set(CLASSES[k]))  # by code point, as spelt in the file
    for model, title in (("lstm", "LSTM"), ("rnn", "RNN")):
        assert f"{title} {under(last[model].val_loss, started.baselines)}" in out
        assert started.classes[predictions[model].predicted] in out
    assert "Markov order 2" in out and "Traceback" not in out


@pytest.mark.parametrize("trained", [64], indirect=True, ids=["64-classes"])
def test_train_shows_the_likeliest_classes_of_many_and_how_many_it_left_out(trained) -> None:
    k, run_dir, out = trained
    _, _, predictions = logged(run_dir)
    for p in predictions.values():
        likeliest = sorted(range(k), key=lambda i: -p.probabilities[i])[:3]
        assert " ".join(f"{sorted(MANY)[i]} {p.probabilities[i]:.2f}" for i in likeliest[:1]) in out
    assert f"+{k - 3} more" in out


def test_export_has_a_probability_column_per_class_named_by_it(trained, capsys) -> None:
    k, run_dir, _ = trained
    assert main(["export", str(run_dir)]) == 0
    assert f"wrote {run_dir / PREDICTIONS_FILE}" in capsys.readouterr().out
    with (run_dir / PREDICTIONS_FILE).open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    names = sorted(set(CLASSES[k]))
    assert list(rows[0]) == ["epoch", "model", "predicted", "true", *(f"p_{name}" for name in names)]
    _, _, predictions = logged(run_dir)
    for row in rows:
        p = predictions[row["model"]]
        assert [float(row[f"p_{name}"]) for name in names] == pytest.approx(p.probabilities, rel=1e-6)
        assert row["predicted"] == names[p.predicted] and row["true"] == ""
        assert math.isclose(sum(float(row[f"p_{name}"]) for name in names), 1.0, rel_tol=1e-4)


def test_runs_lists_a_csv_run_by_its_column(trained, capsys) -> None:
    k, run_dir, _ = trained
    assert main(["runs", str(run_dir.parent), "--list"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    columns = header.split("\t")
    row = dict(zip(columns, next(line for line in rows if line.startswith(run_dir.name)).split("\t")))
    assert (row["task"], row["state"], row["epochs"]) == ("csv sky", "finished", "1/1")


async def test_the_runs_detail_line_names_a_csv_runs_classes_and_file(trained) -> None:
    k, run_dir, _ = trained
    app = RunsApp(run_dir.parent)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: "classes of" in str(app.detail_line.render()), what="the run's detail")
        detail = str(app.detail_line.render())
    assert f"{k} classes of column 'sky' of {run_dir.parent.parent / 'data.csv'}" in detail


async def test_the_compare_view_draws_the_runs_own_chance_and_lowest_baseline(trained) -> None:
    k, run_dir, _ = trained
    started, _, _ = logged(run_dir)
    lowest = min((value, name) for name, value in started.baselines.items())[1]
    app = RunsApp(run_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.table.row_count == 1 and app.table.cursor_run.is_run, what="the run")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen), what="the compare view")
        screen = app.screen
        await wait_until(pilot, lambda: screen.runs[0].epochs_done == 1, what="the log")
        await pilot.pause()
        for chart in screen.query(CompareChart):
            text = visible_text(chart)
            assert f"chance ln {k}" in text and TITLES[lowest] in text and "chance ln 3" not in text


@pytest.mark.parametrize("width", [1, 2])
def test_64_classes_get_unique_short_labels_in_ascii_too(width) -> None:
    labels = short_labels(MANY, width)
    assert len(set(labels)) == len(set(map(ascii_text, labels))) == len(MANY) == 64
    assert all(1 <= len(label) <= width for label in labels)


def test_a_class_name_with_accents_shows_its_letters_in_ascii() -> None:
    assert ascii_text("étoile Ñandú") == "etoile Nandu"


def test_short_labels_are_the_initials_where_they_tell_the_classes_apart() -> None:
    assert short_labels(["Sunny", "Rainy", "Cloudy"]) == ("S", "R", "C")
    assert short_labels(["drizzle", "fog", "rain", "snow", "sun"], 2) == ("d", "f", "r", "sn", "su")


class FormApp(App[None]):
    CSS_PATH = ROOT / "tui" / "dashboard" / "app.tcss"

    def __init__(self, config: RunConfig) -> None:
        super().__init__()
        self.config = config
        self.applied: list[RunConfig | None] = []

    def on_mount(self) -> None:
        self.push_screen(ConfigForm(self.config), self.applied.append)


async def test_the_form_says_in_one_line_that_seattle_needs_its_extra(monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "vega_datasets" else real(name, *a))
    app = FormApp(RunConfig(series_length=300, look_back=5, epochs=3))
    async with app.run_test(size=(100, 50)) as pilot:
        await pilot.pause()
        form = app.screen
        assert isinstance(form, ConfigForm)
        form.query_one("#field-preset", Select).value = "seattle"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is form  # not applied, and no traceback took the app down
        alert = str(form.query_one("#error-preset").render())
        assert "pip install 'lstm-tui[weather]'" in alert and "vega_datasets" in alert
        assert form.query_one("#error-preset").has_class("shown")


async def test_the_form_sets_up_a_csv_run_from_its_file_and_column(tmp_path) -> None:
    data = tmp_path / "data.csv"
    write_series(data, CLASSES[2])
    app = FormApp(RunConfig(series_length=300, look_back=5, epochs=3))
    async with app.run_test(size=(100, 50)) as pilot:
        await pilot.pause()
        form = app.screen
        assert isinstance(form, ConfigForm)
        assert not form.query_one("#row-data").display  # a seed run reads no file
        form.query_one("#field-task", Select).value = "csv"
        await pilot.pause()
        assert form.query_one("#row-data").display and form.query_one("#row-column").display
        form.query_one("#field-data", Input).value = str(data)
        form.query_one("#field-column", Input).value = "sky"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
    config = app.applied[0]
    assert config is not None
    assert (config.task, config.data, config.column, config.series_length) == ("csv", str(data), "sky", ROWS)
