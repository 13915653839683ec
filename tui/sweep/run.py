"""The sweep screen full screen, taking turns with the dashboard of a trial opened from it.

``enter`` on a trial ends the sweep screen (tui/sweep/app.py) with an OpenTrial, and
``run_screen`` opens the normal dashboard on that trial: the app `lstm-tui watch DIR` runs,
watching and steerable through the trial's command file. Quitting the dashboard brings the sweep
screen back, as it was left; the trials run on all the while (the executor is the LiveSweep's,
not the screen's).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.sweep.executor import STOP_ASKED
from tui.sweep.app import SweepApp
from tui.sweep.live import LiveSweep, OpenTrial

if TYPE_CHECKING:
    from tui.dashboard.app import DashboardApp

LAST_RESORT_WAIT_S = 4.0  # after a signal whose ending ran out of time: the trials' last seconds


def trial_dashboard(live: LiveSweep, name: str) -> DashboardApp:
    """The dashboard `lstm-tui watch` opens, on trial ``name``: watching, steerable. RunDirError
    for a trial whose directory is not (yet) a run."""
    from engine.rundir.directory import RunDirectory
    from tui.ascii import locale_is_utf8
    from tui.dashboard.app import DashboardApp
    from tui.dashboard.prefs import display_options

    path = live.trial_dir(name)
    config = RunDirectory(path).load_config()
    return DashboardApp(config, watch=path, ascii_only=not locale_is_utf8(), **display_options(None, False))


AppRunner = Callable[..., int]


def run_screen(live: LiveSweep, *, run_sweep: AppRunner | None = None,
               run_trial: AppRunner | None = None) -> int:
    """The sweep screen until the user quits or a signal ends it; the exit status.

    A quit returns once the trials have stopped (the screen waits for them). A signal (or a
    hang-up) asks every trial to stop with a checkpoint and returns at once: the caller reports
    first, then waits with ``live.finish()``, since the process has only seconds left after a
    signal (tui/cli/ending.py), and a report is quicker than a trial's last batch and checkpoint.
    If time runs out first, the last resort waits for the trials a few seconds, then ends the workers.

    ``run_sweep(app, release=...)`` and ``run_trial(app)`` run an app full screen
    (tui.dashboard.terminal.run_in_terminal and tui.dashboard.run.run_app; a test passes its own).
    """
    from tui.cli.ending import current

    if run_sweep is None:
        from tui.dashboard.terminal import run_in_terminal as run_sweep
    if run_trial is None:
        from tui.dashboard.run import run_app as run_trial

    def signum() -> int | None:
        ending = current()
        return ending.signum if ending is not None else None

    ending = current()
    if ending is not None:  # the last resort, after a signal: the trials get a few seconds, then the kill
        ending.hold(lambda: live.finish(signum() or STOP_ASKED, timeout=LAST_RESORT_WAIT_S))
    live.start()
    while True:
        app = SweepApp(live)
        code = run_sweep(app, release=_release(app, live, signum))
        opened = app.return_value
        if not isinstance(opened, OpenTrial) or code or signum() is not None:
            return code
        try:
            dashboard = trial_dashboard(live, opened.name)
        except Exception as exc:  # noqa: BLE001 - the trial's directory changed since the screen looked
            live.memory.notice = f"cannot open {opened.name}: {exc}"
            continue
        code = run_trial(dashboard)
        if code or signum() is not None:  # a signal or a hang-up ended the dashboard: the sweep too
            live.stop(signum() or STOP_ASKED)
            return code or 128 + (signum() or 0)


def _release(app: SweepApp, live: LiveSweep, signum: Callable[[], int | None]) -> Callable[[float], None]:
    """What the terminal's runner gives back once the sweep screen has ended: after a signal, the
    trials are asked to stop (not waited for: see run_screen); after a quit they have stopped
    already; to open a trial, they go on."""

    def release(timeout: float) -> None:
        if live.active and (signum() is not None or not isinstance(app.return_value, OpenTrial)):
            live.stop(signum() or STOP_ASKED)

    return release
