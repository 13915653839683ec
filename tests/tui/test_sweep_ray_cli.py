"""`lstm-tui sweep --executor ray` on the command line: a bad Ray flag or a missing Ray is one line
and exit 2 with nothing written; a hang-up ends nothing, Ctrl+C stops every trial with a loadable
checkpoint in the sweep directory, the same command finishes them, and the local Ray instance the
sweep started is gone each time."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from engine.events import RunStarted
from engine.rundir.directory import RunDirectory, RunStatus
from engine.sweep.follow import SweepFollower, TrialState
from engine.sweep.grid import SweepDirectory
from tui.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--series-length", "300", "--look-back", "5", "--epochs", "2", "--device", "cpu", "--probe-every", "0",
        "--seeds", "2"]
WAIT_S = 120.0
HAS_RAY = importlib.util.find_spec("ray") is not None


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse exits by itself for a bad flag
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def one_line_exit_2(argv: list[str], capsys, tmp_path: Path) -> str:
    """Run ``argv`` in ``tmp_path``: exit 2, one line on stderr (returned), nothing written."""
    code, _, err = run_main(argv, capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lstm-tui sweep: error: "), err
    assert list(tmp_path.iterdir()) == []  # nothing made
    return lines[0]


def test_without_ray_the_ray_executor_is_one_line_saying_how_to_install_it(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails, as where it is not installed
    monkeypatch.chdir(tmp_path)
    line = one_line_exit_2(["sweep", *TINY, "--executor", "ray", "--sweep-dir", "s"], capsys, tmp_path)
    assert line.endswith("Ray is not installed: pip install 'lstm-tui[cluster]'")


def test_a_ray_the_executor_cannot_import_is_said_so_too(monkeypatch) -> None:
    from engine.sweep.ray_executor import RayExecutor, RayUnavailable

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(RayUnavailable, match=r"^Ray is not installed: pip install 'lstm-tui\[cluster\]'$"):
        RayExecutor(None, {"cpu"}).connect()


BAD_RAY = [
    (["--ray-address", "ray://head:10001"], "ray-address: ray://head:10001 is a Ray Client address"),
    (["--ray-address", "head"], "ray-address: 'head' is not HOST:PORT"),
    (["--ray-address", "127.0.0.1:99999"], "is not HOST:PORT"),
    (["--ray-address", "127.0.0.1:1"], "ray-address: no Ray cluster answers at 127.0.0.1:1"),
    (["--gpus-per-trial", "1.5"], "gpus-per-trial: 1.5 is more than one GPU but not a whole number"),
    (["--cpus-per-trial", "1024"], "cpus-per-trial: 1024 CPUs per trial, but a local Ray instance has"),
]


@pytest.mark.skipif(not HAS_RAY, reason="Ray is not installed")
@pytest.mark.parametrize(("flags", "said"), BAD_RAY, ids=[" ".join(f) for f, _ in BAD_RAY])
def test_a_ray_flag_ray_cannot_use_is_one_line_exit_2_before_anything_starts(flags, said, monkeypatch, tmp_path,
                                                                            capsys) -> None:
    monkeypatch.chdir(tmp_path)
    line = one_line_exit_2(["sweep", *TINY, "--executor", "ray", *flags, "--sweep-dir", "s"], capsys, tmp_path)
    assert said in line
    assert "ray" not in sys.modules or not sys.modules["ray"].is_initialized()  # no Ray was started


# -- Ctrl+C, and the same command resuming ----------------------------------------------------------

def ray_processes(root: str) -> list[str]:
    """The processes of a Ray instance whose files are under ``root`` (RAY_TMPDIR)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if root in cmdline:
                found.append(f"{proc.name}: {cmdline[:120]}")
    return found


def assert_no_ray_left(root: str) -> None:
    deadline = time.monotonic() + 30
    while (left := ray_processes(root)) and time.monotonic() < deadline:
        time.sleep(0.25)
    assert left == [], left


def epochs(follower: SweepFollower) -> int:
    follower.poll()
    return sum(view.epoch for view in follower.views.values())


@pytest.mark.slow  # about 50 s: two sweeps, each with a local Ray instance of its own
@pytest.mark.skipif(not HAS_RAY, reason="Ray is not installed")
def test_ctrl_c_stops_every_ray_trial_with_a_loadable_checkpoint_and_the_same_command_finishes_them(tmp_path):
    path = tmp_path / "sweep"
    ray_root = tempfile.mkdtemp(prefix="lt-ray-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    env = {**os.environ, "RAY_TMPDIR": ray_root, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    argv = [sys.executable, "-m", "tui.cli.main", "sweep", *TINY[:4], "--epochs", "8", "--batch-size", "4",
            "--device", "cpu", "--probe-every", "0", "--seeds", "3", "--executor", "ray", "--sweep-dir", str(path),
            "--headless"]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + WAIT_S
        follower = None
        while follower is None or sum(v.epoch > 0 for v in follower.running()) < 2:
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            if follower is None and SweepDirectory(path).is_sweep:
                follower = SweepFollower(SweepDirectory(path), SweepDirectory(path).load_grid())
            if follower is not None:
                follower.poll()  # the trials' files, here, while they train on Ray's workers
            time.sleep(0.05)
        # A terminal hanging up signals the whole process group, Ray's local instance too: it goes on.
        os.killpg(proc.pid, signal.SIGHUP)
        before = epochs(follower)
        while epochs(follower) <= before:
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl+C: the sweep's whole process group
        out, err = proc.communicate(timeout=WAIT_S)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    try:
        assert proc.returncode == 130, err
        assert "SIGINT: stopping every trial with a checkpoint" in out
        assert_no_ray_left(ray_root)  # the local instance went with the sweep
        stopped = {}
        for run_dir in sorted((path / "trials").iterdir()):
            run = RunDirectory(run_dir)
            if run.status() == RunStatus.FINISHED:
                continue
            assert run.status() == RunStatus.STOPPED, run_dir.name  # stopped cleanly, not crashed
            stopped[run_dir.name] = run.load_resume()[1]["epoch"]  # a loadable checkpoint, here
        assert stopped and max(stopped.values()) > 0, "no trial had trained when Ctrl+C came"

        again = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=WAIT_S)
        assert again.returncode == 0, again.stderr
        assert_no_ray_left(ray_root)
        follower = SweepFollower(SweepDirectory(path), SweepDirectory(path).load_grid())
        follower.poll()
        assert follower.counts()[TrialState.FINISHED] == 3
        for name, epoch in stopped.items():
            starts = [e.resumed_from_epoch for e in RunDirectory(path / "trials" / name).events()
                      if isinstance(e, RunStarted)]
            assert starts[-1] == epoch  # resumed from its checkpoint, not started again
    finally:
        shutil.rmtree(ray_root, ignore_errors=True)
