"""A disk that fills while the dashboard or `lstm-tui train` runs: one alert (one line), the header
PAUSED with the reason, and once there is space a resume goes on; nothing raises on the way out."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.events import Cause, EpochEnd, RunStateChanged
from engine.rundir.directory import RunDirectory
from tests.engine.full_disk import NO_SPACE, FullDisk
from tests.tui.helpers import notifications, wait_until
from tui.cli.main import main
from tui.dashboard.app import DashboardApp
from tui.widgets.header import RunHeader

ROOT = Path(__file__).resolve().parents[2]
SIZE = (120, 40)
TINY = ["--series-length", "300", "--look-back", "5"]


def logged(run_dir: Path) -> list:
    try:
        return list(RunDirectory(run_dir).events())
    except FileNotFoundError:
        return []


def epochs_logged(run_dir: Path) -> int:
    return max((e.epoch for e in logged(run_dir) if isinstance(e, EpochEnd) and e.model == "rnn"), default=0)


def logged_disk_pause(run_dir: Path) -> bool:
    states = [e for e in logged(run_dir) if isinstance(e, RunStateChanged)]
    return bool(states) and states[-1].cause == Cause.DISK


def wait(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {condition}"
        time.sleep(0.05)


async def test_the_dashboard_says_the_disk_is_full_pauses_and_resumes_with_space(tmp_path, monkeypatch, endless):
    disk = FullDisk(monkeypatch)
    app = DashboardApp(endless, run_dir=tmp_path)
    state = app.state
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: state.run_state == "running" and state.epoch >= 2, what="2 epochs")
        disk.fill()
        header = app.query_one(RunHeader)
        await wait_until(pilot, lambda: "PAUSED" in header.plain and "cannot write events.jsonl" in header.plain,
                         what="the header naming the reason")
        [toast] = [n for n in notifications(app) if n.severity == "error"]
        assert f"{tmp_path / 'events.jsonl'}: {NO_SPACE}" in toast.message and " left)" in toast.message
        paused_at = state.epoch
        disk.free()
        await pilot.press("space")
        await wait_until(pilot, lambda: state.run_state == "running" and state.epoch >= paused_at + 2,
                         what="two more epochs")
        disk.fill()  # and quit on it: nothing raises
        await wait_until(pilot, lambda: state.run_state == "paused", what="the second pause")


def test_train_on_a_full_disk_says_so_in_one_line_and_a_resume_from_the_command_file_finishes(
        tmp_path, monkeypatch, capsys):
    disk = FullDisk(monkeypatch)
    run_dir = tmp_path / "run"

    def fill_then_free() -> None:  # as the user would: watch the run, free space, resume it
        wait(lambda: epochs_logged(run_dir) >= 2)
        disk.fill()
        time.sleep(0.5)
        disk.free()
        wait(lambda: logged_disk_pause(run_dir))  # the log caught up: a watcher sees the pause
        RunDirectory(run_dir).send("resume")

    helper = threading.Thread(target=fill_then_free, daemon=True)
    helper.start()
    code = main(["train", *TINY, "--epochs", "30", "--run-dir", str(run_dir)])
    helper.join(5)
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "cannot write" in line]
    assert code == 0 and "Traceback" not in out
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot write {run_dir / 'events.jsonl'}: {NO_SPACE} (")
    assert "finished after 30 epochs" in out


def _mount_tmpfs(path: Path, size: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    path.mkdir()
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """A real 200 KB filesystem (tmpfs: root only), unmounted afterwards."""
    path = tmp_path / "disk"
    if not _mount_tmpfs(path, "200k"):
        pytest.skip("mounting a tmpfs needs root")
    yield path
    subprocess.run(["umount", "-l", str(path)], check=False)


def test_train_on_a_real_200k_disk_pauses_in_one_line_and_goes_on_once_there_is_room(small_disk, tmp_path):
    run_dir, out = small_disk / "r", tmp_path / "out.txt"
    with open(out, "w") as stdout:
        proc = subprocess.Popen([sys.executable, "-m", "tui.cli.main", "train", *TINY, "--epochs", "100000",
                                 "--run-dir", str(run_dir)], cwd=ROOT, stdout=stdout, stderr=subprocess.STDOUT,
                                env={**os.environ, "COLUMNS": "100", "OMP_NUM_THREADS": "1"})
    try:
        wait(lambda: "cannot write" in out.read_text() or proc.poll() is not None)
        subprocess.run(["mount", "-o", "remount,size=20m", str(small_disk)], check=True)
        wait(lambda: logged_disk_pause(run_dir))
        paused_at = epochs_logged(run_dir)
        RunDirectory(run_dir).send("resume")
        wait(lambda: epochs_logged(run_dir) >= paused_at + 3)
        RunDirectory(run_dir).send("stop")
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = out.read_text()
    assert "Traceback" not in text
    assert len([line for line in text.splitlines() if "cannot write" in line]) == 1
    assert "stopped after" in text  # the final table
    assert RunDirectory(run_dir).load_resume()[1]["epoch"] >= paused_at
