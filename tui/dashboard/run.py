"""Running the dashboard as the `lstm-tui` command: signals, the terminal, the exit code."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.config import RunConfig
from tui.dashboard.app import DashboardApp

if TYPE_CHECKING:
    from engine.rundir.log import CheckpointCadence
    from tui.cli.ending import Ending

WORKER_WAIT_S = 30.0  # after a quit: how long the final checkpoint may take (a long batch)
LAST_RESORT_WORKER_WAIT_S = 5.0  # after a signal whose shutdown hung: the same, in the last resort


def run_dashboard(
    config: RunConfig,
    *,
    refresh_hz: float | None = None,
    run_dir: Path | None = None,
    resume: dict[str, Any] | None = None,
    cadence: CheckpointCadence | None = None,
    no_config: bool = False,
    ascii_only: bool = False,
) -> int:
    """Run the dashboard until the user quits; the exit code for the command line.

    Display preferences come from config.toml (unless ``no_config``); a ``refresh_hz`` given
    on the command line wins over the file's. Signals and the terminal: see ``run_in_terminal``.
    """
    from tui.cli.ending import installed
    from tui.dashboard.prefs import display_options

    # Before the app exists (it takes the run's lock), so a signal from here on is handled.
    with installed(signal.SIGINT):
        app = DashboardApp(config, run_dir=run_dir, resume=resume, cadence=cadence, ascii_only=ascii_only,
                           **display_options(refresh_hz, no_config))
        return run_in_terminal(app)


class SignalledExecutor(ThreadPoolExecutor):
    """The loop's default executor, where Textual runs its thread workers: after a signal, the
    loop's end does not wait for them (one may be importing torch, for seconds)."""

    def __init__(self, ending: Ending) -> None:
        super().__init__(thread_name_prefix="asyncio")
        self.ending = ending

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=wait and self.ending.signum is None, cancel_futures=cancel_futures)


def run_in_terminal(app: DashboardApp) -> int:
    """Run ``app`` full screen until it exits; its exit code.

    SIGHUP (the terminal is gone), SIGTERM and SIGINT end it like a quit: the worker stops
    between batches and writes its final checkpoint, the log is flushed and closed, and the
    exit code is 128 + the signal. A terminal whose writes or reads fail is a hang-up too, SIGHUP
    or not. Nothing waits for ever on the terminal (tui/dashboard/terminal.py), and if the app
    has not ended a few seconds after the signal, tui/cli/ending.py's last resort closes the
    session and the log and ends the process; a second SIGTERM ends it at once.
    """
    import asyncio
    from functools import partial

    from textual.drivers.linux_driver import LinuxDriver

    from tui.cli.ending import installed
    from tui.dashboard.terminal import TerminalDriver, TerminalLink

    with installed(signal.SIGINT) as ending:
        link = TerminalLink(on_hang_up=ending.terminal_gone)
        if app.driver_class is LinuxDriver:  # not when TEXTUAL_DRIVER chose another
            app.driver_class = TerminalDriver.bound(link)

        def signalled(signum: int) -> None:  # on the ending's thread
            link.ending()
            if signum == signal.SIGHUP:
                link.close()  # the terminal is gone (or muted): nothing more is worth writing

        def last_resort() -> None:  # the app's own shutdown hung: the session, the log, the lock
            app.shutdown()
            app.wait_for_worker(timeout=LAST_RESORT_WORKER_WAIT_S)

        ending.on_signal(signalled)
        ending.hold(last_resort)

        async def run() -> Any:
            loop = asyncio.get_running_loop()
            loop.set_default_executor(SignalledExecutor(ending))
            # Through the app's message queue, which it reads only once mounted: an exit asked
            # for while it composes would leave it without widgets (Textual's mount is a no-op
            # once exiting), and its on_mount would fail on them: a traceback and exit code 1.
            ending.attach(lambda code: loop.call_soon_threadsafe(partial(app.call_later, app.exit, None, code)))
            try:
                return await app.run_async()
            finally:
                ending.ending_by_itself()

        try:
            result: Any = asyncio.run(run())
        finally:
            ending.ending_by_itself()  # also when the loop never ran
            app.shutdown()
            app.wait_for_worker(timeout=WORKER_WAIT_S)
        return result if isinstance(result, int) else (app.return_code or 0)
