"""Session: the training thread, its command queue, and event delivery to sinks.

Commands (pause, resume, step, stop, restart, scale_lr) may come from any thread, or from
a watcher through the run directory's command file; the worker applies them between batches,
so a pause is immediate even inside a long epoch. Events go to each sink through its own
small delivery thread, so a sink that is slow or raises never holds up training.

Given a run directory's writer (engine/rundir/directory.py), the Session writes the run's
log itself (on a delivery thread of its own), writes checkpoint.pt on the cadence and at every
pause, stop, finish, failure and close (always describing a completed epoch), obeys the
command file, and rewrites config.json when a restart changes the config. Given a checkpoint
to resume, the first run continues from it.

Nothing a command asks can leave the directory inconsistent: a restart builds its run (and
writes its config.json) before the current one ends, and is refused, with an alert, when it
cannot start. A write that fails (a full disk) pauses the run with an alert naming the file;
the last good checkpoint stays, the log's unwritten lines wait, and a resume once there is
space writes both and goes on.
"""

from __future__ import annotations

import errno
import logging
import os
import queue
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.allocator import release_free_memory
from engine.config import LR_MAX, LR_MIN, ConfigError, RunConfig, lr_factor
from engine.device import resolve_device
from engine.events import (
    ACTIVE_STATES,
    FINAL_STATES,
    Alert,
    Cause,
    CommandApplied,
    Event,
    RunFailed,
    RunFinished,
    RunState,
    RunStateChanged,
)
from engine.probes import Prober, ProbeSchedule, one_line
from engine.rundir.checkpoint import Checkpointer
from engine.rundir.commands import CommandPoller
from engine.rundir.directory import RunWriter
from engine.rundir.files import RunDirError, write_problem
from engine.trainer import NonFiniteLoss, Trainer

Sink = Callable[[Event], None]
log = logging.getLogger(__name__)

SINK_QUEUE_LIMIT = 100_000  # events a sink may fall behind before it misses some
LOG_BEFORE_CHECKPOINT_S = 1.0  # a checkpoint waits this long at most for the log to catch up
WRITE_RETRY_SECONDS = 1.0  # paused by a failed write: how often the log tries again meanwhile
CLOSE_FLUSH_S = 5.0  # a worker closing the sinks itself waits this long for each to deliver


def _lower_priority(niceness: int) -> None:
    """Renice this thread; torch's worker threads, created from it later, inherit it."""
    try:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + niceness)
    except (AttributeError, OSError):  # not Linux, or not allowed: run at normal priority
        pass


@dataclass(frozen=True)
class Command:
    name: str  # pause | resume | step | stop | restart | scale_lr | close
    config: RunConfig | None = None  # restart with this config
    factor: float = 1.0  # scale_lr
    source: str = "app"  # or the command file, "commands.jsonl (pid N)", or a signal's name
    cause: Cause = Cause.USER  # WATCHER for the command file, SIGNAL, NON_FINITE (a stop)


def _reason(verb: str, command: Command) -> str:
    """'paused by user', 'stopped from commands.jsonl (pid 7)', 'stopped by SIGTERM'."""
    match command.cause:
        case Cause.USER:
            return f"{verb} by user"
        case Cause.WATCHER:
            return f"{verb} from {command.source}"
        case Cause.NON_FINITE:
            return f"{verb} after a non-finite loss"
        case _:
            return f"{verb} by {command.source}"


class _Stop(Exception):
    def __init__(self, cause: Cause, reason: str) -> None:
        self.cause = cause
        self.reason = reason


class _Restart(Exception):
    """The next run, built (and its config.json written): the current one may end."""

    def __init__(self, config: RunConfig, trainer: Trainer) -> None:
        self.config = config
        self.trainer = trainer


class _Close(Exception):
    pass


class InlineSink:
    """Delivers events to one sink on the sending (training) thread itself.

    Only for a sink that returns at once and never blocks, such as an append to a deque that
    another thread drains. It spares a delivery thread whose wake-ups (one per event, a hundred
    and more a second on a fast preset) each take a core from training for a moment.
    """

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.dropped = 0
        self.failures = 0

    def put(self, event: Event) -> None:
        self._call(event)

    def close(self, timeout: float | None = None) -> None:
        """Nothing is queued: every event was delivered when it was sent."""

    def _call(self, event: Event) -> None:
        try:
            self.sink(event)
        except Exception:  # a broken listener must not take the run down with it
            self.failures += 1
            if self.failures == 1:
                log.exception("event sink %r raised; its further errors are not logged", self.sink)


class SinkWorker(InlineSink):
    """Delivers events to one sink on its own thread; never blocks the sender.

    ``niceness``: the thread's, as the training threads'. At a higher priority than training,
    each of its hundreds of wake-ups a second would preempt a training thread mid-op and hold
    its OpenMP partner at the next barrier (that cost training 7 % here, with no UI at all).
    Woken every 0.1 s instead of per event, to deliver in batches, it made no difference
    measurable (engine / bare 0.966 and 0.959 against 0.962 and 0.957), and every listener
    learned of the run 0.1 s late: a pause asked for at epoch 2 of a fast run landed at 16.
    """

    def __init__(self, sink: Sink, niceness: int = 0) -> None:
        super().__init__(sink)
        self.niceness = niceness
        self._pending: deque[Event] = deque()  # appended by the sender, taken by the thread
        self._sent = self._delivered = 0
        self._wake = threading.Event()
        self._closing = False
        self._delivered_changed = threading.Condition()
        self._thread = threading.Thread(target=self._deliver, name="lstm-tui-sink", daemon=True)
        self._thread.start()

    def put(self, event: Event) -> None:
        if len(self._pending) >= SINK_QUEUE_LIMIT:
            self.dropped += 1
            return
        self._pending.append(event)
        self._sent += 1
        self._wake.set()

    def flush(self, timeout: float | None = None) -> bool:
        """Deliver what has been put so far, now; True once it has been (within ``timeout``)."""
        target = self._sent
        self._wake.set()
        with self._delivered_changed:
            return self._delivered_changed.wait_for(lambda: self._delivered >= target, timeout)

    def close(self, timeout: float | None = None) -> None:
        """Deliver what is waiting, then end the thread."""
        self._closing = True
        self._wake.set()
        self._thread.join(timeout)

    def _deliver(self) -> None:
        if self.niceness > 0:
            _lower_priority(self.niceness)
        while True:
            self._wake.wait()
            self._wake.clear()
            closing = self._closing
            delivered = 0
            while self._pending:
                self._call(self._pending.popleft())
                delivered += 1
            if delivered:
                with self._delivered_changed:
                    self._delivered += delivered
                    self._delivered_changed.notify_all()
            if closing:
                return


class Session:
    """Runs a Trainer on a worker thread and tells every sink what happens."""

    def __init__(
        self,
        config: RunConfig,
        sinks: list[Sink] | tuple[Sink, ...] = (),
        *,
        niceness: int = 0,
        inline_sinks: list[Sink] | tuple[Sink, ...] = (),
        run: RunWriter | None = None,
        resume: dict[str, Any] | None = None,
    ) -> None:
        """``niceness`` > 0 lowers the CPU priority (Linux) of the training threads and of the
        threads that deliver their events, so an interactive front end on the same cores stays
        responsive; idle cores still go to training.

        ``inline_sinks``: called on the training thread itself (see InlineSink); each must
        return at once. The other sinks each get a delivery thread, so none can stall training.
        ``run``: the run directory's writer (RunDirectory.open_writer): the Session writes the
        log, checkpoints (on the writer's cadence) and config.json there, obeys its command file,
        and closes it last. ``resume``: a checkpoint (RunDirectory.load_resume) the first run
        continues from.
        """
        self.config = config
        self.niceness = niceness
        self.run_state = RunState.IDLE
        self.epoch = 0
        self.trainer: Trainer | None = None
        self.writer = run
        self.checkpointer: Checkpointer | None = None
        self.command_file: CommandPoller | None = None
        if run is not None:
            self.checkpointer, self.command_file = run.checkpointer, run.commands
        self._resume = resume
        self._commands: queue.SimpleQueue[Command] = queue.SimpleQueue()
        # The log is delivered to like any sink, on a thread of its own: a slow disk never
        # holds training up.
        self._log = SinkWorker(self.writer, niceness) if self.writer is not None else None
        log = [self._log] if self._log is not None else []
        self._sinks: list[InlineSink] = [*log, *(SinkWorker(sink, niceness) for sink in sinks)]
        self._sinks += [InlineSink(sink) for sink in inline_sinks]
        self._paused = False
        self._pause_after_epoch = False
        # A write to the run directory that failed (the file, the error), until one succeeds;
        # _write_paused: the run has been paused for it (an ended run: told of it).
        self._write_error: tuple[Path, Exception] | None = None
        self._write_paused = False
        self._next_retry = 0.0
        self._closing = threading.Lock()
        self._close_requested = self._closed = False
        self._thread = threading.Thread(target=self._run, name="lstm-tui-train", daemon=True)

    # -- commands, callable from any thread ---------------------------------------------

    def start(self) -> Session:
        self._thread.start()
        return self

    def add_sink(self, sink: Sink) -> None:
        self._sinks.append(SinkWorker(sink, self.niceness))

    def command(self, command: Command) -> None:
        self._commands.put(command)

    def pause(self) -> None:
        self.command(Command("pause"))

    def resume(self) -> None:
        self.command(Command("resume"))

    def step(self) -> None:
        self.command(Command("step"))

    def stop(self, cause: Cause = Cause.USER, source: str = "app") -> None:
        """End the run; ``cause`` and ``source`` say why in its state event (SIGNAL, "SIGTERM")."""
        self.command(Command("stop", source=source, cause=cause))

    def restart(self, config: RunConfig | None = None) -> None:
        self.command(Command("restart", config=config))

    def scale_lr(self, factor: float) -> None:
        """Multiply the learning rate by ``factor``; it stops at LR_MIN and LR_MAX (with an
        alert). ValueError, here and now, for a factor that is not a finite positive number."""
        self.command(Command("scale_lr", factor=lr_factor(factor)))

    def close(self, timeout: float = 5.0) -> None:
        """End the worker (between batches), flush every sink, then close the run's log. A
        worker still inside a batch after ``timeout`` (or still building its models) does this
        itself as it ends: its last words (stopped, the final checkpoint) never meet a closed log."""
        with self._closing:
            self._close_requested = True
        self.command(Command("close"))
        if self._thread.is_alive():
            self._thread.join(timeout)
        if not self._thread.is_alive():  # ended (or never started): else it closes as it ends
            self._flush_and_close(timeout)

    def _flush_and_close(self, timeout: float) -> None:
        """Deliver what the sinks have queued, then close the run's log; once, from whichever
        of ``close`` and the ending worker gets here first."""
        with self._closing:
            if self._closed:
                return
            self._closed = True
        for worker in self._sinks:
            worker.close(timeout)
        if self.writer is not None:
            self.writer.close()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def active(self) -> bool:
        """Training or about to: quitting now would interrupt a run."""
        return self.run_state in ACTIVE_STATES

    # -- the worker thread ----------------------------------------------------------------

    def _emit(self, event: Event) -> None:
        for worker in self._sinks:
            worker.put(event)

    def _set_state(self, state: RunState, cause: Cause, reason: str = "") -> None:
        self.run_state = state
        self._emit(RunStateChanged(state=state, cause=cause, reason=reason, epoch=self.epoch))

    def _run(self) -> None:
        if self.niceness > 0:
            _lower_priority(self.niceness)
        config, resume, trainer = self.config, self._resume, None
        try:
            while True:
                try:
                    self._train(config, resume, trainer)
                    self._wait_for_restart()
                except _Restart as restart:
                    config, trainer = restart.config, restart.trainer
                resume = None  # a restart starts from epoch 1
        except _Close:
            pass
        finally:
            if self.run_state in ACTIVE_STATES:
                self._set_state(RunState.STOPPED, Cause.CLOSED, "closed")
            with self._closing:
                closing = self._close_requested
            if closing:  # close() gave up waiting for us: the sinks and the log are ours to close
                self._flush_and_close(CLOSE_FLUSH_S)

    def _prepare_restart(self, command: Command) -> None:
        """Build the next run and write its config.json while the current run is untouched, then
        raise _Restart with it. One that cannot start (a device missing, data too big for
        memory, config.json not writable) is refused with an alert saying why, and the current
        run goes on as it was (running, paused, or ended and resumable)."""
        config = command.config if command.config is not None else self.config
        current = self.trainer
        streams = current.rng_state() if current is not None else None
        try:
            trainer = Trainer(config, resolve_device(config.device))
            if self.writer is not None and config != self.writer.config:
                self.writer.write_config(config)  # atomic: on failure the old one is intact
        except Exception as exc:
            if current is not None and streams is not None:
                current.set_rng_state(streams)  # Trainer() seeded torch's generators
            self._emit(Alert(level="error", message=f"restart refused, nothing changed: {_why(exc)}"))
            return
        self.config = config
        self._emit(CommandApplied(command="restart", detail=command.source, lr=config.lr,
                                  config=config.to_dict()))
        raise _Restart(config, trainer)

    def _train(self, config: RunConfig, resume: dict[str, Any] | None = None,
               trainer: Trainer | None = None) -> None:
        """One run of ``config``, to its end; ``trainer``: built already (a restart's)."""
        self._paused = self._pause_after_epoch = False
        self._write_error, self._write_paused = None, False  # a write still failing fails again
        self.epoch = 0
        self.trainer = None  # a failed start must not checkpoint the previous run as this one
        try:
            if trainer is None:
                trainer = Trainer(config, resolve_device(config.device))
            if resume is not None:
                trainer.load_state_dict(resume)
                self.epoch = trainer.epoch
            # Only now: a resume that failed to load must not checkpoint a fresh model over the saved one.
            self.trainer = trainer
            if resume is None:
                self._checkpoint()  # epoch 0: the directory's checkpoint is always its current run's
            elif self.checkpointer is not None:
                self.checkpointer.holds(trainer)  # it is checkpoint.pt: nothing to write before an epoch
            self._emit(trainer.started_event())
            self._set_state(RunState.RUNNING, Cause.START)
            schedule = ProbeSchedule(config)
            prober = self._prober(trainer) if config.probe_every else None
            while trainer.epoch < config.epochs:
                self._between_batches()
                try:
                    trainer.run_epoch(self._between_batches, self._emit)
                except NonFiniteLoss as exc:
                    self._emit(Alert(level="error", message=str(exc)))
                    self._paused = True
                    self._checkpoint()
                    self._set_state(RunState.PAUSED, Cause.NON_FINITE, f"non-finite loss in {exc.model.upper()}")
                    continue
                self.epoch = trainer.epoch
                if prober is not None and schedule.due(self.epoch):
                    self._probe(prober, schedule)
                if self.checkpointer is not None and self.checkpointer.due(self.epoch):
                    self._checkpoint()
                if self._pause_after_epoch:
                    self._pause_after_epoch = False
                    self._paused = True
                    self._checkpoint()
                    self._set_state(RunState.PAUSED, Cause.STEP, f"stepped to epoch {self.epoch}")
            self._checkpoint(final=True)
            self._emit(RunFinished(summary=self._summary(trainer)))
            self._set_state(RunState.FINISHED, Cause.COMPLETED)
        except _Stop as stop:
            self._checkpoint(final=True)
            self._set_state(RunState.STOPPED, stop.cause, stop.reason)
        except _Close:
            self._checkpoint(final=True)
            raise
        except _Restart:
            raise
        except Exception as exc:
            self._emit(RunFailed(message=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()))
            self._checkpoint(final=True)  # the last completed epoch is still sound
            self._set_state(RunState.FAILED, Cause.ERROR, f"{type(exc).__name__}: {exc}")

    def _checkpoint(self, *, final: bool = False) -> None:
        """Write checkpoint.pt now (it always describes a completed epoch; see
        Trainer.state_dict). A write that fails leaves the last good one as it was
        (files.atomic_write) and pauses the run before its next batch (_check_writes); one
        made as the run ends (``final``) cannot pause it, and is an alert."""
        if self.checkpointer is None or self.trainer is None:
            return
        if self._log is not None:
            # The log first: a run killed after this checkpoint has every epoch it holds logged
            # (its thread may not have run since the epoch's events; a checkpoint is at most one
            # per 2 s by default, so the wait costs nothing).
            self._log.flush(LOG_BEFORE_CHECKPOINT_S)
        try:
            self.checkpointer.write(self.trainer)
        except (OSError, RunDirError) as exc:
            if not final:
                # The log, flushed just before, may have met the full disk first: that is the
                # failure to report (and the one whose retry shows when there is space again).
                log_error = self.writer.log_error if self.writer is not None else None
                first = (self.writer.log_path, log_error) if self.writer is not None and log_error is not None \
                    else (self.checkpointer.path, exc)
                self._write_error = self._write_error or first
            elif not self._write_paused:  # paused for it already: the user knows
                problem = write_problem(self.checkpointer.path, exc)
                self._emit(Alert(level="error", message=f"{problem}: the last checkpoint written stays"))
        except Exception as exc:
            self._emit(Alert(level="error", message=f"checkpoint not written: {one_line(exc)}"))

    def _check_writes(self) -> None:
        """Pause the run at the first failed write to its directory (the log's, which its
        delivery thread records, or a checkpoint's), with one alert naming the file and the
        space left. While so paused, the log tries again now and then, so a watcher sees the
        pause once there is space; resuming writes the rest (_writes_recovered). A run that has
        ended cannot pause: it says so once, and its log keeps trying."""
        if self.writer is None:
            return
        if self._write_error is None:
            if (error := self.writer.log_error) is None:
                return
            self._write_error = (self.writer.log_path, error)
        now = time.monotonic()
        if self._write_paused:
            if now >= self._next_retry:
                self._next_retry = now + WRITE_RETRY_SECONDS
                if self.writer.retry_log() is None and self.run_state in FINAL_STATES:
                    self._write_error, self._write_paused = None, False  # the log has caught up
            return
        self._write_paused, self._next_retry = True, now + WRITE_RETRY_SECONDS
        path, error = self._write_error
        problem = write_problem(path, error)
        if self.run_state in FINAL_STATES:
            self._emit(Alert(level="error", message=f"{problem}: the run's last events wait for space"))
            return
        self._paused = True
        full = _disk_full(error)
        fix = "free some space" if full else "put that right"
        self._emit(Alert(level="error", message=f"{problem}: the run is paused; {fix}, then resume it"))
        self._set_state(RunState.PAUSED, Cause.DISK, f"cannot write {path.name}" + (": disk full" if full else ""))

    def _writes_recovered(self) -> bool:
        """Paused by a failed write: write the log's waiting lines, then a checkpoint of where
        the run is. True once both are on disk (or when no write failed); else an alert, and
        the run stays paused."""
        if not self._write_paused or self.writer is None:
            return True
        path, error = self.writer.log_path, self.writer.retry_log()
        if error is None and self.checkpointer is not None and self.trainer is not None:
            path = self.checkpointer.path
            try:
                self.checkpointer.write(self.trainer)
            except Exception as exc:  # OSError, RunDirError, or torch's own
                error = exc
        if error is not None:
            self._write_error = (path, error)
            fix = "free some space" if _disk_full(error) else "put that right"
            self._emit(Alert(level="error", message=f"{write_problem(path, error)}: still paused; {fix}, "
                                                    "then resume it"))
            return False
        self._write_error, self._write_paused = None, False
        return True

    def _prober(self, trainer: Trainer) -> Prober | None:
        """The run's probes, or None (and a warning) when their inputs cannot be built."""
        try:
            return Prober(trainer, trainer.cfg.probe_steps)
        except Exception as exc:
            self._emit(Alert(level="warning", message=f"probes are off for this run: {one_line(exc)}"))
            return None

    def _probe(self, prober: Prober, schedule: ProbeSchedule) -> None:
        """Look inside both models after a completed epoch, outside its measured time.

        A probe that raises becomes a warning (from Prober.probe); training goes on either way.
        """
        started = schedule.clock()
        for event in prober.probe(self.epoch):
            self._emit(event)
        schedule.record(started, schedule.clock() - started)

    def _summary(self, trainer: Trainer) -> dict[str, dict]:
        summary = {}
        for name in trainer.models:
            val_loss, val_acc = trainer.evaluate(name, self._between_batches)
            prediction = trainer.predict(name, trainer.epoch)
            summary[name] = {
                "epochs": trainer.epoch,
                "val_loss": val_loss,
                "val_acc": val_acc,
                "probabilities": prediction.probabilities,
                "predicted": prediction.predicted,
            }
        return summary

    def _wait_for_restart(self) -> None:
        """After finish, stop or failure: only restart or close mean anything (a restart that
        cannot start leaves the ended run as it is)."""
        release_free_memory()  # the ended run's step buffers, kept for reuse while it trained
        while True:
            try:
                command = self._commands.get(timeout=WRITE_RETRY_SECONDS)
            except queue.Empty:
                self._check_writes()  # the log's last lines may still wait for space
                continue
            if command.name == "restart":
                self._prepare_restart(command)
            if command.name == "close":
                raise _Close

    def _between_batches(self) -> None:
        """Apply queued commands; while paused, block here until told to go on."""
        if self._nothing_to_do():
            return
        while True:
            self._check_writes()
            self._read_command_file()
            try:
                # Paused with a command file: wake to read it, at its polling interval.
                wait = self.command_file.interval if self.command_file is not None else None
                command = self._commands.get(block=self._paused, timeout=wait)
            except queue.Empty:
                if self._paused:
                    continue
                return
            self._apply(command)
            if not self._paused and self._commands.empty():
                return

    def _nothing_to_do(self) -> bool:
        """Running, no command queued, no write failed and the command file not yet due: the
        case between every pair of mini-batches (250 an echo epoch), in a few attribute reads."""
        writer, command_file = self.writer, self.command_file
        return (not self._paused and self._commands.empty() and self._write_error is None
                and (writer is None or writer.log_error is None)
                and (command_file is None or not command_file.due()))

    def _read_command_file(self) -> None:
        """Queue the commands a watcher appended to the run's command file since last time."""
        if self.command_file is None:
            return
        for command in self.command_file.poll():
            if isinstance(command, ValueError):
                self._emit(Alert(level="warning", message=str(command)))
            else:
                self.command(Command(command.name, factor=command.factor, source=command.source,
                                     cause=Cause.WATCHER))

    def _apply(self, command: Command) -> None:
        trainer = self.trainer
        lr = trainer.lr if trainer else None
        match command.name:
            case "pause":
                if not self._paused:
                    self._paused = True
                    self._checkpoint()
                    self._set_state(RunState.PAUSED, command.cause, _reason("paused", command))
            case "resume":
                if self._paused:
                    if not self._writes_recovered():
                        return
                    self._paused = False
                    self._set_state(RunState.RUNNING, command.cause)
            case "step":
                if self._paused and not self._writes_recovered():
                    return
                # One epoch, then pause: from a pause mid-epoch, the rest of that epoch.
                self._pause_after_epoch = True
                if self._paused:
                    self._paused = False
                    self._set_state(RunState.RUNNING, Cause.STEP, "stepping one epoch")
            case "stop":
                self._emit(CommandApplied(command="stop", detail=command.source, lr=lr))
                raise _Stop(command.cause, _reason("stopped", command))
            case "restart":
                self._prepare_restart(command)  # raises _Restart, or was refused
                return
            case "close":
                raise _Close
            case "scale_lr":
                if trainer is not None:
                    wanted = trainer.lr * command.factor
                    lr = trainer.scale_lr(command.factor)
                    if lr != wanted:
                        end = "top" if lr == LR_MAX else "bottom"
                        self._emit(Alert(level="warning", message=f"learning rate held at {lr:g}, the {end} "
                                                                  f"of its range ({LR_MIN:g} to {LR_MAX:g})"))
            case _:
                self._emit(Alert(level="warning", message=f"unknown command {command.name!r}"))
                return
        self._emit(CommandApplied(command=command.name, detail=command.source, lr=lr))


def _disk_full(error: Exception) -> bool:
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)


def _why(exc: Exception) -> str:
    """Why a run cannot start, in one line: a config or run-directory problem says it itself."""
    if isinstance(exc, (ConfigError, RunDirError)):
        return str(exc)
    if isinstance(exc, OSError) and exc.filename:
        return write_problem(Path(exc.filename), exc)
    if isinstance(exc, MemoryError):
        return "not enough memory for its data and models (MemoryError)"
    return one_line(exc)
