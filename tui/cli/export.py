"""Export a run: its per-epoch metrics as CSV, beside the run's own log.

Numbers come from events.jsonl exactly as logged; nothing shown on screen (smoothing, thinning
of the curves) touches them.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterable
from pathlib import Path

from engine.events import EpochEnd, Event, GradientFlow, RunStarted
from engine.rundir.log import atomic_write_text

METRICS_FILE = "metrics.csv"
METRICS_COLUMNS = ("epoch", "model", "train_loss", "val_loss", "val_acc", "grad_norm", "lr", "seconds",
                   "gradient_horizon")


def metrics_rows(events: Iterable[Event]) -> list[dict[str, object]]:
    """One row per model and epoch of the last run in ``events`` (a restart starts over).

    ``gradient_horizon`` comes from the probe after that epoch and is empty for an epoch that
    was not probed. An epoch retried after a non-finite loss keeps its last values.
    """
    rows: dict[tuple[int, str], dict[str, object]] = {}
    horizons: dict[tuple[int, str], int] = {}
    for event in events:
        match event:
            case RunStarted() if not getattr(event, "resumed_from_epoch", 0):
                rows.clear()
                horizons.clear()
            case EpochEnd():
                rows[(event.epoch, event.model)] = {
                    "epoch": event.epoch, "model": event.model, "train_loss": event.train_loss,
                    "val_loss": "" if event.val_loss is None else event.val_loss,
                    "val_acc": "" if event.val_acc is None else event.val_acc,
                    "grad_norm": event.grad_norm, "lr": event.lr, "seconds": event.seconds,
                }
            case GradientFlow():
                horizons[(event.epoch, event.model)] = event.horizon
    ordered = [rows[key] for key in sorted(rows)]
    for row in ordered:
        row["gradient_horizon"] = horizons.get((int(row["epoch"]), str(row["model"])), "")  # type: ignore[call-overload]
    return ordered


def metrics_csv(events: Iterable[Event]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=METRICS_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(metrics_rows(events))
    return out.getvalue()


def write_metrics(run_dir: Path, events: Iterable[Event]) -> Path:
    """Write ``run_dir/metrics.csv`` atomically and return its path."""
    path = run_dir / METRICS_FILE
    atomic_write_text(path, metrics_csv(events))
    return path


def export_run(run_dir: Path, size: tuple[int, int] = (120, 40), timeout: float = 60.0) -> tuple[Path, Path]:
    """`lstm-tui export DIR`: metrics.csv, and the dashboard as it shows the run, as an SVG."""
    from engine.rundir.log import EVENTS_FILE, RunDirError, load_config, read_events
    from tui.dashboard.app import SCREEN_FILE, DashboardApp

    config = load_config(run_dir)  # a one-line RunDirError for anything that is not a run
    events = list(read_events(run_dir / EVENTS_FILE))
    if not any(isinstance(event, EpochEnd) for event in events):
        raise RunDirError(f"{run_dir / EVENTS_FILE} holds no finished epoch: nothing to export")
    metrics = write_metrics(run_dir, events)
    app = DashboardApp(config, watch=run_dir)
    shot: list[Path] = []

    async def screenshot(pilot) -> None:  # noqa: ANN001 - Textual's Pilot
        deadline = time.monotonic() + timeout
        while not app.watch_status and time.monotonic() < deadline:  # set once the log is replayed
            await pilot.pause(0.05)
        app._redraw(force=True)
        await pilot.pause()
        shot.append(Path(app.save_screenshot(SCREEN_FILE, str(run_dir))))
        app.exit(0)

    app.run(headless=True, size=size, auto_pilot=screenshot)
    if not shot:
        raise OSError(f"could not draw the run in {run_dir}")
    return metrics, shot[0]
