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
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.allocator import release_free_memory
from engine.config import RunConfig
from engine.device import resolve_device
from engine.events import (
    ACTIVE_STATES,
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
from engine.trainer import NonFiniteLoss, Trainer

Sink = Callable[[Event], None]
log = logging.getLogger(__name__)

SINK_QUEUE_LIMIT = 100_000  # events a sink may fall behind before it misses some


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
    def __init__(self, command: Command) -> None:
        self.command = command


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
    """

    def __init__(self, sink: Sink, niceness: int = 0) -> None:
        super().__init__(sink)
        self.niceness = niceness
        self._queue: queue.Queue[Event | None] = queue.Queue(SINK_QUEUE_LIMIT)
        self._thread = threading.Thread(target=self._deliver, name="lstm-tui-sink", daemon=True)
        self._thread.start()

    def put(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1

    def close(self, timeout: float | None = None) -> None:
        """Deliver what is queued, then end the thread."""
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def _deliver(self) -> None:
        if self.niceness > 0:
            _lower_priority(self.niceness)
        while (event := self._queue.get()) is not None:
            self._call(event)


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
        log = [SinkWorker(self.writer, niceness)] if self.writer is not None else []
        self._sinks: list[InlineSink] = [*log, *(SinkWorker(sink, niceness) for sink in sinks)]
        self._sinks += [InlineSink(sink) for sink in inline_sinks]
        self._paused = False
        self._pause_after_epoch = False
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
        self.command(Command("scale_lr", factor=factor))

    def close(self, timeout: float = 5.0) -> None:
        """End the worker (between batches), flush every sink, then close the run's log."""
        self.command(Command("close"))
        if self._thread.is_alive():
            self._thread.join(timeout)
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
        config, resume = self.config, self._resume
        try:
            while True:
                try:
                    self._train(config, resume)
                    self._wait_for_restart()
                except _Restart as restart:
                    config = self._restart(restart.command, config)
                resume = None  # a restart starts from epoch 1
        except _Close:
            pass
        finally:
            if self.run_state in ACTIVE_STATES:
                self._set_state(RunState.STOPPED, Cause.CLOSED, "closed")

    def _restart(self, command: Command, config: RunConfig) -> RunConfig:
        """The next run's config, in config.json before the next run checkpoints; logged."""
        changed = command.config is not None and command.config != config
        if command.config is not None:
            config = self.config = command.config
        if changed and self.writer is not None:
            try:
                self.writer.write_config(config)
            except OSError as exc:
                self._emit(Alert(level="error", message=f"config.json not written: {one_line(exc)}"))
        self._emit(CommandApplied(command="restart", detail=command.source, lr=config.lr,
                                  config=config.to_dict()))
        return config

    def _train(self, config: RunConfig, resume: dict[str, Any] | None = None) -> None:
        self._paused = self._pause_after_epoch = False
        self.epoch = 0
        self.trainer = None  # a failed start must not checkpoint the previous run as this one
        try:
            self.trainer = trainer = Trainer(config, resolve_device(config.device))
            if resume is not None:
                trainer.load_state_dict(resume)
                self.epoch = trainer.epoch
            else:
                self._checkpoint()  # epoch 0: the directory's checkpoint is always its current run's
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
            self._checkpoint()
            self._emit(RunFinished(summary=self._summary(trainer)))
            self._set_state(RunState.FINISHED, Cause.COMPLETED)
        except _Stop as stop:
            self._checkpoint()
            self._set_state(RunState.STOPPED, stop.cause, stop.reason)
        except _Close:
            self._checkpoint()
            raise
        except _Restart:
            raise
        except Exception as exc:
            self._emit(RunFailed(message=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()))
            self._checkpoint()  # the last completed epoch is still sound
            self._set_state(RunState.FAILED, Cause.ERROR, f"{type(exc).__name__}: {exc}")

    def _checkpoint(self) -> None:
        """Write checkpoint.pt now (it always describes a completed epoch; see
        Trainer.state_dict). A write that fails is an alert: training goes on."""
        if self.checkpointer is None or self.trainer is None:
            return
        try:
            self.checkpointer.write(self.trainer)
        except Exception as exc:
            self._emit(Alert(level="error", message=f"checkpoint not written: {one_line(exc)}"))

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
        """After finish, stop or failure: only restart or close mean anything."""
        release_free_memory()  # the ended run's step buffers, kept for reuse while it trained
        while True:
            command = self._commands.get()
            if command.name == "restart":
                raise _Restart(command)
            if command.name == "close":
                raise _Close

    def _between_batches(self) -> None:
        """Apply queued commands; while paused, block here until told to go on."""
        while True:
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
                    self._paused = False
                    self._set_state(RunState.RUNNING, command.cause)
            case "step":
                # One epoch, then pause: from a pause mid-epoch, the rest of that epoch.
                self._pause_after_epoch = True
                if self._paused:
                    self._paused = False
                    self._set_state(RunState.RUNNING, Cause.STEP, "stepping one epoch")
            case "stop":
                self._emit(CommandApplied(command="stop", detail=command.source, lr=lr))
                raise _Stop(command.cause, _reason("stopped", command))
            case "restart":
                raise _Restart(command)
            case "close":
                raise _Close
            case "scale_lr":
                if trainer is not None:
                    lr = trainer.scale_lr(command.factor)
            case _:
                self._emit(Alert(level="warning", message=f"unknown command {command.name!r}"))
                return
        self._emit(CommandApplied(command=command.name, detail=command.source, lr=lr))
