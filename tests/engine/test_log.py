"""The run log's one reader: a log read whole or followed as it grows, its bad lines reported."""

from __future__ import annotations

import json

from engine.events import Alert, EpochEnd, RunStateChanged
from engine.rundir.log import LogReader, event_to_json, read_events


def _line(event) -> str:  # noqa: ANN001
    return event_to_json(event) + "\n"


EPOCH = EpochEnd(model="lstm", epoch=1, train_loss=1.0, val_loss=1.0, val_acc=0.3, grad_norm=1.0,
                 lr=0.01, seconds=0.1, samples_per_s=1.0)


# -- a log read whole ------------------------------------------------------------------------------


def test_read_events_reports_a_torn_last_line(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(_line(RunStateChanged(state="running")) + '{"event":"state","sta')
    skipped: list = []
    assert [e.state for e in read_events(path, on_skip=lambda n, why: skipped.append((n, why)))] == ["running"]
    assert skipped == [(2, "incomplete last line")]


def test_read_events_reports_every_line_it_skips(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("garbage\n" + '{"event": "from_the_future"}\n' + "[1, 2]\n" + "\xff\xfe\n"
                    + _line(RunStateChanged(state="running")))
    skipped: list = []
    events = list(read_events(path, on_skip=lambda n, why: skipped.append(n)))
    assert len(events) == 1 and skipped == [1, 2, 3, 4]


def test_only_the_events_asked_for_are_read(tmp_path):
    path = tmp_path / "events.jsonl"
    alert = Alert(level="info", message="a")
    # A hand-written line with spaces is not recognised by its first bytes: it is parsed, then left out.
    spaced = json.dumps({"event": "alert", "level": "info", "message": "b"}) + "\n"
    path.write_text(_line(alert) + _line(EPOCH) + spaced + _line(RunStateChanged(state="running")))
    assert [e.name for e in read_events(path, only={"epoch_end", "state"})] == ["epoch_end", "state"]


def test_a_line_passed_over_is_never_parsed_so_never_reported(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"event":"gates","i":[[0.1,\n' + _line(EPOCH))  # broken, but not wanted
    skipped: list = []
    assert list(read_events(path, lambda n, why: skipped.append(n), only={"epoch_end"})) == [EPOCH]
    assert skipped == []


def test_an_old_state_line_without_a_cause_loads_with_none(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"event":"state","time":1.0,"state":"paused","reason":"paused by user","epoch":3}\n')
    (event,) = read_events(path)
    assert (event.state, event.cause, event.reason, event.epoch) == ("paused", None, "paused by user", 3)


# -- a log followed as it grows --------------------------------------------------------------------


def test_first_read_returns_every_complete_line(tmp_path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text(_line(RunStateChanged(state="running")) + _line(Alert(level="info", message="a")))
    assert [e.name for e in LogReader(log).read()] == ["state", "alert"]


def test_later_reads_return_only_what_was_appended(tmp_path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text(_line(RunStateChanged(state="running")))
    reader = LogReader(log)
    reader.read()
    assert reader.read() == []
    with log.open("a") as f:
        f.write(_line(RunStateChanged(state="paused")))
    assert [e.state for e in reader.read()] == ["paused"]


def test_a_line_being_written_waits_for_its_newline(tmp_path) -> None:
    log = tmp_path / "events.jsonl"
    whole = _line(RunStateChanged(state="paused"))
    log.write_text(whole[:10])
    reader = LogReader(log)
    assert reader.read() == []
    with log.open("a") as f:
        f.write(whole[10:])
    assert [e.state for e in reader.read()] == ["paused"]


def test_a_torn_last_line_is_reported_once_the_writer_is_gone(tmp_path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text(_line(RunStateChanged(state="running")) + '{"event": "sta')
    skipped: list[tuple[int, str]] = []
    reader = LogReader(log, on_skip=lambda n, why: skipped.append((n, why)))
    assert len(reader.read()) == 1
    assert skipped == []
    reader.finish()
    reader.finish()
    assert skipped == [(2, "incomplete last line")]


def test_bad_lines_are_skipped_and_reported(tmp_path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text("not json\n" + '{"event": "nope"}\n' + _line(RunStateChanged(state="running")))
    skipped: list[int] = []
    events = LogReader(log, on_skip=lambda n, why: skipped.append(n)).read()
    assert [e.name for e in events] == ["state"]
    assert skipped == [1, 2]


def test_a_missing_log_reads_as_empty(tmp_path) -> None:
    assert LogReader(tmp_path / "events.jsonl").read() == []
