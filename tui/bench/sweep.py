"""`lstm-tui bench`'s sweep figures: how much of the machine a sweep of short trials uses.

A sweep of 2 x workers trials of the echo preset (seeds 0..n-1, SWEEP_EPOCHS epochs each) runs
with the local executor as `lstm-tui sweep --headless` runs it (one single-threaded trial per
core, worker processes that run trial after trial). Before it, in the same bench run, a lone
worker runs two trials of the same config one after the other: the second is the lone trial, on a
worker that has already run one, as every trial of a long sweep but each worker's first is.
Parallel efficiency is the sweep's trial-epochs per second over (workers x the lone trial's). A
trial's rate is over its own span, from its start (a worker took its run directory's lock, seen
within SAMPLE_S, or its first logged event if that came first) to its end (its last logged event); the sweep's over the span of all its trials,
so it is charged what each worker's first trial costs more than the others (``once_per_worker_s``). Starting a pool is reported
apart (``lead_s``), and so is the first pool's fork server, which imports torch once for every
worker forked from it (engine/sweep/executor.py's WORKER_PRELOAD).

That a worker does not import torch per trial shows in each worker's trials: each one's setup, the
wait before it (from the pool's start for a worker's first, from its previous trial's end for the
others) and the time from its start to its data and models built (its run_started event),
against what importing torch takes in a fresh interpreter (``torch_import_s``). Each worker's peak resident memory is its VmHWM, read while it
runs (the kernel keeps the peak: a sample misses nothing but what grows after the last one).
"""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.config import DEFAULT_MODELS
from engine.rundir.directory import RunDirectory
from engine.sweep.executor import ExecutorOptions, local_workers, make_executor
from engine.sweep.grid import Grid, SweepDirectory
from engine.sweep.trials import TrialJob, TrialOutcome

SWEEP_EPOCHS = 3  # per trial: short, so a sweep of 2 x cores trials takes a minute or so
SWEEP_FLAGS = {"preset": "echo"}  # the grid's fixed flags (`lstm-tui sweep`'s, as typed)
TARGET = 0.85
SAMPLE_S = 0.05  # how often the trials' lock files and the workers' memory are read


def peak_resident(pid: int) -> int | None:
    """Process ``pid``'s peak resident memory (VmHWM, bytes); None once it has gone (or off Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def torch_import_seconds() -> float:
    """Wall seconds for a fresh interpreter to import torch (and exit)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True, capture_output=True, timeout=300)
    return time.perf_counter() - started


class _Watcher(threading.Thread):
    """Reads, every SAMPLE_S while trials run, which worker holds each trial and each worker's peak memory."""

    def __init__(self, jobs: list[TrialJob]) -> None:
        super().__init__(name="lstm-tui-bench-sweep-watch", daemon=True)
        self.runs = {job.name: RunDirectory(Path(job.path)) for job in jobs}
        self.pids: dict[str, int] = {}  # trial -> the worker that trained it
        self.started: dict[str, float] = {}  # trial -> when its worker was first seen holding it
        self.peaks: dict[int, int] = {}  # worker -> its peak resident memory
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(SAMPLE_S):
            self.sample()

    def sample(self) -> None:
        for name, run in self.runs.items():
            if name not in self.pids and (pid := run.trainer_pid()) is not None:
                self.pids[name], self.started[name] = pid, time.time()
        for pid in set(self.pids.values()):
            if (peak := peak_resident(pid)) is not None:
                self.peaks[pid] = max(peak, self.peaks.get(pid, 0))


def trial_timeline(run: RunDirectory) -> dict[str, Any]:
    """A trial's first logged event, its data and models built (run_started), its first and last
    epoch ends (its last model's) and its end (its last logged event), wall-clock seconds; and
    its epochs."""
    ends: list[float] = []
    first_event: float | None = None
    built: float | None = None
    last_event = 0.0
    models: list[str] = []
    for event in run.events():
        first_event = event.time if first_event is None else first_event
        last_event = event.time
        if event.name == "run_started" and built is None:
            built, models = event.time, event.config["models"].split(",")
        elif event.name == "epoch_end" and models and event.model == models[-1]:
            ends.append(event.time)
    return {"first_event": first_event, "run_started": built, "first_epoch": ends[0] if ends else None,
            "last_epoch": ends[-1] if ends else None, "end": last_event, "epochs": len(ends)}


def run_trials(grid: Grid, root: Path, workers: int) -> dict[str, Any]:
    """Every trial of ``grid`` with the local executor's ``workers`` workers, in sweep directory
    ``root``; their timelines, the worker of each and each worker's peak memory."""
    sweep = SweepDirectory(root)
    outcomes: list[TrialOutcome] = []
    with sweep.held():
        sweep.create(grid)
        jobs = [TrialJob.of(sweep, trial) for trial in grid.trials]
        executor = make_executor(ExecutorOptions(workers=workers), {t.config.device for t in grid.trials},
                                 sweep.workers_log)
        watcher = _Watcher(jobs)
        watcher.start()
        started = time.time()
        try:
            executor.run(jobs, outcomes.append)
        finally:
            ended = time.time()
            watcher.done.set()
            watcher.join()
    failed = [o for o in outcomes if o.state != "finished"]
    if failed:
        raise RuntimeError(f"the bench's sweep trial {failed[0].name} ended {failed[0].state}: {failed[0].message}")
    trials = []
    for job in jobs:
        timeline = trial_timeline(sweep.trial(job.name))
        # Seen late (within SAMPLE_S), or not at all: a trial began by its first logged event.
        timeline["start"] = min(watcher.started.get(job.name, math.inf), timeline["first_event"])
        trials.append({"name": job.name, "pid": watcher.pids.get(job.name),
                       **{key: value - started if isinstance(value, float) else value
                          for key, value in timeline.items()}})
    span = max(t["end"] for t in trials) - min(t["start"] for t in trials)
    epochs = sum(t["epochs"] for t in trials)
    return {"trials": len(trials), "workers": workers, "wall_s": ended - started, "span_s": span,
            "lead_s": min(t["start"] for t in trials), "trial_epochs": epochs, "trial_epochs_per_s": epochs / span,
            "per_trial": trials, "peak_rss": {str(pid): peak for pid, peak in watcher.peaks.items()}}


def per_worker(run: dict[str, Any]) -> list[dict[str, Any]]:
    """Each worker's trials in the order it ran them: the wait before each (from the pool's start
    for its first trial, from its previous trial's end for the others) and each one's time from
    its start to its data and models built, and to its first epoch's end."""
    workers: dict[Any, list[dict[str, Any]]] = {}
    for trial in sorted(run["per_trial"], key=lambda t: t["start"]):
        workers.setdefault(trial["pid"], []).append(trial)
    out = []
    for pid, trials in workers.items():
        waits = [trials[0]["start"]] + [b["start"] - a["end"] for a, b in zip(trials, trials[1:])]
        out.append({"pid": pid, "trials": [t["name"] for t in trials], "wait_before_s": waits,
                    "start_to_run_started_s": [t["run_started"] - t["start"] for t in trials],
                    "start_to_first_epoch_s": [t["first_epoch"] - t["start"] for t in trials],
                    "peak_rss": run["peak_rss"].get(str(pid))})
    return out


def _setup_s(worker: dict[str, Any], index: int) -> float:
    """How long a worker's ``index``-th trial took to have its data and models built, from the
    pool's start (the first) or from the worker's previous trial's end (the others)."""
    return worker["wait_before_s"][index] + worker["start_to_run_started_s"][index]


def sweep_figures(flags: Mapping[str, str] = SWEEP_FLAGS, *, models: str = DEFAULT_MODELS, device: str = "auto",
                  epochs: int = SWEEP_EPOCHS, workers: int | None = None) -> dict[str, Any]:
    """The lone worker's two trials, then a sweep of 2 x ``workers`` trials (default: the local
    executor's own count, one per core), each of ``flags`` and ``epochs`` epochs; their rates, the
    parallel efficiency, each worker's trials and peak memory."""
    given = {**flags, "epochs": str(epochs), "device": device}
    workers = workers or local_workers(ExecutorOptions(), {device})[0]
    import_s = torch_import_seconds()
    with tempfile.TemporaryDirectory() as tmp:
        lone_run = run_trials(Grid.from_flags(given, seeds="2", models=models), Path(tmp) / "lone", 1)
        sweep = run_trials(Grid.from_flags(given, seeds=str(2 * workers), models=models), Path(tmp) / "sweep",
                           workers)
    lone = max(lone_run["per_trial"], key=lambda t: t["start"])  # the worker's second trial
    lone_rate = lone["epochs"] / (lone["end"] - lone["start"])
    efficiency = sweep["trial_epochs_per_s"] / (workers * lone_rate)
    workers_seen = per_worker(sweep) + per_worker(lone_run)
    firsts = [_setup_s(w, 0) for w in workers_seen]
    laters = [_setup_s(w, i) for w in workers_seen for i in range(1, len(w["trials"]))]
    peaks = [p for p in (w["peak_rss"] for w in per_worker(sweep)) if p is not None]
    config = Grid.from_flags(given, seed="0", models=models).trials[0].config
    return {
        "setting": config.label, "models": list(config.model_names), "epochs_per_trial": epochs,
        "batch_size": config.batch_size, "workers": workers, "threads_per_trial": 1,
        "lone_trial_epochs_per_s": lone_rate, "sweep_trial_epochs_per_s": sweep["trial_epochs_per_s"],
        "efficiency": efficiency, "target": TARGET, "met": efficiency >= TARGET,
        "torch_import_s": import_s,
        "first_trial_setup_s": firsts, "later_trial_setup_s": laters,
        # What each worker's first trial takes more than a later one to build its data and models.
        "once_per_worker_s": statistics.fmean(firsts) - statistics.fmean(laters) if laters else None,
        # A worker that imported torch for each trial would take about an import more for every one.
        "import_paid_per_trial": any(later > import_s / 2 for later in laters),
        "peak_rss_per_worker_max": max(peaks) if peaks else None,
        "peak_rss_per_worker_mean": statistics.fmean(peaks) if peaks else None,
        "lone": lone_run, "sweep": sweep, "per_worker": workers_seen,
    }


def print_sweep(figures: dict[str, Any]) -> None:
    """The sweep's lines of `lstm-tui bench`."""
    from engine.config import format_size

    lone, sweep = figures["lone"], figures["sweep"]
    met = "met" if figures["met"] else "NOT met"
    print(f"  sweep, {figures['setting']} ({', '.join(figures['models'])}), {sweep['trials']} trials x "
          f"{figures['epochs_per_trial']} epochs, local executor, {figures['workers']} workers x 1 thread")
    print(f"    lone trial              {figures['lone_trial_epochs_per_s']:8.3f} trial-epochs/s   (a lone worker's "
          f"second trial; its pool and fork server started in {lone['lead_s']:.1f} s)")
    print(f"    sweep                   {sweep['trial_epochs_per_s']:8.3f} trial-epochs/s   ({sweep['trial_epochs']} "
          f"trial-epochs in {sweep['span_s']:.1f} s; its pool started in {sweep['lead_s']:.2f} s)")
    print(f"    parallel efficiency     {figures['efficiency']:8.3f}   (target >= {figures['target']:g}: {met}; "
          f"sweep / ({figures['workers']} x lone))")
    seconds = lambda values: ", ".join(f"{v:.2f}" for v in values)  # noqa: E731
    once = figures["once_per_worker_s"]
    print(f"    torch per trial         {'PAID' if figures['import_paid_per_trial'] else 'not paid'}   (importing it "
          f"takes {figures['torch_import_s']:.1f} s; pool or previous trial to data and models built: workers' "
          "first trials "
          f"{seconds(figures['first_trial_setup_s'])} s, later ones {seconds(figures['later_trial_setup_s'])} s"
          + (f"; once per worker: {once:.2f} s" if once is not None else "") + ")")
    if figures["peak_rss_per_worker_max"] is not None:
        each = ", ".join(format_size(w["peak_rss"]) for w in figures["per_worker"][:figures["workers"]]
                         if w["peak_rss"] is not None)
        print(f"    peak memory per worker  {format_size(figures['peak_rss_per_worker_max']):>10}   (the sweep's "
              f"workers: {each}; VmHWM)")
