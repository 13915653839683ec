"""`lstm-tui bench`'s sweep figures: parallel efficiency, each worker's trials, peak memory."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from engine.config import RunConfig
from engine.events import FINAL_STATES
from engine.rundir.directory import RunDirectory
from tui.bench.sweep import peak_resident, per_worker, print_sweep, sweep_figures, trial_timeline

# Long enough (about half a second a trial) that the watcher, sampling every SAMPLE_S, sees each
# trial's worker even on a loaded machine.
TINY_FLAGS = {"task": "seed", "series_length": "3000", "look_back": "5"}


def test_each_workers_trials_in_order_with_the_wait_before_each_and_the_time_to_its_first_epoch() -> None:
    run = {"peak_rss": {"7": 100}, "per_trial": [
        {"name": "b", "pid": 7, "start": 5.0, "run_started": 5.25, "first_epoch": 5.5, "end": 9.0},
        {"name": "a", "pid": 7, "start": 0.5, "run_started": 2.5, "first_epoch": 3.0, "end": 4.0},
        {"name": "c", "pid": 8, "start": 0.75, "run_started": 2.75, "first_epoch": 3.25, "end": 4.25},
    ]}
    workers = per_worker(run)
    assert [w["pid"] for w in workers] == [7, 8]
    assert workers[0]["trials"] == ["a", "b"]
    assert workers[0]["wait_before_s"] == [0.5, 1.0]  # from the pool's start; from a's end
    assert workers[0]["start_to_run_started_s"] == [2.0, 0.25]
    assert workers[0]["start_to_first_epoch_s"] == [2.5, 0.5]
    assert workers[0]["peak_rss"] == 100 and workers[1]["peak_rss"] is None


def test_a_trials_timeline_runs_from_its_first_to_its_last_event(tmp_path: Path) -> None:
    from engine.session import Session

    cfg = RunConfig(series_length=300, look_back=5, device="cpu", epochs=3, models="gru,lstm")
    done = threading.Event()
    writer = RunDirectory(tmp_path).open_writer(cfg)
    session = Session(cfg, [lambda e: done.set() if e.name == "state" and e.state in FINAL_STATES else None],
                      run=writer).start()
    assert done.wait(60)
    session.close()
    timeline = trial_timeline(RunDirectory(tmp_path))
    events = list(RunDirectory(tmp_path).events())
    lstm_ends = [e.time for e in events if e.name == "epoch_end" and e.model == "lstm"]
    assert timeline["epochs"] == 3
    assert (timeline["first_epoch"], timeline["last_epoch"]) == (lstm_ends[0], lstm_ends[-1])
    assert (timeline["first_event"], timeline["end"]) == (events[0].time, events[-1].time)
    assert timeline["run_started"] == next(e.time for e in events if e.name == "run_started")


def test_a_processs_peak_memory_is_its_high_water_mark() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; b = bytearray(64 * 2**20); del b; sys.stdin.read()"],
                             stdin=subprocess.PIPE)
    try:
        peak = None
        while peak is None or peak < 64 * 2**20:  # until its 64 MiB were touched
            if child.poll() is not None:
                pytest.fail("the child ended early")
            peak = peak_resident(child.pid)
        assert peak >= 64 * 2**20
    finally:
        child.communicate(b"")
    assert peak_resident(child.pid) is None  # gone (and reaped)
    assert peak_resident(os.getpid()) > 0


def _check_figures(figures: dict, workers: int, epochs: int) -> None:
    sweep, lone = figures["sweep"], figures["lone"]
    assert (sweep["trials"], lone["trials"], figures["workers"]) == (2 * workers, 2, workers)
    assert all(t["epochs"] == epochs for t in sweep["per_trial"] + lone["per_trial"])
    assert sweep["trial_epochs"] == 2 * workers * epochs
    assert sweep["trial_epochs_per_s"] == pytest.approx(sweep["trial_epochs"] / sweep["span_s"])
    assert figures["efficiency"] == pytest.approx(
        figures["sweep_trial_epochs_per_s"] / (workers * figures["lone_trial_epochs_per_s"]))
    assert figures["met"] == (figures["efficiency"] >= figures["target"])
    names = sorted(name for worker in figures["per_worker"] for name in worker["trials"])
    assert names == sorted(t["name"] for t in sweep["per_trial"] + lone["per_trial"])
    assert all(0 <= t["start"] <= t["run_started"] < t["first_epoch"] <= t["last_epoch"] <= t["end"]
               for t in sweep["per_trial"])
    assert figures["peak_rss_per_worker_max"] > 0 and figures["peak_rss_per_worker_mean"] <= figures[
        "peak_rss_per_worker_max"]
    # Every worker trained more than one trial here, and none imported torch for a later one.
    assert figures["later_trial_setup_s"] and not figures["import_paid_per_trial"]
    assert max(figures["later_trial_setup_s"]) < figures["torch_import_s"] / 2


def test_a_one_worker_sweep_reports_its_rates_efficiency_workers_and_memory(capsys) -> None:  # noqa: ANN001
    figures = sweep_figures(TINY_FLAGS, device="cpu", epochs=2, workers=1)
    _check_figures(figures, workers=1, epochs=2)
    print_sweep(figures)
    out = capsys.readouterr().out
    assert "parallel efficiency" in out and "peak memory per worker" in out


@pytest.mark.slow
def test_a_sweep_over_two_workers_spreads_its_trials() -> None:
    figures = sweep_figures(TINY_FLAGS, device="cpu", epochs=2, workers=2)
    _check_figures(figures, workers=2, epochs=2)
    assert len({t["pid"] for t in figures["sweep"]["per_trial"]}) == 2
