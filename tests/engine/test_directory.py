"""The run directory: its name, one writer at a time, a resume that appends, a log read with notice."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from engine.config import RunConfig, from_preset
from engine.events import RunStarted, State, from_dict
from engine.rundir.log import (
    CONFIG_FILE,
    EVENTS_FILE,
    LOCK_FILE,
    RunDirError,
    RunLog,
    check_new_run_dir,
    event_to_json,
    load_config,
    new_run_dir,
    read_events,
)

CFG = RunConfig(series_length=300, look_back=5, epochs=3)
NOON = datetime(2026, 11, 27, 16, 35, 1, tzinfo=timezone.utc)


def test_a_run_directory_is_named_for_its_utc_start_and_preset(tmp_path):
    path = new_run_dir(tmp_path / "runs", from_preset("seed-10k"), now=NOON)
    assert path == tmp_path / "runs" / "20261127T163501Z-seed-10k"
    assert path.is_dir()


def test_a_run_without_a_preset_is_named_for_its_task(tmp_path):
    assert new_run_dir(tmp_path, CFG.replace(task="echo", look_back=35, series_length=400), now=NOON).name \
        == "20261127T163501Z-echo"


def test_two_runs_started_in_the_same_second_get_different_directories(tmp_path):
    first = new_run_dir(tmp_path, CFG, now=NOON)
    second = new_run_dir(tmp_path, CFG, now=NOON)
    assert first != second and second.name == first.name + "-2"


def test_a_fresh_run_may_not_go_over_another(tmp_path):
    RunLog(tmp_path, CFG).close()
    with pytest.raises(RunDirError, match="already holds a run"):
        check_new_run_dir(tmp_path)


def test_a_second_writer_of_a_live_run_is_refused_with_the_first_ones_pid(tmp_path):
    import os

    log = RunLog(tmp_path, CFG)
    with pytest.raises(RunDirError, match=f"being trained by another process \\(pid {os.getpid()}\\)"):
        RunLog(tmp_path, CFG, resume=True)
    log.close()
    assert (tmp_path / LOCK_FILE).read_text() == ""  # released: no pid


def test_a_resume_appends_to_the_log_and_leaves_config_json_alone(tmp_path):
    log = RunLog(tmp_path, CFG)
    log(State(state="running"))
    log.close()
    before = (tmp_path / CONFIG_FILE).stat()
    log = RunLog(tmp_path, CFG, resume=True)
    log(State(state="finished"))
    log.close()
    after = (tmp_path / CONFIG_FILE).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert [e.state for e in read_events(tmp_path / EVENTS_FILE)] == ["running", "finished"]


def test_a_resume_that_extends_the_epochs_rewrites_config_json(tmp_path):
    RunLog(tmp_path, CFG).close()
    RunLog(tmp_path, CFG.replace(epochs=9), resume=True).close()
    assert load_config(tmp_path) == CFG.replace(epochs=9)


def test_read_events_reports_a_torn_last_line(tmp_path):
    path = tmp_path / EVENTS_FILE
    path.write_text(event_to_json(State(state="running")) + "\n" + '{"event":"state","sta')
    skipped: list = []
    assert [e.state for e in read_events(path, on_skip=lambda n, why: skipped.append((n, why)))] == ["running"]
    assert skipped == [(2, "incomplete last line")]


def test_read_events_reports_every_line_it_skips(tmp_path):
    path = tmp_path / EVENTS_FILE
    path.write_text("garbage\n" + '{"event": "from_the_future"}\n' + "[1, 2]\n"
                    + event_to_json(State(state="running")) + "\n")
    skipped: list = []
    events = list(read_events(path, on_skip=lambda n, why: skipped.append(n)))
    assert len(events) == 1 and skipped == [1, 2, 3]


def test_an_old_run_started_event_without_resumed_from_epoch_still_loads():
    data = json.loads(event_to_json(RunStarted(
        config=CFG.to_dict(), device="cpu", device_name="cpu", parameters={"lstm": 1, "rnn": 1},
        train_windows=1, val_windows=1, data_sha256="0", chance_loss=1.0, best_loss=1.0,
        batches_per_epoch=1, chunks_per_batch=1,
    )))
    del data["resumed_from_epoch"]
    assert from_dict(data).resumed_from_epoch == 0


@pytest.mark.parametrize(("setup", "message"), [
    (lambda d: None, "does not exist"),
    (lambda d: d.mkdir(), "not a run directory"),
    (lambda d: (d.mkdir(), (d / CONFIG_FILE).write_text("{not json")), "not a valid config"),
    (lambda d: (d.mkdir(), (d / CONFIG_FILE).write_text('{"hidden": 0}')), "not a valid config"),
    (lambda d: d.write_text("a file"), "not a directory"),
])
def test_load_config_names_what_is_wrong_with_the_directory(tmp_path, setup, message):
    path = tmp_path / "run"
    setup(path)
    with pytest.raises(RunDirError, match=message):
        load_config(path)
