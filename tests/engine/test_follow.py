"""Following a run: the events appended, then the run's status, which never runs ahead of them."""

from __future__ import annotations

import json

import pytest

from engine.config import RunConfig
from engine.events import RunStateChanged
from engine.rundir.directory import CONFIG_FILE, EVENTS_FILE, RunDirectory
from engine.rundir.files import RunDirError
from engine.rundir.follow import RunFollower, follow
from engine.rundir.log import LogReader, event_to_json

CFG = RunConfig(series_length=300, look_back=5, epochs=3)


def _line(event) -> str:  # noqa: ANN001
    return event_to_json(event) + "\n"


def test_an_update_holds_what_was_appended_and_the_status(tmp_path):
    run = RunDirectory(tmp_path)
    writer = run.open_writer(CFG)
    writer(RunStateChanged(state="running"))
    follower = RunFollower(run)
    first = follower.poll()
    assert ([e.state for e in first.events], first.status) == (["running"], "live")
    writer(RunStateChanged(state="finished"))
    writer.close()
    last = follower.poll()
    assert ([e.state for e in last.events], last.status) == (["finished"], "finished")


def test_following_to_the_end_misses_no_line_written_as_the_run_ends(tmp_path, monkeypatch):
    """The trainer writes its last line and exits just after a read: the status, looked at
    before the next read, must not end the follow ahead of that line."""
    run = RunDirectory(tmp_path)
    writer = run.open_writer(CFG)
    read = LogReader.read
    reads: list = []

    def read_then_the_trainer_ends(self):  # noqa: ANN001, ANN202
        events = read(self)
        if not reads:
            writer(RunStateChanged(state="finished"))
            writer.close()
        reads.append(events)
        return events

    monkeypatch.setattr(LogReader, "read", read_then_the_trainer_ends)
    updates = list(follow(run, until_ended=True, wait=lambda s: None))
    assert [e.state for u in updates for e in u.events] == ["finished"]
    assert updates[-1].status == "finished"


def test_a_torn_last_line_is_reported_once_the_run_is_not_live(tmp_path):
    (tmp_path / CONFIG_FILE).write_text(json.dumps(CFG.to_dict()))
    (tmp_path / EVENTS_FILE).write_text(_line(RunStateChanged(state="running")) + '{"event":"sta')
    skipped: list = []
    update = RunFollower(RunDirectory(tmp_path), lambda n, why: skipped.append((n, why))).poll()
    assert update.status == "crashed" and skipped == [(2, "incomplete last line")]


def test_a_directory_removed_while_followed_is_gone_with_its_reason(tmp_path):
    run = RunDirectory(tmp_path / "run")
    follower = RunFollower(run)
    update = follower.poll()
    assert update.status == "gone" and "does not exist" in update.problem


def test_a_log_that_cannot_be_read_is_a_run_dir_error(tmp_path):
    (tmp_path / CONFIG_FILE).write_text(json.dumps(CFG.to_dict()))
    (tmp_path / EVENTS_FILE).mkdir()
    with pytest.raises(RunDirError, match="events.jsonl"):
        RunFollower(RunDirectory(tmp_path)).poll()


def test_follow_until_ended_replays_a_finished_run_once_and_ends(tmp_path):
    run = RunDirectory(tmp_path)
    writer = run.open_writer(CFG)
    for state in ("running", "finished"):
        writer(RunStateChanged(state=state))
    writer.close()
    updates = list(follow(run, until_ended=True, wait=lambda s: None))
    assert [([e.state for e in u.events], u.status) for u in updates] == [(["running", "finished"], "finished")]


def test_follow_reports_only_changes_and_stops_when_told(tmp_path):
    run = RunDirectory(tmp_path)
    writer = run.open_writer(CFG)
    looks = [0]

    def wait(seconds: float) -> None:
        looks[0] += 1
        if looks[0] == 2:
            writer(RunStateChanged(state="paused"))

    updates = list(follow(run, wait=wait, stopped=lambda: looks[0] >= 4))
    writer.close()
    # look 1: the empty log, live; look 2: nothing new (not reported); look 3: the pause
    assert [([e.state for e in u.events], u.status) for u in updates] == [([], "live"), (["paused"], "live")]
