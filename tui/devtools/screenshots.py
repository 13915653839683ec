"""Regenerate the README's screenshots: ``python -m tui.devtools.screenshots [OUT_DIR]``.

Drives the dashboard with Textual's Pilot through short real runs and saves SVGs, plus PNG
copies when ``rsvg-convert`` (librsvg2-bin) is installed.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from engine.config import RunConfig, from_preset
from tui.dashboard.app import DashboardApp

OUT = Path(__file__).resolve().parents[2] / "screenshots"


async def _wait(pilot: Pilot, condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"screenshots: timed out waiting for {what}")
        await pilot.pause(0.1)


async def _frame(pilot: Pilot, app: DashboardApp) -> None:
    """Let the refresh timer draw the latest data, then let the screen settle."""
    await pilot.pause(3 / app.refresh_hz)
    app.redraw_now()  # redraws are paced on a busy box; a screenshot wants the latest
    await pilot.pause()


async def _paused_at(pilot: Pilot, app: DashboardApp, epochs: int, timeout: float) -> None:
    await _wait(pilot, lambda: app.state.epoch >= epochs, timeout, f"{epochs} epochs")
    await pilot.press("space")
    await _wait(pilot, lambda: app.state.run_state == "paused", 30, "pause")
    await _frame(pilot, app)


async def _shoot(config: RunConfig, size: tuple[int, int], name: str, out: Path,
                 script: Callable[[Pilot, DashboardApp], object]) -> Path:
    app = DashboardApp(config)
    async with app.run_test(size=size) as pilot:
        await script(pilot, app)  # type: ignore[misc]
        path = Path(app.save_screenshot(name, str(out)))
        app.shutdown()
    print(f"wrote {path}", flush=True)
    return path


async def main(out: Path, only: set[str] | None = None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    seed = from_preset("seed-10k", device="cpu")

    async def dashboard(pilot: Pilot, app: DashboardApp) -> None:
        await _paused_at(pilot, app, 60, 300)

    async def echo(pilot: Pilot, app: DashboardApp) -> None:
        await _wait(pilot, lambda: app.state.run_state == "finished", 1800, "the echo run")
        await _frame(pilot, app)

    async def help_screen(pilot: Pilot, app: DashboardApp) -> None:
        await _paused_at(pilot, app, 8, 300)
        await pilot.press("question_mark")
        await _frame(pilot, app)

    async def configure(pilot: Pilot, app: DashboardApp) -> None:
        await _paused_at(pilot, app, 8, 300)
        await pilot.press("c")
        await _frame(pilot, app)

    async def small(pilot: Pilot, app: DashboardApp) -> None:
        await _paused_at(pilot, app, 25, 300)

    # Three models train half as slowly again as the pair: fewer epochs, and more time for them.
    async def three_wide(pilot: Pilot, app: DashboardApp) -> None:
        await _paused_at(pilot, app, 40, 900)

    async def three_small(pilot: Pilot, app: DashboardApp) -> None:
        await _paused_at(pilot, app, 25, 900)
        app.dashboard.charts["gru"].focus()  # the GRU's column wide, the LSTM's and the RNN's condensed
        await _frame(pilot, app)

    three = seed.replace(models="lstm,rnn,gru")

    async def seattle(pilot: Pilot, app: DashboardApp) -> None:  # real weather, five classes, Markov lines
        await _paused_at(pilot, app, 12, 600)

    shots = [
        (seed, (120, 40), "dashboard.svg", dashboard),
        (seed, (120, 40), "help.svg", help_screen),
        (seed, (120, 40), "configure.svg", configure),
        (seed, (80, 24), "small.svg", small),
        (three, (120, 40), "three.svg", three_wide),
        (three, (80, 24), "three-small.svg", three_small),
        (from_preset("seattle", device="cpu", models="lstm,rnn,gru"), (120, 40), "seattle.svg", seattle),
        # Last: on a busy 2-core machine the echo run takes minutes.
        (from_preset("echo", device="cpu", epochs=14), (120, 40), "echo.svg", echo),
    ]
    return [
        await _shoot(config, size, name, out, script)
        for config, size, name, script in shots
        if not only or name.removesuffix(".svg") in only
    ]


async def sweep_screenshot(out: Path, size: tuple[int, int] = (120, 40)) -> Path:
    """``sweep.svg``: the live sweep screen on a real small sweep (the echo task, three lags x four
    seeds, every model, local workers), part way: cells filled in, trials running. Run it with
    ``python -c 'import asyncio; from tui.devtools.screenshots import OUT, sweep_screenshot, to_png;
    to_png([asyncio.run(sweep_screenshot(OUT))])'``."""
    import os
    import tempfile

    from engine.sweep.executor import ExecutorOptions
    from engine.sweep.grid import Grid, SweepDirectory
    from tui.sweep.app import SweepApp
    from tui.sweep.live import LiveSweep

    grid = Grid.from_flags({"preset": "echo", "lag": "5,10,20", "epochs": "12", "series_length": "3000",
                            "device": "cpu"}, seeds="4", models="lstm,gru,rnn")
    home = Path.cwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # the header shows the sweep's directory as a user would have typed it
        try:
            sweep = SweepDirectory(Path("sweeps/echo"))
            sweep.create(grid)
            live = LiveSweep(sweep, grid, options=ExecutorOptions())
            live.start()
            app = SweepApp(live)
            try:
                async with app.run_test(size=size) as pilot:
                    half = grid.size // 2
                    await _wait(pilot, lambda: live.counts()["done"] >= half and bool(live.running()), 1800,
                                "half the sweep's trials")
                    app.grid_table.focus()
                    await pilot.pause(1.5)  # a look since: the running trials' epochs are fresh
                    path = Path(app.save_screenshot("sweep.svg", str(out.resolve() if out.is_absolute()
                                                                     else home / out)))
            finally:
                live.finish(timeout=60)
        finally:
            os.chdir(home)
    print(f"wrote {path}", flush=True)
    return path


def to_png(svgs: list[Path]) -> None:
    converter = shutil.which("rsvg-convert")
    if converter is None:
        print("rsvg-convert not found (apt-get install librsvg2-bin): PNG copies skipped")
        return
    for svg in svgs:
        png = svg.with_suffix(".png")
        subprocess.run([converter, "-o", str(png), str(svg)], check=True)
        print(f"wrote {png}")


if __name__ == "__main__":
    # python -m tui.devtools.screenshots [OUT_DIR [NAME ...]]: NAME is dashboard, echo, help, configure,
    # small, three (three models at 120x40) or three-small (at 80x24).
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    to_png(asyncio.run(main(target, set(sys.argv[2:]) or None)))
