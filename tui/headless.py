"""`lstm-tui train`: the Session with Rich progress on the terminal instead of the dashboard."""

from __future__ import annotations

import queue
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from engine.config import CLASS_NAMES, RunConfig
from engine.events import Alert, EpochEnd, Event, Prediction, RunFailed, RunStarted, State

FINAL_STATES = ("finished", "stopped", "failed")


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


class HeadlessRun:
    """Folds events into what the progress line and the final table show."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.started: RunStarted | None = None
        self.last: dict[str, EpochEnd] = {}
        self.predictions: dict[str, Prediction] = {}
        self.state = "idle"
        self.reason = ""
        self.epoch = 0
        self.first_epoch_at: float | None = None

    def apply(self, event: Event) -> None:
        match event:
            case RunStarted():
                self.started = event
            case EpochEnd():
                self.last[event.model] = event
                if event.model == "rnn":
                    self.epoch = event.epoch
                    self.first_epoch_at = self.first_epoch_at or time.perf_counter()
            case Prediction():
                self.predictions[event.model] = event
            case State():
                self.state, self.reason = event.state, event.reason

    def losses(self) -> str:
        parts = []
        for name in ("lstm", "rnn"):
            if e := self.last.get(name):
                parts.append(f"{name.upper()} {e.train_loss:.4f}/{_fmt(e.val_loss)}")
        return "  ".join(parts)

    def epochs_per_s(self) -> str:
        if self.first_epoch_at is None or self.epoch < 2:
            return ""
        return f"{(self.epoch - 1) / max(time.perf_counter() - self.first_epoch_at, 1e-9):.1f} ep/s"

    def table(self) -> Table:
        chance = self.started.chance_loss if self.started else None
        best = self.started.best_loss if self.started else None
        table = Table(title=f"{self.config.label}: {self.state} after {self.epoch} epochs "
                      f"(chance {_fmt(chance)}, best achievable {_fmt(best)} nats)")
        table.caption = "losses: train/validation cross-entropy, nats"
        for column in ("model", "train loss", "val loss", "val acc", "prediction", "probabilities"):
            table.add_column(column, justify="left" if column in ("model", "prediction") else "right")
        for name in ("lstm", "rnn"):
            e, p = self.last.get(name), self.predictions.get(name)
            prediction = probs = "-"
            if p is not None:
                truth = f" (true {CLASS_NAMES[p.true]})" if p.true is not None else ""
                prediction = CLASS_NAMES[p.predicted] + truth
                probs = " ".join(f"{c[0]} {q:.2f}" for c, q in zip(CLASS_NAMES, p.probabilities))
            table.add_row(
                name.upper(), _fmt(e.train_loss if e else None), _fmt(e.val_loss if e else None),
                _fmt(e.val_acc, 3) if e else "-", prediction, probs,
            )
        return table


def run_headless(config: RunConfig, *, run_dir: Path | None = None, console: Console | None = None) -> int:
    from engine.runlog import RunLog
    from engine.session import Session

    console = console or Console()
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    run_log = RunLog(run_dir, config) if run_dir else None
    sinks = [events.put] + ([run_log] if run_log else [])
    run = HeadlessRun(config)
    session = Session(config, sinks).start()
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(bar_width=16), MofNCompleteColumn(),
        TextColumn("{task.fields[losses]}"), TextColumn("{task.fields[speed]}"), TimeRemainingColumn(),
        console=console, transient=False,
    )
    exit_code = 0
    try:
        with progress:
            task = progress.add_task(config.label, total=config.epochs, losses="loading…", speed="")
            while run.state not in FINAL_STATES:
                try:
                    event = events.get(timeout=0.5)
                except queue.Empty:
                    continue
                run.apply(event)
                if isinstance(event, Alert):
                    progress.console.print(f"[yellow]{event.level}:[/] {event.message}")
                    if run.state == "paused":
                        # Headless has no keyboard to resume: a paused run would hang forever.
                        session.stop()
                elif isinstance(event, RunFailed):
                    progress.console.print(f"[red]run failed:[/] {event.message}")
                    exit_code = 1
                elif isinstance(event, RunStarted):
                    progress.console.print(
                        f"{event.device_name} ({event.device}): {event.train_windows:,} training and "
                        f"{event.val_windows:,} validation windows, {event.batches_per_epoch} batch(es) "
                        f"per epoch" + (f" in {event.chunks_per_batch} chunks" if event.chunks_per_batch > 1 else "")
                    )
                progress.update(task, completed=run.epoch, losses=run.losses(), speed=run.epochs_per_s())
    except KeyboardInterrupt:
        session.stop()
        console.print("[yellow]interrupted: stopping cleanly…[/]")
        exit_code = 130
    finally:
        session.close(timeout=10)
        if run_log:
            run_log.close()
    # Drain what arrived after the loop so the table shows the final numbers.
    while not events.empty():
        run.apply(events.get())
    if run.state == "paused" and run.reason.startswith("non-finite"):
        exit_code = 1
    console.print(run.table())
    if run_dir:
        console.print(f"run log: {run_dir}/events.jsonl")
    return exit_code
