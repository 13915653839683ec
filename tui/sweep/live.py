"""The live sweep: its trials followed from their files, and the executor that runs them.

``LiveSweep`` is what the screen (tui/sweep/app.py) shows and steers. It never trains: the
executor runs the trials (engine/sweep/executor.py, on an ExecutorThread, as the headless
progress does) and everything on screen comes from the trials' run directories through a
SweepFollower, read at most once a second, and less often when reading takes long, so the screen
never takes more than a tenth of a core from the workers.

The screen and the dashboard of a trial opened from it take turns in tui/sweep/run.py.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from engine.sweep.executor import STOP_ASKED, Executor, ExecutorThread, make_executor
from engine.sweep.follow import DONE_STATES, SweepFollower, TrialState, TrialView
from engine.sweep.grid import SweepDirectory
from engine.sweep.summary import SummaryRow
from engine.sweep.trials import TrialJob, TrialOutcome

if TYPE_CHECKING:
    from engine.sweep.executor import ExecutorOptions
    from engine.sweep.grid import Grid

POLL_S = 1.0  # the screen looks at the trials' files this often at most
LOOK_SHARE = 10  # ... and waits at least this many times as long as the last look took
STOP_WAIT_S = 40.0  # after a quit or a signal: how long the trials may take to checkpoint and end
KILL_WAIT_S = 5.0  # after the workers were ended: how long their pool may take to go


@dataclass(frozen=True)
class OpenTrial:
    """What the sweep screen ends with to open a trial in the dashboard."""

    name: str


@dataclass
class Look:
    """What one look at the sweep brought: the views that moved, and the executor's outcomes."""

    changed: list[TrialView] = field(default_factory=list)
    outcomes: list[TrialOutcome] = field(default_factory=list)
    ended: bool = False  # some trial ended since the last look: the summary changed


@dataclass
class ScreenMemory:
    """What the sweep screen restores when it comes back from a trial's dashboard."""

    focus: str | None = None  # the id of the table that had the focus
    grid_cursor: tuple[int, int] = (0, 0)
    running_trial: str | None = None
    notice: str = ""  # to say once the screen is back (a trial that could not be opened)


class LiveSweep:
    """A sweep directory followed from its files; with ``options``, this process runs its trials.

    Without ``options`` it only follows (another process runs the sweep, or a test crafted the
    trials' directories): nothing to stop, and ``ended`` once no process runs it.
    """

    def __init__(self, sweep: SweepDirectory, grid: Grid, *, options: ExecutorOptions | None = None,
                 success_loss: float | None = None, follower: SweepFollower | None = None) -> None:
        self.sweep = sweep
        self.grid = grid
        self.options = options
        self.follower = follower or SweepFollower(sweep, grid, success_loss)
        self.memory = ScreenMemory()
        self.started = time.time()
        self.wait_s = POLL_S
        self.rows: list[SummaryRow] = []
        self.rows_version = 0  # +1 each time the rows are computed again (a trial ended)
        self.stopping = False  # asked to stop: the trials checkpoint and end
        self.killed = False
        self.killed_at = 0.0  # time.monotonic() of the kill
        self.error: BaseException | None = None  # what the executor raised, if anything
        self._inbox: queue.SimpleQueue[TrialOutcome] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._executor: Executor | None = None
        self._runner: ExecutorThread | None = None
        self._begun = False
        self._stop_signum = STOP_ASKED
        self.workers: int | None = None
        self.seen_running = False  # a trial has been seen running (until then, the workers start)

    @property
    def runs_trials(self) -> bool:
        """This process runs the sweep's trials (else it follows them)."""
        return self.options is not None

    @property
    def executor_name(self) -> str:
        return self.options.kind if self.options is not None else "followed"

    # -- starting, stopping ----------------------------------------------------------------------

    def start(self) -> None:
        """Read every trial once, then start the executor on the trials left (on an ExecutorThread).
        Called on the main thread before the screen, as the headless progress makes its executor:
        Ray's local instance must start before the screen's signal handling, and an executor that
        cannot run (ExecutorUnavailable) is one line and exit 2, not a screen. Once: a second call
        does nothing."""
        if self._begun:
            return
        self._begun = True
        self.follower.poll()
        self._summarise()
        if self.options is None:
            return
        todo = self.follower.to_run()
        if not todo:
            return
        self._start_resource_tracker()  # first: the executor's own start may start it otherwise
        devices = {trial.config.device for trial in self.grid.trials}
        executor = make_executor(self.options, devices, self.sweep.workers_log)
        self.workers = getattr(executor, "workers", None)
        self._executor = executor
        self._runner = ExecutorThread(executor, [TrialJob.of(self.sweep, trial) for trial in todo],
                                      self._inbox.put).start()

    def _start_resource_tracker(self) -> None:
        """Start multiprocessing's resource tracker, which the worker pool needs, now: its start
        hands it stderr's file descriptor, and once the screen runs Textual's capture of stderr has
        none (fileno() is -1: the start fails). Its stderr is workers.log, as the workers' is:
        what it says (semaphores left after a signal's quick exit) must not land on the terminal."""
        from multiprocessing import resource_tracker

        try:
            log = os.open(self.sweep.workers_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError:
            resource_tracker.ensure_running()
            return
        saved = os.dup(2)
        try:
            os.dup2(log, 2)  # the tracker inherits descriptor 2 (nothing else writes in this instant)
            resource_tracker.ensure_running()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(log)

    def stop(self, signum: int = STOP_ASKED) -> None:
        """Every running trial stops with a checkpoint, no other starts (the executor's stop)."""
        with self._lock:
            self.stopping = True
            self._stop_signum = signum
            executor = self._executor
        if executor is not None:
            executor.stop(signum)

    def kill(self) -> None:
        """End the workers now (their trials resume from their last checkpoints)."""
        with self._lock:
            self.stopping = self.killed = True
            self.killed_at = time.monotonic()
            executor = self._executor
        if executor is not None:
            executor.kill()

    @property
    def given_up(self) -> bool:
        """The workers were ended KILL_WAIT_S ago and the executor has still not returned: nothing
        is left to wait for (the workers are gone; their trials resume from their checkpoints)."""
        return self.killed and time.monotonic() - self.killed_at > KILL_WAIT_S

    @property
    def active(self) -> bool:
        """Trials are being run by this process (its executor has not returned)."""
        return self._runner is not None and self._runner.alive

    @property
    def ended(self) -> bool:
        """Nothing more will happen: the executor has returned, or the followed sweep's process ended."""
        if self.options is None:
            return not self.sweep.live
        return not self.active

    def wait(self, timeout: float) -> bool:
        """Wait for the executor to return; True once it has."""
        runner = self._runner
        if runner is not None:
            runner.join(timeout)
            if runner.error is not None and self.error is None:
                self.error = runner.error
        return not self.active

    def finish(self, signum: int = STOP_ASKED, timeout: float = STOP_WAIT_S) -> None:
        """Stop every trial with a checkpoint and wait for them; end the workers if they take
        longer than ``timeout``."""
        if not self.active:
            self.wait(0)
            return
        if self.killed:  # the workers are gone already: their pool's end is all there is to wait for
            self.wait(max(0.0, KILL_WAIT_S - (time.monotonic() - self.killed_at)))
            return
        self.stop(signum)
        if not self.wait(timeout):
            self.kill()
            self.wait(KILL_WAIT_S)

    # -- looking -----------------------------------------------------------------------------------

    def look(self) -> Look:
        """Bring every trial up to date from its files, and take the executor's outcomes."""
        began = time.perf_counter()
        look = Look()
        while True:
            try:
                look.outcomes.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        look.changed = self.follower.poll()
        if not self.seen_running and self.follower.running():
            self.seen_running = True
        look.ended = any(view.state in DONE_STATES or view.state == TrialState.FAILED
                         for view in look.changed)
        if look.ended or look.outcomes:
            self._summarise()
        runner = self._runner
        if runner is not None and not runner.alive and runner.error is not None:
            self.error = runner.error
        # With many trials a look costs a stat each: look less often, so this process never
        # takes more than a tenth of a core from the workers.
        self.wait_s = max(POLL_S, LOOK_SHARE * (time.perf_counter() - began))
        return look

    def _summarise(self) -> None:
        self.rows = self.follower.summary()
        self.rows_version += 1

    def counts(self) -> dict[str, int]:
        """Trials done, running, queued (to run: pending or interrupted), failed."""
        counts = self.follower.counts()
        return {"done": sum(counts[s] for s in DONE_STATES), "running": counts[TrialState.RUNNING],
                "queued": counts[TrialState.PENDING] + counts[TrialState.INTERRUPTED],
                "failed": counts[TrialState.FAILED]}

    def running(self) -> list[TrialView]:
        return self.follower.running()

    def view(self, name: str) -> TrialView | None:
        return self.follower.views.get(name)

    def trial_dir(self, name: str) -> Path:
        return self.sweep.trial(name).path
