"""RunDirectory: its name, one writer at a time, a resume that appends, its status and its trainer."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

import pytest

from engine.config import RunConfig, from_preset
from engine.events import EpochEnd, RunStarted, RunStateChanged, from_dict
from engine.rundir.directory import CONFIG_FILE, EVENTS_FILE, LOCK_FILE, RunDirectory
from engine.rundir.files import RunDirError
from engine.rundir.log import event_to_json

CFG = RunConfig(series_length=300, look_back=5, epochs=3)
NOON = datetime(2026, 11, 27, 16, 35, 1, tzinfo=timezone.utc)


def test_a_run_directory_is_named_for_its_utc_start_and_preset(tmp_path):
    run = RunDirectory.new(tmp_path / "runs", from_preset("seed-10k"), now=NOON)
    assert run.path == tmp_path / "runs" / "20261127T163501Z-seed-10k"
    assert run.path.is_dir()


def test_a_run_without_a_preset_is_named_for_its_task(tmp_path):
    assert RunDirectory.new(tmp_path, CFG.replace(task="echo", look_back=35, series_length=400), now=NOON).name \
        == "20261127T163501Z-echo"


def test_two_runs_started_in_the_same_second_get_different_directories(tmp_path):
    first = RunDirectory.new(tmp_path, CFG, now=NOON)
    second = RunDirectory.new(tmp_path, CFG, now=NOON)
    assert first != second and second.name == first.name + "-2"


def test_a_fresh_run_may_not_go_over_another(tmp_path):
    RunDirectory(tmp_path).open_writer(CFG).close()
    with pytest.raises(RunDirError, match="already holds a run"):
        RunDirectory(tmp_path).check_new()


def test_a_second_writer_of_a_live_run_is_refused_with_the_first_ones_pid(tmp_path):
    run = RunDirectory(tmp_path)
    writer = run.open_writer(CFG)
    with pytest.raises(RunDirError, match=f"being trained by another process \\(pid {os.getpid()}\\)"):
        run.open_writer(CFG, resume=True)
    writer.close()
    assert (tmp_path / LOCK_FILE).read_text() == ""  # released: no pid


def test_a_resume_appends_to_the_log_and_leaves_config_json_alone(tmp_path):
    run = RunDirectory(tmp_path)
    writer = run.open_writer(CFG)
    writer(RunStateChanged(state="running"))
    writer.close()
    before = (tmp_path / CONFIG_FILE).stat()
    writer = run.open_writer(CFG, resume=True)
    writer(RunStateChanged(state="finished"))
    writer.close()
    after = (tmp_path / CONFIG_FILE).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert [e.state for e in run.events()] == ["running", "finished"]


def test_a_resume_that_extends_the_epochs_rewrites_config_json(tmp_path):
    run = RunDirectory(tmp_path)
    run.open_writer(CFG).close()
    run.open_writer(CFG.replace(epochs=9), resume=True).close()
    assert run.load_config() == CFG.replace(epochs=9)


def test_the_writer_rewrites_config_json_for_a_restart_with_another_config(tmp_path):
    run = RunDirectory(tmp_path)
    writer = run.open_writer(CFG)
    writer.write_config(CFG.replace(hidden=7))
    assert run.load_config() == CFG.replace(hidden=7)
    writer.close()


def test_a_crash_mid_line_is_closed_off_so_the_next_event_is_a_line_of_its_own(tmp_path):
    run = RunDirectory(tmp_path)
    run.open_writer(CFG).close()
    with open(tmp_path / EVENTS_FILE, "a") as f:
        f.write('{"event":"state","sta')  # the process died here
    writer = run.open_writer(CFG, resume=True)
    writer(RunStateChanged(state="running"))
    writer.close()
    skipped: list = []
    assert [e.state for e in run.events(lambda n, why: skipped.append(n))] == ["running"]
    assert skipped == [1]


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
        RunDirectory(path).load_config()


def test_why_a_directory_is_not_a_run_fits_a_table_cell(tmp_path):
    assert RunDirectory(tmp_path).not_a_run() == "no config.json"
    (tmp_path / CONFIG_FILE).write_text("{not json")
    assert RunDirectory(tmp_path).not_a_run().startswith("config.json is not a valid config")
    (tmp_path / CONFIG_FILE).write_text(json.dumps(CFG.to_dict()))
    assert RunDirectory(tmp_path).not_a_run() is None


# -- its status, seen from another process --------------------------------------------------------


def write_log(run_dir, *events) -> None:
    (run_dir / CONFIG_FILE).write_text(json.dumps(CFG.to_dict()))
    (run_dir / EVENTS_FILE).write_text("".join(event_to_json(e) + "\n" for e in events))


def test_a_run_being_written_is_live_and_names_its_trainer(tmp_path):
    run = RunDirectory(tmp_path)
    writer = run.open_writer(CFG)
    assert (run.status(), run.trainer_pid()) == ("live", os.getpid())
    writer.close()
    assert (run.status(), run.trainer_pid()) == ("crashed", None)  # no final state in its log


@pytest.mark.parametrize("state", ["finished", "stopped", "failed"])
def test_a_run_that_ended_says_how(tmp_path, state):
    write_log(tmp_path, RunStateChanged(state="running"), RunStateChanged(state=state, epoch=3))
    assert RunDirectory(tmp_path).status() == state


def test_a_run_whose_log_ends_without_a_final_state_crashed(tmp_path):
    epoch = EpochEnd(model="lstm", epoch=1, train_loss=1.0, val_loss=1.0, val_acc=0.3, grad_norm=1.0,
                     lr=0.01, seconds=0.1, samples_per_s=1.0)
    write_log(tmp_path, RunStateChanged(state="running"), epoch)
    assert RunDirectory(tmp_path).status() == "crashed"


def test_the_status_reads_the_last_state_past_a_long_log(tmp_path):
    epoch = EpochEnd(model="lstm", epoch=1, train_loss=1.0, val_loss=1.0, val_acc=0.3, grad_norm=1.0,
                     lr=0.01, seconds=0.1, samples_per_s=1.0)
    write_log(tmp_path, RunStateChanged(state="running"), *[epoch] * 5000, RunStateChanged(state="stopped"))
    assert (tmp_path / EVENTS_FILE).stat().st_size > 512 * 1024  # longer than the tail it reads
    assert RunDirectory(tmp_path).status() == "stopped"


def test_an_old_log_without_causes_still_says_how_it_ended(tmp_path):
    (tmp_path / CONFIG_FILE).write_text(json.dumps(CFG.to_dict()))
    (tmp_path / EVENTS_FILE).write_text('{"event":"state","time":1.0,"state":"stopped","reason":"stopped by user",'
                                        '"epoch":2}\n')
    assert RunDirectory(tmp_path).status() == "stopped"


def test_a_run_with_no_log_yet_and_no_trainer_crashed(tmp_path):
    write_log(tmp_path)
    (tmp_path / EVENTS_FILE).unlink()
    assert RunDirectory(tmp_path).status() == "crashed"


def test_the_status_of_a_directory_that_is_not_a_run_is_an_error(tmp_path):
    with pytest.raises(RunDirError):
        RunDirectory(tmp_path).status()


def test_an_export_may_not_overwrite_the_runs_own_files(tmp_path):
    run = RunDirectory(tmp_path)
    assert run.write_text("metrics.csv", "a,b\n").read_text() == "a,b\n"
    with pytest.raises(ValueError):
        run.write_text(CONFIG_FILE, "{}")
