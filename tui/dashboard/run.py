"""Running the dashboard as the `lstm-tui` command: signals, the terminal, the exit code."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.config import RunConfig
from tui.dashboard.app import DashboardApp

if TYPE_CHECKING:
    from engine.rundir.log import CheckpointCadence


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
    on the command line wins over the file's.

    SIGHUP (the terminal is gone), SIGTERM and SIGINT end it like a quit: the worker stops
    between batches and writes its final checkpoint, the log is flushed and closed. The exit
    code is then 128 + the signal. After a hang-up the terminal's descriptors point at
    /dev/null first, so Textual's last writes to the dead terminal cannot fail.
    """
    import asyncio
    import signal

    from tui.cli.train import mute_fds, terminal_fds
    from tui.dashboard.prefs import display_options

    app = DashboardApp(config, run_dir=run_dir, resume=resume, cadence=cadence, ascii_only=ascii_only,
                       **display_options(refresh_hz, no_config))
    ttys = terminal_fds()  # before any hang-up: isatty() on a dead terminal says False

    def on_signal(signum: int) -> None:
        if signum == signal.SIGHUP:
            mute_fds(ttys)
        app.exit(return_code=128 + signum)

    async def run() -> Any:
        # Handlers on the event loop: they run on the app's thread, and wake it at once.
        loop = asyncio.get_running_loop()
        signals = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)
        for signum in signals:
            loop.add_signal_handler(signum, on_signal, signum)
        try:
            return await app.run_async()
        finally:
            for signum in signals:
                loop.remove_signal_handler(signum)

    try:
        result: Any = asyncio.run(run())
    finally:
        app.shutdown()
        app.wait_for_worker(timeout=30.0)
    return result if isinstance(result, int) else (app.return_code or 0)
