"""The command file: how a watcher in another process steers a run, and the Session obeying it."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time

import pytest

from engine.config import RunConfig
from engine.events import Alert, Cause, CommandApplied, EpochEnd, RunFailed, RunFinished, RunStateChanged
from engine.rundir.commands import CommandPoller, FileCommand
from engine.rundir.directory import COMMANDS_FILE, CONFIG_FILE, RunDirectory
from engine.rundir.files import RunDirError
from engine.session import Session
from tests.engine.recorder import Recorder

WAIT = 30.0
QUIET = 0.5
LONG = RunConfig(series_length=300, look_back=5, epochs=100_000, device="cpu")


@pytest.fixture
def run_dir(tmp_path):
    (tmp_path / CONFIG_FILE).write_text(json.dumps(LONG.to_dict()))
    return tmp_path


def poller(run_dir) -> CommandPoller:
    return RunDirectory(run_dir).command_poller(interval=0)


def send_command(run_dir, name: str, **args) -> dict:
    return RunDirectory(run_dir).send(name, **args)


def lines(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / COMMANDS_FILE).read_text().splitlines()]


# -- send_command and the poller ---------------------------------------------------------------------


def test_a_sent_command_is_one_json_line_naming_its_sender(run_dir):
    send_command(run_dir, "scale_lr", factor=0.5)
    (line,) = lines(run_dir)
    assert (line["command"], line["factor"], line["pid"]) == ("scale_lr", 0.5, os.getpid())


def test_the_poller_reads_each_new_command_once(run_dir):
    reader = poller(run_dir)
    send_command(run_dir, "pause")
    send_command(run_dir, "scale_lr", factor=2)
    assert reader.poll() == [FileCommand("pause", sender=f"pid {os.getpid()}", file=COMMANDS_FILE),
                             FileCommand("scale_lr", 2.0, f"pid {os.getpid()}", COMMANDS_FILE)]
    assert reader.poll() == []


def test_the_poller_ignores_commands_sent_before_it_began(run_dir):
    send_command(run_dir, "stop")  # e.g. the stop that ended the run now being resumed
    reader = poller(run_dir)
    send_command(run_dir, "pause")
    assert [c.name for c in reader.poll()] == ["pause"]


def test_the_poller_waits_for_a_partial_last_line_to_be_completed(run_dir):
    reader = poller(run_dir)
    path = run_dir / COMMANDS_FILE
    with open(path, "ab") as f:
        f.write(b'{"command": "pau')
    assert reader.poll() == []
    with open(path, "ab") as f:
        f.write(b'se"}\n')
    assert [c.name for c in reader.poll()] == ["pause"]


def test_the_poller_looks_at_the_file_at_most_once_per_interval(run_dir):
    now = [100.0]
    reader = CommandPoller(run_dir / COMMANDS_FILE, interval=0.05, clock=lambda: now[0])
    assert reader.poll() == []
    send_command(run_dir, "pause")
    assert reader.poll() == []  # within 50 ms of the last look
    now[0] += 0.05
    assert [c.name for c in reader.poll()] == ["pause"]


def test_the_poller_is_due_exactly_when_its_interval_since_the_last_look_has_passed(run_dir):
    now = [100.0]
    reader = CommandPoller(run_dir / COMMANDS_FILE, interval=0.05, clock=lambda: now[0])
    assert reader.due()  # never looked yet
    reader.poll()
    assert not reader.due()
    now[0] += 0.049
    assert not reader.due()
    now[0] += 0.001
    assert reader.due()


def test_a_bad_line_comes_back_as_an_error_and_the_next_line_still_counts(run_dir):
    reader = poller(run_dir)
    with open(run_dir / COMMANDS_FILE, "ab") as f:
        f.write(b'not json\n{"command": "restart"}\n{"command": "scale_lr", "factor": -1}\n')
    send_command(run_dir, "resume")
    got = reader.poll()
    assert [type(c) for c in got] == [ValueError, ValueError, ValueError, FileCommand]
    assert "restart" in str(got[1]) and "factor" in str(got[2])


def test_a_line_torn_by_a_dead_writer_does_not_swallow_the_next_command(run_dir):
    reader = poller(run_dir)
    with open(run_dir / COMMANDS_FILE, "ab") as f:
        f.write(b'{"command": "sto')  # its writer died mid-line
    send_command(run_dir, "pause")
    got = reader.poll()
    assert isinstance(got[0], ValueError) and got[1].name == "pause"


@pytest.mark.parametrize(("name", "args"), [("restart", {}), ("close", {}), ("scale_lr", {"factor": 0}),
                                            ("scale_lr", {"factor": float("nan")}), ("dance", {})])
def test_send_command_refuses_what_the_trainer_would_refuse(run_dir, name, args):
    with pytest.raises(ValueError):
        send_command(run_dir, name, **args)
    assert not (run_dir / COMMANDS_FILE).exists()


def test_send_command_refuses_a_directory_that_is_not_a_run(tmp_path):
    with pytest.raises(RunDirError, match="not a run directory"):
        send_command(tmp_path, "pause")


def _send_many(run_dir: str, n: int) -> None:
    for i in range(n):
        send_command(run_dir, "scale_lr", factor=1 + i / 1000, note="x" * (i % 300))


def test_two_processes_and_two_threads_sending_at_once_never_interleave(run_dir):
    n = 300
    processes = [multiprocessing.get_context("spawn").Process(target=_send_many, args=(str(run_dir), n))
                 for _ in range(2)]
    threads = [threading.Thread(target=_send_many, args=(run_dir, n)) for _ in range(2)]
    for worker in processes + threads:
        worker.start()
    for worker in processes + threads:
        worker.join(60)
    got = lines(run_dir)  # every line parses
    assert len(got) == 4 * n
    per_sender: dict[int, int] = {}
    for line in got:
        per_sender[line["pid"]] = per_sender.get(line["pid"], 0) + 1
    assert sorted(per_sender.values()) == [n, n, 2 * n]  # the two threads share this process's pid


# -- the session obeys the file --------------------------------------------------------------------


def is_state(state: str):
    return lambda e: isinstance(e, RunStateChanged) and e.state == state


def writer(run_dir, config: RunConfig = LONG):
    return RunDirectory(run_dir).open_writer(config, resume=True)


@pytest.fixture
def live(run_dir):
    rec = Recorder()
    session = Session(LONG, [rec], run=writer(run_dir)).start()
    rec.wait_for(lambda e: isinstance(e, EpochEnd))
    yield session, rec
    session.close()


def test_a_paused_run_obeys_resume_and_stop_from_the_file(run_dir, live):
    session, rec = live
    send_command(run_dir, "pause")
    at, paused = rec.wait_for(is_state("paused"))
    assert (paused.cause, paused.reason) == (Cause.WATCHER, f"paused from {COMMANDS_FILE} (pid {os.getpid()})")
    time.sleep(QUIET)
    assert [e for e in rec.snapshot()[at:] if isinstance(e, EpochEnd)] == []
    send_command(run_dir, "resume")
    at, _ = rec.wait_for(is_state("running"), after=at)
    rec.wait_for(lambda e: isinstance(e, EpochEnd), after=at)
    send_command(run_dir, "stop")
    rec.wait_for(is_state("stopped"), after=at)
    applied = [e for e in rec.snapshot() if isinstance(e, CommandApplied)]
    assert [e.command for e in applied] == ["pause", "resume", "stop"]
    assert all(e.detail == f"{COMMANDS_FILE} (pid {os.getpid()})" for e in applied)


def test_scale_lr_from_the_file_changes_the_learning_rate(run_dir, live):
    _, rec = live
    send_command(run_dir, "scale_lr", factor=0.5)
    at, applied = rec.wait_for(lambda e: isinstance(e, CommandApplied))
    assert applied.lr == pytest.approx(LONG.lr / 2)
    _, epoch = rec.wait_for(lambda e: isinstance(e, EpochEnd), after=at)
    assert epoch.lr == pytest.approx(LONG.lr / 2)


def test_a_bad_line_in_the_file_is_a_warning_and_training_goes_on(run_dir, live):
    _, rec = live
    with open(run_dir / COMMANDS_FILE, "ab") as f:
        f.write(b'{"command": "explode"}\n')
    at, alert = rec.wait_for(lambda e: isinstance(e, Alert))
    assert alert.level == "warning" and "explode" in alert.message
    rec.wait_for(lambda e: isinstance(e, EpochEnd), after=at)


def test_a_pause_from_the_file_lands_within_a_batch_of_a_long_epoch(run_dir):
    # batch size 1: an epoch is ~230 updates per model; the pause must not wait for its end
    rec = Recorder()
    config = LONG.replace(series_length=2_000, batch_size=1)
    session = Session(config, [rec], run=writer(run_dir, config)).start()
    rec.wait_for(is_state("running"))
    send_command(run_dir, "pause")
    _, paused = rec.wait_for(is_state("paused"))
    session.close()
    assert paused.epoch == 0
    assert [e for e in rec.snapshot() if isinstance(e, EpochEnd)] == []


# -- the session and its run directory ----------------------------------------------------------


def test_a_finished_session_reads_as_finished_once_closed(run_dir):
    rec = Recorder()
    session = Session(LONG.replace(epochs=2), [rec], run=writer(run_dir, LONG.replace(epochs=2))).start()
    rec.wait_for(lambda e: isinstance(e, RunFinished))
    rec.wait_for(is_state("finished"))
    assert RunDirectory(run_dir).status() == "live"  # until the session lets go of it
    session.close()
    assert RunDirectory(run_dir).status() == "finished"
    assert not any(isinstance(e, RunFailed) for e in rec.snapshot())
    assert [e.name for e in RunDirectory(run_dir).events()] == [e.name for e in rec.snapshot()]
