"""The run header is one line at any width: its least important fields are abbreviated or
dropped first, the state and the epoch never (issue 16: at 80 columns it wrapped)."""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

from engine.config import RunConfig
from engine.events import RunStarted
from engine.rundir.directory import RunDirectory
from tests.tui.helpers import synthetic_run, visible_text, wait_until
from tui.dashboard.app import DashboardApp, EngineEvent
from tui.dashboard.system import GpuSample, SystemSample
from tui.widgets.header import RunHeader

CONFIG = RunConfig(series_length=300, look_back=10, epochs=40)
GPU = GpuSample(utilisation=63.0, memory_used=3 * 2**30, memory_total=80 * 2**30, temperature=61.0, source="nvml")
RUN_NAME = "20261127T163501Z-seed"


def watched_run(tmp_path: Path) -> Path:
    """A run whose header has every field at its longest: watched under a long path, on a
    named GPU, stopped with a reason (nobody trains it), 12 of 40 epochs."""
    run_dir = tmp_path / "a" / "fairly" / "deep" / "place" / "for" / "runs" / RUN_NAME
    events = synthetic_run(CONFIG, 12)
    started = events[0]
    assert isinstance(started, RunStarted)
    events[0] = dataclasses.replace(started, device="cuda:0", device_name="NVIDIA H200")
    log = RunDirectory(run_dir).open_writer(CONFIG)
    for event in events:
        log(event)
    log.close()  # the log ends mid-run: "no process is training it"
    return run_dir


async def header_at(pilot, app: DashboardApp, width: int, showing: str = "") -> str:  # noqa: ANN001 - Textual's Pilot
    """The header's line at ``width`` columns, once it shows ``showing`` (a reading given to the
    dashboard reaches the header on its next pulse, not at once)."""
    await pilot.resize_terminal(width, 30)
    await pilot.pause()
    header = app.query_one(RunHeader)
    await wait_until(pilot, lambda: header.size.width == width - 2, what=f"the header at {width} columns")
    await wait_until(pilot, lambda: showing in visible_text(header), what=f"the header showing {showing!r}")
    await pilot.pause()
    assert header.outer_size.height == 1
    [line] = visible_text(header).splitlines()
    return line.strip()


async def shown(tmp_path: Path, widths: list[int]) -> dict[int, str]:
    app = DashboardApp(CONFIG, watch=watched_run(tmp_path))
    async with app.run_test(size=(200, 30)) as pilot:
        await wait_until(pilot, lambda: app.state.run_state == "stopped", what="the replay")
        app.dashboard.add_system_sample(SystemSample(time.time(), 192.0, 371 * 2**20, GPU))
        return {width: await header_at(pilot, app, width) for width in widths}


async def test_the_header_is_one_line_with_state_and_epoch_at_every_width_from_40_to_200(tmp_path) -> None:
    for width, line in (await shown(tmp_path, list(range(40, 201, 8)))).items():
        assert "STOPPED" in line and "12/40" in line, (width, line)


async def test_at_120_columns_the_run_and_its_state_come_before_the_device_and_the_machine(tmp_path) -> None:
    line = (await shown(tmp_path, [120]))[120]
    # The elapsed time is the replayed log's own: a second or two on a busy machine.
    assert re.fullmatch(rf"watching {re.escape(RUN_NAME)}  epoch 12/40  STOPPED \(no process is training it "
                        r"\(killed or crashed\)\)  lr 0\.01  00:0\d", line), line


async def test_at_80_columns_the_state_and_its_reason_come_before_the_watched_run(tmp_path) -> None:
    assert (await shown(tmp_path, [80]))[80] == (
        "epoch 12/40  STOPPED (no process is training it (killed or crashed))  lr 0.01")


async def test_at_40_columns_the_state_and_the_epoch_stay_with_what_still_fits(tmp_path) -> None:
    assert (await shown(tmp_path, [40]))[40] == "epoch 12/40  STOPPED  lr 0.01  00:00"


async def test_where_everything_fits_everything_shows_between_bars(monkeypatch) -> None:
    # The real sampler reads this machine once a second: silenced, or its reading could come
    # after the one this test gives.
    monkeypatch.setattr("tui.dashboard.system.SystemSampler.sample", lambda self, now: None)
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(200, 30)) as pilot:
        for event in synthetic_run(CONFIG, 12):
            app.post_message(EngineEvent(event))
        await wait_until(pilot, lambda: app.state.epoch == 12, what="the epochs")
        app.dashboard.add_system_sample(SystemSample(time.time(), 192.0, 371 * 2**20, GPU))
        line = await header_at(pilot, app, 200, showing="cpu 192%")
    assert line.startswith("seed │ cpu │ epoch 12/40 │ RUNNING │ lr 0.01 │ ")
    assert line.endswith(" │ cpu 192% · 371 MB · gpu 63% 3.0/80.0 GB 61°C │ params LSTM 633 · RNN 183")
