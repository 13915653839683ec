"""A dashboard whose terminal hangs up (or that gets SIGTERM) at any moment of its start-up ends
within seconds: exit 128 + the signal, its lock released, its run stopped cleanly if it began.

The dashboard runs as the leader of its own session with the pseudo-terminal as its controlling
terminal, as a command typed over SSH does: closing the master is then a real hang-up, and the
kernel sends SIGHUP and SIGCONT (issue 21: Textual's SIGCONT handler started a second writer on
the dead terminal, and the process hung for good on Textual's output queue).
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.rundir.directory import CHECKPOINT_FILE, CONFIG_FILE, EVENTS_FILE, RunDirectory

ROOT = Path(__file__).resolve().parents[2]
ENDLESS = ["--series-length", "300", "--look-back", "5", "--epochs", "100000", "--checkpoint-every", "0",
           "--no-config"]
LIMIT_S = 8.0  # "within a few seconds": the app's grace period (3 s), then the last resort's
# Makes the pty its controlling terminal, then becomes the dashboard (same process). A terminal
# that hung up before that (closed within the first ~0.1 s on a busy machine) cannot become one:
# the process then gets the SIGHUP the kernel gives a login whose line dropped, not a traceback.
LEADER = ("import fcntl, os, signal, sys, termios\n"
          "try:\n    fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"
          "except OSError:\n    os.kill(os.getpid(), signal.SIGHUP)\n"
          "os.execv(sys.executable, [sys.executable, '-m', 'tui.cli.main', *sys.argv[1:]])")


class Terminal:
    """A pseudo-terminal the dashboard runs in, as its controlling terminal; what it draws is
    read and kept. ``stall`` stops its output, as a frozen link or Ctrl+S would."""

    def __init__(self, *args: str, size: tuple[int, int] = (80, 24)) -> None:
        self.master, self.slave = pty.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LEADER, *args], stdin=self.slave, stdout=self.slave, stderr=self.slave,
            cwd=ROOT, start_new_session=True,
            env={**os.environ, "TERM": "xterm-256color", "OMP_NUM_THREADS": "1"},
        )
        self.screen = bytearray()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        # select() first: a read blocked in another thread would keep the master open after close.
        while not self._stop.is_set():
            if not select.select([self.master], [], [], 0.02)[0]:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.screen += data

    def wait_for_screen(self, text: bytes, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            assert self.proc.poll() is None, f"the dashboard ended early ({self.proc.returncode})"
            assert time.monotonic() < deadline, f"{text!r} never drawn"
            time.sleep(0.05)

    def stall(self) -> None:
        termios.tcflow(self.slave, termios.TCOOFF)

    def hang_up(self) -> None:
        """Close the master: the kernel hangs the terminal up (SIGHUP and SIGCONT to the leader)."""
        self._stop.set()
        self._reader.join()
        os.close(self.slave)
        os.close(self.master)
        self.master = self.slave = -1

    def wait(self, timeout: float = LIMIT_S) -> tuple[int | None, float]:
        """The exit status (None: still running after ``timeout``) and how long it took."""
        start = time.monotonic()
        try:
            code: int | None = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
        return code, time.monotonic() - start

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.master >= 0:
            self.hang_up()


@pytest.fixture
def terminal():
    terminals: list[Terminal] = []

    def start(*args: str, **options) -> Terminal:
        terminals.append(Terminal(*args, **options))
        return terminals[-1]

    yield start
    for t in terminals:
        t.close()


def logged(run_dir: Path, event: str) -> list[dict]:
    path = run_dir / EVENTS_FILE
    if not path.exists():
        return []
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [line for line in lines if line.get("event") == event]


def problems_after_the_end(run_dir: Path) -> list[str]:
    """What is wrong with the run directory the dashboard left: its lock must be free, and a run
    that trained must have stopped cleanly, checkpoint written. Empty when all is well."""
    if not (run_dir / CONFIG_FILE).exists():
        return []  # it ended before making the run's directory
    status = RunDirectory(run_dir).status()
    if status == "live":
        return ["the run's lock is still held"]
    if logged(run_dir, "epoch_end"):
        problems = [] if status == "stopped" else [f"the run is {status}, not stopped"]
        if not (run_dir / CHECKPOINT_FILE).exists():
            problems.append("no checkpoint")
        return problems
    # Ended before training began: the log says so, or `lstm-tui runs` would call it crashed.
    return [] if status == "stopped" else [f"the run is {status}, not stopped"]


@dataclass
class Outcome:
    how: str
    at: float
    code: int | None
    took: float
    made_run: bool  # the run's directory had been made
    problems: list[str]

    def __str__(self) -> str:
        ended = "still running" if self.code is None else f"exit {self.code} after {self.took:.1f} s"
        return f"{self.how} at {self.at:.1f} s: {ended}; " + ("; ".join(self.problems) or "clean")


def end_at(tmp_path: Path, how: str, at: float) -> Outcome:
    run_dir = tmp_path / f"{how}-{at:.1f}"
    t = Terminal(*ENDLESS, "--run-dir", str(run_dir))
    try:
        time.sleep(at)
        if how == "close":
            t.hang_up()
        else:
            t.proc.send_signal(signal.SIGHUP)
        code, took = t.wait()
    finally:
        t.close()
    return Outcome(how, at, code, took, (run_dir / CONFIG_FILE).exists(), problems_after_the_end(run_dir))


def ended_as_it_should(outcome: Outcome, signum: int) -> bool:
    if outcome.code == -signum:
        # Killed by the signal itself: only before main ran (Python was starting), nothing made yet.
        return not outcome.made_run
    return outcome.code == 128 + signum and outcome.problems == []


@pytest.mark.slow
def test_a_hang_up_at_any_moment_of_start_up_ends_the_dashboard_with_129(tmp_path):
    # Every 100 ms of the first 3 s, by closing the terminal and by SIGHUP in turn, 3 at a time.
    trials = [("close" if i % 2 else "SIGHUP", i / 10) for i in range(1, 31)]
    with ThreadPoolExecutor(3) as pool:
        outcomes = list(pool.map(lambda trial: end_at(tmp_path, *trial), trials))
    wrong = [str(o) for o in outcomes if not ended_as_it_should(o, signal.SIGHUP)]
    assert not wrong, "\n".join(wrong)


def test_a_hang_up_right_after_the_first_frame_ends_the_dashboard_with_129(tmp_path, terminal):
    run_dir = tmp_path / "run"
    t = terminal(*ENDLESS, "--run-dir", str(run_dir))
    t.wait_for_screen(b"LSTM")
    t.hang_up()
    code, took = t.wait()
    assert code == 129, f"{code} after {took:.1f} s"
    assert problems_after_the_end(run_dir) == []


def test_a_hang_up_while_training_stops_the_run_with_a_checkpoint_and_exit_129(tmp_path, terminal):
    run_dir = tmp_path / "run"
    t = terminal(*ENDLESS, "--run-dir", str(run_dir))
    deadline = time.monotonic() + 60
    while len(logged(run_dir, "epoch_end")) < 4:  # two epochs of each model
        assert time.monotonic() < deadline and t.proc.poll() is None, "no epochs trained"
        time.sleep(0.1)
    t.hang_up()  # no SIGHUP sent by hand: the kernel's, with its SIGCONT
    code, took = t.wait()
    assert code == 129, f"{code} after {took:.1f} s"
    assert RunDirectory(run_dir).status() == "stopped" and (run_dir / CHECKPOINT_FILE).exists()


def test_sigterm_while_starting_ends_the_dashboard_with_143(tmp_path, terminal):
    run_dir = tmp_path / "run"
    t = terminal(*ENDLESS, "--run-dir", str(run_dir))
    t.wait_for_screen(b"\x1b[?1049h")  # application mode has begun; the first frame may not have
    t.proc.send_signal(signal.SIGTERM)
    code, took = t.wait()
    assert code == 143, f"{code} after {took:.1f} s"
    assert problems_after_the_end(run_dir) == []


def test_sigterm_ends_the_dashboard_even_when_its_terminal_stalls(tmp_path, terminal):
    run_dir = tmp_path / "run"
    t = terminal(*ENDLESS, "--run-dir", str(run_dir))
    t.wait_for_screen(b"LSTM")
    t.stall()  # Textual's writer now blocks for ever in write(); its queue fills behind it
    time.sleep(1.0)
    t.proc.send_signal(signal.SIGTERM)
    code, took = t.wait()
    assert code == 143, f"{code} after {took:.1f} s"
    assert problems_after_the_end(run_dir) == []


def test_a_second_sigterm_ends_the_dashboard_at_once(tmp_path, terminal):
    run_dir = tmp_path / "run"
    t = terminal(*ENDLESS, "--run-dir", str(run_dir))
    t.wait_for_screen(b"LSTM")
    t.stall()  # so the first SIGTERM's shutdown takes a while: its writes wait on the terminal
    t.proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    t.proc.send_signal(signal.SIGTERM)
    code, took = t.wait()
    assert code == 143 and took < 0.5, f"{code} after {took:.1f} s"
