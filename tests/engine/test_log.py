"""LogFollower: reading a growing run log line by line."""

from __future__ import annotations

from engine.events import Alert, State
from engine.rundir.follow import LogFollower
from engine.rundir.log import event_to_json


def _line(event) -> str:  # noqa: ANN001
    return event_to_json(event) + "\n"


def test_first_read_returns_every_complete_line(tmp_path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text(_line(State(state="running")) + _line(Alert(level="info", message="a")))
    assert [e.name for e in LogFollower(log).read()] == ["state", "alert"]


def test_later_reads_return_only_what_was_appended(tmp_path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text(_line(State(state="running")))
    follower = LogFollower(log)
    follower.read()
    assert follower.read() == []
    with log.open("a") as f:
        f.write(_line(State(state="paused")))
    assert [e.state for e in follower.read()] == ["paused"]


def test_a_line_being_written_waits_for_its_newline(tmp_path) -> None:
    log = tmp_path / "events.jsonl"
    whole = _line(State(state="paused"))
    log.write_text(whole[:10])
    follower = LogFollower(log)
    assert follower.read() == []
    with log.open("a") as f:
        f.write(whole[10:])
    assert [e.state for e in follower.read()] == ["paused"]


def test_a_torn_last_line_is_reported_once_the_writer_is_gone(tmp_path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text(_line(State(state="running")) + '{"event": "sta')
    skipped: list[tuple[int, str]] = []
    follower = LogFollower(log, on_skip=lambda n, why: skipped.append((n, why)))
    assert len(follower.read()) == 1
    assert skipped == []
    follower.finish()
    follower.finish()
    assert skipped == [(2, "incomplete last line")]


def test_bad_lines_are_skipped_and_reported(tmp_path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text("not json\n" + '{"event": "nope"}\n' + _line(State(state="running")))
    skipped: list[int] = []
    events = LogFollower(log, on_skip=lambda n, why: skipped.append(n)).read()
    assert [e.name for e in events] == ["state"]
    assert skipped == [1, 2]


def test_a_missing_log_reads_as_empty(tmp_path) -> None:
    assert LogFollower(tmp_path / "events.jsonl").read() == []
