"""The dashboard ends cleanly on SIGTERM or a hang-up: final checkpoint, complete log, exit 128 + signal."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest
import torch

from engine.events import EpochEnd, RunStateChanged
from engine.rundir.directory import CHECKPOINT_FILE, EVENTS_FILE, RunDirectory
from engine.rundir.log import read_events

ROOT = Path(__file__).resolve().parents[2]
ENDLESS = ["--series-length", "300", "--look-back", "5", "--epochs", "100000"]
WAIT = 60.0


class Terminal:
    """A pseudo-terminal the dashboard runs in; what it draws is read and dropped."""

    def __init__(self, *args: str) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tui.cli.main", *args], stdin=slave, stdout=slave, stderr=slave,
            cwd=ROOT, start_new_session=True,
            env={**os.environ, "TERM": "xterm-256color", "OMP_NUM_THREADS": "1"},
        )
        os.close(slave)
        self.screen = bytearray()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # closed: the terminal hung up
                return
            if not data:
                return
            self.screen += data

    def hang_up(self) -> None:
        os.close(self.master)


@pytest.fixture
def terminal():
    terminals: list[Terminal] = []

    def start(*args: str) -> Terminal:
        terminals.append(Terminal(*args))
        return terminals[-1]

    yield start
    for t in terminals:
        if t.proc.poll() is None:
            t.proc.kill()
            t.proc.wait()


def wait_for_epochs(run_dir: Path, n: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + WAIT
    while True:
        path = run_dir / EVENTS_FILE
        done = [e for e in read_events(path) if isinstance(e, EpochEnd)] if path.exists() else []
        if len(done) >= 2 * n:
            return
        assert proc.poll() is None, f"the dashboard ended early ({proc.returncode})"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def assert_ended_cleanly(run_dir: Path) -> None:
    events = list(read_events(run_dir / EVENTS_FILE))
    last = events[-1]
    assert isinstance(last, RunStateChanged) and last.state == "stopped"
    assert torch.load(run_dir / CHECKPOINT_FILE, weights_only=True)["epoch"] == last.epoch >= 2
    assert RunDirectory(run_dir).status() == "stopped"


def test_sigterm_ends_the_dashboard_with_a_final_checkpoint_and_exit_143(tmp_path, terminal):
    run_dir = tmp_path / "run"
    t = terminal(*ENDLESS, "--run-dir", str(run_dir), "--checkpoint-every", "0")
    wait_for_epochs(run_dir, 2, t.proc)
    t.proc.send_signal(signal.SIGTERM)
    assert t.proc.wait(WAIT) == 143
    assert_ended_cleanly(run_dir)
    assert b"\x1b[?1049l" in t.screen  # the terminal was given back (alternate screen left)


def test_a_hang_up_ends_the_dashboard_with_a_final_checkpoint_and_exit_129(tmp_path, terminal):
    run_dir = tmp_path / "run"
    t = terminal(*ENDLESS, "--run-dir", str(run_dir), "--checkpoint-every", "0")
    wait_for_epochs(run_dir, 2, t.proc)
    t.hang_up()  # every later write to the terminal fails (EIO)
    time.sleep(0.5)
    t.proc.send_signal(signal.SIGHUP)
    assert t.proc.wait(WAIT) == 129
    assert_ended_cleanly(run_dir)
