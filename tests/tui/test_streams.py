"""Every standard stream may be closed, full or a pipe whose reader went away: never a traceback,
never a hang, a sensible exit status (issue 16). What a command prints is its output, except for
`train` and `export`, whose output is the run directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import RunConfig
from engine.rundir.directory import RunDirectory
from tests.tui.helpers import synthetic_run

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--series-length", "300", "--look-back", "5", "--epochs", "2"]
CONFIG = RunConfig(series_length=300, look_back=10, epochs=3)
FULL = "No space left on device"


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """runs/R: a finished run of 3 epochs."""
    log = RunDirectory(tmp_path / "runs" / "R").open_writer(CONFIG)
    for event in synthetic_run(CONFIG, 3):
        log(event)
    log.close()
    return tmp_path / "runs"


def lstm_tui(args: list[str], cwd: Path, *, close: tuple[int, ...] = (), **streams: object) -> tuple[int, str]:
    """Exit status and stderr of `lstm-tui ARGS`, with descriptors ``close`` closed (`1>&-`)."""
    def closing() -> None:
        for fd in close:
            os.close(fd)

    streams.setdefault("stdin", subprocess.DEVNULL)
    if 2 not in close:
        streams.setdefault("stderr", subprocess.PIPE)
    result = subprocess.run([sys.executable, "-m", "tui.cli.main", *args], cwd=cwd, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, preexec_fn=closing if close else None,
                            **streams)
    err = (result.stderr or b"").decode()
    assert "Traceback" not in err and "Exception ignored" not in err, err
    return result.returncode, err


def gone_reader() -> int:
    """The write end of a pipe whose reader already went away (`| head -1`, once head is done)."""
    read, write = os.pipe()
    os.close(read)
    return write


PRINTING = {  # the commands whose output is what they print, and the name they give in messages
    "runs --list": (["runs", "runs", "--list"], "lstm-tui runs"),
    "watch --json": (["watch", "runs/R", "--json"], "lstm-tui watch"),
    "--help": (["--help"], "lstm-tui"),
    "train --help": (["train", "--help"], "lstm-tui train"),
}


@pytest.mark.parametrize("name", list(PRINTING))
def test_a_full_stdout_is_one_line_and_exit_1(name: str, runs: Path) -> None:
    args, prog = PRINTING[name]
    with open("/dev/full", "wb") as full:
        code, err = lstm_tui(args, runs.parent, stdout=full)
    assert code == 1
    assert err.splitlines() == [f"{prog}: error: cannot write to standard output: {FULL}"]


@pytest.mark.parametrize("name", list(PRINTING))
def test_a_closed_stdout_and_stderr_are_as_dev_null(name: str, runs: Path) -> None:
    code, _ = lstm_tui(PRINTING[name][0], runs.parent, close=(1, 2))
    assert code == 0


@pytest.mark.parametrize("name", list(PRINTING))
def test_a_reader_that_went_away_has_what_it_wanted(name: str, runs: Path) -> None:
    # Held before issue 16, in code it rewrote: kept so that it goes on holding.
    write = gone_reader()
    try:
        code, err = lstm_tui(PRINTING[name][0], runs.parent, stdout=write)
    finally:
        os.close(write)
    assert (code, err) == (0, "")


def test_export_to_a_full_stdout_says_so_but_its_files_are_its_output(runs: Path) -> None:
    with open("/dev/full", "wb") as full:
        code, err = lstm_tui(["export", "runs/R"], runs.parent, stdout=full)
    assert code == 0
    assert err.splitlines() == [f"lstm-tui export: error: cannot write to standard output: {FULL}"]
    assert (runs / "R" / "metrics.csv").exists() and (runs / "R" / "screen.svg").exists()


def complete_run(run_dir: Path) -> bool:
    """The run finished, and its log holds nothing but events: no stray output landed in it (a
    file opened while fd 1 or 2 was closed takes that number, and "stdout" would write into it)."""
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    return events[-1]["event"] == "state" and events[-1]["state"] == "finished"


def test_train_with_stdout_and_stderr_closed_trains_and_exits_0(tmp_path: Path) -> None:
    # `lstm-tui train ... 1>&- 2>&-`: the run directory is the output.
    code, _ = lstm_tui(["train", *TINY, "--run-dir", "R"], tmp_path, close=(1, 2))
    assert code == 0
    assert complete_run(tmp_path / "R")


def test_train_with_every_stream_closed_trains_and_exits_0(tmp_path: Path) -> None:
    code, _ = lstm_tui(["train", *TINY, "--run-dir", "R"], tmp_path, close=(0, 1, 2))
    assert code == 0
    assert complete_run(tmp_path / "R")
