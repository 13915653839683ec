"""`lstm-tui bench`: each figure comes from a real run of the loop it names."""

from __future__ import annotations

import threading
import types
from pathlib import Path

import pytest

from engine.config import RunConfig
from tui.bench.dashboard import epoch_end_times, epochs_done, interleaved_dashboard, key_latencies
from tui.bench.engine import in_fresh_thread

TINY = RunConfig(series_length=300, look_back=5, device="cpu")


def test_epoch_end_times_are_those_of_the_runs_last_model(tmp_path: Path) -> None:
    from engine.events import FINAL_STATES
    from engine.rundir.directory import RunDirectory
    from engine.session import Session

    cfg = TINY.replace(models="gru,rnn,lstm", epochs=3)
    lstm_ends: list[float] = []
    done = threading.Event()

    def sink(event) -> None:  # noqa: ANN001
        if event.name == "epoch_end" and event.model == "lstm":
            lstm_ends.append(event.time)
        if event.name == "state" and event.state in FINAL_STATES:
            done.set()

    session = Session(cfg, [sink], run=RunDirectory(tmp_path).open_writer(cfg)).start()
    assert done.wait(60)
    session.close()
    assert epoch_end_times(tmp_path) == lstm_ends and len(lstm_ends) == 3


def test_an_error_in_a_fresh_thread_reaches_the_caller() -> None:
    def broken() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        in_fresh_thread(broken)


def test_key_latency_is_measured_to_a_painted_frame() -> None:
    latencies = key_latencies(TINY, "l", presses=3)
    assert len(latencies) == 3
    assert all(0 < t < 2.0 for t in latencies)  # 2 s is the give-up mark: every press was seen


def test_key_latency_runs_without_an_rnn() -> None:
    """It waits for an epoch of the run's last model, whichever that is."""
    latencies = key_latencies(TINY.replace(models="gru,lstm"), "tab", presses=2)
    assert len(latencies) == 2 and all(0 < t < 2.0 for t in latencies)


@pytest.mark.parametrize(("epoch_s", "share_at_defaults"), [(0.2, 0.03 / 1.03), (2.0, 0.03 / 2.03)])
def test_probe_cost_is_measured_against_an_epoch_of_the_preset(monkeypatch, epoch_s, share_at_defaults) -> None:  # noqa: ANN001
    """On a clock the test drives: the warm-up epoch and probe take long, then an epoch takes
    ``epoch_s`` and a probe 0.03 s. At the defaults a probe follows an epoch at most once a
    second (probe_seconds 1), so a 0.2 s epoch is probed once in 1.03 s, a 2 s one every epoch."""
    import tui.bench.engine as bench
    from engine.probes import Prober
    from engine.trainer import Trainer

    now = [0.0]
    epochs: list[int] = []
    probes: list[int] = []

    def run_epoch(self, between_batches, emit) -> None:  # noqa: ANN001
        epochs.append(self.cfg.series_length)
        now[0] += 5.0 if len(epochs) == 1 else epoch_s

    def probe(self, epoch) -> list:  # noqa: ANN001
        probes.append(self.steps)
        now[0] += 1.0 if len(probes) == 1 else 0.03
        return []

    monkeypatch.setattr(Trainer, "run_epoch", run_epoch)
    monkeypatch.setattr(Prober, "probe", probe)
    monkeypatch.setattr(bench, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    cost = bench.probe_cost("seed-10k", "cpu", probes=4)
    assert epochs == [10_000, 10_000] and probes == [10] * 5  # the preset's: look-back 10 < 64 steps
    assert cost["epoch_ms"] == pytest.approx(1000 * epoch_s)
    assert cost["probe_ms"] == pytest.approx(30)
    assert cost["share_every_epoch"] == pytest.approx(0.03 / epoch_s)
    assert cost["share_at_defaults"] == pytest.approx(share_at_defaults)


def test_epochs_done_interpolates_between_epoch_ends() -> None:
    ends = [10.0, 11.0, 13.0]  # epochs 1, 2, 3 ended at these times
    assert epochs_done(ends, 10.5) == 1.5
    assert epochs_done(ends, 12.0) == 2.5
    assert epochs_done(ends, 13.0) == 3.0


def _times_called(monkeypatch, method: str) -> list[float]:  # noqa: ANN001
    """When each call of RedrawPacer.<method> (pulse: a fold; tick: a redraw) happened, from now on."""
    import time

    from tui.dashboard.pacing import RedrawPacer

    times: list[float] = []
    original = getattr(RedrawPacer, method)

    def recorded(self) -> None:  # noqa: ANN001
        times.append(time.time())
        original(self)

    monkeypatch.setattr(RedrawPacer, method, recorded)
    return times


def test_the_interleaved_run_alternates_a_live_and_a_quiet_dashboard(monkeypatch) -> None:
    pulses = _times_called(monkeypatch, "pulse")
    figures = interleaved_dashboard(TINY, pairs=2, period=0.8)
    windows = figures["windows"]
    assert [live for live, _, _ in windows] == [True, False, True, False]
    assert len(figures["ratios"]) == 2 and all(r > 0 for r in figures["ratios"])
    for live, start, end in windows:
        inside = [t for t in pulses if start <= t <= end]
        assert inside if live else not inside  # quiet: the UI thread neither folds nor draws


def test_every_frame_of_the_interleaved_run_falls_in_a_counted_live_window(monkeypatch) -> None:
    frames = _times_called(monkeypatch, "tick")
    figures = interleaved_dashboard(TINY, pairs=3, period=0.8)
    live = [(start, end) for is_live, start, end in figures["windows"] if is_live]
    first, last = live[0][0], live[-1][1]
    during = [t for t in frames if first <= t <= last]
    assert during  # the dashboard drew while it was measured
    assert all(any(start <= t <= end for start, end in live) for t in during)
