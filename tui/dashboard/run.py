"""Running the dashboard as the `lstm-tui` command: signals, the terminal, the exit code."""

from __future__ import annotations

import errno
import signal
import termios
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.config import RunConfig

if TYPE_CHECKING:
    from engine.config import CheckpointCadence
    from tui.dashboard.app import DashboardApp

WORKER_WAIT_S = 30.0  # after a quit: how long the final checkpoint may take (a long batch)
STANDARD_STREAMS = ("standard input", "standard output", "standard error")


class NoTerminal(Exception):
    """A full-screen app was asked for where there is no terminal; the message is one line."""


def require_terminal(app: str, instead: str) -> None:
    """Raise NoTerminal, saying what to use ``instead``, unless stdin, stdout and stderr are all
    a terminal. Textual reads keys from stdin and draws on stderr, and a stdout that is a pipe or
    a file wants text, not a screen's escape codes: without the check such an app writes them
    there and, reading no keys, never ends. Asked on the command line's path only, after the
    invocation's own checks; an App run headless (App.run_test, export) needs no terminal."""
    for fd, name in enumerate(STANDARD_STREAMS):
        if not _is_terminal(fd):
            raise NoTerminal(f"{app} needs a terminal, and {name} is not one; without one, {instead}")


def _is_terminal(fd: int) -> bool:
    """Whether ``fd`` is a terminal, or was one until it hung up (EIO): a hang-up is not a
    missing terminal, and ends the app as a hang-up does (exit 129, tui/cli/ending.py)."""
    try:
        termios.tcgetattr(fd)
    except termios.error as exc:  # ENOTTY: a file, a pipe, /dev/null; EBADF: closed
        return exc.args[0] == errno.EIO
    return True


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
    on the command line wins over the file's. Signals and the terminal: see ``run_app``.
    """
    from tui.cli.ending import installed
    from tui.dashboard.app import DashboardApp
    from tui.dashboard.prefs import display_options

    # Before the app exists (it takes the run's lock), so a signal from here on is handled.
    with installed(signal.SIGINT):
        app = DashboardApp(config, run_dir=run_dir, resume=resume, cadence=cadence, ascii_only=ascii_only,
                           **display_options(refresh_hz, no_config))
        return run_app(app)


def run_app(app: DashboardApp) -> int:
    """Run a dashboard (training, or watching a run) full screen until it exits; its exit code.

    SIGHUP (the terminal is gone), SIGTERM and SIGINT end it like a quit: the worker stops
    between batches and writes its final checkpoint, the log is flushed and closed (releasing
    the run's lock), and the exit code is 128 + the signal. tui/dashboard/terminal.py says how,
    whatever state the app is in.
    """
    from tui.dashboard.terminal import run_in_terminal

    def release(timeout: float) -> None:
        app.shutdown()
        app.wait_for_worker(timeout=timeout)

    return run_in_terminal(app, release=release, release_wait=WORKER_WAIT_S)
