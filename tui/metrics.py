"""A run's per-epoch metrics and predictions as CSV: one row per model and epoch, exactly the
logged numbers.

metrics.csv: the columns are the same for every run, whatever its models (``model`` says whose
row it is: lstm, rnn or gru, as --models spells them), so a file of the seed's pair reads as it
always did. predictions.csv: the prediction after each epoch, its class and the truth by name,
then one probability column per class of the run, named ``p_`` and the class (p_Sunny, p_Rainy,
p_Cloudy; a csv run's column values), class 0 first. In both, within an epoch the rows follow
the run's models in its order.

Numbers come from the run's log through engine.history, as logged; nothing shown on screen
(smoothing, thinning of the curves) touches them. Shared by `lstm-tui export` (tui/cli/export.py)
and the dashboard's `e` key, so it imports neither.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from engine.events import Event, Prediction
from engine.history import RunHistory
from engine.rundir.directory import RunDirectory

METRICS_FILE = "metrics.csv"
METRICS_COLUMNS = ("epoch", "model", "train_loss", "val_loss", "val_acc", "grad_norm", "lr", "seconds",
                   "gradient_horizon")
PREDICTIONS_FILE = "predictions.csv"
PREDICTION_COLUMNS = ("epoch", "model", "predicted", "true")  # then a probability per class
PROBABILITY_PREFIX = "p_"


class ExportHistory(RunHistory):
    """The run's history with every epoch's event and every epoch's prediction kept (a
    dashboard keeps the last few): a restart clears them, a resume drops those after it."""

    def __init__(self) -> None:
        self.predictions: dict[str, dict[int, Prediction]] = {}  # model -> epoch -> its last prediction
        super().__init__(curves=False, keep_epochs=True)

    def apply(self, event: Event) -> None:
        super().apply(event)
        # Kept where the history kept it: this run's model, one probability per class.
        if isinstance(event, Prediction) and event.model in self.models \
                and self.models[event.model].prediction is event:
            self.predictions.setdefault(event.model, {})[event.epoch] = event

    def _new_run(self) -> None:
        super()._new_run()
        self.predictions = {}

    def _resumed(self, epoch: int) -> None:
        super()._resumed(epoch)
        for kept in self.predictions.values():
            for later in [k for k in kept if k > epoch]:
                del kept[later]


def _folded(events: Iterable[Event] | ExportHistory) -> ExportHistory:
    if isinstance(events, ExportHistory):
        return events
    history = ExportHistory()
    history.apply_all(events)
    return history


def _by_epoch(rows: list[dict[str, object]], history: RunHistory) -> list[dict[str, object]]:
    order = {name: index for index, name in enumerate(history.models)}  # the run's order of models
    return sorted(rows, key=lambda row: (row["epoch"], order[str(row["model"])]))


def metrics_rows(events: Iterable[Event] | ExportHistory) -> list[dict[str, object]]:
    """One row per model and epoch of the run as its history has it (engine.history): a restart
    starts over, a resume drops the epochs after its checkpoint, and an epoch retried after a
    non-finite loss keeps its last values. Rows go by epoch, then by the run's order of models.
    ``gradient_horizon`` comes from the probe after that epoch and is empty for an epoch that
    was not probed.
    """
    history = _folded(events)
    rows = []
    for name, model in history.models.items():
        assert model.logged is not None and model.horizons is not None  # kept: keep_epochs
        for epoch, e in model.logged.items():
            rows.append({
                "epoch": epoch, "model": name, "train_loss": e.train_loss,
                "val_loss": "" if e.val_loss is None else e.val_loss,
                "val_acc": "" if e.val_acc is None else e.val_acc,
                "grad_norm": e.grad_norm, "lr": e.lr, "seconds": e.seconds,
                "gradient_horizon": model.horizons.get(epoch, ""),
            })
    return _by_epoch(rows, history)


def prediction_columns(classes: Iterable[str]) -> tuple[str, ...]:
    """predictions.csv's columns for a run of ``classes``."""
    return (*PREDICTION_COLUMNS, *(PROBABILITY_PREFIX + name for name in classes))


def prediction_rows(events: Iterable[Event] | ExportHistory) -> list[dict[str, object]]:
    """One row per model and epoch that logged a prediction: the predicted class and the truth
    by name (the truth empty where it is unknown: a file's next row), then each class's
    probability, as logged."""
    history = _folded(events)
    rows = []
    for name, kept in history.predictions.items():
        if name not in history.models:
            continue  # a model of an earlier run (a resume that named others)
        for epoch, p in kept.items():
            row: dict[str, object] = {"epoch": epoch, "model": name, "predicted": history.class_name(p.predicted),
                                      "true": "" if p.true is None else history.class_name(p.true)}
            row.update(zip(prediction_columns(history.classes)[len(PREDICTION_COLUMNS):], p.probabilities))
            rows.append(row)
    return _by_epoch(rows, history)


def _csv(columns: Iterable[str], rows: list[dict[str, object]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def metrics_csv(events: Iterable[Event] | ExportHistory) -> str:
    return _csv(METRICS_COLUMNS, metrics_rows(events))


def predictions_csv(events: Iterable[Event] | ExportHistory) -> str:
    history = _folded(events)
    return _csv(prediction_columns(history.classes), prediction_rows(history))


def write_tables(run_dir: Path, events: Iterable[Event]) -> tuple[Path, Path]:
    """Write ``run_dir/metrics.csv`` and ``run_dir/predictions.csv``, each atomically, from one
    read of the events; their paths."""
    history = _folded(events)
    run = RunDirectory(run_dir)
    return run.write_text(METRICS_FILE, metrics_csv(history)), run.write_text(PREDICTIONS_FILE, predictions_csv(history))


def write_metrics(run_dir: Path, events: Iterable[Event]) -> Path:
    """Write metrics.csv and predictions.csv (write_tables); metrics.csv's path."""
    return write_tables(run_dir, events)[0]
