"""Time from process start to the first painted frame: `lstm-tui` against Textual's own floor.

Each sample is a fresh process on a pseudo-terminal of its own, started as a user starts it,
and timed from just before it is spawned to the moment its first full screen has been read
from the terminal. The two apps alternate (lstm-tui, minimal, lstm-tui, ...), so a shared
machine's slow spells hit both alike, and the ratio of their medians is what is judged.

What counts as the first painted frame, the same for both: Textual paints a screen's first
frame as one full-screen update, each row after a cursor move to its start (``ESC[row;1H``,
textual/_compositor.py LayoutUpdate), the last row last, and then one more cursor move that
puts the terminal's cursor back. So the frame is complete once the output after the switch
to the alternate screen (``ESC[?1049h``) holds the move to the bottom row and a cursor move
after it. Textual's synchronized-update escapes (``ESC[?2026h``/``l``) would be a plainer
marker, but it sends them only once a terminal has answered its query for them, which may
come after the first frame: this pseudo-terminal answers nothing, as many terminals do.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path
from typing import Any

SIZE = (120, 40)  # columns, rows: the bench's dashboard size
TARGET_RATIO = 1.5  # issue 19: lstm-tui's first frame within 1.5 x the minimal app's
FRAME_TIMEOUT_S = 60.0  # a first frame later than this is a failure, not a figure
EXIT_TIMEOUT_S = 15.0  # after the signal to end: then it is killed
ALT_SCREEN = b"\x1b[?1049h"
CURSOR_MOVE = re.compile(rb"\x1b\[\d+;\d+H")

# The floor: the least a Textual app does before its first frame.
MINIMAL_APP = """
from textual.app import App, ComposeResult
from textual.widgets import Static


class Minimal(App):
    def compose(self) -> ComposeResult:
        yield Static("Hello, world")


Minimal().run()
"""


class FirstFrameError(RuntimeError):
    """A child ended, or drew nothing like a first frame, before FRAME_TIMEOUT_S."""


def lstm_tui_command() -> list[str]:
    """`lstm-tui` as a user starts it: the installed script beside this interpreter, or (not
    installed) what that script runs."""
    script = Path(sys.executable).with_name("lstm-tui")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-c", "import sys; from tui.cli.main import main; sys.exit(main())"]


def minimal_command() -> list[str]:
    return [sys.executable, "-c", MINIMAL_APP]


def frame_end(output: bytes, rows: int) -> int | None:
    """Where the first full-screen frame in ``output`` ends (see the module's docstring), or None
    while it is not all there."""
    start = output.find(ALT_SCREEN)
    if start < 0:
        return None
    bottom = output.find(b"\x1b[%d;1H" % rows, start)
    if bottom < 0:
        return None
    after = CURSOR_MOVE.search(output, bottom + 1)
    return after.end() if after is not None else None


def child_env(home: Path) -> dict[str, str]:
    """The user's environment, but a terminal of known kind, the preferences in ``home`` (none
    there: the defaults, and nothing of the user's read or written) and the bytecode cache.

    Both apps compile their modules once, into a cache under ``home`` (the untimed first pair),
    and read them from there after: as an installed package's are, and whatever this shell
    says about writing bytecode (PYTHONDONTWRITEBYTECODE would have one app compile its own
    modules at every start, and not the other's, installed with theirs)."""
    # COLUMNS and LINES would override the terminal's own size (shutil.get_terminal_size).
    dropped = ("NO_COLOR", "PYTHONDONTWRITEBYTECODE", "COLUMNS", "LINES")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTUAL") and k not in dropped}
    env.update(TERM="xterm-256color", COLORTERM="truecolor", XDG_CONFIG_HOME=str(home / "config"),
               PYTHONPYCACHEPREFIX=str(home / "pycache"))
    return env


def time_first_frame(command: list[str], *, cwd: Path, env: dict[str, str], stop: str,
                     size: tuple[int, int] = SIZE) -> float:
    """Seconds from spawning ``command`` on a fresh pseudo-terminal of ``size`` to its first
    painted frame read back. Then it is ended (``stop``: "term" sends SIGTERM, "ctrl+q" the
    key) and reaped, and the terminal closed.

    It is not made the session's controlling terminal: neither app needs one to draw, and the
    extra process that would set it up would add its own start to both figures.
    """
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
    output = bytearray()
    proc: subprocess.Popen[bytes] | None = None
    try:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env,
                                start_new_session=True, close_fds=True)
        os.close(slave)
        slave = -1
        deadline = started + FRAME_TIMEOUT_S
        painted: float | None = None
        while painted is None:
            if time.perf_counter() > deadline:
                raise FirstFrameError(f"{command[0]}: no first frame within {FRAME_TIMEOUT_S:.0f} s: "
                                      f"{_tail(output)}")
            if not select.select([master], [], [], 0.5)[0]:
                continue
            try:
                data = os.read(master, 1 << 16)
            except OSError:  # EIO: every holder of the terminal has gone
                data = b""
            if not data:
                raise FirstFrameError(f"{command[0]}: ended before its first frame (exit {proc.wait()}): "
                                      f"{_tail(output)}")
            now = time.perf_counter()
            output += data
            if frame_end(bytes(output), size[1]) is not None:
                painted = now
        return painted - started
    finally:
        if proc is not None:
            _end(proc, master, stop)
        if slave >= 0:
            os.close(slave)
        os.close(master)


def _end(proc: subprocess.Popen[bytes], master: int, stop: str) -> None:
    """End the child and reap it, reading its terminal meanwhile (a child blocked on a full
    terminal would never exit); kill its process group if it takes longer than EXIT_TIMEOUT_S."""
    with contextlib.suppress(OSError):
        if stop == "ctrl+q":
            os.write(master, b"\x11")
        else:
            proc.send_signal(signal.SIGTERM)
    deadline = time.perf_counter() + EXIT_TIMEOUT_S
    while proc.poll() is None and time.perf_counter() < deadline:
        if select.select([master], [], [], 0.05)[0]:
            try:
                if not os.read(master, 1 << 16):
                    break
            except OSError:
                break
    try:
        proc.wait(max(0.1, deadline - time.perf_counter()))
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _tail(output: bytearray) -> str:
    text = re.sub(rb"\x1b\[[0-9;?$>]*[A-Za-z]", b"", bytes(output)).decode(errors="replace").strip()
    return text[-300:] or "(nothing written)"


REPEATS = 9  # starts of each app: a median that two slow starts in a row (seen) cannot move far


def first_frame_figures(repeats: int = REPEATS) -> dict[str, Any]:
    """Seconds from process start to the first painted frame of `lstm-tui` (the default
    dashboard, in a fresh directory with fresh preferences) and of a minimal Textual app (one
    Static), ``repeats`` fresh processes of each, alternating, after one untimed pair (it
    fills the disk cache and the bytecode cache, as a user's every start but the first finds
    them).

    Returns each app's samples and median, lstm-tui's median over the minimal app's with its
    target (TARGET_RATIO), and each pair's own ratio (lstm-tui's start over the minimal app's
    right after it: adjacent starts see the same machine)."""
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    samples: dict[str, list[float]] = {"lstm_tui": [], "minimal": []}
    with tempfile.TemporaryDirectory(prefix="lstm-tui-first-frame-") as tmp:
        home = Path(tmp)
        env = child_env(home)
        apps = {
            # A run's directory goes under the current one (runs/): here, a fresh one each time.
            "lstm_tui": (lstm_tui_command(), "term"),
            "minimal": (minimal_command(), "ctrl+q"),
        }
        for i in range(repeats + 1):
            for name, (command, stop) in apps.items():
                cwd = home / f"{name}-{i}"
                cwd.mkdir()
                seconds = time_first_frame(command, cwd=cwd, env=env, stop=stop)
                if i > 0:
                    samples[name].append(seconds)
    lstm, minimal = statistics.median(samples["lstm_tui"]), statistics.median(samples["minimal"])
    return {
        "lstm_tui_s": lstm,
        "minimal_s": minimal,
        "ratio": lstm / minimal,
        "target_ratio": TARGET_RATIO,
        "met": lstm / minimal <= TARGET_RATIO,
        "samples": samples,
        "pair_ratios": [a / b for a, b in zip(samples["lstm_tui"], samples["minimal"])],
        "size": list(SIZE),
    }


def print_first_frame(figures: dict[str, Any]) -> None:
    """The figures as the bench prints them."""
    samples = figures["samples"]

    def listed(values: list[float]) -> str:
        return " ".join(f"{v:.2f}" for v in values)

    print(f"  first frame, lstm-tui     {figures['lstm_tui_s']:8.2f} s   (samples {listed(samples['lstm_tui'])})")
    print(f"  first frame, minimal app  {figures['minimal_s']:8.2f} s   (samples {listed(samples['minimal'])}; "
          "Textual, one Static)")
    verdict = "met" if figures["met"] else "not met"
    print(f"  lstm-tui / minimal        {figures['ratio']:8.2f}     (target <= {figures['target_ratio']:g}: {verdict}; "
          f"each pair {listed(figures['pair_ratios'])})")


if __name__ == "__main__":
    print_first_frame(first_frame_figures(int(sys.argv[1]) if len(sys.argv) > 1 else REPEATS))
