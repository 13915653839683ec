"""`lstm-tui sweep`: bad invocations are one line and exit 2 with nothing started; a sweep runs its
trials as run directories the other commands read, reports them, skips them once finished, and
after a Ctrl+C resumes them from their checkpoints."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.events import RunStarted
from engine.rundir.directory import RunDirectory, RunStatus
from engine.sweep.follow import SweepFollower, TrialState
from engine.sweep.grid import Grid, SweepDirectory
from tui.cli.main import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--series-length", "300", "--look-back", "5", "--epochs", "2", "--device", "cpu", "--probe-every", "0"]
ECHO = ["--task", "echo", "--series-length", "300", "--lag", "2", "--epochs", "2", "--device", "cpu",
        "--probe-every", "0"]
WAIT_S = 120.0


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse exits by itself for a bad flag
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


# -- bad invocations: one line naming the problem, exit 2, nothing started ---------------------------

HUGE = "1" + "0" * 30
SWEEP_NUMBERS = {  # option: (what the line names, whole numbers only, 0 allowed)
    "--seeds": ("seeds", True, False),
    "--workers": ("--workers", True, False),
    "--cpus-per-trial": ("--cpus-per-trial", True, False),
    "--gpus-per-trial": ("--gpus-per-trial", False, False),
    "--success-loss": ("--success-loss", False, False),
}


def hostile_rows() -> list:
    rows = []
    for option, (named, _whole, zero_ok) in SWEEP_NUMBERS.items():
        values = {"negative": "-1", "huge": HUGE, "nan": "nan", "inf": "inf", "text": "lots"}
        if not zero_ok:
            values["zero"] = "0"
        for kind, value in values.items():
            extra = [] if option == "--seeds" else ["--seeds", "2"]
            rows.append(pytest.param(["sweep", *TINY, *extra, option, value], named, id=f"{option} {kind}"))
    return rows


BAD = [
    (["sweep"], "no grid"),
    (["sweep", *ECHO[:-2], "--lag", "1,,3"], "lag: an empty item in '1,,3'"),
    (["sweep", *TINY, "--lr", "0.01,"], "lr: an empty item"),
    (["sweep", *TINY, "--lr", "0.01,20"], "lr: 20 is out of range"),
    (["sweep", *TINY, "--hidden", "8,lots"], "hidden: 'lots' is not a whole number"),
    (["sweep", *TINY, "--batch-size", "full,half"], "batch-size"),
    (["sweep", *TINY, "--lag", "3,3"], "lag: 3 is listed twice"),
    (["sweep", *TINY, "--seeds", "2", "--seed", "1,2"], "not both"),
    (["sweep", *TINY, "--seed", "1,-1"], "seed: -1 is out of range"),
    (["sweep", *TINY, "--lag", ",".join(str(n) for n in range(1, 12)), "--seeds", "1000"],
     "the grid has 11,000 trials (11 lag x 1000 seeds); at most 10,000"),
    (["sweep", "--preset", "echo,weather"], "preset: unknown preset 'weather'"),
    (["sweep", "--task", "seed,weather"], "task: unknown task 'weather'"),
    (["sweep", "--task", "echo", "--look-back", "20", "--lag", "10,30"], "(at --lag 30)"),
    (["sweep", *TINY, "--models", "lstm,lstm"], "models: lstm is named twice"),
    (["sweep", *TINY, "--device", "cpu,tpu"], "device: 'tpu' is not a device"),
    (["sweep", *TINY, "--seeds", "2", "--executor", "dask"], "--executor"),
    (["sweep", *TINY, "--seeds", "2", "--executor", "ray"], "Ray is not installed: pip install 'lstm-tui[cluster]'"),
    (["sweep", *TINY, "--seeds", "2", "--ray-address", "127.0.0.1:6379"], "ray-address: only with --executor ray"),
    (["sweep", *TINY, "--seeds", "2", "--sweep-dir", ""], "--sweep-dir"),
    (["sweep", "--sweep-dir", "nowhere"], "sweep directory nowhere does not exist"),
    (["sweep", "--sweep-dir", "not-a-sweep"], "not-a-sweep is not a sweep directory (no sweep.json)"),
    (["sweep", *TINY, "--seeds", "2", "--sweep-dir", "not-a-sweep"], "not-a-sweep is not empty and holds no sweep"),
    (["sweep", *TINY, "--seeds", "3", "--sweep-dir", "other"], "other holds another sweep (its seeds are 0,1"),
    (["sweep", *TINY, "--seeds", "2", "--no-such-flag"], "--no-such-flag"),
]


@pytest.fixture
def nothing_may_start(monkeypatch, tmp_path) -> Path:
    """A sweep that starts fails the test; the working directory holds a folder that is no
    sweep and a sweep of two seeds (other)."""
    import tui.cli.sweep

    def started(*args, **kwargs):
        raise AssertionError("a bad invocation started a sweep")

    monkeypatch.setattr(tui.cli.sweep, "run_headless", started)
    monkeypatch.setattr("engine.sweep.executor.importlib.util.find_spec", lambda name: None)  # no Ray here
    monkeypatch.chdir(tmp_path)
    (tmp_path / "not-a-sweep").mkdir()
    (tmp_path / "not-a-sweep" / "notes.txt").write_text("mine")
    grid = build_parser("sweep").parse_args([*TINY[0:6], *TINY[6:], "--seeds", "2"])
    two = Grid.from_flags({k: getattr(grid, k) for k in ("series_length", "look_back", "epochs", "device",
                                                          "probe_every")}, seeds="2")
    SweepDirectory(tmp_path / "other").create(two)
    return tmp_path


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else b"" for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize(("argv", "named"), [*BAD, *hostile_rows()],
                         ids=[" ".join(a[1:])[-60:] for a, _ in BAD] + [r.id for r in hostile_rows()])
def test_a_bad_sweep_is_one_line_naming_it_exit_2_and_nothing_starts(argv, named, nothing_may_start, capsys):
    before = snapshot(nothing_may_start)
    code, out, err = run_main(argv, capsys)
    after = snapshot(nothing_may_start)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert named in lines[0]
    assert lines[0].startswith("lstm-tui sweep: error: ")
    assert "Traceback" not in err
    assert after == before  # nothing made, nothing overwritten


def test_there_are_at_least_15_bad_sweeps() -> None:
    assert len(BAD) >= 15


def test_every_numeric_option_of_the_sweep_has_hostile_rows() -> None:
    for action in build_parser("sweep")._actions:
        if action.metavar in ("SEEDS", "WORKERS", "CPUS", "GPUS", "NATS"):
            assert set(action.option_strings) & set(SWEEP_NUMBERS), action.option_strings


def test_a_missing_gpu_is_one_line(capsys, monkeypatch, tmp_path) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.chdir(tmp_path)
    code, _, err = run_main(["sweep", *TINY[:-4], "--device", "cpu,cuda", "--seeds", "2"], capsys)
    assert code == 2 and err.count("\n") == 1 and "cuda is not available" in err
    assert list(tmp_path.iterdir()) == []


# -- a sweep, for real -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory) -> tuple[Path, int, str]:
    """A sweep of 2 learning rates x 2 seeds on the tiny echo task, run to its end: its
    directory, exit status and stdout."""
    path = tmp_path_factory.mktemp("sweep") / "echo"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["sweep", *ECHO, "--lr", "0.01,0.05", "--seeds", "2", "--workers", "2",
                     "--sweep-dir", str(path)])
    return path, code, out.getvalue()


def test_a_sweep_runs_every_trial_as_a_run_directory(finished_sweep) -> None:
    path, code, out = finished_sweep
    assert code == 0, out
    names = sorted(p.name for p in (path / "trials").iterdir())
    assert names == ["lr-0.01_seed-0", "lr-0.01_seed-1", "lr-0.05_seed-0", "lr-0.05_seed-1"]
    for name in names:
        run = RunDirectory(path / "trials" / name)
        assert run.status() == RunStatus.FINISHED
        assert run.load_config().look_back == 7  # the echo task's lag 2 + 5


def test_a_sweep_records_its_grid_in_sweep_json(finished_sweep) -> None:
    path, _, _ = finished_sweep
    grid = SweepDirectory(path).load_grid()
    assert grid.axes == ("lr",) and grid.seeds == (0, 1) and grid.size == 4


def test_a_sweep_reports_each_point_and_model_in_csv_svg_and_a_table(finished_sweep) -> None:
    path, _, out = finished_sweep
    rows = list(csv.DictReader(io.StringIO((path / "summary.csv").read_text())))
    assert [(r["lr"], r["model"], r["trials"], r["planned"]) for r in rows] == [
        ("0.01", "lstm", "2", "2"), ("0.01", "rnn", "2", "2"), ("0.05", "lstm", "2", "2"), ("0.05", "rnn", "2", "2")]
    assert all(r["success_loss"] and r["rate_low"] and r["rate_high"] for r in rows)
    svg = (path / "summary.svg").read_text()
    assert svg.startswith("<svg") and "success&#160;rate&#160;(95&#160;%&#160;Wilson" in svg  # the chart's title
    assert "rate [95% CI]" in out and "learned" in out
    assert f"lstm-tui sweep --sweep-dir {path}" in out


def test_the_other_commands_read_a_sweep_s_trials_unchanged(finished_sweep, capsys) -> None:
    path, _, _ = finished_sweep
    code, out, _ = run_main(["runs", "--list", str(path / "trials")], capsys)
    assert code == 0 and len(out.strip().splitlines()) == 5  # the header and four trials
    assert "finished" in out
    code, out, _ = run_main(["watch", "--json", str(path / "trials" / "lr-0.01_seed-0")], capsys)
    assert code == 0 and json.loads(out.splitlines()[0])["event"] == "run_started"


def test_the_same_command_again_skips_the_finished_trials(finished_sweep, capsys) -> None:
    path, _, _ = finished_sweep
    logs = {p: p.read_bytes() for p in sorted((path / "trials").glob("*/events.jsonl"))}
    code, out, _ = run_main(["sweep", *ECHO, "--lr", "0.01,0.05", "--seeds", "2", "--sweep-dir", str(path)], capsys)
    assert code == 0
    assert "4 done, 0 to run" in out
    assert {p: p.read_bytes() for p in logs} == logs


def test_a_sweep_dir_alone_reattaches_and_json_prints_the_summary(finished_sweep, capsys) -> None:
    path, _, _ = finished_sweep
    code, out, _ = run_main(["sweep", "--sweep-dir", str(path), "--json"], capsys)
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(line["point"], line["model"], line["trials"]) for line in lines] == [
        ({"lr": "0.01"}, "lstm", 2), ({"lr": "0.01"}, "rnn", 2), ({"lr": "0.05"}, "lstm", 2), ({"lr": "0.05"}, "rnn", 2)]


def test_a_success_loss_given_decides_who_learned(finished_sweep, capsys) -> None:
    path, _, _ = finished_sweep
    code, out, _ = run_main(["sweep", "--sweep-dir", str(path), "--json", "--success-loss", "5"], capsys)
    assert code == 0
    assert {(line["successes"], line["success_loss"]) for line in map(json.loads, out.splitlines())} == {(2, 5.0)}


def test_a_sweep_another_process_runs_is_followed_to_its_end_not_run_twice(finished_sweep, capsys) -> None:
    path, _, _ = finished_sweep
    sweep = SweepDirectory(path)
    summary = (path / "summary.csv").read_bytes()
    held, release = threading.Event(), threading.Event()

    def runner() -> None:  # another lstm-tui sweep, as far as the directory can tell
        with sweep.held():
            held.set()
            release.wait(WAIT_S)

    thread = threading.Thread(target=runner, daemon=True)
    thread.start()
    held.wait(WAIT_S)
    threading.Timer(1.0, release.set).start()
    code, out, err = run_main(["sweep", "--sweep-dir", str(path), "--headless"], capsys)
    thread.join(WAIT_S)
    assert code == 0, err
    assert f"sweep {path} is being run by process {os.getpid()}: following it" in " ".join(out.split())
    assert "rate [95% CI]" in out  # its table, once that sweep ended
    assert (path / "summary.csv").read_bytes() == summary  # the runner's to write, not the follower's


# -- Ctrl+C, and the same command resuming ------------------------------------------------------------

@pytest.mark.slow  # about 30 s: a sweep process with its workers, then the rest of the sweep
def test_ctrl_c_mid_sweep_leaves_loadable_checkpoints_and_the_same_command_resumes_them(tmp_path, capsys):
    path = tmp_path / "sweep"
    argv = ["sweep", *TINY[:4], "--epochs", "12", "--batch-size", "4", "--device", "cpu", "--probe-every", "0",
            "--seeds", "3", "--workers", "2", "--sweep-dir", str(path), "--headless"]
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli.main", *argv], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + WAIT_S
    follower = None
    while follower is None or sum(v.epoch >= 1 for v in follower.views.values()) < 2:
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        if follower is None and SweepDirectory(path).is_sweep:
            grid = SweepDirectory(path).load_grid()
            follower = SweepFollower(SweepDirectory(path), grid)
        if follower is not None:
            follower.poll()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl+C: the sweep and every worker
    out, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 130, err
    assert "SIGINT: stopping every trial with a checkpoint" in out
    stopped = {}
    for run_dir in sorted((path / "trials").iterdir()):
        run = RunDirectory(run_dir)
        if run.status() == RunStatus.FINISHED:
            continue
        assert run.status() == RunStatus.STOPPED  # stopped cleanly, not crashed
        stopped[run_dir.name] = run.load_resume()[1]["epoch"]  # a loadable checkpoint
    assert stopped, "every trial had finished before the Ctrl+C"

    code, out, err = run_main(argv, capsys)
    assert code == 0, err
    follower = SweepFollower(SweepDirectory(path), SweepDirectory(path).load_grid())
    follower.poll()
    assert follower.counts()[TrialState.FINISHED] == 3
    for name, epoch in stopped.items():
        starts = [e.resumed_from_epoch for e in RunDirectory(path / "trials" / name).events()
                  if isinstance(e, RunStarted)]
        assert starts[-1] == epoch  # resumed from its checkpoint, not started again


# -- train: the echo task's look-back --------------------------------------------------------------------

def test_train_on_the_echo_task_takes_lag_plus_5_for_a_look_back_not_given(tmp_path, capsys) -> None:
    run_dir = tmp_path / "run"
    code, _, err = run_main(["train", "--task", "echo", "--lag", "3", "--series-length", "300", "--epochs", "1",
                             "--probe-every", "0", "--device", "cpu", "--run-dir", str(run_dir)], capsys)
    assert code == 0, err
    assert RunDirectory(run_dir).load_config().look_back == 8


def test_the_help_says_so() -> None:
    assert "LAG + 5" in " ".join(build_parser("train").format_help().split())
    text = " ".join(build_parser("sweep").format_help().split())
    assert "--lag N,..." in text and "not a grid axis" in text and "--seeds SEEDS" in text
