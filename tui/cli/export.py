"""`lstm-tui export DIR`: metrics.csv and predictions.csv (tui/metrics.py) and the dashboard's
screen as an SVG, written beside the run's own log."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from engine.rundir.directory import RunDirectory
from tui.metrics import write_tables

SKIP_NOTICES = 5  # lines of a log told one by one; of a log that is mostly not events, the count


def export_run(run_dir: Path, size: tuple[int, int] = (120, 40), timeout: float = 60.0) -> tuple[Path, ...]:
    """`lstm-tui export DIR`: metrics.csv, predictions.csv (a probability column per class of the
    run), and the dashboard as it shows the run, as an SVG; the paths written.

    A log line that is not an event is skipped, with a notice on stderr as `watch` gives it
    (the first few; then how many more) once the export has succeeded. Anything that stops the
    export is one RunDirError (or OSError) before any file is written: the screen is drawn
    first, and the CSVs written only once it is.
    """
    from engine.rundir.files import RunDirError
    from tui.dashboard.app import SCREEN_FILE, DashboardApp

    run = RunDirectory(run_dir)
    config = run.load_config()  # a one-line RunDirError for anything that is not a run
    skipped: list[str] = []
    events = list(run.events(lambda line, why: skipped.append(f"{run.log_path} line {line} skipped: {why}")))
    if not any(event.name == "epoch_end" for event in events):
        raise RunDirError(f"{run.log_path} holds no finished epoch: nothing to export")
    app = DashboardApp(config, watch=run_dir)
    shot: list[str] = []  # the screen's SVG, written as the run's own files are (RunDirectory.write_text)

    async def screenshot(pilot) -> None:  # noqa: ANN001 - Textual's Pilot
        deadline = time.monotonic() + timeout
        while not app.watch_status and time.monotonic() < deadline:  # set once the log is replayed
            await pilot.pause(0.05)
        if app.watch_status:  # else the dashboard never showed the whole log: no screen to save
            app.redraw_now()
            await pilot.pause()
            shot.append(app.export_screenshot())
        app.exit(0)

    app.run(headless=True, size=size, auto_pilot=screenshot)
    if not shot:
        raise RunDirError(f"could not draw the run in {run_dir}: the dashboard did not replay its log "
                          f"within {timeout:g} s")
    screen = run.write_text(SCREEN_FILE, shot[0])  # RunDirError for a link, a directory, a read-only file
    metrics, predictions = write_tables(run_dir, events)
    for note in skipped[:SKIP_NOTICES]:
        print(f"lstm-tui export: {note}", file=sys.stderr)
    if len(skipped) > SKIP_NOTICES:
        print(f"lstm-tui export: {len(skipped) - SKIP_NOTICES:,} more lines of {run.log_path} skipped",
              file=sys.stderr)
    return metrics, predictions, screen
