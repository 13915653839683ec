"""A run's per-epoch metrics as CSV: one row per model and epoch, exactly the logged numbers.

The columns are the same for every run, whatever its models (``model`` says whose row it is:
lstm, rnn or gru, as --models spells them), so a file of the seed's pair reads as it always did;
within an epoch the rows follow the run's models in its order.

Numbers come from the run's log through engine.history, as logged; nothing shown on screen
(smoothing, thinning of the curves) touches them. Shared by `lstm-tui export` (tui/cli/export.py)
and the dashboard's `e` key, so it imports neither.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from engine.events import Event
from engine.history import RunHistory
from engine.rundir.directory import RunDirectory

METRICS_FILE = "metrics.csv"
METRICS_COLUMNS = ("epoch", "model", "train_loss", "val_loss", "val_acc", "grad_norm", "lr", "seconds",
                   "gradient_horizon")


def metrics_rows(events: Iterable[Event]) -> list[dict[str, object]]:
    """One row per model and epoch of the run as its history has it (engine.history): a restart
    starts over, a resume drops the epochs after its checkpoint, and an epoch retried after a
    non-finite loss keeps its last values. Rows go by epoch, then by the run's order of models.
    ``gradient_horizon`` comes from the probe after that epoch and is empty for an epoch that
    was not probed.
    """
    history = RunHistory(curves=False, keep_epochs=True)
    history.apply_all(events)
    rows = []
    order = {name: index for index, name in enumerate(history.models)}  # the run's order of models
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
    return sorted(rows, key=lambda row: (row["epoch"], order[str(row["model"])]))


def metrics_csv(events: Iterable[Event]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=METRICS_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(metrics_rows(events))
    return out.getvalue()


def write_metrics(run_dir: Path, events: Iterable[Event]) -> Path:
    """Write ``run_dir/metrics.csv`` atomically and return its path."""
    return RunDirectory(run_dir).write_text(METRICS_FILE, metrics_csv(events))
