"""What the user put in a run directory in place of one of our files (a symbolic link, a directory,
a file made read-only) is theirs: we never write through it or replace it, and say so in one line
naming the file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from engine.config import RunConfig
from engine.events import Alert, Cause, EpochEnd, RunStateChanged
from engine.rundir.directory import (
    CHECKPOINT_FILE,
    COMMANDS_FILE,
    CONFIG_FILE,
    EVENTS_FILE,
    LOCK_FILE,
    RunDirectory,
)
from engine.rundir.files import RunDirError
from engine.session import Session
from tests.engine.recorder import Recorder

CFG = RunConfig(series_length=300, look_back=5, epochs=3, device="cpu")
ENDLESS = CFG.replace(epochs=100_000)
KINDS = ("symlink", "directory", "read-only")
SAYS = {"symlink": "is a symbolic link", "directory": "is a directory", "read-only": "is read-only"}


def put_users_thing(path: Path, kind: str) -> Path:
    """The user's ``kind`` of thing at ``path``; returns what a write through it would change."""
    if kind == "symlink":
        target = path.parent.parent / f"users-{path.name}"
        target.write_text("the user's\n")
        path.symlink_to(target)
        return target
    if kind == "directory":
        path.mkdir()
        (path / "inside").write_text("the user's\n")
        return path / "inside"
    path.write_text("the user's\n")
    path.chmod(0o444)
    return path


def assert_untouched(path: Path, kind: str, content: Path) -> None:
    assert content.read_text() == "the user's\n"
    if kind == "symlink":
        assert path.is_symlink()
    elif kind == "directory":
        assert path.is_dir()
    else:
        assert not stat.S_IMODE(path.stat().st_mode) & 0o222


@pytest.fixture
def run_dir(tmp_path) -> Path:
    path = tmp_path / "run"
    path.mkdir()
    return path


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", [CONFIG_FILE, EVENTS_FILE, CHECKPOINT_FILE, LOCK_FILE])
def test_a_run_does_not_start_over_the_user_s_thing_in_place_of_one_of_its_files(run_dir, name, kind):
    content = put_users_thing(run_dir / name, kind)
    before = sorted(os.listdir(run_dir))
    with pytest.raises(RunDirError) as refused:
        RunDirectory(run_dir).open_writer(CFG)
    assert str(refused.value) == f"{run_dir / name} {SAYS[kind]}: not written (move it away, or make it writable)"
    assert sorted(os.listdir(run_dir)) == before  # nothing else written either
    assert_untouched(run_dir / name, kind, content)


def test_a_resume_that_extends_the_run_does_not_replace_a_read_only_config_json(run_dir):
    RunDirectory(run_dir).open_writer(CFG).close()
    content = run_dir / CONFIG_FILE
    content.chmod(0o444)
    before = content.read_bytes()
    with pytest.raises(RunDirError, match="config.json is read-only"):
        RunDirectory(run_dir).open_writer(CFG.replace(epochs=5), resume=True)
    assert content.read_bytes() == before


@pytest.mark.parametrize("kind", KINDS)
def test_a_watcher_s_command_does_not_go_through_the_user_s_thing_in_place_of_commands_jsonl(run_dir, kind):
    RunDirectory(run_dir).open_writer(CFG).close()
    content = put_users_thing(run_dir / COMMANDS_FILE, kind)
    with pytest.raises(RunDirError, match=f"commands.jsonl {SAYS[kind]}"):
        RunDirectory(run_dir).send("pause")
    assert_untouched(run_dir / COMMANDS_FILE, kind, content)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ["metrics.csv", "screen.svg"])
def test_an_export_does_not_replace_the_user_s_thing(run_dir, name, kind):
    content = put_users_thing(run_dir / name, kind)
    with pytest.raises(RunDirError, match=f"{name} {SAYS[kind]}"):
        RunDirectory(run_dir).write_text(name, "ours\n")
    assert_untouched(run_dir / name, kind, content)


def test_a_checkpoint_replaced_by_a_link_while_the_run_trains_pauses_it_naming_the_file(run_dir):
    rec = Recorder()
    session = Session(ENDLESS, [rec], run=RunDirectory(run_dir).open_writer(ENDLESS)).start()
    try:
        rec.wait_for(lambda e: isinstance(e, EpochEnd))
        session.pause()
        rec.wait_for(lambda e: isinstance(e, RunStateChanged) and e.state == "paused")
        (run_dir / CHECKPOINT_FILE).unlink()
        content = put_users_thing(run_dir / CHECKPOINT_FILE, "symlink")
        session.step()  # an epoch, then the checkpoint of the pause after it
        _, paused = rec.wait_for(lambda e: isinstance(e, RunStateChanged) and e.cause == Cause.DISK)
        [alert] = [e for e in rec.snapshot() if isinstance(e, Alert)]
        assert alert.message == (f"{run_dir / CHECKPOINT_FILE} is a symbolic link: not written (move it away, or "
                                 "make it writable): the run is paused; put that right, then resume it")
        assert paused.reason == "cannot write checkpoint.pt"
        assert_untouched(run_dir / CHECKPOINT_FILE, "symlink", content)
    finally:
        session.close()


def test_a_restart_that_would_replace_a_read_only_config_json_is_refused(run_dir):
    rec = Recorder()
    session = Session(ENDLESS, [rec], run=RunDirectory(run_dir).open_writer(ENDLESS)).start()
    try:
        rec.wait_for(lambda e: isinstance(e, EpochEnd))
        (run_dir / CONFIG_FILE).chmod(0o444)
        session.restart(ENDLESS.replace(hidden=4))
        _, alert = rec.wait_for(lambda e: isinstance(e, Alert))
        assert alert.message == (f"restart refused, nothing changed: {run_dir / CONFIG_FILE} is read-only: "
                                 "not written (move it away, or make it writable)")
        assert session.config == ENDLESS
    finally:
        session.close()
    assert RunDirectory(run_dir).load_config() == ENDLESS
