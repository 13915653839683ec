"""`lstm-tui bench`: each figure comes from a real run of the loop it names."""

from __future__ import annotations

import pytest

from engine.config import RunConfig
from tui.bench.engine import (
    _in_fresh_thread,
    bare_seconds_per_epoch,
    engine_seconds_per_epoch,
    epochs_done,
    interleaved_dashboard,
    key_latencies,
)
from tui.cli.main import main

TINY = RunConfig(series_length=300, look_back=5, device="cpu")


def test_bare_and_engine_loops_time_their_epochs() -> None:
    assert 0 < _in_fresh_thread(bare_seconds_per_epoch, TINY, 3) < 5
    assert 0 < engine_seconds_per_epoch(TINY, 3) < 5


def test_an_error_in_a_fresh_thread_reaches_the_caller() -> None:
    def broken() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        _in_fresh_thread(broken)


def test_key_latency_is_measured_to_a_painted_frame() -> None:
    latencies = key_latencies(TINY, "l", presses=3)
    assert len(latencies) == 3
    assert all(0 < t < 2.0 for t in latencies)  # 2 s is the give-up mark: every press was seen


def test_bench_refuses_a_mini_batch_setting(capsys) -> None:
    assert main(["bench", "--batch-size", "64"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "batch-size" in err


def test_probe_cost_is_measured_against_an_epoch_of_the_preset() -> None:
    from tui.bench.engine import probe_cost

    cost = probe_cost("seed-10k", "cpu", probes=2)
    assert cost["probe_ms"] > 0 and cost["epoch_ms"] > 0
    assert cost["share_every_epoch"] == pytest.approx(cost["probe_ms"] / cost["epoch_ms"])
    # At the defaults (at most one probe a second) the share is far below one per epoch.
    assert cost["share_at_defaults"] < cost["share_every_epoch"]


def test_the_rounds_turn_their_order_about_with_the_engine_always_in_the_middle(monkeypatch) -> None:
    import tui.bench.engine as bench

    order: list[str] = []

    def timed(name: str):  # noqa: ANN202
        def loop(config, epochs):  # noqa: ANN001, ANN202
            order.append(name)
            return 0.1
        return loop

    monkeypatch.setattr(bench, "bare_seconds_per_epoch", timed("bare"))
    monkeypatch.setattr(bench, "engine_seconds_per_epoch", timed("engine"))
    monkeypatch.setattr(bench, "dashboard_seconds_per_epoch", timed("dashboard"))
    rates = bench.timed_rounds(TINY, rounds=3, epochs=1)
    assert order == ["bare", "engine", "dashboard", "dashboard", "engine", "bare", "bare", "engine", "dashboard"]
    assert rates == ([10.0] * 3, [10.0] * 3, [10.0] * 3)


def test_epochs_done_interpolates_between_epoch_ends() -> None:
    ends = [10.0, 11.0, 13.0]  # epochs 1, 2, 3 ended at these times
    assert epochs_done(ends, 10.5) == 1.5
    assert epochs_done(ends, 12.0) == 2.5
    assert epochs_done(ends, 13.0) == 3.0


def _times_called(monkeypatch, method: str) -> list[float]:  # noqa: ANN001
    """When each call of DashboardApp.<method> happened, from now on."""
    import time

    from tui.dashboard.app import DashboardApp

    times: list[float] = []
    original = getattr(DashboardApp, method)

    def recorded(self) -> None:  # noqa: ANN001
        times.append(time.time())
        original(self)

    monkeypatch.setattr(DashboardApp, method, recorded)
    return times


def test_the_interleaved_run_alternates_a_live_and_a_quiet_dashboard(monkeypatch) -> None:
    pulses = _times_called(monkeypatch, "_pulse")
    figures = interleaved_dashboard(TINY, pairs=2, period=0.8)
    windows = figures["windows"]
    assert [live for live, _, _ in windows] == [True, False, True, False]
    assert len(figures["ratios"]) == 2 and all(r > 0 for r in figures["ratios"])
    for live, start, end in windows:
        inside = [t for t in pulses if start <= t <= end]
        assert inside if live else not inside  # quiet: the UI thread neither folds nor draws


def test_every_frame_of_the_interleaved_run_falls_in_a_counted_live_window(monkeypatch) -> None:
    frames = _times_called(monkeypatch, "_tick")
    figures = interleaved_dashboard(TINY, pairs=3, period=0.8)
    live = [(start, end) for is_live, start, end in figures["windows"] if is_live]
    first, last = live[0][0], live[-1][1]
    during = [t for t in frames if first <= t <= last]
    assert during  # the dashboard drew while it was measured
    assert all(any(start <= t <= end for start, end in live) for t in during)
