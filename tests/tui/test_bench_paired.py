"""`lstm-tui bench`'s paired figures: the interval, the order of the windows, the CPU clocks, the
gate that holds a training thread between windows, and the bare loop against the Trainer."""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import time

import pytest
import torch

from engine.config import RunConfig
from engine.trainer import Trainer
from tui.bench import paired
from tui.bench.engine import BareLoop
from tui.bench.paired import (
    RATIOS,
    WindowGate,
    interleave,
    native_threads,
    paired_settings,
    python_threads,
    ratio_interval,
    run_queue_wait_seconds,
    summarise,
    thread_cpu_seconds,
    triple_orders,
)

TINY = RunConfig(series_length=300, look_back=5, device="cpu")


def test_the_ratio_interval_is_students_t_on_the_logs_of_the_ratios() -> None:
    # logs 0.1, 0.2, 0.3: mean 0.2, sd 0.1, t(2) = 4.302653, half width 4.302653 * 0.1 / sqrt(3) = 0.248414
    figure = ratio_interval([math.exp(0.1), math.exp(0.2), math.exp(0.3)])
    assert figure["ratio"] == pytest.approx(math.exp(0.2))
    assert figure["low"] == pytest.approx(math.exp(0.2 - 0.248414), abs=1e-6)
    assert figure["high"] == pytest.approx(math.exp(0.2 + 0.248414), abs=1e-6)
    assert figure["half_width"] == pytest.approx((figure["high"] - figure["low"]) / 2)
    assert figure["pairs"] == 3


def test_one_pair_has_a_ratio_but_no_interval() -> None:
    figure = ratio_interval([0.9])
    assert figure["ratio"] == pytest.approx(0.9) and figure["low"] is None and figure["half_width"] is None


class Recorder:
    """A fake setting: each window takes ``seconds`` and is recorded in ``order``."""

    def __init__(self, name: str, order: list[str], seconds: list[float]) -> None:
        self.name, self.order, self.seconds = name, order, iter(seconds)

    def window(self, epochs: int) -> dict:
        self.order.append(self.name)
        cpu = 0.1 * epochs
        return {"epochs": epochs, "seconds": next(self.seconds), "training_cpu_s": cpu, "process_cpu_s": cpu,
                "probes": 1, "checkpoints": 0, "cpu_between_s": 0.0}


def test_the_triples_turn_their_order_about_with_the_engine_in_the_middle() -> None:
    order: list[str] = []
    settings = {name: Recorder(name, order, [1.0] * 3) for name in ("bare", "engine", "dashboard")}
    windows = interleave(settings, triples=3, epochs=4)
    assert order == ["bare", "engine", "dashboard", "dashboard", "engine", "bare", "bare", "engine", "dashboard"]
    assert triple_orders(2, ("a", "b")) == [("a", "b"), ("b", "a")]
    assert all(len(ws) == 3 and all(w["epochs"] == 4 for w in ws) for ws in windows.values())


def test_each_ratio_pairs_the_windows_of_one_triple() -> None:
    order: list[str] = []
    seconds = {"bare": [1.0, 2.0], "engine": [1.25, 2.0], "dashboard": [1.25, 4.0]}
    settings = {name: Recorder(name, order, s) for name, s in seconds.items()}
    figures = summarise(interleave(settings, triples=2, epochs=10))
    assert figures["ratios"]["engine_over_bare"]["each_pair"] == pytest.approx([1.0 / 1.25, 1.0])
    assert figures["ratios"]["dashboard_over_engine"]["each_pair"] == pytest.approx([1.0, 0.5])
    assert figures["epochs_per_s"]["bare"] == pytest.approx(20 / 3.0)
    assert figures["cpu_s_per_epoch"]["engine"]["mean"] == pytest.approx(0.1)
    assert figures["probes_per_epoch"]["dashboard"] == pytest.approx(2 / 20)
    assert set(figures["ratios"]) == {f"{top}_over_{bottom}" for top, bottom in RATIOS}


class FakeProcess:
    """A stand-in for SettingProcess: the engine's windows take ``ENGINE_SECONDS[n]`` in its
    n-th process (one value per fresh process), every other window 1 s."""

    started: list[str] = []
    engine_seconds: list[float] = [1.0]

    def __init__(self, kind: str, cfg: RunConfig) -> None:
        self.kind = kind
        self.number = sum(k == kind for k in FakeProcess.started)
        FakeProcess.started.append(kind)
        self.timeout = 0.0

    def ready(self) -> dict:
        return {"batch_size": 100, "train_windows": 100, "threads": 2}

    def window(self, epochs: int) -> dict:
        seconds = 1.0
        if self.kind == "engine":
            seconds = FakeProcess.engine_seconds[self.number % len(FakeProcess.engine_seconds)]
        return {"epochs": epochs, "seconds": seconds * epochs, "training_cpu_s": 0.1 * epochs,
                "process_cpu_s": 0.1 * epochs, "probes": 0, "checkpoints": 0, "cpu_between_s": 0.0, "workers": 1}

    def close(self) -> None:
        pass


@pytest.fixture
def fake_processes(monkeypatch: pytest.MonkeyPatch) -> type[FakeProcess]:
    monkeypatch.setattr(paired, "SettingProcess", FakeProcess)
    FakeProcess.started = []
    return FakeProcess


@pytest.mark.parametrize(("engine_seconds", "sets"), [([1.0], 3), ([1.0, 1.25], 6)],
                         ids=["steady: no more than asked", "processes differ: on to the cap"])
def test_more_sets_of_fresh_processes_are_taken_only_while_an_interval_is_too_wide(
        fake_processes: type[FakeProcess], engine_seconds: list[float], sets: int) -> None:
    fake_processes.engine_seconds = engine_seconds
    figures = paired_settings(TINY, pairs=2, rounds=3, window_s=1.0, kinds=("bare", "engine"), max_rounds=6)
    assert figures["rounds"] == sets and figures["pairs"] == 2 * sets
    assert fake_processes.started == ["bare", "engine"] * sets  # every set starts afresh
    assert [w["round"] for w in figures["windows"]["engine"]] == [n for n in range(sets) for _ in range(2)]


def test_no_more_sets_are_taken_once_the_budget_is_spent(fake_processes: type[FakeProcess]) -> None:
    fake_processes.engine_seconds = [1.0, 1.25]
    figures = paired_settings(TINY, pairs=2, rounds=3, window_s=1.0, kinds=("bare", "engine"), max_rounds=6,
                              budget_s=0.0)
    assert figures["rounds"] == 3  # wide, but out of time: the sets asked for


def test_the_interval_is_over_the_sets_of_processes_not_the_pairs() -> None:
    def window(seconds: float, number: int) -> dict:
        return {"epochs": 1, "seconds": seconds, "training_cpu_s": 0.1, "process_cpu_s": 0.1, "probes": 0,
                "checkpoints": 0, "cpu_between_s": 0.0, "round": number}

    # Set 0: the engine 0.8 of bare in both pairs; set 1: 1.0 in both.
    windows = {"bare": [window(1.0, 0), window(1.0, 0), window(1.0, 1), window(1.0, 1)],
               "engine": [window(1.25, 0), window(1.25, 0), window(1.0, 1), window(1.0, 1)]}
    figure = summarise(windows)["ratios"]["engine_over_bare"]
    assert figure["each_round"] == pytest.approx([0.8, 1.0]) and figure["rounds"] == 2
    assert figure["ratio"] == pytest.approx(math.sqrt(0.8))
    over_sets = ratio_interval([0.8, 1.0])  # two samples, not four: the pairs of a set are not independent
    assert (figure["low"], figure["high"]) == pytest.approx((over_sets["low"], over_sets["high"]))
    assert figure["pairs"] == 4 and figure["each_pair"] == pytest.approx([0.8, 0.8, 1.0, 1.0])


def test_a_ratio_meets_its_target_only_when_its_lower_bound_does() -> None:
    order: list[str] = []
    # engine 0.99 and 0.95 of bare: a mean near 0.97, a lower bound far below it
    settings = {"bare": Recorder("bare", order, [1.0, 1.0]), "engine": Recorder("engine", order, [1 / 0.99, 1 / 0.95])}
    figure = summarise(interleave(settings, triples=2, epochs=1))["ratios"]["engine_over_bare"]
    assert figure["ratio"] == pytest.approx(math.sqrt(0.99 * 0.95))
    assert figure["low"] < 0.97 and figure["met"] is False


def test_a_busy_threads_cpu_clock_runs_and_an_idle_ones_stands_still() -> None:
    stop = threading.Event()
    ids: dict[str, int] = {}

    def busy() -> None:
        ids["busy"] = threading.get_native_id()
        while not stop.is_set():
            pass

    def idle() -> None:
        ids["idle"] = threading.get_native_id()
        stop.wait()

    threads = [threading.Thread(target=busy), threading.Thread(target=idle)]
    for thread in threads:
        thread.start()
    while len(ids) < 2:
        time.sleep(0.01)
    before = {name: thread_cpu_seconds(tid) for name, tid in ids.items()}
    time.sleep(0.5)
    after = {name: thread_cpu_seconds(tid) for name, tid in ids.items()}
    stop.set()
    for thread in threads:
        thread.join()
    busy_s, idle_s = (after[name] - before[name] for name in ("busy", "idle"))
    assert busy_s > 0 and busy_s > 20 * idle_s


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs Linux's per-thread affinity")
def test_two_threads_sharing_one_core_each_wait_for_it_about_as_long_as_they_run() -> None:
    stop = threading.Event()
    ids: list[int] = []
    core = min(os.sched_getaffinity(0))

    block = bytes(1 << 20)

    def spin() -> None:  # hashing a large buffer releases the GIL: both threads want the core at once
        os.sched_setaffinity(threading.get_native_id(), {core})
        ids.append(threading.get_native_id())
        while not stop.is_set():
            hashlib.sha256(block).digest()

    threads = [threading.Thread(target=spin) for _ in range(2)]
    for thread in threads:
        thread.start()
    while len(ids) < 2:
        time.sleep(0.01)
    before = [(thread_cpu_seconds(t), run_queue_wait_seconds(t)) for t in ids]
    time.sleep(0.6)
    after = [(thread_cpu_seconds(t), run_queue_wait_seconds(t)) for t in ids]
    stop.set()
    for thread in threads:
        thread.join()
    for (ran0, waited0), (ran1, waited1) in zip(before, after):
        assert waited1 - waited0 >= 0.5 * (ran1 - ran0) > 0  # one core for two: each waits its turn


def test_the_cpu_clock_of_a_python_thread_is_its_pthread_clock() -> None:
    """For a blocked thread (its clock stands still) both readings are the same number."""
    ready, stop = threading.Event(), threading.Event()
    thread = threading.Thread(target=lambda: (ready.set(), stop.wait()))
    thread.start()
    ready.wait()
    time.sleep(0.05)  # until it blocks in wait()
    ours = thread_cpu_seconds(thread.native_id)
    theirs = time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    stop.set()
    thread.join()
    assert ours == pytest.approx(theirs, abs=1e-4)


def test_torchs_intra_op_workers_are_native_threads_that_python_does_not_know() -> None:
    before = native_threads() - python_threads()
    found: list[set[int]] = []

    def train() -> None:
        torch.set_num_threads(2)
        x = torch.randn(512, 512)
        for _ in range(10):
            x @ x
        found.append(native_threads() - python_threads() - before)

    thread = threading.Thread(target=train)
    thread.start()
    thread.join()
    if torch.get_num_threads() < 2:
        pytest.skip("torch runs one thread here")
    assert found[0] and not found[0] & python_threads()


def test_the_gate_measures_a_window_and_its_clock_stops_while_held() -> None:
    commands_read, commands = os.pipe()
    replies_read, replies_write = os.pipe()
    gate = WindowGate(commands_read, os.fdopen(replies_write, "w"), before=native_threads())
    epochs_run: list[int] = []

    def train() -> None:
        gate.ready({"threads": 1})
        while not gate.quitting.is_set():
            epochs_run.append(len(epochs_run))
            sum(range(20_000))  # an epoch's work
            gate.epoch_ended()

    replies = os.fdopen(replies_read)
    thread = threading.Thread(target=train)
    thread.start()
    assert json.loads(replies.readline())["ready"] is True
    os.write(commands, b"3\n")
    first = json.loads(replies.readline())
    clock_before, monotonic_before = gate.clock(), time.monotonic()
    time.sleep(0.3)  # the training thread is held meanwhile
    waited = time.monotonic() - monotonic_before
    os.write(commands, b"2\n")
    second = json.loads(replies.readline())
    os.write(commands, b"quit\n")
    thread.join()
    assert (first["epochs"], second["epochs"]) == (3, 2) and len(epochs_run) == 5
    assert 0 < first["thread_cpu_s"] <= first["training_cpu_s"] and first["seconds"] > 0
    assert gate.clock.held >= waited  # the hold began before the answer and ended after the command
    assert gate.clock() - clock_before < time.monotonic() - monotonic_before


def _weights(models) -> list[torch.Tensor]:  # noqa: ANN001
    return [p.detach().clone() for model in models for p in model.parameters()]


@pytest.mark.parametrize("batch_size", [None, 64], ids=["full-batch", "mini-batch"])
def test_the_bare_loop_trains_on_the_trainers_batches_to_the_trainers_weights(batch_size: int | None) -> None:
    cfg = TINY.replace(batch_size=batch_size)
    trainer = Trainer(cfg, torch.device("cpu"))
    seen: list[torch.Tensor] = []
    original = trainer._encode  # each training batch's windows (validation's are encoded apart)
    trainer._encode = lambda starts: (seen.append(starts.clone()), original(starts))[1]  # type: ignore[method-assign]
    loop = BareLoop(cfg)
    drawn = []
    for _ in range(2):
        seen.clear()
        trainer.run_epoch(lambda: None, lambda event: None)
        drawn.append(loop.batches())
        if batch_size is None:
            assert drawn[-1] is None
            continue
        # the first model's batches, in order (the others train on the same)
        assert len(drawn[-1]) == math.ceil(len(trainer.data.train) / 64) == 4
        assert all(torch.equal(a, b) for a, b in zip(drawn[-1], seen[:4]))
    loop.shuffle.manual_seed(cfg.seed)  # the same two epochs again, trained this time
    for _ in range(2):
        loop.step()
    for ours, theirs in zip(_weights(loop.models), _weights(trainer.models.values())):
        assert torch.allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize("models", ["gru", "gru,lstm", "rnn,lstm,gru"])
def test_the_bare_loop_trains_the_runs_models_in_its_order(models: str) -> None:
    loop = BareLoop(TINY.replace(models=models))
    trainer = Trainer(TINY.replace(models=models), torch.device("cpu"))
    assert [type(m) for m in loop.models] == [type(m) for m in trainer.models.values()]
    assert all(torch.equal(a, b) for a, b in zip(_weights(loop.models), _weights(trainer.models.values())))


@pytest.mark.slow
def test_paired_settings_take_turns_in_processes_of_their_own() -> None:
    figures = paired_settings(TINY, pairs=2, rounds=2, window_s=0.2, max_rounds=2)
    windows = figures.pop("windows")
    assert set(windows) == {"bare", "engine", "dashboard"}
    assert all(len(ws) == 4 and all(w["epochs"] == figures["epochs_per_window"] for w in ws)
               for ws in windows.values())
    for key in ("engine_over_bare", "dashboard_over_engine"):
        ratio = figures["ratios"][key]
        assert ratio["rounds"] == 2 and ratio["pairs"] == 4 and ratio["low"] <= ratio["ratio"] <= ratio["high"]
        assert figures["cpu_ratios"][key]["rounds"] == 2
    for kind, ws in windows.items():
        assert all(0 < w["thread_cpu_s"] <= w["training_cpu_s"] <= w["process_cpu_s"] * 1.01 for w in ws), kind
        assert figures["intra_op_workers"][kind] == figures["intra_op_threads"][kind] - 1
    assert figures["train_windows"] == figures["batch_size"] == len(Trainer(TINY, torch.device("cpu")).data.train)
    assert figures["probes_per_epoch"]["bare"] == 0 and figures["checkpoints_per_epoch"]["bare"] == 0


def test_a_sessions_probe_schedule_reads_the_run_clock_once_patched(monkeypatch) -> None:  # noqa: ANN001
    import engine.session
    from tui.bench.paired import RunClock, patch_probe_clock

    monkeypatch.setattr(engine.session, "ProbeSchedule", engine.session.ProbeSchedule)  # restored afterwards
    clock = RunClock()
    patch_probe_clock(clock)
    schedule = engine.session.ProbeSchedule(TINY)
    assert schedule.clock is clock
    clock.held = 100.0  # a hundred seconds held: the schedule's time is that much behind
    assert schedule.clock() == pytest.approx(time.monotonic() - 100.0, abs=0.5)


def test_the_bench_dashboards_redraws_and_checkpoints_read_the_gates_clock(monkeypatch) -> None:  # noqa: ANN001
    """A window of the dashboard setting draws and checkpoints on the clock that stops while
    the gate holds the run, as its probes do: else each window would begin overdue."""
    from tui.bench.dashboard import GatedDashboard, gated_dashboard

    apps: list[GatedDashboard] = []
    original = GatedDashboard.__init__

    def recorded(self, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
        apps.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(GatedDashboard, "__init__", recorded)

    class Gate:
        clock = paired.RunClock()
        quitting = threading.Event()
        checkpoints = on_hold = on_release = None

        def event(self, event) -> None:  # noqa: ANN001
            if event.name == "epoch_end":
                self.quitting.set()

    gate = Gate()
    gated_dashboard(TINY.replace(epochs=50), gate)
    (app,) = apps
    assert app.dashboard.pacer.clock is gate.clock
    assert app.source.writer.checkpointer.clock is gate.clock
