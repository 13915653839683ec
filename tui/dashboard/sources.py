"""Where the dashboard's events come from: a run trained in this process, or one watched.

Both kinds take the same commands (pause or resume, step, stop, restart, scale the learning
rate) and say why when they cannot, so no action of the dashboard asks which kind it has. This
module is the dashboard's only user of the engine's run-directory API (the log, the lock, the
command file). Nothing here imports torch at module level: the live source imports the engine's
session (and with it torch) on a thread, once the first frame is up.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from textual.worker import Worker, get_current_worker

from engine.config import RunConfig
from engine.events import ACTIVE_STATES, Cause, Event, RunFailed, RunState, RunStateChanged
from engine.rundir.directory import RunDirectory, RunStatus
from tui.dashboard.state import DashboardState
from tui.dashboard.tuning import InterpreterTuning, training_niceness

if TYPE_CHECKING:
    from engine.config import CheckpointCadence
    from engine.rundir.directory import RunWriter
    from engine.session import Session

Sink = Callable[[Event], None]
FIRST_FRAME_POLL_S = 0.05  # how often a worker waiting for the first frame looks whether it is cancelled
WATCH_ONLY = ("Watching a run: restart or reconfigure it from the terminal that trains it "
              "(or start a new run).")


@dataclass(frozen=True)
class Refusal:
    """Why a command was not carried out, as the user is told."""

    message: str
    severity: str = "warning"


class Host(Protocol):
    """What a source needs of the dashboard (DashboardApp is one)."""

    def receive(self, event: Event) -> None:
        """Any thread: ``event`` waits for the UI's next pulse."""

    def fold(self) -> None:
        """UI thread: fold the waiting events into the state now."""

    def notify(self, message: str, *, title: str = "", severity: Any = "information",
               timeout: float | None = None, markup: bool = True) -> None: ...

    def call_from_thread(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> Any: ...

    def run_worker(self, work: Any, name: str | None = "", group: str = "default", description: str = "",
                   exit_on_error: bool = True, start: bool = True, exclusive: bool = False,
                   thread: bool = False) -> Worker[Any]: ...


class RunSource(ABC):
    """One run on the dashboard: its events flow into ``state`` through a Host, its commands
    go back to whoever trains it. A command method returns None when the command went out,
    else the Refusal to show."""

    session: Session | None = None  # the Session trained in this process, if any
    status = ""  # what the run's directory says beyond its log ("live", "finished"…); "" until known

    def __init__(self, config: RunConfig, state: DashboardState) -> None:
        self.config = config
        self.state = state
        self.notes: list[str] = []  # for the user once the screen is up (a resumed log's skipped lines)
        self.host: Host | None = None
        self._painted = threading.Event()  # the dashboard's first frame is on the terminal

    @property
    @abstractmethod
    def run_dir(self) -> Path | None:
        """The run's directory: the one being trained, or the one watched."""

    @abstractmethod
    def start(self, host: Host) -> None:
        """Begin delivering events to ``host``: the worker starts now, its work once
        ``first_frame_painted`` is called."""

    def first_frame_painted(self) -> None:
        """The dashboard's first frame is on the terminal: the worker may begin. Its work
        (importing the engine, and torch with it; reading the log) would share the GIL and the
        cores with that frame's, which waits for none of it."""
        self._painted.set()

    def _wait_for_first_frame(self, given_up: Callable[[], bool]) -> bool:
        """On the worker's thread: True once the first frame is painted, False if ``given_up()``
        first (the worker cancelled, the app closing)."""
        while not self._painted.wait(FIRST_FRAME_POLL_S):
            if given_up():
                return False
        return True

    @property
    def active(self) -> bool:
        """A run goes on that quitting would interrupt."""
        return False

    @property
    def replaying(self) -> bool:
        """The events now arriving are the run's past, not news."""
        return False

    def refusal(self, command: str) -> Refusal | None:
        """Why this source cannot take ``command`` (pause, step, stop, scale_lr, restart) now."""
        return None

    @abstractmethod
    def toggle_pause(self) -> Refusal | None: ...

    @abstractmethod
    def step(self) -> Refusal | None: ...

    @abstractmethod
    def stop(self) -> Refusal | None: ...

    @abstractmethod
    def restart(self, config: RunConfig | None) -> Refusal | None:
        """From epoch 0, with ``config`` if given (the caller checked ``refusal("restart")``)."""

    @abstractmethod
    def scale_lr(self, factor: float) -> Refusal | None: ...

    @abstractmethod
    def trainer_pid(self) -> int | None:
        """The process that trains the run, for its CPU and memory figures; None: none now."""

    def export_metrics(self) -> Path:
        """Write metrics.csv from the run's whole log (slow for a long run: off the UI thread)."""
        from tui.metrics import write_metrics

        run_dir = self.run_dir
        assert run_dir is not None
        # The run log flushes every epoch: what it holds is what the screen shows.
        run = RunDirectory(run_dir)
        return write_metrics(run_dir, run.events())

    def export_screen(self, name: str, svg: str) -> Path:
        """Write the screen's SVG into the run directory as ``name``, as the run's own files
        are written: atomically, and never over a link, a directory or a read-only file
        (RunDirError)."""
        run_dir = self.run_dir
        assert run_dir is not None
        return RunDirectory(run_dir).write_text(name, svg)

    def shutdown(self) -> None:  # noqa: B027 - a watcher has nothing to stop
        """Stop training here, if any (within a second); flush and close what was written."""

    def wait_for_worker(self, timeout: float) -> bool:
        """After shutdown: True once no training thread of this source runs any more."""
        return True


class LiveSource(RunSource):
    """A Session in this process, started on a thread after the first frame (importing the
    engine imports torch, which takes seconds), with its run log when it has a directory."""

    def __init__(
        self,
        config: RunConfig,
        state: DashboardState,
        *,
        run_dir: Path | None = None,
        resume: dict[str, Any] | None = None,
        cadence: CheckpointCadence | None = None,
        start: bool = True,
        extra_sinks: Sequence[Sink] = (),
        tuning: InterpreterTuning | None = None,
    ) -> None:
        """``run_dir``: the run's directory (log, checkpoints, command file); ``resume``: a
        checkpoint of that run to continue from; ``cadence``: when to checkpoint besides every
        pause, stop, finish and quit; ``start``: False leaves the run unstarted; ``extra_sinks``:
        more sinks for the Session, each delivered to on a thread of its own; ``tuning``: told
        once the engine is loaded."""
        super().__init__(config, state)
        self.start_engine = start
        self.extra_sinks = list(extra_sinks)
        self.tuning = tuning
        self.writer: RunWriter | None = None  # the run directory, held for training while we run
        self._resume = resume
        self._lock = threading.Lock()  # orders engine start-up against shutdown
        self._shutting_down = False
        self._closed_session: Session | None = None
        if run_dir is not None and resume is not None:
            self._replay(run_dir)
        if not start:
            state.run_state, state.reason = RunState.STOPPED, "not started"
        if run_dir is not None:
            # A hang-up from the moment the run's lock is taken, while the app is still being
            # built, must leave a log that says the run stopped: the process's ending runs
            # ``shutdown``, and waits for this block if the signal comes in its middle.
            from tui.cli.ending import current, taking

            with taking():  # torch-free; raises RunDirError for a bad directory
                self.writer = RunDirectory(run_dir).open_writer(config, resume=resume is not None, cadence=cadence)
                if (ending := current()) is not None:
                    ending.hold(self.shutdown)

    def _replay(self, run_dir: Path) -> None:
        """The run so far, so a resumed run's charts go on from where they were."""
        from engine.rundir.files import RunDirError

        run = RunDirectory(run_dir)
        log = run.log_path
        try:
            self.state.apply_all(run.events(on_skip=self._note_skipped))
        except FileNotFoundError:  # as `train --resume`: the log starts over, the checkpoint holds
            self.notes.append(f"{log} is missing: the resumed run starts a new log")
        except OSError as exc:
            raise RunDirError(f"cannot read {log}: {exc.strerror or exc}") from None

    def _note_skipped(self, line: int, why: str) -> None:
        self.notes.append(f"events.jsonl line {line} skipped: {why}")

    @property
    def run_dir(self) -> Path | None:
        return self.writer.run.path if self.writer is not None else None

    def start(self, host: Host) -> None:
        self.host = host
        if self.start_engine:
            host.run_worker(self._start_engine, thread=True, exclusive=True, group="engine", exit_on_error=False)

    def _start_engine(self) -> None:
        assert self.host is not None
        worker = get_current_worker()
        if not self._wait_for_first_frame(lambda: worker.is_cancelled or self._shutting_down):
            return
        try:
            from engine.session import Session  # imports torch, which takes seconds

            if self.tuning is not None:
                self.tuning.engine_loaded()
        except Exception as exc:  # a broken install shows in the header, not as a traceback
            self.host.receive(RunFailed(message=f"cannot load the engine: {exc}", traceback=""))
            return
        with self._lock:
            if self._shutting_down:
                return
            # The Session writes the run's log, checkpoints and config.json, and closes the writer.
            self.session = Session(
                self.config, self.extra_sinks, niceness=training_niceness(), inline_sinks=[self.host.receive],
                run=self.writer, resume=self._resume,
            ).start()

    @property
    def active(self) -> bool:
        return self.session is not None and self.session.active

    def _absent(self) -> Refusal:
        return Refusal("The engine is still loading." if self.start_engine else "No run is attached.")

    @staticmethod
    def _idle(session: Session) -> Refusal:
        return Refusal(f"The run is {session.run_state}: press r to restart it.")

    def toggle_pause(self) -> Refusal | None:
        if (session := self.session) is None:
            return self._absent()
        if session.run_state == RunState.PAUSED:
            session.resume()
        elif session.run_state in ACTIVE_STATES:
            session.pause()
        else:
            return self._idle(session)
        return None

    def step(self) -> Refusal | None:
        if (session := self.session) is None:
            return self._absent()
        if not session.active:
            return self._idle(session)
        session.step()
        return None

    def stop(self) -> Refusal | None:
        if (session := self.session) is None:
            return self._absent()
        if session.active:
            session.stop()
        return None

    def restart(self, config: RunConfig | None) -> Refusal | None:
        if config is not None:
            self.config = config  # also what a run still loading starts with (the Session
            # rewrites config.json and logs the restart with its config)
        if (session := self.session) is None:
            return self._absent()
        session.restart(config)
        return None

    def scale_lr(self, factor: float) -> Refusal | None:
        if (session := self.session) is None:
            return self._absent()
        if not session.active:
            return self._idle(session)
        session.scale_lr(factor)
        return None

    def trainer_pid(self) -> int | None:
        return os.getpid()

    def shutdown(self) -> None:
        """Stop the worker (within a second), flush the sinks; the run's directory is let go
        (by the Session, or here when none was ever started)."""
        with self._lock:
            self._shutting_down = True
            session, self.session = self.session, None
        if session is not None:
            self._closed_session = session
            session.close(timeout=1.0)
        elif self.writer is not None:
            # Quit (or hung up) before the engine had loaded: the log says so, or the run
            # would read "crashed" once the lock is gone.
            self.writer(RunStateChanged(state=RunState.STOPPED, cause=Cause.CLOSED,
                                        reason="closed before training started"))
            self.writer.close()

    def wait_for_worker(self, timeout: float) -> bool:
        """After shutdown: wait for a worker still inside a long batch; True once it has ended.

        Leaving the interpreter while torch computes on the daemon thread aborts the process.
        """
        session = self._closed_session
        if session is None:
            return True
        session.join(timeout)
        return not session.alive


class WatchedSource(RunSource):
    """A run directory followed as its log grows, steered through its command file (the
    process that trains it polls that file between batches)."""

    def __init__(self, config: RunConfig, state: DashboardState, run_dir: Path) -> None:
        super().__init__(config, state)
        self._run_dir = run_dir
        state.watching = str(run_dir)
        state.reason = "reading the run's log…"

    @property
    def run_dir(self) -> Path:
        return self._run_dir

    @property
    def replaying(self) -> bool:
        return not self.status  # the log's past is read before the run's status is first known

    def start(self, host: Host) -> None:
        self.host = host
        host.run_worker(self._follow, thread=True, exclusive=True, group="watch", exit_on_error=False)

    def _follow(self) -> None:
        """Replay the watched run's log at once, then follow it as it grows."""
        from engine.rundir.files import RunDirError
        from engine.rundir.follow import follow

        host = self.host
        assert host is not None
        worker = get_current_worker()
        if not self._wait_for_first_frame(lambda: worker.is_cancelled):
            return
        skipped: list[str] = []  # told after the update's events are folded, as they came first
        updates = follow(RunDirectory(self.run_dir), on_skip=lambda line, why: skipped.append(
            f"events.jsonl line {line} skipped: {why}"), stopped=lambda: worker.is_cancelled)
        told: tuple[str, str] | None = None
        try:
            for update in updates:
                for event in update.events:
                    host.receive(event)
                status = (update.status or "", update.problem)
                with suppress(RuntimeError):  # the app is closing
                    if status != told:  # the UI hears of a status once, after the lines before it
                        told = status
                        host.call_from_thread(self.status_changed, *status)
                    if skipped:
                        host.call_from_thread(self._lines_skipped, skipped[:])
                        skipped.clear()
        except RunDirError as exc:  # the log cannot be read: say so, and stop following
            with suppress(RuntimeError):
                host.call_from_thread(host.notify, str(exc), title="Run log", severity="error", timeout=30)

    def _lines_skipped(self, notes: list[str]) -> None:
        """UI thread: the log's lines that are not events, once the events before them show."""
        host = self.host
        assert host is not None
        host.fold()
        for note in notes:
            host.notify(note, title="Run log", severity="warning")

    def status_changed(self, status: str, problem: str = "") -> None:
        """UI thread (the follower calls it): what the run directory says beyond its log,
        once the lines read before it are folded. Nobody trains a run whose log ends mid-run."""
        host = self.host
        assert host is not None
        host.fold()  # the log's events, read before this status, come first
        self.status = problem or status
        self.state.apply_status(RunStatus(status) if status else RunStatus.GONE)

    def refusal(self, command: str) -> Refusal | None:
        if command == "restart":  # restart and reconfigure belong to the process that trains the run
            return Refusal(WATCH_ONLY)
        if self.status != "live":
            return Refusal(f"The run is not live ({self.status}): nothing to steer.")
        return None

    def _send(self, command: str, **args: Any) -> Refusal | None:
        """The command goes to the run's command file, which its trainer polls."""
        from engine.rundir.files import RunDirError

        if (refusal := self.refusal(command)) is not None:
            return refusal
        try:
            RunDirectory(self.run_dir).send(command, **args)
        except (OSError, RunDirError) as exc:
            return Refusal(f"cannot send {command}: {exc}", "error")
        return None

    def toggle_pause(self) -> Refusal | None:
        return self._send("resume" if self.state.run_state == "paused" else "pause")

    def step(self) -> Refusal | None:
        return self._send("step")

    def stop(self) -> Refusal | None:
        return self._send("stop")

    def restart(self, config: RunConfig | None) -> Refusal | None:
        return self.refusal("restart")

    def scale_lr(self, factor: float) -> Refusal | None:
        return self._send("scale_lr", factor=factor)

    def trainer_pid(self) -> int | None:
        """The trainer's pid, from the run's lock while it is live."""
        if self.status != RunStatus.LIVE:
            return None
        return RunDirectory(self.run_dir).trainer_pid()
