"""Long sessions: 200,000 events into a DashboardState, and neither its memory nor what a redraw
has to draw grows after the first 50,000.

The events are made up (tests/tui/helpers.py), with a probe after every epoch: 8 events an epoch,
25,000 epochs. Figures at 50,000 and 200,000 events are taken in one pass (the module fixture);
each test checks one of them. Timings are printed (pytest -s) for information only: on a shared
box they are noise, so the tests assert on sizes.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from engine.config import RunConfig
from engine.events import EpochEnd, Event, Prediction
from tests.tui.helpers import synthetic_probes, synthetic_run
from tui.dashboard.state import FLOW_HISTORY_ROWS, HISTORY_BUCKETS, DashboardState, MinMaxSeries
from tui.heatmap import fit_cell, heat_cells
from tui.widgets.gradient_flow import relative_log10
from tui.widgets.gradient_history import SCALE, pick_rows

EVENTS_PER_EPOCH = 8  # per model an epoch end and a prediction; gates, hidden, two gradient flows
EARLY, LATE = 50_000, 200_000  # events: LATE is 4 x EARLY, so decimation lands in the same place
CHART_WIDTH = 112  # points a loss chart of 120 columns asks for (about one per column)
HISTORY_ROWS = 20  # rows of a gradient-history panel on a 120x40 screen
HISTORY_PANEL = 50  # its columns per model
PROBE_STEPS = 64
CONFIG = RunConfig(series_length=300, look_back=5, epochs=10_000_000)
MODELS = CONFIG.model_names  # the seed's pair: EVENTS_PER_EPOCH counts its events
# Made before memory is traced: the ints a curve keeps as x values belong to the test, not to
# the state (which epoch numbers a decimated curve happens to keep would otherwise show as growth).
EPOCH_NUMBERS = list(range(LATE // EVENTS_PER_EPOCH + 1))


def loss(epoch: int, model: int) -> float:
    """A decaying, wiggling curve with a distinct value every epoch."""
    return 0.3 + 0.8 / (1 + epoch / 1000) + 0.05 * math.sin(epoch * (0.37 + model))


def events(first: int, last: int) -> Iterator[Event]:
    """The events of epochs first..last, made as they are consumed (none kept by the test)."""
    probes = synthetic_probes(1, steps=PROBE_STEPS)
    for epoch in EPOCH_NUMBERS[first : last + 1]:
        for index, model in enumerate(MODELS):
            value = loss(epoch, index)
            yield EpochEnd(model=model, epoch=epoch, train_loss=value, val_loss=value + 0.01, val_acc=0.5,
                           grad_norm=0.1, lr=0.01, seconds=0.01, samples_per_s=1000.0, time=epoch * 0.01)
            yield Prediction(model=model, epoch=epoch, probabilities=[0.2, 0.5, 0.3], predicted=1, true=2,
                             time=epoch * 0.01)
        for probe in probes:  # the same arrays every epoch: cheap, and the state must not pile them up
            yield dataclasses.replace(probe, epoch=epoch)


def curves(state: DashboardState) -> dict[str, MinMaxSeries]:
    """Every chart curve the state keeps (raw, and smoothed ones where it has them), by name."""
    found: dict[str, MinMaxSeries] = {}
    for model, columns in state.models.items():
        for name, value in vars(columns).items():
            if isinstance(value, MinMaxSeries):
                found[f"{model}.{name}"] = value
            for weight, curve in getattr(value, "curves", {}).items():
                if isinstance(curve, MinMaxSeries):
                    found[f"{model}.{name}[{weight}]"] = curve
    return found


def history_cells(state: DashboardState) -> tuple[int, float]:
    """What the gradient-history panel builds per redraw: (cells built, seconds taken)."""
    started = time.perf_counter()
    built = 0
    for flow in state.flows.values():
        rows = flow.history.rows
        cell = fit_cell(len(rows[-1][1]), HISTORY_PANEL, widest=3)
        for index in pick_rows(len(rows), HISTORY_ROWS):
            norms = rows[index][1]
            built += len(heat_cells(relative_log10(norms) or [SCALE.low] * len(norms), SCALE, cell))
    return built, time.perf_counter() - started


@dataclass
class Figures:
    """What the state holds and what a redraw would take from it, after some events."""

    events: int
    traced_bytes: int
    buckets: dict[str, int]
    drawn_points: dict[str, int]
    points_seconds: float
    flow_rows: dict[str, int]
    history_rows: int
    history_cells: int
    history_seconds: float
    recent_predictions: dict[str, int]


def figures(state: DashboardState, events_so_far: int) -> Figures:
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    drawn = {name: len(curve.points(CHART_WIDTH)[0]) for name, curve in curves(state).items()}
    points_seconds = time.perf_counter() - started
    cells, history_seconds = history_cells(state)
    count = max(len(flow.history.rows) for flow in state.flows.values())
    return Figures(
        events=events_so_far,
        traced_bytes=traced,
        buckets={name: len(curve) for name, curve in curves(state).items()},
        drawn_points=drawn,
        points_seconds=points_seconds,
        flow_rows={model: len(flow.history.rows) for model, flow in state.flows.items()},
        history_rows=len(pick_rows(count, HISTORY_ROWS)),
        history_cells=cells,
        history_seconds=history_seconds,
        recent_predictions={model: len(m.recent) for model, m in state.models.items()},
    )


@pytest.fixture(scope="module")
def soak() -> tuple[Figures, Figures, DashboardState]:
    """One pass of 200,000 events, with memory traced throughout; figures at 50k and 200k."""
    state = DashboardState(CONFIG)
    state.apply_all(synthetic_run(CONFIG, 0))  # run_started, running
    epochs_early = EARLY // EVENTS_PER_EPOCH
    tracemalloc.start()
    try:
        started = time.perf_counter()
        state.apply_all(events(1, epochs_early))
        early = figures(state, EARLY)
        state.apply_all(events(epochs_early + 1, LATE // EVENTS_PER_EPOCH))
        late = figures(state, LATE)
        took = time.perf_counter() - started
    finally:
        tracemalloc.stop()
    print(f"\nsoak: {LATE:,} events in {took:.1f} s; timings under tracemalloc; state memory {early.traced_bytes / 1024:,.0f} KiB "
          f"at {EARLY:,}, {late.traced_bytes / 1024:,.0f} KiB at {LATE:,}; chart points() for all curves "
          f"{1000 * early.points_seconds:.2f} ms vs {1000 * late.points_seconds:.2f} ms; gradient-history "
          f"cells {1000 * early.history_seconds:.2f} ms vs {1000 * late.history_seconds:.2f} ms")
    return early, late, state


def test_the_soak_reaches_200000_events_with_every_epoch_counted(soak) -> None:
    _, late, state = soak
    epochs = LATE // EVENTS_PER_EPOCH
    assert state.epoch == epochs
    assert all(curve.count == epochs for curve in curves(state).values())
    assert all(flow.history.seen == epochs for flow in state.flows.values())


def test_memory_after_200000_events_is_within_2_percent_of_memory_after_50000(soak) -> None:
    early, late, _ = soak
    assert late.traced_bytes <= early.traced_bytes * 1.02, (early.traced_bytes, late.traced_bytes)


def test_every_chart_curve_keeps_at_most_its_bucket_capacity(soak) -> None:
    early, late, _ = soak
    assert late.buckets, "no curves found in the state"
    assert all(n <= HISTORY_BUCKETS for n in (*early.buckets.values(), *late.buckets.values()))


def test_a_chart_curve_keeps_as_many_buckets_at_200000_events_as_at_50000(soak) -> None:
    early, late, _ = soak
    assert late.buckets == early.buckets


def test_the_points_handed_to_a_chart_fit_its_width_and_do_not_grow(soak) -> None:
    early, late, _ = soak
    assert all(0 < n <= CHART_WIDTH for n in late.drawn_points.values())
    assert late.drawn_points == early.drawn_points


def test_the_gradient_history_keeps_a_bounded_number_of_rows_that_does_not_grow(soak) -> None:
    early, late, _ = soak
    assert all(0 < n <= FLOW_HISTORY_ROWS for n in late.flow_rows.values())
    assert late.flow_rows == early.flow_rows


def test_a_gradient_history_redraw_builds_the_same_cells_at_200000_events_as_at_50000(soak) -> None:
    early, late, _ = soak
    assert late.history_rows == early.history_rows == HISTORY_ROWS
    assert late.history_cells == early.history_cells


def test_only_the_last_few_predictions_are_kept(soak) -> None:
    early, late, _ = soak
    assert late.recent_predictions == early.recent_predictions
    assert all(n <= 12 for n in late.recent_predictions.values())


def test_the_lowest_and_highest_loss_of_the_whole_run_survive_decimation(soak) -> None:
    _, _, state = soak
    epochs = range(1, LATE // EVENTS_PER_EPOCH + 1)
    for index, model in enumerate(MODELS):
        train = state.models[model].train
        assert train.low == min(loss(e, index) for e in epochs)
        assert train.high == max(loss(e, index) for e in epochs)
