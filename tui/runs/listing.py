"""What `lstm-tui runs` knows of one run directory: its figures, folded from its log once.

Pure Python, no Textual: the runs table and the compare view both fold events with
``RunSummary.apply``; only the compare view keeps the curves (``curves=True``).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from engine.rundir.commands import run_status
from engine.events import EpochEnd, Event, GradientFlow, RunStarted, UnknownEvent, from_dict
from engine.rundir.log import CONFIG_FILE, EVENTS_FILE, RunDirError, load_config
from tui.dashboard.state import MODELS, MinMaxSeries

NOT_A_RUN = "not a run"
READING = "reading…"
UNREADABLE = "unreadable"  # something unforeseen went wrong reading it
# Events the summary never looks at. They are most of a log's bytes (a gates event holds six
# T x H arrays), so their lines are recognised by their first bytes and never parsed as JSON:
# a 400-epoch log with 64-step probes (23 MB) summarises in 0.12 s instead of 0.9 s.
_UNUSED = frozenset({"gates", "hidden", "prediction", "command", "alert", "run_finished", "run_failed"})
_EVENT_NAME = re.compile(rb'^\{"event":"(\w+)"')
_STAMP = re.compile(r"^(\d{8}T\d{6}Z)")  # new_run_dir's names: 20261127T163501Z-seed-10k


@dataclass
class ModelSummary:
    """One model's last logged figures (and, for the compare view, its curves)."""

    epoch: int = 0
    train_loss: float | None = None
    val_loss: float | None = None
    horizon: int | None = None  # of the last gradient_flow probe
    train: MinMaxSeries | None = None
    val: MinMaxSeries | None = None


@dataclass
class RunSummary:
    path: Path
    status: str = READING  # live | finished | stopped | failed | crashed | not a run | reading…
    reason: str = ""  # why it is not a run, or what went wrong reading it
    label: str = ""  # the preset, or the task
    epochs_total: int | None = None
    started: float | None = None  # seconds since the epoch
    skipped: int = 0  # log lines that are not events (a torn last line, say)
    curves: bool = False
    started_logged: bool = False  # started is the first run_started's time, not the name's
    models: dict[str, ModelSummary] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.models:
            self.models = {name: self._new_model() for name in MODELS}
        if self.started is None:
            self.started = started_from_name(self.path.name)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def is_run(self) -> bool:
        return self.status not in (NOT_A_RUN, READING, UNREADABLE)

    @property
    def epochs_done(self) -> int:
        """Epochs both models have completed."""
        return min(model.epoch for model in self.models.values())

    def _new_model(self) -> ModelSummary:
        if not self.curves:
            return ModelSummary()
        return ModelSummary(train=MinMaxSeries(), val=MinMaxSeries())

    def apply(self, event: Event) -> None:
        """Fold one event in; a restart starts the figures afresh, a resume truncates them."""
        if isinstance(event, RunStarted):
            self._run_started(event)
        elif isinstance(event, EpochEnd):
            model = self.models.get(event.model)
            if model is None:
                return
            model.epoch = event.epoch
            model.train_loss = event.train_loss
            model.val_loss = event.val_loss
            if model.train is not None and model.val is not None:
                model.train.add(event.epoch, event.train_loss)
                if event.val_loss is not None:
                    model.val.add(event.epoch, event.val_loss)
        elif isinstance(event, GradientFlow) and event.model in self.models:
            self.models[event.model].horizon = event.horizon

    def _run_started(self, event: RunStarted) -> None:
        config = event.config
        preset, task = config.get("preset"), config.get("task", "seed")
        self.label = preset or (f"echo lag {config.get('lag')}" if task == "echo" else str(task))
        if isinstance(config.get("epochs"), int):
            self.epochs_total = config["epochs"]
        resumed = event.resumed_from_epoch
        if not resumed:
            if any(model.epoch for model in self.models.values()):
                self.models = {name: self._new_model() for name in MODELS}  # a restart
            if not self.started_logged:
                self.started, self.started_logged = event.time, True
            return
        for model in self.models.values():
            # Epochs logged after the checkpoint were lost with the process: they are redone.
            model.epoch = min(model.epoch, resumed)
            for series in (model.train, model.val):
                if series is not None:
                    series.truncate_after(resumed)


def started_from_name(name: str) -> float | None:
    """The UTC time new_run_dir put at the start of a run directory's name."""
    match = _STAMP.match(name)
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def not_a_run_reason(path: Path) -> str | None:
    """Why ``path`` is not a run (short, for a table cell), or None when it is one."""
    config = path / CONFIG_FILE
    if not config.is_file():
        return f"no {CONFIG_FILE}"
    try:
        load_config(path)
    except RunDirError as exc:
        return str(exc).replace(str(config), CONFIG_FILE)
    return None


def summarise(path: Path) -> RunSummary:
    """Read one run directory: config, status and the whole log, once."""
    summary = RunSummary(path)
    reason = not_a_run_reason(path)
    if reason is not None:
        summary.status, summary.reason = NOT_A_RUN, reason
        return summary
    config = load_config(path)
    summary.label, summary.epochs_total = config.label, config.epochs
    try:
        summary.status = run_status(path)
    except RunDirError as exc:  # removed while we looked
        summary.status, summary.reason = NOT_A_RUN, str(exc)
        return summary
    try:
        for event in read_summary_events(path / EVENTS_FILE, summary):
            summary.apply(event)
    except FileNotFoundError:
        summary.reason = f"no {EVENTS_FILE} yet"
    except OSError as exc:
        summary.reason = f"cannot read {EVENTS_FILE}: {exc.strerror or exc}"
    if summary.skipped and not summary.reason:
        summary.reason = f"{summary.skipped} log line{'s' if summary.skipped > 1 else ''} skipped"
    return summary


def read_summary_events(path: Path, summary: RunSummary) -> list[Event]:
    """The log's events that a summary folds; lines that are not events are counted in
    ``summary.skipped`` (a torn last line is one: the writer may still be writing it)."""
    events: list[Event] = []
    with open(path, "rb") as f:
        for raw in f:
            if not raw.endswith(b"\n"):
                summary.skipped += 1
                break
            match = _EVENT_NAME.match(raw)
            if match is not None and match.group(1).decode() in _UNUSED:
                continue
            if not raw.strip():
                continue
            try:
                data = json.loads(raw)
                if not isinstance(data, dict):
                    raise UnknownEvent("not a JSON object")
                events.append(from_dict(data))
            except (ValueError, UnknownEvent):  # JSONDecodeError and UnicodeDecodeError too
                summary.skipped += 1
    return events


def list_run_dirs(root: Path) -> list[Path]:
    """The directories under ``root`` (hidden ones aside); ``root`` itself when it is a run."""
    if (root / CONFIG_FILE).is_file():
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def finite(value: float | None) -> float | None:
    """A loss to show or sort by: None for missing and for NaN (a diverged model)."""
    return value if value is not None and math.isfinite(value) else None
