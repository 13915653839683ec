"""`lstm-tui export DIR`: metrics.csv (tui/metrics.py) and the dashboard's screen as an SVG,
written beside the run's own log."""

from __future__ import annotations

import time
from pathlib import Path

from engine.rundir.directory import RunDirectory
from tui.metrics import write_metrics


def export_run(run_dir: Path, size: tuple[int, int] = (120, 40), timeout: float = 60.0) -> tuple[Path, Path]:
    """`lstm-tui export DIR`: metrics.csv, and the dashboard as it shows the run, as an SVG."""
    from engine.rundir.files import RunDirError
    from tui.dashboard.app import SCREEN_FILE, DashboardApp

    run = RunDirectory(run_dir)
    config = run.load_config()  # a one-line RunDirError for anything that is not a run
    events = list(run.events())
    if not any(event.name == "epoch_end" for event in events):
        raise RunDirError(f"{run.log_path} holds no finished epoch: nothing to export")
    metrics = write_metrics(run_dir, events)
    app = DashboardApp(config, watch=run_dir)
    shot: list[Path] = []

    async def screenshot(pilot) -> None:  # noqa: ANN001 - Textual's Pilot
        deadline = time.monotonic() + timeout
        while not app.watch_status and time.monotonic() < deadline:  # set once the log is replayed
            await pilot.pause(0.05)
        app.redraw_now()
        await pilot.pause()
        shot.append(Path(app.save_screenshot(SCREEN_FILE, str(run_dir))))
        app.exit(0)

    app.run(headless=True, size=size, auto_pilot=screenshot)
    if not shot:
        raise OSError(f"could not draw the run in {run_dir}")
    return metrics, shot[0]
