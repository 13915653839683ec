"""Without a terminal the full-screen commands say so in one line and exit 2, instead of writing a
screen's escape codes into a pipe and waiting for keys that never come (issue 16)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import RunConfig
from engine.rundir.directory import RunDirectory
from tests.tui.helpers import synthetic_run

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 60  # the old dashboard never ended: a timeout is the failure
CONFIG = RunConfig(series_length=300, look_back=10, epochs=3)


def lstm_tui(*args: str, cwd: Path, **streams: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "tui.cli.main", *args], cwd=cwd, timeout=TIMEOUT_S,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color"}, **streams)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    log = RunDirectory(tmp_path / "runs" / "R").open_writer(CONFIG)
    for event in synthetic_run(CONFIG, 3):
        log(event)
    log.close()
    return tmp_path / "runs" / "R"


def test_the_dashboard_with_stdin_not_a_terminal_says_so_and_makes_no_run(tmp_path: Path) -> None:
    # `lstm-tui --epochs 3 </dev/null | cat`
    result = lstm_tui("--epochs", "3", "--no-config", cwd=tmp_path, stdin=subprocess.DEVNULL,
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert result.returncode == 2
    assert result.stdout == b""
    assert result.stderr.decode().splitlines() == [
        "lstm-tui: error: the dashboard needs a terminal, and standard input is not one; without one, train "
        "headless with `lstm-tui train` and follow the run with `lstm-tui watch --json DIR`"]
    assert not (tmp_path / "runs").exists()  # refused before a run directory was made


def test_watch_into_a_file_says_so_and_points_to_json(tmp_path: Path, run_dir: Path) -> None:
    # `lstm-tui watch R </dev/null >file`
    with (tmp_path / "file").open("wb") as file:
        result = lstm_tui("watch", str(run_dir), "--no-config", cwd=tmp_path, stdin=subprocess.DEVNULL,
                          stdout=file, stderr=subprocess.PIPE)
    assert result.returncode == 2
    assert (tmp_path / "file").read_bytes() == b""
    assert result.stderr.decode().splitlines() == [
        f"lstm-tui watch: error: the dashboard needs a terminal, and standard input is not one; without one, "
        f"follow the run with `lstm-tui watch --json {run_dir}`"]


def test_the_runs_table_into_a_pipe_says_so_and_points_to_list(tmp_path: Path, run_dir: Path) -> None:
    result = lstm_tui("runs", str(run_dir.parent), cwd=tmp_path, stdin=subprocess.DEVNULL,
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert result.returncode == 2
    assert result.stdout == b""
    assert result.stderr.decode().splitlines() == [
        f"lstm-tui runs: error: the runs table needs a terminal, and standard input is not one; without one, "
        f"list the runs with `lstm-tui runs --list {run_dir.parent}`"]


def test_a_terminal_for_keys_but_a_pipe_for_stdout_is_refused_too(tmp_path: Path) -> None:
    # `lstm-tui | cat` typed at a terminal: the pipe wants text, not a screen.
    master, slave = pty.openpty()
    try:
        result = lstm_tui("--epochs", "3", "--no-config", cwd=tmp_path, stdin=slave, stdout=subprocess.PIPE,
                          stderr=slave)
        said = os.read(master, 65536).decode() if select.select([master], [], [], 1)[0] else ""
    finally:
        os.close(master)
        os.close(slave)
    assert result.returncode == 2
    assert result.stdout == b""
    assert "the dashboard needs a terminal, and standard output is not one" in said
    assert "\x1b[" not in said  # no screen was drawn on the terminal either
    assert not (tmp_path / "runs").exists()

