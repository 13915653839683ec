"""A disk that fills up: the first failed write (the log's or a checkpoint's) pauses the run with one
alert naming the file and the space left; the last good checkpoint stays; once there is space a
resume writes what waited and goes on, and the run ends as one never interrupted."""

from __future__ import annotations

import errno
import time

import pytest
import torch

from engine.config import CheckpointCadence, RunConfig
from engine.events import Alert, Cause, EpochEnd, RunStateChanged
from engine.rundir.checkpoint import read_checkpoint
from engine.rundir.directory import CHECKPOINT_FILE, EVENTS_FILE, RunDirectory
from engine.rundir.files import atomic_write
from engine.rundir.log import LogWriter
from engine.session import Session
from tests.engine.full_disk import NO_SPACE, FullDisk
from tests.engine.recorder import Recorder

FULL = RunConfig(series_length=300, look_back=5, epochs=300, device="cpu")  # outlasts a sink's 0.1 s delivery
ENDLESS = FULL.replace(epochs=100_000)
EVERY_EPOCH = CheckpointCadence(every=1, seconds=0)


@pytest.fixture
def disk(monkeypatch) -> FullDisk:
    return FullDisk(monkeypatch)


def is_state(state: str, cause: Cause | None = None):
    return lambda e: isinstance(e, RunStateChanged) and e.state == state and (cause is None or e.cause == cause)


def start(run_dir, config: RunConfig, rec: Recorder, cadence: CheckpointCadence = EVERY_EPOCH) -> Session:
    return Session(config, [rec], run=RunDirectory(run_dir).open_writer(config, cadence=cadence)).start()


def fill_after_epoch(disk: FullDisk, rec: Recorder, epoch: int) -> None:
    rec.wait_for(lambda e: isinstance(e, EpochEnd) and e.model == "rnn" and e.epoch >= epoch)
    disk.fill()


def alerts(rec: Recorder) -> list[Alert]:
    return [e for e in rec.snapshot() if isinstance(e, Alert)]


# -- the log and atomic writes on their own ------------------------------------------------------


def test_a_log_that_cannot_be_written_keeps_its_lines_and_a_retry_writes_them_in_order(tmp_path, disk):
    log = LogWriter(tmp_path / EVENTS_FILE)
    events = [RunStateChanged(state="running", epoch=n) for n in range(3)]
    log.write(events[0])
    disk.fill()
    log.write(events[1])  # half of it fits
    log.write(events[2])
    assert log.error is not None and log.error.errno == errno.ENOSPC
    assert log.error.filename == str(tmp_path / EVENTS_FILE)
    assert len(list(RunDirectory(tmp_path).events())) == 1
    disk.free()
    assert log.retry() is None
    log.close()
    assert list(RunDirectory(tmp_path).events()) == events


def test_a_failed_atomic_write_names_the_file_removes_its_temporary_file_and_leaves_the_old_one(tmp_path, disk):
    path = tmp_path / CHECKPOINT_FILE
    path.write_bytes(b"the last good checkpoint")
    disk.fill()
    with pytest.raises(OSError) as raised:
        atomic_write(path, lambda f: torch.save({"x": torch.zeros(3)}, f))
    assert (raised.value.errno, raised.value.filename) == (errno.ENOSPC, str(path))
    assert path.read_bytes() == b"the last good checkpoint"
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT_FILE]


# -- a run on a disk that fills ------------------------------------------------------------------


def test_a_failed_log_write_pauses_the_run_with_one_alert_naming_the_file_and_the_space_left(tmp_path, disk):
    rec = Recorder()
    session = start(tmp_path, ENDLESS, rec, CheckpointCadence(every=0))
    try:
        fill_after_epoch(disk, rec, 2)
        _, paused = rec.wait_for(is_state("paused", Cause.DISK))
        time.sleep(0.3)  # what else a few more batches might have said
        assert paused.reason == "cannot write events.jsonl: disk full"
        [alert] = alerts(rec)
        assert alert.level == "error"
        assert alert.message.startswith(f"cannot write {tmp_path / EVENTS_FILE}: {NO_SPACE} (")
        assert alert.message.endswith(" left): the run is paused; free some space, then resume it")
        assert session.run_state == "paused"
    finally:
        session.close()


def test_a_failed_checkpoint_pauses_the_run_and_the_last_good_checkpoint_stays(tmp_path, disk):
    rec = Recorder()
    session = start(tmp_path, ENDLESS, rec)
    try:
        rec.wait_for(lambda e: isinstance(e, EpochEnd) and e.epoch >= 2)
        session.pause()
        at, _ = rec.wait_for(is_state("paused"))
        good = (tmp_path / CHECKPOINT_FILE).read_bytes()  # written as the run paused
        disk.checkpoint_full = True
        session.resume()
        rec.wait_for(is_state("paused", Cause.DISK), after=at + 1)
        [alert] = alerts(rec)
        assert alert.message.startswith(f"cannot write {tmp_path / CHECKPOINT_FILE}: {NO_SPACE} (")
        assert (tmp_path / CHECKPOINT_FILE).read_bytes() == good
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []
    finally:
        session.close()


def test_a_resume_while_the_disk_is_still_full_keeps_the_run_paused_and_says_so(tmp_path, disk):
    rec = Recorder()
    session = start(tmp_path, ENDLESS, rec)
    try:
        fill_after_epoch(disk, rec, 1)
        at, _ = rec.wait_for(is_state("paused", Cause.DISK))
        session.resume()
        _, again = rec.wait_for(lambda e: isinstance(e, Alert), after=at + 1)
        time.sleep(0.3)
        assert again.message.endswith(": still paused; free some space, then resume it")
        assert not any(isinstance(e, RunStateChanged) for e in rec.snapshot()[at + 1:])
        assert session.run_state == "paused"
    finally:
        session.close()


def test_once_there_is_space_the_log_catches_up_so_a_watcher_sees_the_pause(tmp_path, disk):
    rec = Recorder()
    session = start(tmp_path, ENDLESS, rec)
    try:
        fill_after_epoch(disk, rec, 1)
        rec.wait_for(is_state("paused", Cause.DISK))
        disk.free()  # and nobody resumes yet

        def logged_pause() -> bool:
            states = [e for e in RunDirectory(tmp_path).events() if isinstance(e, RunStateChanged)]
            return bool(states) and states[-1].cause == Cause.DISK

        deadline = time.monotonic() + 10
        while not logged_pause():
            assert time.monotonic() < deadline, "the log never caught up"
            time.sleep(0.1)
        assert session.run_state == "paused"
    finally:
        session.close()


def test_a_resume_once_there_is_space_ends_the_run_as_one_never_interrupted(tmp_path, disk):
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    rec = Recorder()
    session = start(straight, FULL, rec)
    rec.wait_for(is_state("finished"))
    session.close()

    rec = Recorder()
    session = start(interrupted, FULL, rec)
    try:
        fill_after_epoch(disk, rec, 3)
        rec.wait_for(is_state("paused", Cause.DISK))
        disk.free()
        session.resume()
        rec.wait_for(is_state("finished"))
    finally:
        session.close()

    def losses(run_dir) -> list[tuple]:
        return [(e.model, e.epoch, e.train_loss, e.val_loss) for e in RunDirectory(run_dir).events()
                if isinstance(e, EpochEnd)]

    assert losses(interrupted) == losses(straight)  # every epoch once, the ones that waited too
    a, b = read_checkpoint(straight / CHECKPOINT_FILE), read_checkpoint(interrupted / CHECKPOINT_FILE)
    assert a["epoch"] == b["epoch"] == FULL.epochs
    for model in ("lstm", "rnn"):
        assert all(torch.equal(a[model][k], b[model][k]) for k in a[model])


def test_closing_on_a_full_disk_never_raises_and_the_run_resumes_from_its_last_good_checkpoint(tmp_path, disk):
    rec = Recorder()
    session = start(tmp_path, ENDLESS, rec)
    fill_after_epoch(disk, rec, 2)
    rec.wait_for(is_state("paused", Cause.DISK))
    good = read_checkpoint(tmp_path / CHECKPOINT_FILE)["epoch"]
    session.close()
    disk.free()
    config, checkpoint = RunDirectory(tmp_path).load_resume()
    assert config == ENDLESS and checkpoint["epoch"] == good >= 1
