"""A sweep followed from its files: each trial's state, epoch and (once it has ended) result.

What `lstm-tui sweep` shows while it runs, and what the live sweep screen will show, comes from
here: the trials' run directories, read as a watcher reads a run (engine.rundir.follow), folded
by engine.history.RunHistory. Nothing here trains or waits for a trainer. Torch-free.

Reading is incremental: a trial still to end is followed (only what its log appended since the
last look is read); an ended trial is reduced to its TrialResult and no longer read. A trial
that is pending or dormant (interrupted, failed) costs one stat per look until its log changes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from engine.events import Cause, Word
from engine.history import HISTORY_EVENTS, RunHistory
from engine.rundir.directory import RunStatus
from engine.rundir.files import RunDirError
from engine.rundir.follow import RunFollower
from engine.sweep.grid import Grid, SweepDirectory, Trial
from engine.sweep.summary import SummaryRow, TrialResult, summarise, trial_result


class TrialState(Word):
    """Where a trial is, as its run directory says."""

    PENDING = "pending"  # not started (no run directory yet)
    RUNNING = "running"  # a process is training it
    INTERRUPTED = "interrupted"  # stopped or crashed before its last epoch: resumes from its checkpoint
    FAILED = "failed"  # an error ended it: tried again (from its checkpoint) when the sweep runs again
    FINISHED = "finished"  # every epoch trained
    DIVERGED = "diverged"  # stopped by a non-finite loss: counted with the epochs it had, not resumed


DONE_STATES = frozenset({TrialState.FINISHED, TrialState.DIVERGED})  # their results count
TO_RUN = frozenset({TrialState.PENDING, TrialState.INTERRUPTED, TrialState.FAILED})  # a sweep (re)starts these


def trial_state(status: RunStatus, history: RunHistory) -> TrialState:
    """A trial's state from its run directory's status and its log's fold."""
    match status:
        case RunStatus.LIVE:
            return TrialState.RUNNING
        case RunStatus.FINISHED:
            return TrialState.FINISHED
        case RunStatus.STOPPED:
            return TrialState.DIVERGED if history.cause == Cause.NON_FINITE else TrialState.INTERRUPTED
        case RunStatus.FAILED:
            return TrialState.FAILED
        case RunStatus.GONE:
            return TrialState.PENDING
        case _:  # crashed: nobody trains it and its log ends mid-run
            return TrialState.INTERRUPTED


@dataclass
class TrialView:
    """What the sweep knows of one trial now."""

    trial: Trial
    state: TrialState = TrialState.PENDING
    epoch: int = 0  # epochs every model has completed
    reason: str = ""  # why it stopped or failed, as its log says
    result: TrialResult | None = None  # once done
    history: RunHistory | None = field(default=None, repr=False)  # while followed: the fold so far

    @property
    def total_epochs(self) -> int:
        return self.trial.config.epochs


class SweepFollower:
    """Every trial of ``grid`` in ``sweep``, brought up to date by each ``poll``.

    ``success_loss``: the --success-loss of the report (None: each trial's default).
    """

    def __init__(self, sweep: SweepDirectory, grid: Grid, success_loss: float | None = None) -> None:
        self.sweep = sweep
        self.grid = grid
        self.success_loss = success_loss
        self.views: dict[str, TrialView] = {trial.name: TrialView(trial) for trial in grid.trials}
        self.skipped_lines = 0  # log lines that were not events, over every trial
        self._followers: dict[str, RunFollower] = {}
        self._seen: dict[str, float] = {}  # a dormant trial's log time when last read

    def poll(self) -> list[TrialView]:
        """Read what changed; the views whose state or epoch moved."""
        changed = []
        for view in self.views.values():
            if view.state in DONE_STATES:
                continue
            before = (view.state, view.epoch)
            self._update(view)
            if (view.state, view.epoch) != before:
                changed.append(view)
        return changed

    def _update(self, view: TrialView) -> None:
        name = view.trial.name
        run = self.sweep.trial(name)
        follower = self._followers.get(name)
        if follower is None:
            if not run.is_run:
                view.state = TrialState.PENDING
                return
            follower = self._followers[name] = RunFollower(run, self._skipped, only=HISTORY_EVENTS)
            view.history = RunHistory(view.trial.config, curves=False, keep_epochs=True)
        elif view.state in (TrialState.INTERRUPTED, TrialState.FAILED) and self._seen.get(name) == run.last_change():
            return  # dormant, and its log has not changed since: nothing to read (one stat)
        try:
            update = follower.poll()
        except RunDirError as exc:  # its log cannot be read (a directory in its place)
            view.state, view.reason = TrialState.FAILED, str(exc)
            return
        history = view.history
        assert history is not None
        history.apply_all(update.events)
        view.state = trial_state(update.status or RunStatus.CRASHED, history)
        view.epoch = history.epoch if history.models else 0
        view.reason = history.reason if view.state != TrialState.RUNNING else ""
        if view.state in DONE_STATES:
            view.result = trial_result(history, self.success_loss)
            view.history = None  # what the summary needs is in the result
            del self._followers[name]
        elif view.state == TrialState.PENDING:  # its directory went away
            view.history = None
            del self._followers[name]
        elif view.state != TrialState.RUNNING:
            self._seen[name] = run.last_change()

    def _skipped(self, line: int, why: str) -> None:
        self.skipped_lines += 1

    # -- what a report shows ------------------------------------------------------------------

    def counts(self) -> Counter[TrialState]:
        return Counter(view.state for view in self.views.values())

    def running(self) -> list[TrialView]:
        return [view for view in self.views.values() if view.state == TrialState.RUNNING]

    def results(self) -> dict[str, TrialResult]:
        return {name: view.result for name, view in self.views.items() if view.result is not None}

    def to_run(self) -> list[Trial]:
        """The trials a run of the sweep (re)starts, in grid order."""
        return [view.trial for view in self.views.values() if view.state in TO_RUN]

    def summary(self) -> list[SummaryRow]:
        failed = [name for name, view in self.views.items() if view.state == TrialState.FAILED]
        return summarise(self.grid, self.results(), failed)


def done(views: Iterable[TrialView]) -> int:
    return sum(view.state in DONE_STATES for view in views)
