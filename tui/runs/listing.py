"""What `lstm-tui runs` knows of one run directory: its status, and its history folded once.

Pure Python, no Textual: the runs table and the compare view both fold events into a
RunSummary's engine.history.RunHistory; only the compare view keeps the curves (``curves=True``).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from pathlib import Path

from engine.config import RunConfig
from engine.events import Event
from engine.history import HISTORY_EVENTS, ModelHistory, RunHistory
from engine.rundir.directory import RunDirectory
from engine.rundir.files import RunDirError

NOT_A_RUN = "not a run"
READING = "reading…"
UNREADABLE = "unreadable"  # something unforeseen went wrong reading it
# What a summary folds: probes and predictions are most of a log's bytes, and the reader passes
# their lines over unparsed (engine.rundir.log.LogReader's ``only``).
SUMMARY_EVENTS = HISTORY_EVENTS - {"prediction"}
_STAMP = re.compile(r"^(\d{8}T\d{6}Z)")  # RunDirectory.new's names: 20261127T163501Z-seed-10k


class RunSummary:
    """One run directory in the table: its status, a note, and its history."""

    def __init__(self, path: Path, status: str = READING, reason: str = "", *,
                 config: RunConfig | None = None, curves: bool = False) -> None:
        self.path = path
        self.status = status  # live | finished | stopped | failed | crashed | gone | not a run | reading…
        self.reason = reason  # why it is not a run, or what went wrong reading it
        self.skipped = 0  # log lines that are not events (a torn last line, say)
        self.curves = curves
        self.history = RunHistory(config, curves=curves)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def label(self) -> str:
        return self.history.label

    @property
    def epochs_total(self) -> int | None:
        return self.history.total_epochs or None

    @property
    def models(self) -> dict[str, ModelHistory]:
        return self.history.models

    @property
    def model_names(self) -> tuple[str, ...]:
        """The run's models in its order (config.json's models; a run from before --models
        trained lstm and rnn)."""
        return self.history.model_names

    @property
    def started(self) -> float | None:
        """When the run first started (its log says), else when its directory's name says."""
        return self.history.first_started_at or started_from_name(self.path.name)

    @property
    def is_run(self) -> bool:
        return self.status not in (NOT_A_RUN, READING, UNREADABLE)

    @property
    def epochs_done(self) -> int:
        """Epochs every model of the run has completed."""
        return self.history.epoch

    def apply(self, event: Event) -> None:
        self.history.apply(event)


def data_detail(run: RunSummary) -> str:
    """What a csv run's detail line adds: its file and column, and its classes once its log has
    said them ('' for a built-in task, whose label says it all)."""
    config = run.history.config
    if config.get("task") != "csv":
        return ""
    classes = f"{len(run.history.classes)} classes of " if run.history.runs else ""
    order = f", ordered by {config['order_by']}" if config.get("order_by") else ""
    return f" · {classes}column {config.get('column')!r} of {config.get('data')}{order}"


def started_from_name(name: str) -> float | None:
    """The UTC time RunDirectory.new put at the start of a run directory's name."""
    match = _STAMP.match(name)
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def summarise(path: Path) -> RunSummary:
    """Read one run directory: config, status and the whole log, once."""
    run = RunDirectory(path)
    reason = run.not_a_run()
    if reason is not None:
        return RunSummary(path, NOT_A_RUN, reason)
    summary = RunSummary(path, config=run.load_config())
    try:
        summary.status = run.status()
    except RunDirError as exc:  # removed while we looked
        summary.status, summary.reason = NOT_A_RUN, str(exc)
        return summary

    def skipped(line: int, why: str) -> None:
        summary.skipped += 1

    try:
        summary.history.apply_all(run.events(skipped, only=SUMMARY_EVENTS))
    except FileNotFoundError:
        summary.reason = f"no {run.log_path.name} yet"
    except OSError as exc:
        summary.reason = f"cannot read {run.log_path.name}: {exc.strerror or exc}"
    if summary.skipped and not summary.reason:
        summary.reason = f"{summary.skipped} log line{'s' if summary.skipped > 1 else ''} skipped"
    return summary


def list_run_dirs(root: Path) -> list[Path]:
    """The directories under ``root`` (hidden ones aside); ``root`` itself when it is a run."""
    if RunDirectory(root).is_run:
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def finite(value: float | None) -> float | None:
    """A loss to show or sort by: None for missing and for NaN (a diverged model)."""
    return value if value is not None and math.isfinite(value) else None
