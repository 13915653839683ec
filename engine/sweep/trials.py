"""One trial, run to its end where an executor puts it (a worker process here, a Ray task).

``run_trial`` is a normal run of the engine's Session into the trial's run directory: config.json,
events.jsonl, checkpoint.pt, commands.jsonl, as `lstm-tui train --run-dir` writes them. It looks
at the directory first: a finished (or diverged) trial is skipped, an interrupted or failed one
resumes from its checkpoint (RunDirectory.load_resume), a new one starts. A stop asked for (the
sweep's Ctrl+C or SIGTERM) stops it between batches with a final checkpoint, as a run stops.

Torch is imported inside ``run_trial`` only: a worker imports it once (engine/sweep/executor.py
preloads it) and the module stays importable by a front end.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config import CheckpointCadence, ConfigError, RunConfig
from engine.events import FINAL_STATES, Cause, Event, RunState, RunStateChanged
from engine.history import HISTORY_EVENTS, RunHistory
from engine.rundir.directory import CHECKPOINT_FILE, RunDirectory
from engine.rundir.files import RunDirError
from engine.sweep.follow import TrialState, trial_state
from engine.sweep.grid import SweepDirectory, Trial

POLL_S = 0.05  # how often a trial's worker looks for a stop: as often as a watcher's command is read
CLOSE_TIMEOUT_S = 30.0  # a stopping trial's final checkpoint and log get this long

StopReason = Callable[[], str | None]  # the stop's source ("SIGINT") once one is asked, else None


@dataclass(frozen=True)
class TrialJob:
    """What a worker needs to run one trial: plain data, so it pickles to any process or node."""

    name: str
    path: str  # the trial's run directory, where the worker runs
    config: dict[str, Any]  # RunConfig.to_dict()
    checkpoint_every: int = CheckpointCadence.every
    checkpoint_seconds: float = CheckpointCadence.seconds

    @classmethod
    def of(cls, sweep: SweepDirectory, trial: Trial, cadence: CheckpointCadence | None = None) -> TrialJob:
        cadence = cadence or CheckpointCadence()
        return cls(trial.name, str(sweep.trial(trial.name).path), trial.config.to_dict(),
                   cadence.every, cadence.seconds)


@dataclass(frozen=True)
class TrialOutcome:
    """How one call of ``run_trial`` ended. ``state``: a TrialState word (finished, diverged,
    interrupted, failed); ``trained``: whether this call trained at all (False: it was done
    already, or the sweep was stopping before it began)."""

    name: str
    state: str
    epoch: int = 0
    message: str = ""
    trained: bool = True


class _Done(Exception):
    def __init__(self, outcome: TrialOutcome) -> None:
        self.outcome = outcome


def resume_point(run: RunDirectory, config: RunConfig, name: str) -> dict[str, Any] | None:
    """The checkpoint to resume the trial from, or None to start it afresh. Raises _Done for a
    trial already ended, RunDirError for one that cannot run (another process trains it, its
    directory holds another run, a corrupt checkpoint)."""
    if not run.is_run:
        return None
    history = RunHistory(config, curves=False)
    with_status = run.status()
    history.apply_all(run.events(only=HISTORY_EVENTS))
    state = trial_state(with_status, history)
    if state == TrialState.RUNNING:
        pid = run.trainer_pid()
        raise RunDirError(f"{run.path} is being trained by another process (pid {pid or '?'})")
    if state in (TrialState.FINISHED, TrialState.DIVERGED):
        raise _Done(TrialOutcome(name, state, history.epoch, "done already", trained=False))
    if not (run.path / CHECKPOINT_FILE).is_file():
        return None  # it ended before its first checkpoint: nothing was trained, start it again
    saved, checkpoint = run.load_resume()
    if saved != config:
        raise RunDirError(f"{run.path} holds another run than the sweep's trial (its config.json differs)")
    return checkpoint


class _Watch:
    """The trial's inline sink: how it ended; a pause no one here can resume becomes a stop."""

    def __init__(self) -> None:
        self.ended = threading.Event()
        self.state: RunState | None = None
        self.cause: Cause | None = None
        self.reason = ""
        self.epoch = 0
        self.session: Any = None

    def __call__(self, event: Event) -> None:
        if not isinstance(event, RunStateChanged):
            return
        self.epoch = event.epoch
        if event.state == RunState.PAUSED and event.cause in (Cause.NON_FINITE, Cause.DISK):
            # Headless, nobody presses resume: a non-finite loss would come back on a retry, and a
            # full disk must not hold a worker for ever (the trial resumes when the sweep runs again).
            source = "the sweep (non-finite loss)" if event.cause == Cause.NON_FINITE else "the sweep (a write failed)"
            self.session.stop(event.cause, source)
        elif event.state in FINAL_STATES:
            self.state, self.cause, self.reason = event.state, event.cause, event.reason
            self.ended.set()


def run_trial(job: TrialJob, stop_reason: StopReason = lambda: None, *, poll_s: float = POLL_S) -> TrialOutcome:
    """Run ``job``'s trial to its end (or a stop); never raises for the trial's own problems."""
    if stop_reason() is not None:
        return TrialOutcome(job.name, TrialState.INTERRUPTED, message="not started: the sweep is stopping",
                            trained=False)
    from engine.session import Session  # torch: loaded once per worker (preloaded, see executor.py)

    run = RunDirectory(Path(job.path))
    try:
        config = RunConfig.from_dict(job.config)
        resume = resume_point(run, config, job.name)
        writer = run.open_writer(config, resume=resume is not None,
                                 cadence=CheckpointCadence(job.checkpoint_every, job.checkpoint_seconds))
    except _Done as done:
        return done.outcome
    except (RunDirError, ConfigError, OSError) as exc:
        return TrialOutcome(job.name, TrialState.FAILED, message=str(exc), trained=False)
    watch = _Watch()
    session = Session(config, inline_sinks=[watch], run=writer, resume=resume)
    watch.session = session
    session.start()
    stopping = False
    try:
        while not watch.ended.wait(poll_s):
            if not stopping and (source := stop_reason()) is not None:
                session.stop(Cause.SIGNAL, source)
                stopping = True
    finally:
        session.close(timeout=CLOSE_TIMEOUT_S)  # the final checkpoint, then the log is closed
    return _outcome(job.name, watch)


def _outcome(name: str, watch: _Watch) -> TrialOutcome:
    match watch.state:
        case RunState.FINISHED:
            state = TrialState.FINISHED
        case RunState.FAILED:
            state = TrialState.FAILED
        case RunState.STOPPED if watch.cause == Cause.NON_FINITE:
            state = TrialState.DIVERGED
        case _:
            state = TrialState.INTERRUPTED
    return TrialOutcome(name, state, watch.epoch, watch.reason)
