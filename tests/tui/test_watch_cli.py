"""`lstm-tui watch` and `lstm-tui export` on the command line."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from engine.config import RunConfig
from engine.events import CommandApplied, RunStateChanged
from engine.rundir.directory import RunDirectory
from engine.rundir.log import event_to_json
from tests.tui.helpers import synthetic_run
from tui.cli.main import main, newest_run

CONFIG = RunConfig(series_length=300, look_back=10, epochs=40)


def make_run(path, epochs: int = 2) -> None:  # noqa: ANN001
    log = RunDirectory(path).open_writer(CONFIG)
    for event in synthetic_run(CONFIG, epochs):
        log(event)
    log.close()


def test_watch_without_runs_says_where_it_looked(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["watch"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["lstm-tui watch: error: no runs under runs/ (give a run directory: lstm-tui watch DIR)"]


@pytest.mark.parametrize("command", ["watch", "export"])
def test_a_directory_that_is_not_a_run_is_one_line_and_exit_2(tmp_path, capsys, command) -> None:
    assert main([command, str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"lstm-tui {command}: error: {tmp_path} is not a run directory (no config.json)"]
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_newest_run_is_the_one_whose_log_changed_last(tmp_path) -> None:
    for name in ("a", "b", "c"):
        make_run(tmp_path / name)
    (tmp_path / "not-a-run").mkdir()
    os.utime(tmp_path / "b" / "events.jsonl", (2e9, 2e9))
    assert newest_run(tmp_path) == tmp_path / "b"


def test_export_writes_metrics_and_the_screen(tmp_path, capsys) -> None:
    make_run(tmp_path, epochs=3)
    assert main(["export", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {tmp_path / 'metrics.csv'}" in out and f"wrote {tmp_path / 'screen.svg'}" in out
    assert len((tmp_path / "metrics.csv").read_text().splitlines()) == 1 + 3 * 2
    assert "epoch 3/40" in (tmp_path / "screen.svg").read_text().replace("&#160;", " ")


def test_watch_json_prints_a_finished_runs_whole_log_and_exits_0(tmp_path, capsys) -> None:
    make_run(tmp_path, epochs=3)
    assert main(["watch", str(tmp_path), "--json"]) == 0
    printed = capsys.readouterr().out.splitlines()
    logged = (tmp_path / "events.jsonl").read_text().splitlines()
    assert printed == logged
    assert all(json.loads(line)["event"] for line in printed)


def test_watch_json_follows_a_live_run_until_it_ends(tmp_path, capsys) -> None:
    log = RunDirectory(tmp_path).open_writer(CONFIG)
    events = synthetic_run(CONFIG, 6)
    for event in events[:4]:
        log(event)

    def train_on() -> None:  # the rest of the run arrives while the watcher follows
        for event in events[4:]:
            time.sleep(0.02)
            log(event)
        log(RunStateChanged(state="finished", epoch=6))
        log.close()

    trainer = threading.Thread(target=train_on)
    trainer.start()
    assert main(["watch", str(tmp_path), "--json"]) == 0
    trainer.join()
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(printed) == len(events) + 1
    assert printed[-1] == {**printed[-1], "event": "state", "state": "finished"}


def write_old_run(path, epochs: int) -> None:  # noqa: ANN001
    """A run directory as written before state events had a cause, commands a config and
    run_started a resumed_from_epoch."""
    path.mkdir()
    (path / "config.json").write_text(json.dumps(CONFIG.to_dict()))
    events = [*synthetic_run(CONFIG, epochs), CommandApplied(command="stop", detail="app", lr=CONFIG.lr),
              RunStateChanged(state="stopped", reason="stopped by user", epoch=epochs)]
    lines = []
    for event in events:
        data = json.loads(event_to_json(event))
        newer = {"state": "cause", "command": "config", "run_started": "resumed_from_epoch"}.get(data["event"])
        data.pop(newer, None)
        lines.append(json.dumps(data, separators=(",", ":")) + "\n")
    (path / "events.jsonl").write_text("".join(lines))


def test_a_run_written_before_this_version_still_watches_lists_and_exports(tmp_path, capsys) -> None:
    from tui.runs.listing import summarise

    old = tmp_path / "old"
    write_old_run(old, 3)
    assert main(["watch", str(old), "--json"]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(printed) == len((old / "events.jsonl").read_text().splitlines())
    assert printed[-1] == {**printed[-1], "event": "state", "state": "stopped", "cause": None}
    summary = summarise(old)
    assert (summary.status, summary.epochs_done, summary.reason) == ("stopped", 3, "")
    assert main(["export", str(old)]) == 0
    assert len((old / "metrics.csv").read_text().splitlines()) == 1 + 3 * 2
