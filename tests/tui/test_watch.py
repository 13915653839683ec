"""`lstm-tui watch`: the dashboard on a run directory, from its log, steering through its command file."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from engine.config import RunConfig
from engine.events import RunStateChanged
from engine.rundir.directory import COMMANDS_FILE, EVENTS_FILE, RunDirectory, RunWriter
from tests.tui.helpers import notifications, synthetic_probes, synthetic_run, visible_text, wait_until
from tui.dashboard.app import DashboardApp
from tui.widgets.header import RunHeader

CONFIG = RunConfig(series_length=300, look_back=10, epochs=40)


def write_run(run_dir: Path, epochs: int, *, final: str | None = "finished", close: bool = True) -> RunWriter:
    log = RunDirectory(run_dir).open_writer(CONFIG)
    for event in synthetic_run(CONFIG, epochs) + synthetic_probes(epochs):
        log(event)
    if final:
        log(RunStateChanged(state=final, epoch=epochs))
    if close:
        log.close()
    return log


def commands(run_dir: Path) -> list[dict]:
    path = run_dir / COMMANDS_FILE
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def test_a_finished_run_is_replayed_to_its_final_state(tmp_path) -> None:
    write_run(tmp_path, 12)
    app = DashboardApp(CONFIG, watch=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.state.run_state == "finished", what="the replay")
        await wait_until(pilot, lambda: app.dashboard.caught_up, what="a frame")
        header = app.query_one(RunHeader).plain
        # The header shortens a long path to its last parts (pytest-xdist's are long).
        assert f"watching {tmp_path.name}" in header and "epoch 12/40" in header and "FINISHED" in header
        # the numbers of the log's last epoch (synthetic_run: 1.1 - 0.02 * epoch / (1 + i))
        assert app.dashboard.charts["lstm"].border_title == "LSTM train 0.8600 val 0.8700"
        assert app.state.flows["rnn"].horizon == 6


async def test_a_live_run_is_followed_as_its_log_grows(tmp_path) -> None:
    log = write_run(tmp_path, 2, final=None, close=False)
    try:
        app = DashboardApp(CONFIG, watch=tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: app.state.epoch == 2, what="the first epochs")
            await wait_until(pilot, lambda: app.watch_status == "live", what="the run's status")
            for event in synthetic_run(CONFIG, 5)[2 + 4 * 2:]:  # epochs 3 to 5
                log(event)
            await wait_until(pilot, lambda: app.state.epoch == 5, what="the new epochs")
            assert app.state.run_state == "running"
    finally:
        log.close()


async def test_keys_steer_a_live_run_through_its_command_file(tmp_path) -> None:
    log = write_run(tmp_path, 2, final=None, close=False)
    try:
        app = DashboardApp(CONFIG, watch=tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: app.watch_status == "live", what="the run's status")
            await pilot.press("space")
            await pilot.press("right_square_bracket")
            log(RunStateChanged(state="paused", epoch=2))  # what the trainer would answer
            await wait_until(pilot, lambda: app.state.run_state == "paused")
            await pilot.press("space", "n", "s")
            sent = [(c["command"], c.get("factor")) for c in commands(tmp_path)]
            assert sent == [("pause", None), ("scale_lr", 2.0), ("resume", None), ("step", None), ("stop", None)]
    finally:
        log.close()


async def test_keys_on_a_finished_run_send_nothing_and_say_why(tmp_path) -> None:
    write_run(tmp_path, 3)
    app = DashboardApp(CONFIG, watch=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.watch_status == "finished", what="the run's status")
        await pilot.press("space", "r")
        await pilot.pause()
        assert commands(tmp_path) == []
        messages = [n.message for n in notifications(app)]
        assert any("not live (finished)" in m for m in messages)
        assert any("restart or reconfigure it from the terminal that trains it" in m for m in messages)


async def test_a_run_whose_trainer_died_shows_as_stopped_with_the_reason(tmp_path) -> None:
    write_run(tmp_path, 3, final=None)  # the log ends mid-run and nobody holds the lock
    app = DashboardApp(CONFIG, watch=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.state.run_state == "stopped", what="the crash to show")
        await wait_until(pilot, lambda: app.dashboard.caught_up, what="a frame")
        assert "STOPPED (no process is training it (killed or crashed))" in app.query_one(RunHeader).plain


async def test_the_runs_status_is_judged_after_the_log_lines_read_before_it(tmp_path) -> None:
    # The follower queues the log's events, then reports that no process trains the run; the
    # replayed "running" must not land on top of the "stopped" that the status implies.
    write_run(tmp_path, 1, final=None)
    app = DashboardApp(CONFIG, watch=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        app.workers.cancel_group(app, "watch")  # this test plays the follower's part
        for event in synthetic_run(CONFIG, 2):
            app.receive(event)
        app.source.status_changed("crashed")
        await pilot.pause(3 * app.dashboard.pacer.pulse_s)
        assert app.state.run_state == "stopped"
        assert app.state.epoch == 2


async def test_a_torn_last_line_is_skipped_with_a_notice(tmp_path) -> None:
    write_run(tmp_path, 3, final=None)
    complete = len((tmp_path / EVENTS_FILE).read_text().splitlines())
    with (tmp_path / EVENTS_FILE).open("a") as f:
        f.write('{"event": "epoch_end", "mod')
    app = DashboardApp(CONFIG, watch=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: any("skipped" in n.message for n in notifications(app)), what="a notice")
        assert app.state.epoch == 3
        assert [n.message for n in notifications(app) if "skipped" in n.message] == [
            f"events.jsonl line {complete + 1} skipped: incomplete last line"
        ]


async def test_e_exports_metrics_and_the_screen_into_the_run_directory(tmp_path) -> None:
    write_run(tmp_path, 4)
    app = DashboardApp(CONFIG, watch=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.state.run_state == "finished")
        await pilot.press("e")
        await wait_until(pilot, lambda: any(n.title == "Exported" for n in notifications(app)), what="the export")
        metrics = (tmp_path / "metrics.csv").read_text().splitlines()
        assert metrics[0].startswith("epoch,model,train_loss")
        assert len(metrics) == 1 + 4 * 2
        assert (tmp_path / "screen.svg").read_text().startswith("<svg")
        note = next(n.message for n in notifications(app) if n.title == "Exported")
        assert str(tmp_path / "metrics.csv") in note and str(tmp_path / "screen.svg") in note


async def test_e_without_a_run_directory_says_so(tmp_path) -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("e")
        await pilot.pause()
        assert any("no run directory" in n.message for n in notifications(app))
        assert "watching" not in visible_text(app.query_one(RunHeader))


async def test_a_resumed_dashboard_notices_a_torn_line_and_logs_after_it_cleanly(tmp_path) -> None:
    write_run(tmp_path, 3, final=None)
    complete = len((tmp_path / EVENTS_FILE).read_text().splitlines())
    with (tmp_path / EVENTS_FILE).open("a") as f:
        f.write('{"event": "epoch_end", "mod')
    app = DashboardApp(CONFIG, run_dir=tmp_path, resume={}, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.state.epoch == 3  # the run so far, on screen before the resumed epochs
        assert [n.message for n in notifications(app)] == [
            f"events.jsonl line {complete + 1} skipped: incomplete last line"
        ]
        app.source.writer(RunStateChanged(state="running"))  # the resumed run's first event
        app.shutdown()
    lines = (tmp_path / EVENTS_FILE).read_text().splitlines()
    assert json.loads(lines[-1])["event"] == "state"  # a line of its own, not glued to the torn one


async def test_a_live_run_that_appends_at_every_poll_can_be_steered_at_once(tmp_path) -> None:
    # A fast run appends lines before each of the watcher's polls: its status must still be
    # known, so space pauses it (issue 16: the follow looked at the status only after a poll
    # that read no new lines, so the run was "not live ()" for as long as it trained).
    fast = RunConfig(series_length=300, look_back=10, epochs=100_000)
    log = RunDirectory(tmp_path).open_writer(fast)
    for event in synthetic_run(fast, 2):
        log(event)
    training = threading.Event()
    training.set()

    def train() -> None:  # an epoch every 20 ms: every 0.25 s poll finds new lines
        epoch = 2
        while training.is_set():
            epoch += 1
            for event in synthetic_run(fast, epoch)[-4:]:
                log(event)
            time.sleep(0.02)

    trainer = threading.Thread(target=train, daemon=True)
    trainer.start()
    try:
        app = DashboardApp(fast, watch=tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: app.state.epoch >= 10, what="epochs appended while watching")
            await pilot.press("space")
            await pilot.pause()
            assert [c["command"] for c in commands(tmp_path)] == ["pause"]
            assert not [n.message for n in notifications(app) if "not live" in n.message]
    finally:
        training.clear()
        trainer.join()
        log.close()
