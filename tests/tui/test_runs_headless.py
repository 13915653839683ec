"""`lstm-tui train` outlives its terminal: killed, hung up, terminated or steered from another process,
it leaves a run directory that is complete up to its last epoch and can be resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from engine.events import Cause, EpochEnd, RunStateChanged
from engine.rundir.directory import CHECKPOINT_FILE, RunDirectory
from tui.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--series-length", "300", "--look-back", "5"]
ENDLESS = [*TINY, "--epochs", "100000"]
WAIT = 60.0
QUIET = 0.5


def train(run_dir: Path, *args: str) -> subprocess.Popen:
    """`lstm-tui train ... --run-dir run_dir`, its output on pipes."""
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli.main", "train", *args, "--run-dir", str(run_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # One intra-op thread: on a busy 2-core box a second one mostly waits (see tests/conftest.py).
        env={**os.environ, "COLUMNS": "100", "OMP_NUM_THREADS": "1"},
    )


def events(run_dir: Path) -> list:
    try:
        return list(RunDirectory(run_dir).events())
    except FileNotFoundError:
        return []


def run_status(run_dir: Path) -> str:
    return RunDirectory(run_dir).status()


def send_command(run_dir: Path, name: str) -> None:
    RunDirectory(run_dir).send(name)


def epochs_done(run_dir: Path) -> int:
    return max((e.epoch for e in events(run_dir) if isinstance(e, EpochEnd) and e.model == "rnn"), default=0)


def last_state(run_dir: Path) -> RunStateChanged | None:
    states = [e for e in events(run_dir) if isinstance(e, RunStateChanged)]
    return states[-1] if states else None


def wait_until(predicate, proc: subprocess.Popen, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"the process ended early ({proc.returncode}): {proc.stderr.read()}")
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


@pytest.fixture
def procs():
    """Processes a test started; any still running afterwards is killed."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigkill_mid_run_leaves_a_loadable_checkpoint_and_a_readable_log(tmp_path, procs):
    run_dir = tmp_path / "run"
    procs.append(proc := train(run_dir, *ENDLESS, "--checkpoint-seconds", "0"))  # a checkpoint every epoch
    wait_until(lambda: epochs_done(run_dir) >= 3, proc)
    proc.kill()
    proc.wait()
    checkpoint = torch.load(run_dir / CHECKPOINT_FILE, weights_only=True)
    assert checkpoint["epoch"] >= 1
    assert epochs_done(run_dir) >= checkpoint["epoch"]
    assert run_status(run_dir) == "crashed"


def test_a_killed_run_resumes_from_its_checkpoint(tmp_path, procs, capsys):
    run_dir = tmp_path / "run"
    procs.append(proc := train(run_dir, *ENDLESS, "--checkpoint-seconds", "0"))
    wait_until(lambda: epochs_done(run_dir) >= 2, proc)
    proc.kill()
    proc.wait()
    k = torch.load(run_dir / CHECKPOINT_FILE, weights_only=True)["epoch"]
    assert main(["train", "--resume", str(run_dir), "--epochs", str(k + 2)]) == 0
    assert epochs_done(run_dir) == k + 2
    assert run_status(run_dir) == "finished"


def test_commands_from_the_file_pause_resume_and_stop_a_running_train(tmp_path, procs):
    run_dir = tmp_path / "run"
    procs.append(proc := train(run_dir, *ENDLESS))
    wait_until(lambda: epochs_done(run_dir) >= 1, proc)
    assert run_status(run_dir) == "live"

    send_command(run_dir, "pause")
    wait_until(lambda: last_state(run_dir).state == "paused", proc)
    assert last_state(run_dir).cause == Cause.WATCHER
    paused_at = epochs_done(run_dir)
    time.sleep(QUIET)
    assert epochs_done(run_dir) == paused_at  # the epoch count stopped growing

    send_command(run_dir, "resume")
    wait_until(lambda: epochs_done(run_dir) >= paused_at + 2, proc)
    send_command(run_dir, "stop")
    assert proc.wait(WAIT) == 0
    applied = [e.command for e in events(run_dir) if e.name == "command"]
    assert applied == ["pause", "resume", "stop"]
    assert last_state(run_dir).state == "stopped"
    assert run_status(run_dir) == "stopped"


def test_train_survives_a_hang_up_and_finishes_with_its_output_gone(tmp_path, procs):
    run_dir = tmp_path / "run"
    procs.append(proc := train(run_dir, *TINY, "--epochs", "40"))
    wait_until(lambda: epochs_done(run_dir) >= 1, proc)
    send_command(run_dir, "pause")  # hold it, so the hang-up surely comes before the end
    wait_until(lambda: last_state(run_dir).state == "paused", proc)

    proc.stdout.close()  # the terminal is gone: every later write to stdout fails (EPIPE)
    proc.send_signal(signal.SIGHUP)
    time.sleep(QUIET)
    assert proc.poll() is None  # SIGHUP did not end it
    send_command(run_dir, "resume")
    assert proc.wait(WAIT) == 0
    assert "Traceback" not in proc.stderr.read()
    assert epochs_done(run_dir) == 40
    assert last_state(run_dir).state == "finished"
    assert torch.load(run_dir / CHECKPOINT_FILE, weights_only=True)["epoch"] == 40


def test_sigterm_stops_train_cleanly_with_a_final_checkpoint_and_exit_143(tmp_path, procs):
    run_dir = tmp_path / "run"
    procs.append(proc := train(run_dir, *ENDLESS, "--checkpoint-every", "0"))  # only the final one
    wait_until(lambda: epochs_done(run_dir) >= 2, proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    stopped = last_state(run_dir)
    assert (stopped.state, stopped.cause, stopped.reason) == ("stopped", Cause.SIGNAL, "stopped by SIGTERM")
    assert torch.load(run_dir / CHECKPOINT_FILE, weights_only=True)["epoch"] == stopped.epoch >= 2
    assert run_status(run_dir) == "stopped"


def test_train_writes_its_run_under_runs_in_the_current_directory_by_default(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", *TINY, "--epochs", "1"]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.endswith("Z-seed") and len(run_dir.name) == len("20261127T163501Z-seed")
    assert {p.name for p in run_dir.iterdir()} >= {"config.json", "events.jsonl", "checkpoint.pt"}
    assert str(run_dir.relative_to(tmp_path)) in capsys.readouterr().out


def test_a_non_finite_loss_stops_train_with_exit_1_and_says_why(tmp_path, monkeypatch):
    """Headless has no keyboard to resume a run paused by a bad loss: it stops it, by the pause's
    cause (never by matching its words)."""
    import io

    from rich.console import Console

    import engine.session
    from engine.config import RunConfig
    from engine.trainer import Trainer
    from tui.cli.train import run_headless

    class NanTrainer(Trainer):
        def __init__(self, cfg, device):  # noqa: ANN001
            super().__init__(cfg, device)
            self.loss_fn = lambda logits, targets: (
                torch.nn.functional.cross_entropy(logits, targets, reduction="sum") * float("nan"))

    monkeypatch.setattr(engine.session, "Trainer", NanTrainer)
    config = RunConfig(series_length=300, look_back=5, epochs=3, device="cpu")
    out = io.StringIO()
    assert run_headless(config, run_dir=tmp_path / "run", console=Console(file=out, width=100)) == 1
    stopped = last_state(tmp_path / "run")
    assert (stopped.state, stopped.cause) == ("stopped", Cause.NON_FINITE)
    assert "stopped after 0 epochs" in out.getvalue()
