"""Paired figures for `lstm-tui bench`: engine / bare and dashboard / engine, each with a 95 %
interval, from short windows that take turns within one run.

Each setting trains in a process of its own: the bare loop (tui/bench/engine.py's BareLoop), the
engine's Session as `lstm-tui train` runs it, and the dashboard (tui/bench/dashboard.py's
GatedDashboard). Processes, not threads of one: libgomp spins less at its barriers once a process
holds more OpenMP threads than cores, so a second training thread, even idle, would slow every
setting alike. Each process trains a window of K epochs when told, then holds its training
thread at the epoch's end (``WindowGate``, on the training thread itself) until the next window:
no pause, no command, no checkpoint that a real run would not make. A run's wall-clock cadences
(a probe at most once a second, a checkpoint at most once per two) read a clock that stops while
it is held (``RunClock``), so a window gets the probes and checkpoints a continuous run would.

The windows go in triples, bare, engine, dashboard, then dashboard, engine, bare, and so on: each
ratio compares neighbours, a machine that slows across a triple charges each side alike, and the
load of a shared machine, which drifts over seconds, hits both windows of a pair alike. The
settings' processes are started afresh several times (sets, or rounds), since two processes of
one setting differ by a few percent by themselves. Each set's geometric mean of its pairs'
ratios is one sample; the interval is Student's t on their logarithms (a ratio's noise is
multiplicative), taken back to a ratio.

Each window also reads the CPU seconds of its setting's training threads from the threads' own
clocks (Linux's per-thread CPU clock, nanoseconds): the training thread and torch's intra-op
(OpenMP) workers, which are the native threads that appear in the process while its first window
trains; and the whole process's (the run log's and the sinks' delivery threads, the dashboard's
UI thread). Another process's load stretches wall time far more than these; not wholly, though:
an OpenMP thread whose partner has lost its core spins at the barrier, and that spinning is CPU
time. How long the training threads waited for a core is reported too (schedstat's run-queue
wait), as a measure of how disturbed each window was.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

from engine.config import RunConfig
from engine.sweep.summary import mean_interval

SETTINGS = ("bare", "engine", "dashboard")
RATIOS = (("engine", "bare"), ("dashboard", "engine"))  # each figure: its first over its second
TARGET = 0.97  # each ratio's target, met when its interval's lower bound reaches it
PAIRS = 8  # triples of windows in each set of processes
ROUNDS = 6  # sets of fresh processes at least; more, up to MAX_ROUNDS_FACTOR x, while an
MAX_ROUNDS_FACTOR = 4  # interval's half-width is wider than AIM
AIM = 0.02
# And for at most this long per setting (the machine drifts: it may never get there). At 300 s
# seed-10k's half-widths were 0.021 and 0.025 (13 sets); at 600 s, 0.010 and 0.019 (15 sets).
BUDGET_S = 600.0
# Why fresh processes, and the interval over them rather than over the pairs: two processes of
# one setting, side by side in the same windows (an A/A run), differed here by up to 3.5 %
# (0.966 [0.940, 0.992] over 30 pairs, and 0.970, 0.983, 0.991, 1.007 in the runs beside it):
# where a process's memory lands matters as much as what it runs. Pairs within one process
# set show the windows' noise, not that; sets of fresh processes sample it.
# About how long a window trains; a whole number of epochs, one at least. On this project's
# 2-core machine one engine against itself gave pairs whose log ratios spread by 0.06-0.07 at
# 0.3-0.6 s windows, 0.08-0.09 at 1.5 s and 0.08-0.13 at 2.5-8 s: its speed drifts by 7-14 %
# over seconds to minutes, with no steal time, in the training threads' own CPU clocks as much
# as on the wall. Short windows pair neighbours more closely and cost less.
WINDOW_S = 0.5
WARMUP_S = 2.0  # each process's untimed first window (at least WARMUP_MIN epochs)
WARMUP_MIN = 2
START_TIMEOUT_S = 300.0  # imports, data and models, and the first epoch, on a busy machine
SLOW_WINDOW = 30  # a window may take this many times its warm-up's pace before the bench gives up
RUN_FOREVER = 10_000_000  # epochs: the engine's runs end when the bench is done with them


# -- the figures -------------------------------------------------------------------------------


def ratio_interval(ratios: Sequence[float]) -> dict[str, Any]:
    """The geometric mean of paired ratios and its 95 % interval: Student's t on their logs."""
    logs = [math.log(r) for r in ratios]
    mean, low, high = mean_interval(logs)
    if mean is None:
        return {"ratio": None, "low": None, "high": None, "half_width": None, "pairs": 0, "each_pair": []}
    low_r = math.exp(low) if low is not None else None
    high_r = math.exp(high) if high is not None else None
    half = (high_r - low_r) / 2 if low_r is not None and high_r is not None else None
    return {"ratio": math.exp(mean), "low": low_r, "high": high_r, "half_width": half, "pairs": len(ratios),
            "each_pair": list(ratios)}


def triple_orders(triples: int, settings: Sequence[str] = SETTINGS) -> list[tuple[str, ...]]:
    """The order of the windows in each triple: as given, then reversed, alternately."""
    forward = tuple(settings)
    return [forward if i % 2 == 0 else forward[::-1] for i in range(triples)]


class Setting(Protocol):
    def window(self, epochs: int) -> dict[str, Any]:
        """Train ``epochs`` epochs now; what the window measured."""
        ...


def interleave(settings: Mapping[str, Setting], triples: int, epochs: int) -> dict[str, list[dict[str, Any]]]:
    """``triples`` rounds of one window of ``epochs`` epochs of every setting, in triple_orders."""
    windows: dict[str, list[dict[str, Any]]] = {name: [] for name in settings}
    for order in triple_orders(triples, list(settings)):
        for name in order:
            windows[name].append(settings[name].window(epochs))
    return windows


def widest(windows: Mapping[str, list[dict[str, Any]]]) -> float:
    """The widest half-width of the ratios' intervals (infinite while one has none)."""
    halves = [r["half_width"] for r in summarise(windows)["ratios"].values()]
    return max((math.inf if h is None else h for h in halves), default=0.0)


def _per_epoch(window: dict[str, Any], key: str) -> float:
    return window[key] / window["epochs"]


def summarise(windows: Mapping[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Epochs/s and CPU seconds per epoch of every setting, and each ratio of RATIOS with its interval."""
    out: dict[str, Any] = {"epochs_per_s": {}, "cpu_s_per_epoch": {}, "process_cpu_s_per_epoch": {},
                           "run_queue_wait_s_per_epoch": {}, "probes_per_epoch": {}, "checkpoints_per_epoch": {},
                           "cpu_between_windows_s": {}}
    for name, ws in windows.items():
        out["epochs_per_s"][name] = sum(w["epochs"] for w in ws) / sum(w["seconds"] for w in ws)
        for key, figure in (("training_cpu_s", "cpu_s_per_epoch"), ("process_cpu_s", "process_cpu_s_per_epoch")):
            mean, low, high = mean_interval([_per_epoch(w, key) for w in ws])
            out[figure][name] = {"mean": mean, "low": low, "high": high}
        epochs = sum(w["epochs"] for w in ws)
        out["run_queue_wait_s_per_epoch"][name] = sum(w.get("run_queue_wait_s", 0.0) for w in ws) / epochs
        out["probes_per_epoch"][name] = sum(w["probes"] for w in ws) / epochs
        out["checkpoints_per_epoch"][name] = sum(w["checkpoints"] for w in ws) / epochs
        out["cpu_between_windows_s"][name] = statistics.fmean(w["cpu_between_s"] for w in ws)
    out["ratios"], out["cpu_ratios"] = {}, {}
    for top, bottom in RATIOS:
        if top not in windows or bottom not in windows:
            continue
        pairs = list(zip(windows[top], windows[bottom]))
        key = f"{top}_over_{bottom}"
        rate = _over_rounds(pairs, lambda t, b: (t["epochs"] / t["seconds"]) / (b["epochs"] / b["seconds"]))
        rate["target"], rate["met"] = TARGET, rate["low"] is not None and rate["low"] >= TARGET
        out["ratios"][key] = rate
        # CPU seconds per epoch, top over bottom: above 1, the top setting's training costs more CPU.
        out["cpu_ratios"][key] = _over_rounds(
            pairs, lambda t, b: _per_epoch(t, "training_cpu_s") / _per_epoch(b, "training_cpu_s"))
    return out


def _over_rounds(pairs: Sequence[tuple[dict[str, Any], dict[str, Any]]],
                 ratio: Callable[[dict[str, Any], dict[str, Any]], float]) -> dict[str, Any]:
    """``ratio_interval`` over the sets of processes: each set's geometric mean of its pairs'
    ratios is one sample (windows without a ``round``: each pair is one). ``each_pair`` keeps
    every pair's ratio."""
    rounds: dict[Any, list[float]] = {}
    for i, (top, bottom) in enumerate(pairs):
        rounds.setdefault(top.get("round", ("pair", i)), []).append(ratio(top, bottom))
    means = [math.exp(statistics.fmean(math.log(r) for r in rs)) for rs in rounds.values()]
    figure = ratio_interval(means)
    figure.update(rounds=len(means), each_round=means, pairs=len(pairs),
                  each_pair=[r for rs in rounds.values() for r in rs])
    return figure


# -- the parent's side: one process per setting ----------------------------------------------


class SettingProcess:
    """One setting trained in a fresh interpreter, a window at a time (``window``).

    Commands go down one pipe (a number of epochs, or ``quit``), a JSON line per window comes
    back up another; stdout is thrown away and stderr kept in a file for the error message.
    """

    def __init__(self, kind: str, cfg: RunConfig) -> None:
        self.kind = kind
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        code = "from tui.bench.paired import _child; _child()"
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, kind, json.dumps(cfg.to_dict()), str(commands_read), str(replies_write)],
            pass_fds=(commands_read, replies_write), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self._stderr, env=env, cwd=root)
        os.close(commands_read)
        os.close(replies_write)
        self._buffer = b""
        self.timeout = START_TIMEOUT_S  # for a window's answer; longer once its epochs are known to be slow

    def ready(self, timeout: float = START_TIMEOUT_S) -> dict[str, Any]:
        """Wait for the setting to have built its data and models; its first message."""
        return self._reply(timeout)

    def window(self, epochs: int) -> dict[str, Any]:
        try:
            os.write(self._commands, f"{epochs}\n".encode())
        except BrokenPipeError:
            raise RuntimeError(f"the bench's {self.kind} process ended: {self._last_error()}") from None
        return self._reply(self.timeout)

    def _reply(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._replies], [], [], left)[0]:
                self.close()
                raise RuntimeError(f"the bench's {self.kind} process gave no answer in {timeout:.0f} s")
            chunk = os.read(self._replies, 65536)
            if not chunk:
                raise RuntimeError(f"the bench's {self.kind} process ended: {self._last_error()}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        reply = json.loads(line)
        if "error" in reply:
            self.close()
            raise RuntimeError(f"the bench's {self.kind} run failed: {reply['error']}")
        return reply

    def _last_error(self) -> str:
        self.process.wait(timeout=30)
        self._stderr.seek(0)
        lines = self._stderr.read().decode(errors="replace").strip().splitlines()
        return f"exit {self.process.returncode}: {lines[-1] if lines else 'no output'}"

    def close(self, timeout: float = 60.0) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                os.write(self._commands, b"quit\n")
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for fd in (self._commands, self._replies):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._commands = self._replies = -1
        self._stderr.close()


def paired_settings(cfg: RunConfig, *, pairs: int = PAIRS, rounds: int = ROUNDS, window_s: float = WINDOW_S,
                    kinds: Sequence[str] = SETTINGS, aim: float = AIM, max_rounds: int | None = None,
                    budget_s: float = BUDGET_S) -> dict[str, Any]:
    """Every setting of ``kinds`` on ``cfg``, in ``rounds`` sets of fresh processes, each set
    ``pairs`` triples of windows of about ``window_s`` seconds after an untimed warm-up window
    each; then one more set at a time while an interval's half-width is wider than ``aim``, up
    to ``max_rounds`` (MAX_ROUNDS_FACTOR x ``rounds``) and for ``budget_s`` seconds in all.
    The figures of ``summarise`` and how they were taken."""
    max_rounds = max(rounds, MAX_ROUNDS_FACTOR * rounds if max_rounds is None else max_rounds)
    started = time.monotonic()
    windows: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    epochs: int | None = None
    done = 0
    while done < max_rounds and (done < rounds or (time.monotonic() - started < budget_s and widest(windows) > aim)):
        info, warm, epochs = _one_round(cfg, kinds, pairs, window_s, epochs, windows, done)
        if done == 0:
            first_warm = warm
        done += 1
    figures = summarise(windows)
    figures.update(
        setting=cfg.label, models=list(cfg.model_names), batch_size=info[kinds[0]]["batch_size"],
        train_windows=info[kinds[0]]["train_windows"], rounds=done, min_rounds=rounds, max_rounds=max_rounds,
        pairs=len(windows[kinds[0]]), pairs_per_round=pairs, budget_s=budget_s, aim=aim, epochs_per_window=epochs,
        window_s=window_s, warmup_epoch_s=first_warm, intra_op_threads={k: info[k]["threads"] for k in kinds},
        intra_op_workers={k: windows[k][0]["workers"] for k in kinds}, seconds=time.monotonic() - started,
        windows=windows)
    return figures


def _one_round(cfg: RunConfig, kinds: Sequence[str], pairs: int, window_s: float, epochs: int | None,
               windows: dict[str, list[dict[str, Any]]], number: int) -> tuple[dict[str, Any], dict[str, float], int]:
    """One set of fresh processes, ``pairs`` triples of windows appended to ``windows`` (each
    marked with its ``round``). ``epochs`` per window: None in the first set, which sets it from
    its warm-up; (each setting's first message, its warm-up seconds per epoch, epochs)."""
    processes = {kind: SettingProcess(kind, cfg) for kind in kinds}
    try:
        info = {kind: process.ready() for kind, process in processes.items()}
        # One at a time: a warm-up window alone on the machine estimates the epoch's length.
        warm: dict[str, float] = {}
        for kind, process in processes.items():
            first = process.window(1)
            epoch_s = first["seconds"]
            more = max(WARMUP_MIN - 1, math.ceil((WARMUP_S - epoch_s) / max(epoch_s, 1e-3)))
            process.timeout = max(START_TIMEOUT_S, SLOW_WINDOW * more * epoch_s)
            rest = process.window(more)
            warm[kind] = rest["seconds"] / rest["epochs"]
        if epochs is None:
            epochs = max(1, round(window_s / statistics.median(warm.values())))
        for kind, process in processes.items():
            process.timeout = max(START_TIMEOUT_S, SLOW_WINDOW * epochs * warm[kind])
        taken = interleave(processes, pairs, epochs)
    finally:
        for process in processes.values():
            process.close()
    for kind, ws in taken.items():
        windows[kind] += [{**w, "round": number} for w in ws]
    return info, warm, epochs


# -- the child's side ------------------------------------------------------------------------


def thread_cpu_seconds(tid: int) -> float | None:
    """CPU seconds thread ``tid`` of this process has run so far (its kernel thread id, as
    threading.get_native_id gives it): Linux's per-thread CPU clock, which pthread_getcpuclockid
    names for a pthread; None once the thread has ended, or off Linux."""
    try:
        return time.clock_gettime(((~tid) << 3) | 6)  # CPUCLOCK_PERTHREAD | CPUCLOCK_SCHED
    except (OSError, OverflowError, AttributeError):
        return None


def run_queue_wait_seconds(tid: int) -> float | None:
    """Seconds thread ``tid`` of this process has spent ready to run but waiting for a core
    (schedstat's second figure): how much other load held it back; None where not known."""
    try:
        return int(Path(f"/proc/self/task/{tid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def native_threads() -> set[int]:
    """The kernel thread ids of this process's threads (empty off Linux)."""
    try:
        return {int(name) for name in os.listdir("/proc/self/task")}
    except OSError:
        return set()


def python_threads() -> set[int]:
    """The kernel thread ids of this process's Python threads."""
    return {t.native_id for t in threading.enumerate() if t.native_id is not None}


class RunClock:
    """time.monotonic, less the time the training thread has been held between windows: the
    clock a run's wall-clock cadences (probes, checkpoints) read in the bench's processes."""

    def __init__(self) -> None:
        self.held = 0.0  # written and read on the training thread only

    def __call__(self) -> float:
        return time.monotonic() - self.held


class WindowGate:
    """On the training thread: holds it at the end of each window until the next is asked for,
    and measures each window (wall seconds, CPU seconds, probes, checkpoints) as it ends.

    ``ready()`` (once the data and models are built) says so and waits for the first window;
    ``epoch_ended()`` after each epoch; ``event()`` is an engine sink (probes are counted, a
    failed run is said). ``quitting`` is set when the parent is done: the caller then ends.
    """

    def __init__(self, commands: int, replies: TextIO, *, before: set[int]) -> None:
        self.clock = RunClock()
        self.quitting = threading.Event()
        # Set by the setting: its checkpoints written so far; what to do as a hold begins and ends.
        self.checkpoints: Callable[[], int] = lambda: 0
        self.on_hold: Callable[[], None] = lambda: None
        self.on_release: Callable[[], None] = lambda: None
        self._commands = os.fdopen(commands, "rb", buffering=0)
        self._replies = replies
        self._before = before  # native threads before training began: not the training's
        self._tid: int | None = None
        self._workers: set[int] | None = None  # intra-op workers: known after the first window
        self._epochs = 0
        self._done = 0
        self._probes = 0
        self._last_model = ""
        self._start: tuple[float, float, float, float, int, float] = (0.0, 0.0, 0.0, 0.0, 0, 0.0)
        self._held_cpu = 0.0

    def _send(self, message: dict[str, Any]) -> None:
        self._replies.write(json.dumps(message) + "\n")
        self._replies.flush()

    def _sample(self) -> tuple[float, float, float, float, int, float]:
        """(monotonic, training thread's CPU s, its intra-op workers' CPU s, process CPU s,
        checkpoints, the training threads' run-queue wait s)."""
        now = time.monotonic()
        threads = ([self._tid] if self._tid is not None else []) + sorted(self._workers or ())
        train = thread_cpu_seconds(self._tid) if self._tid is not None else 0.0
        workers = sum(filter(None, (thread_cpu_seconds(t) for t in self._workers or ())))
        waited = sum(filter(None, (run_queue_wait_seconds(t) for t in threads)))
        return now, train or 0.0, workers, time.process_time(), self.checkpoints(), waited

    def ready(self, info: dict[str, Any]) -> None:
        self._tid = threading.get_native_id()
        self._send({"ready": True, **info})
        self._wait()

    def _wait(self, held_from: float | None = None) -> None:
        """Hold the training thread until the next window is asked for; held from ``held_from``
        (the last window's end), or from now."""
        held_from = time.monotonic() if held_from is None else held_from
        cpu_from = time.process_time()
        line = self._commands.readline().strip()
        if not line or line == b"quit":
            self.quitting.set()
            return
        self.on_release()
        self.clock.held += time.monotonic() - held_from
        self._held_cpu = time.process_time() - cpu_from
        self._epochs, self._done, self._probes = int(line), 0, 0
        self._start = self._sample()

    def epoch_ended(self) -> None:
        if self.quitting.is_set():
            return
        self._done += 1
        if self._done < self._epochs:
            return
        if self._workers is None:  # the first window (untimed): every thread torch started for training is there
            self._workers = native_threads() - python_threads() - self._before
        end = self._sample()
        self.on_hold()  # before the answer: the next window, in another process, starts on a quiet one
        start = self._start
        self._send({"epochs": self._done, "seconds": end[0] - start[0], "training_cpu_s": end[1] - start[1] +
                    end[2] - start[2], "thread_cpu_s": end[1] - start[1], "workers_cpu_s": end[2] - start[2],
                    "process_cpu_s": end[3] - start[3], "checkpoints": end[4] - start[4], "probes": self._probes,
                    "run_queue_wait_s": end[5] - start[5], "cpu_between_s": self._held_cpu,
                    "workers": len(self._workers)})
        self._wait(end[0])

    def event(self, event: Any) -> None:
        """An engine sink, on the training thread (an inline sink)."""
        name = event.name
        if name == "run_started":
            self._last_model = event.config["models"].split(",")[-1]
            if self._tid is None:  # the first run's data and models are built: ready
                batch = min(event.config["batch_size"] or event.train_windows, event.train_windows)
                self.ready(_info(event.train_windows, batch))
        elif name == "epoch_end" and event.model == self._last_model:
            self.epoch_ended()
        elif name == "gradient_flow" and event.model == self._last_model:
            self._probes += 1
        elif name == "run_failed":
            self._send({"error": event.message})
            self.quitting.set()


def _child() -> None:
    """Entry point of a SettingProcess: argv is the kind, the config, and the two pipes' ends."""
    from engine.allocator import keep_freed_memory

    keep_freed_memory()  # as lstm-tui does, before any thread of ours exists
    kind, cfg = sys.argv[1], RunConfig.from_dict(json.loads(sys.argv[2]))
    commands, replies = int(sys.argv[3]), os.fdopen(int(sys.argv[4]), "w", buffering=1)
    try:
        {"bare": _bare, "engine": _engine, "dashboard": _dashboard}[kind](cfg, commands, replies)
    except BaseException as exc:
        replies.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
        raise


def _info(train_windows: int, batch_size: int) -> dict[str, Any]:
    import torch

    return {"threads": torch.get_num_threads(), "train_windows": train_windows, "batch_size": batch_size}


def _bare(cfg: RunConfig, commands: int, replies: TextIO) -> None:
    import torch  # noqa: F401 - its threads (OpenBLAS's, say) are there before training's

    from tui.bench.engine import BareLoop, in_fresh_thread

    gate = WindowGate(commands, replies, before=native_threads())

    def train() -> None:  # not on the main thread, as the Session trains on a thread of its own
        loop = BareLoop(cfg)
        gate.ready(_info(len(loop.y), loop.batch_size))
        while not gate.quitting.is_set():
            loop.step()
            gate.epoch_ended()

    in_fresh_thread(train)


def patch_probe_clock(clock: RunClock) -> None:
    """The Session's probe schedule reads ``clock``: see the module's docstring."""
    import functools

    import engine.session
    from engine.probes import ProbeSchedule

    engine.session.ProbeSchedule = functools.partial(ProbeSchedule, clock=clock)  # type: ignore[misc]


def headless_session(cfg: RunConfig, directory: str | Path, inline_sinks: Sequence[Callable[[Any], None]]) -> Any:
    """The Session as `lstm-tui train` runs it, not yet started: its thread, a sink fed by a
    delivery thread of its own (as the command's progress display is), the run log and
    checkpoints in ``directory`` on their cadence, and ``inline_sinks`` on the training thread."""
    from collections import deque

    from engine.rundir.directory import RunDirectory
    from engine.session import Session

    writer = RunDirectory(directory).open_writer(cfg)
    display: deque[Any] = deque(maxlen=1000)  # what the command's progress display would read
    return Session(cfg, [display.append], inline_sinks=list(inline_sinks), run=writer)


def _engine(cfg: RunConfig, commands: int, replies: TextIO) -> None:
    import torch  # noqa: F401 - loaded before the threads are counted: none of its own is training's

    with tempfile.TemporaryDirectory() as tmp:
        gate = WindowGate(commands, replies, before=native_threads())
        session = headless_session(cfg.replace(epochs=RUN_FOREVER), tmp, [gate.event])
        checkpointer = session.checkpointer
        gate.checkpoints = lambda: checkpointer.written
        checkpointer.clock = gate.clock
        patch_probe_clock(gate.clock)
        session.start()
        gate.quitting.wait()
        session.close()


def _dashboard(cfg: RunConfig, commands: int, replies: TextIO) -> None:
    import torch  # noqa: F401 - loaded before the threads are counted: none of its own is training's

    from tui.bench.dashboard import gated_dashboard

    gate = WindowGate(commands, replies, before=native_threads())
    patch_probe_clock(gate.clock)
    gated_dashboard(cfg.replace(epochs=RUN_FOREVER), gate)
