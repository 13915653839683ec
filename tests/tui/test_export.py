"""metrics.csv (tui/metrics.py): one row per model and epoch, exactly the logged numbers."""

from __future__ import annotations

import csv
import dataclasses

from engine.config import RunConfig
from engine.events import EpochEnd, GradientFlow
from tests.tui.helpers import synthetic_probes, synthetic_run
from tui.metrics import METRICS_COLUMNS, metrics_rows, write_metrics

CONFIG = RunConfig(series_length=300, look_back=10, epochs=40)


def test_one_row_per_model_and_epoch_in_order() -> None:
    rows = metrics_rows(synthetic_run(CONFIG, 3))
    assert [(r["epoch"], r["model"]) for r in rows] == [(1, "lstm"), (1, "rnn"), (2, "lstm"), (2, "rnn"),
                                                       (3, "lstm"), (3, "rnn")]


def test_rows_hold_the_logged_numbers_exactly() -> None:
    events = synthetic_run(CONFIG, 2)
    logged = next(e for e in events if isinstance(e, EpochEnd) and e.model == "rnn" and e.epoch == 2)
    row = next(r for r in metrics_rows(events) if r["model"] == "rnn" and r["epoch"] == 2)
    assert row["train_loss"] == logged.train_loss and row["val_loss"] == logged.val_loss
    assert row["lr"] == logged.lr and row["grad_norm"] == logged.grad_norm and row["seconds"] == logged.seconds


def test_gradient_horizon_only_for_probed_epochs() -> None:
    events = synthetic_run(CONFIG, 3) + synthetic_probes(2)
    horizons = {(r["epoch"], r["model"]): r["gradient_horizon"] for r in metrics_rows(events)}
    assert horizons[(2, "lstm")] == 9 and horizons[(2, "rnn")] == 6
    assert horizons[(1, "lstm")] == "" and horizons[(3, "rnn")] == ""


def test_a_retried_epoch_keeps_its_last_values() -> None:
    events = synthetic_run(CONFIG, 1)
    retry = EpochEnd(model="lstm", epoch=1, train_loss=0.5, val_loss=0.6, val_acc=0.7, grad_norm=1.0, lr=0.005,
                     seconds=0.1, samples_per_s=10.0)
    rows = metrics_rows([*events, retry])
    assert [r["train_loss"] for r in rows if r["model"] == "lstm"] == [0.5]


def test_a_restart_starts_the_table_over() -> None:
    rows = metrics_rows(synthetic_run(CONFIG, 3) + synthetic_run(CONFIG, 1))
    assert [r["epoch"] for r in rows] == [1, 1]


def test_csv_file_reads_back_with_its_header(tmp_path) -> None:
    events = synthetic_run(CONFIG, 2) + [GradientFlow(model="lstm", epoch=2, norms=[1.0], cell_norms=None,
                                                      horizon=0, cell_horizon=None)]
    path = write_metrics(tmp_path, events)
    with path.open() as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == METRICS_COLUMNS
        rows = list(reader)
    assert len(rows) == 4
    assert float(rows[0]["train_loss"]) == metrics_rows(events)[0]["train_loss"]


def models_run(models: str, epochs: int) -> list:
    """A made-up run of ``models``: model i of them ends each epoch at train loss 1 - 0.1 i."""
    config = CONFIG.replace(models=models)
    started, state, *_ = synthetic_run(config, 0)
    events = [dataclasses.replace(started, parameters={m: 1 for m in config.model_names}), state]
    for epoch in range(1, epochs + 1):
        events += [EpochEnd(model=model, epoch=epoch, train_loss=1.0 - 0.1 * i, val_loss=1.05 - 0.1 * i, val_acc=0.5,
                            grad_norm=0.1, lr=config.lr, seconds=0.01, samples_per_s=1.0)
                   for i, model in enumerate(config.model_names)]
    return events


def test_a_three_model_run_has_rows_for_each_model_in_the_runs_order() -> None:
    rows = metrics_rows(models_run("gru,lstm,rnn", 2))
    assert [(r["epoch"], r["model"]) for r in rows] == [(1, "gru"), (1, "lstm"), (1, "rnn"), (2, "gru"), (2, "lstm"),
                                                       (2, "rnn")]
    assert [r["train_loss"] for r in rows[:3]] == [1.0, 0.9, 0.8]


def test_the_csv_header_is_the_same_whatever_the_models(tmp_path) -> None:
    for models in ("lstm,rnn", "gru", "rnn,gru,lstm"):
        path = write_metrics(tmp_path, models_run(models, 1))
        header, *lines = path.read_text().splitlines()
        assert tuple(header.split(",")) == METRICS_COLUMNS
        assert [line.split(",")[1] for line in lines] == models.split(",")
