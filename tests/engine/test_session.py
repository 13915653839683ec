"""Session: commands from any thread, honoured between batches; sinks never hold training up."""

from __future__ import annotations

import os
import threading
import time

import pytest
import torch

import engine.session
from engine.config import RunConfig
from engine.events import (
    Alert,
    Cause,
    CommandApplied,
    EpochEnd,
    RunFailed,
    RunFinished,
    RunStarted,
    RunStateChanged,
)
from engine.rundir.directory import RunDirectory
from engine.session import Session, SinkWorker
from engine.trainer import Trainer
from tests.engine.recorder import Recorder

WAIT = 30.0  # generous: the box is shared; a passing test never waits this long
QUIET = 0.5  # how long "nothing more happens" is watched for


def is_state(state: str):
    return lambda e: isinstance(e, RunStateChanged) and e.state == state


def epoch_ends(events) -> list[EpochEnd]:
    return [e for e in events if isinstance(e, EpochEnd)]


LONG = RunConfig(series_length=300, look_back=5, epochs=100_000, device="cpu")
SHORT = RunConfig(series_length=300, look_back=5, epochs=3, device="cpu")


def test_a_run_starts_trains_every_epoch_of_both_models_and_finishes(start):
    rec = Recorder()
    session = start(SHORT, rec)
    rec.wait_for(is_state("finished"))
    events = rec.snapshot()
    assert isinstance(events[0], RunStarted)
    assert isinstance(events[1], RunStateChanged) and events[1].state == "running"
    assert [(e.model, e.epoch) for e in epoch_ends(events)] == [
        (m, k) for k in (1, 2, 3) for m in ("lstm", "rnn")
    ]
    finished = [e for e in events if isinstance(e, RunFinished)]
    assert len(finished) == 1 and set(finished[0].summary) == {"lstm", "rnn"}
    assert events[-1].epoch == 3
    assert session.run_state == "finished" and session.alive


def test_pause_stops_the_epoch_count(start):
    rec = Recorder()
    session = start(LONG, rec)
    rec.wait_for(lambda e: isinstance(e, EpochEnd) and e.epoch >= 2)
    session.pause()
    at, paused = rec.wait_for(is_state("paused"))
    assert (paused.cause, paused.reason) == (Cause.USER, "paused by user")
    time.sleep(QUIET)
    assert epoch_ends(rec.snapshot()[at:]) == []
    assert session.run_state == "paused"


def test_pause_takes_effect_between_batches_not_at_the_end_of_the_epoch(start):
    # batch size 1: each model's epoch is ~1,600 updates, far longer than a pause takes
    rec = Recorder()
    session = start(RunConfig(series_length=2_000, look_back=5, batch_size=1, device="cpu"), rec)
    rec.wait_for(is_state("running"))
    session.pause()
    at, paused = rec.wait_for(is_state("paused"))
    assert paused.epoch == 0
    assert epoch_ends(rec.snapshot()) == []
    session.resume()
    rec.wait_for(is_state("running"), after=at)
    assert epoch_ends(rec.snapshot()) == []  # still inside the first epoch


def test_step_while_paused_trains_exactly_one_epoch_and_pauses_again(start):
    rec = Recorder()
    session = start(LONG, rec)
    rec.wait_for(lambda e: isinstance(e, EpochEnd) and e.epoch >= 2)
    session.pause()
    at, paused = rec.wait_for(is_state("paused"))
    k = paused.epoch  # epochs both models have completed
    session.step()
    after, stepped = rec.wait_for(is_state("paused"), after=at + 1)
    assert stepped.epoch == k + 1
    time.sleep(QUIET)
    events = rec.snapshot()
    # after the pause, only what was left of epoch k+1 was trained (all of it, if the pause
    # came between epochs)...
    assert {e.epoch for e in epoch_ends(events[at:])} == {k + 1}
    # ...so each model finished epoch k+1 exactly once, and nothing after
    assert sorted((e.model, e.epoch) for e in epoch_ends(events) if e.epoch > k) == [
        ("lstm", k + 1),
        ("rnn", k + 1),
    ]
    assert session.run_state == "paused"


def test_resume_continues_training(start):
    rec = Recorder()
    session = start(LONG, rec)
    rec.wait_for(lambda e: isinstance(e, EpochEnd))
    session.pause()
    at, paused = rec.wait_for(is_state("paused"))
    session.resume()
    rec.wait_for(is_state("running"), after=at)
    rec.wait_for(lambda e: isinstance(e, EpochEnd) and e.epoch >= paused.epoch + 2, after=at)
    assert session.run_state == "running"


def test_stop_ends_the_run_and_no_epoch_follows(start):
    rec = Recorder()
    session = start(LONG, rec)
    rec.wait_for(lambda e: isinstance(e, EpochEnd))
    session.stop()
    at, _ = rec.wait_for(is_state("stopped"))
    time.sleep(QUIET)
    assert epoch_ends(rec.snapshot()[at:]) == []
    assert session.run_state == "stopped"
    assert session.alive  # waiting for a restart


def test_restart_starts_again_from_epoch_one(start):
    rec = Recorder()
    session = start(LONG, rec)
    rec.wait_for(lambda e: isinstance(e, EpochEnd) and e.epoch >= 3)
    session.restart()
    at, started = rec.wait_for(lambda e: isinstance(e, RunStarted), after=1)
    assert started.config == LONG.to_dict()
    _, first = rec.wait_for(lambda e: isinstance(e, EpochEnd), after=at)
    assert (first.model, first.epoch) == ("lstm", 1)


def test_restart_with_a_new_config_uses_it(start):
    rec = Recorder()
    session = start(LONG, rec)
    rec.wait_for(lambda e: isinstance(e, EpochEnd))
    new = SHORT.replace(hidden=4, look_back=7)
    session.restart(new)
    at, started = rec.wait_for(lambda e: isinstance(e, RunStarted), after=1)
    assert started.config == new.to_dict()
    assert started.parameters["lstm"] == 4 * 4 * (3 + 4 + 2) + 4 * 3 + 3
    rec.wait_for(is_state("finished"), after=at)
    assert session.config == new
    assert [e.epoch for e in epoch_ends(rec.snapshot()[at:])] == [1, 1, 2, 2, 3, 3]


def test_restart_after_the_run_finished_runs_again(start):
    rec = Recorder()
    session = start(SHORT, rec)
    at, _ = rec.wait_for(is_state("finished"))
    session.restart()
    rec.wait_for(is_state("finished"), after=at + 1)
    assert len([e for e in rec.snapshot() if isinstance(e, RunStarted)]) == 2


def test_scale_lr_halves_the_lr_of_the_next_epoch_and_says_so(start):
    rec = Recorder()
    session = start(LONG, rec)
    rec.wait_for(lambda e: isinstance(e, EpochEnd))
    session.scale_lr(0.5)
    at, command = rec.wait_for(lambda e: isinstance(e, CommandApplied))
    assert command.command == "scale_lr"
    assert command.lr == pytest.approx(LONG.lr / 2)
    _, next_epoch = rec.wait_for(lambda e: isinstance(e, EpochEnd), after=at)
    assert next_epoch.lr == pytest.approx(LONG.lr / 2)
    assert all(e.lr == LONG.lr for e in epoch_ends(rec.snapshot()[:at]))


def test_a_sink_that_raises_does_not_stop_training(start):
    def broken(event):
        raise RuntimeError("listener bug")

    rec = Recorder()
    start(SHORT, broken, rec)
    rec.wait_for(lambda e: isinstance(e, RunFinished))
    assert len(epoch_ends(rec.snapshot())) == 6


def test_a_slow_sink_does_not_slow_training(start):
    """A sink held in its first event until the run has finished: training never waited for it."""
    release = threading.Event()
    slow_seen: list = []

    def held(event):
        slow_seen.append(event)
        release.wait(WAIT)  # WAIT only ends a hang

    rec = Recorder()
    session = start(SHORT, held, rec)
    rec.wait_for(lambda e: isinstance(e, RunFinished))
    behind = len(slow_seen)
    release.set()
    session.close(timeout=WAIT)
    assert behind <= 1  # at most its first event, still held, when the run had finished
    assert slow_seen == rec.snapshot()  # then every event, in order


def test_an_inline_sink_is_called_on_the_training_thread_in_order_with_no_thread_of_its_own():
    seen: list[tuple[int, str]] = []
    finished = threading.Event()

    def inline(event) -> None:
        seen.append((threading.get_ident(), event.name))
        if isinstance(event, RunStateChanged) and event.state == "finished":
            finished.set()

    def delivery_threads() -> int:
        return sum(t.name == "lstm-tui-sink" for t in threading.enumerate())

    before = delivery_threads()
    session = Session(SHORT, [], inline_sinks=[inline])
    assert delivery_threads() == before
    session.start()
    assert finished.wait(WAIT)
    session.close()
    assert {ident for ident, _ in seen} == {session._thread.ident}
    names = [name for _, name in seen]
    assert names[:2] == ["run_started", "state"] and names.count("epoch_end") == 6


def test_an_inline_sink_that_raises_does_not_stop_training():
    def broken(event):
        raise RuntimeError("listener bug")

    rec = Recorder()
    session = Session(SHORT, [rec], inline_sinks=[broken]).start()
    rec.wait_for(lambda e: isinstance(e, RunFinished))
    session.close()
    assert len(epoch_ends(rec.snapshot())) == 6


def test_an_exception_in_training_fails_the_run_and_a_restart_still_works(start, monkeypatch):
    def boom(self, between_batches, emit):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(Trainer, "run_epoch", boom)
    rec = Recorder()
    session = start(SHORT, rec)
    at, failed = rec.wait_for(is_state("failed"))
    assert "kaboom" in failed.reason
    failures = [e for e in rec.snapshot()[:at] if isinstance(e, RunFailed)]
    assert len(failures) == 1 and "kaboom" in failures[0].message and "Traceback" in failures[0].traceback
    assert session.run_state == "failed" and session.alive

    monkeypatch.undo()
    session.restart()
    rec.wait_for(is_state("finished"), after=at)
    assert len(epoch_ends(rec.snapshot()[at:])) == 6


def test_a_non_finite_loss_alerts_and_pauses_and_the_session_lives_on(start, monkeypatch):
    class NanTrainer(Trainer):
        def __init__(self, cfg, device):
            super().__init__(cfg, device)
            self.loss_fn = lambda logits, targets: (
                torch.nn.functional.cross_entropy(logits, targets, reduction="sum") * float("nan")
            )

    monkeypatch.setattr(engine.session, "Trainer", NanTrainer)
    rec = Recorder()
    session = start(SHORT, rec)
    at, paused = rec.wait_for(is_state("paused"))
    assert paused.cause == Cause.NON_FINITE and "non-finite" in paused.reason
    alerts = [e for e in rec.snapshot()[:at] if isinstance(e, Alert)]
    assert len(alerts) == 1 and alerts[0].level == "error"
    assert epoch_ends(rec.snapshot()) == []
    time.sleep(QUIET)
    assert session.alive and session.run_state == "paused"

    monkeypatch.undo()
    session.restart()
    rec.wait_for(is_state("finished"), after=at)


def test_close_ends_the_worker_thread(start):
    rec = Recorder()
    session = start(LONG, rec)
    rec.wait_for(lambda e: isinstance(e, EpochEnd) and e.epoch >= 2)
    session.close(timeout=WAIT)  # 100,000 epochs to go: only the close ends it (WAIT ends a hang)
    assert not session.alive
    assert rec.snapshot()[-1] == RunStateChanged(
        state="stopped", cause=Cause.CLOSED, reason="closed", epoch=session.epoch, time=rec.snapshot()[-1].time
    )


def test_close_while_paused_ends_the_worker_thread(start):
    rec = Recorder()
    session = start(LONG, rec)
    rec.wait_for(lambda e: isinstance(e, EpochEnd))
    session.pause()
    rec.wait_for(is_state("paused"))
    session.close(timeout=WAIT)
    assert not session.alive


def test_a_close_that_gives_up_waiting_leaves_the_worker_to_write_its_stop_then_close_the_log(tmp_path, monkeypatch):
    # CI's hang-up sweep: a close during the models' build gave up after a second and closed the
    # log, so the worker's "stopped" went nowhere and the run read "crashed" once its lock was free.
    building, finish_building = threading.Event(), threading.Event()

    def slow_trainer(*args, **kwargs) -> Trainer:
        building.set()
        finish_building.wait(WAIT)
        return Trainer(*args, **kwargs)

    monkeypatch.setattr(engine.session, "Trainer", slow_trainer)
    run = RunDirectory(tmp_path / "run")
    session = Session(LONG, run=run.open_writer(LONG)).start()
    assert building.wait(WAIT)
    session.close(timeout=0.1)
    assert session.alive and run.status() == "live"  # still building: the log is the worker's to close
    finish_building.set()
    session.join(WAIT)
    assert not session.alive
    assert run.status() == "stopped"
    assert [(e.state, e.cause) for e in run.events() if isinstance(e, RunStateChanged)] == [
        ("running", Cause.START), ("stopped", Cause.CLOSED)]


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="per-thread priority is a Linux feature")
def test_niceness_lowers_the_training_and_delivery_threads_priority_only(tiny):
    base = os.getpriority(os.PRIO_PROCESS, 0)
    training: list[int] = []
    delivery: list[int] = []
    finished = threading.Event()

    def sink(event) -> None:
        if isinstance(event, RunStarted):
            training.append(os.getpriority(os.PRIO_PROCESS, session._thread.native_id))
            # this sink's own thread: were it above training, each event would preempt it
            delivery.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        if isinstance(event, RunStateChanged) and event.state == "finished":
            finished.set()

    session = Session(tiny.replace(epochs=1), [sink], niceness=3)
    session.start()  # after the assignment: the sink reads ``session`` on the first event
    assert finished.wait(30)
    session.close()
    assert training == delivery == [min(base + 3, 19)]
    assert os.getpriority(os.PRIO_PROCESS, 0) == base  # the caller's thread is untouched


# -- why the state changed: a cause in each state event -------------------------------------------


def test_each_state_event_says_why_the_state_changed(start):
    rec = Recorder()
    session = start(LONG.replace(epochs=300), rec)  # long enough to be paused (events come every 0.1 s)
    _, running = rec.wait_for(is_state("running"))
    session.pause()
    at, _ = rec.wait_for(is_state("paused"))
    session.step()
    at, stepping = rec.wait_for(is_state("running"), after=at)
    at, stepped = rec.wait_for(is_state("paused"), after=at)
    session.resume()
    at, resumed = rec.wait_for(is_state("running"), after=at)
    _, finished = rec.wait_for(is_state("finished"), after=at)
    assert [e.cause for e in (running, stepping, stepped, resumed, finished)] == [
        Cause.START, Cause.STEP, Cause.STEP, Cause.USER, Cause.COMPLETED]


def test_a_stop_says_what_stopped_it(start):
    rec = Recorder()
    session = start(LONG, rec)
    rec.wait_for(lambda e: isinstance(e, EpochEnd))
    session.stop(Cause.SIGNAL, "SIGTERM")
    _, stopped = rec.wait_for(is_state("stopped"))
    assert (stopped.cause, stopped.reason) == (Cause.SIGNAL, "stopped by SIGTERM")


def test_a_failure_is_caused_by_an_error(start, monkeypatch):
    monkeypatch.setattr(Trainer, "run_epoch", lambda self, between, emit: 1 / 0)
    rec = Recorder()
    start(SHORT, rec)
    _, failed = rec.wait_for(is_state("failed"))
    assert failed.cause == Cause.ERROR and "ZeroDivisionError" in failed.reason


# -- a restart is a command the engine applies and logs ------------------------------------------


def test_a_restart_with_a_new_config_rewrites_config_json_and_logs_the_command(tmp_path):
    run = RunDirectory(tmp_path)
    rec = Recorder()
    session = Session(LONG, [rec], run=run.open_writer(LONG)).start()
    rec.wait_for(lambda e: isinstance(e, EpochEnd))
    new = SHORT.replace(hidden=7)
    session.restart(new)
    at, applied = rec.wait_for(lambda e: isinstance(e, CommandApplied) and e.command == "restart")
    _, started = rec.wait_for(lambda e: isinstance(e, RunStarted), after=at)
    assert applied.config == new.to_dict() == started.config
    assert run.load_config() == new
    rec.wait_for(is_state("finished"), after=at)
    session.close()
    logged = [e for e in run.events() if e.name in ("command", "run_started")]
    assert [e.name for e in logged] == ["run_started", "command", "run_started"]


def test_a_restart_with_the_same_config_leaves_config_json_alone(tmp_path):
    run = RunDirectory(tmp_path)
    rec = Recorder()
    session = Session(SHORT, [rec], run=run.open_writer(SHORT)).start()
    rec.wait_for(is_state("finished"))
    before = (tmp_path / "config.json").stat().st_mtime_ns
    session.restart()
    _, applied = rec.wait_for(lambda e: isinstance(e, CommandApplied) and e.command == "restart")
    session.close()
    assert applied.config == SHORT.to_dict()
    assert (tmp_path / "config.json").stat().st_mtime_ns == before


def test_a_flush_returns_once_the_sink_has_every_event_put_before_it():
    got: list = []
    release = threading.Event()

    def slow_sink(event) -> None:
        release.wait(5.0)
        got.append(event)

    worker = SinkWorker(slow_sink)
    events = [RunStateChanged(state="running", epoch=n) for n in range(3)]
    for event in events:
        worker.put(event)
    assert not worker.flush(timeout=0.2)  # the sink is still busy with the first
    release.set()
    assert worker.flush(timeout=5.0)
    assert got == events
    worker.close(timeout=5.0)
