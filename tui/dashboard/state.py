"""DashboardState: folds engine events into what the panels show. Pure Python, no Textual.

Each panel has a version counter that goes up when its data changes; the app's refresh
timer redraws a panel only when its counter moved since the last frame. Chart history is
kept in min/max-preserving buckets, so memory and redraw cost stay flat however long the run.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.config import CHANCE_LOSS, RunConfig
from engine.events import (
    Alert,
    CommandApplied,
    EpochEnd,
    Event,
    Gates,
    GradientFlow,
    Hidden,
    Prediction,
    RunFailed,
    RunFinished,
    RunStarted,
    State,
)

MODELS = ("lstm", "rnn")
HISTORY_BUCKETS = 1024  # per curve; two points (min and max) at most per bucket
PREDICTION_HISTORY = 12  # epochs of "how the prediction changed"
RATE_WINDOW = 20  # epochs used to measure epochs/s
SMOOTHING_WEIGHTS = (0.6, 0.9, 0.99)  # `m` cycles off and these, as TensorBoard's slider
SYSTEM_HISTORY = 120  # seconds of machine figures kept for the system pane
FLOW_HISTORY_ROWS = 256  # gradient-flow probes kept per model for the history heatmap


@dataclass
class _Bucket:
    lo_x: float
    lo: float
    hi_x: float
    hi: float
    n: int = 1
    first_x: float = math.nan  # the x range the bucket's points came from
    last_x: float = math.nan

    def __post_init__(self) -> None:
        if math.isnan(self.first_x):
            self.first_x = min(self.lo_x, self.hi_x)
            self.last_x = max(self.lo_x, self.hi_x)

    def merge(self, other: _Bucket) -> None:
        if other.lo < self.lo:
            self.lo, self.lo_x = other.lo, other.lo_x
        if other.hi > self.hi:
            self.hi, self.hi_x = other.hi, other.hi_x
        self.n += other.n
        self.first_x = min(self.first_x, other.first_x)
        self.last_x = max(self.last_x, other.last_x)


@dataclass(frozen=True)
class Reading:
    """A curve at one x: exact when that point is kept on its own, else the range of the
    points merged with it (``low``..``high`` over ``first_x``..``last_x``)."""

    low: float
    high: float
    first_x: float
    last_x: float

    @property
    def exact(self) -> bool:
        return self.low == self.high and self.first_x == self.last_x


class MinMaxSeries:
    """A curve of (x, y) points with bounded memory.

    Points land in buckets of ``stride`` consecutive points; each bucket keeps its lowest
    and highest point. When the buckets exceed ``capacity`` neighbours are merged pairwise
    and the stride doubles, so every extreme of the curve survives at any length.
    """

    def __init__(self, capacity: int = HISTORY_BUCKETS) -> None:
        if capacity < 2:
            raise ValueError("capacity must be at least 2")
        self.capacity = capacity
        self.stride = 1
        self.count = 0  # finite points added
        self.skipped = 0  # non-finite points, which a chart cannot place
        self.last: tuple[float, float] | None = None
        self._buckets: list[_Bucket] = []

    def __len__(self) -> int:
        return len(self._buckets)

    def add(self, x: float, y: float) -> None:
        if not math.isfinite(y):
            self.skipped += 1
            return
        self.count += 1
        self.last = (x, y)
        tail = self._buckets[-1] if self._buckets else None
        if tail is not None and tail.n < self.stride:
            tail.merge(_Bucket(x, y, x, y))
            return
        self._buckets.append(_Bucket(x, y, x, y))
        if len(self._buckets) > self.capacity:
            self._halve()

    def _halve(self) -> None:
        merged: list[_Bucket] = []
        for i in range(0, len(self._buckets), 2):
            bucket = self._buckets[i]
            if i + 1 < len(self._buckets):
                bucket.merge(self._buckets[i + 1])
            merged.append(bucket)
        self._buckets = merged
        self.stride *= 2

    def at(self, x: float) -> Reading | None:
        """The curve at ``x``: the bucket holding it (None when no point is that close)."""
        import bisect

        buckets = self._buckets
        index = bisect.bisect_right([b.first_x for b in buckets], x) - 1
        if index < 0 or x > buckets[index].last_x:
            return None
        b = buckets[index]
        return Reading(b.lo, b.hi, b.first_x, b.last_x)

    @property
    def first_x(self) -> float | None:
        return self._buckets[0].first_x if self._buckets else None

    def truncate_after(self, x: float) -> None:
        """Forget the points after ``x`` (a resumed run redoes them). Points already merged
        into a bucket that also holds earlier ones stay: at most one bucket's worth."""
        while self._buckets and min(self._buckets[-1].lo_x, self._buckets[-1].hi_x) > x:
            self._buckets.pop()
        if self.last is not None and self.last[0] > x:
            tail = self._buckets[-1] if self._buckets else None
            self.last = None if tail is None else max((tail.lo_x, tail.lo), (tail.hi_x, tail.hi))

    @property
    def low(self) -> float | None:
        return min((b.lo for b in self._buckets), default=None)

    @property
    def high(self) -> float | None:
        return max((b.hi for b in self._buckets), default=None)

    def points(self, max_points: int | None = None, between: tuple[float, float] | None = None
               ) -> tuple[list[float], list[float]]:
        """The curve as x and y lists, at most ``max_points`` long, extremes kept; only the
        part within ``between`` (an x range) when given."""
        buckets = self._buckets
        if between is not None:
            lo, hi = between
            buckets = [b for b in buckets if b.last_x >= lo and b.first_x <= hi]
        if max_points is not None and max_points >= 2 and 2 * len(buckets) > max_points:
            group = math.ceil(len(buckets) / (max_points // 2))
            regrouped = []
            for i in range(0, len(buckets), group):
                first = buckets[i]
                acc = _Bucket(first.lo_x, first.lo, first.hi_x, first.hi, first.n, first.first_x, first.last_x)
                for other in buckets[i + 1 : i + group]:
                    acc.merge(other)
                regrouped.append(acc)
            buckets = regrouped
        xs: list[float] = []
        ys: list[float] = []
        for b in buckets:
            pairs = sorted({(b.lo_x, b.lo), (b.hi_x, b.hi)})
            for x, y in pairs:
                xs.append(x)
                ys.append(y)
        return xs, ys


class SmoothedSeries:
    """A curve smoothed by TensorBoard's debiased exponential moving average, kept for each
    weight as points arrive (smoothing thinned points would depend on the thinning).

    The running average starts at 0 and is divided by 1 - w^n, so the first points are not
    pulled toward zero. Only what is drawn is smoothed; logged numbers never are.
    """

    def __init__(self, weights: tuple[float, ...] = SMOOTHING_WEIGHTS) -> None:
        self.curves = {w: MinMaxSeries() for w in weights}
        self._running = dict.fromkeys(weights, 0.0)
        self._count = 0

    def add(self, x: float, y: float) -> None:
        if not math.isfinite(y):
            return
        self._count += 1
        for w, curve in self.curves.items():
            self._running[w] = self._running[w] * w + (1 - w) * y
            curve.add(x, self._running[w] / (1 - w**self._count))

    def truncate_after(self, x: float) -> None:
        for curve in self.curves.values():
            curve.truncate_after(x)


@dataclass
class ModelState:
    """What one model's column shows."""

    name: str
    train: MinMaxSeries = field(default_factory=MinMaxSeries)
    val: MinMaxSeries = field(default_factory=MinMaxSeries)
    train_smoothed: SmoothedSeries = field(default_factory=SmoothedSeries)
    val_smoothed: SmoothedSeries = field(default_factory=SmoothedSeries)
    times: MinMaxSeries = field(default_factory=MinMaxSeries)  # (epoch, wall time it ended)
    epoch: int = 0
    train_loss: float | None = None
    val_loss: float | None = None
    val_acc: float | None = None
    probabilities: list[float] | None = None
    predicted: int | None = None
    true: int | None = None
    prediction_epoch: int = 0
    # (epoch, predicted class, its probability) for the last few epochs
    recent: deque[tuple[int, int, float]] = field(default_factory=lambda: deque(maxlen=PREDICTION_HISTORY))


@dataclass
class ProbeState:
    """The latest look inside one model: its states over the probe window."""

    epoch: int
    window_start: int
    window: list[int]  # the whole probe input, as class indices
    arrays: dict[str, list[list[float]]]  # name (i f g o c h) -> [step][unit], last T steps
    # LSTM: gate -> (share of steps < 0.1, share > 0.9) per unit; RNN: "h" -> (per unit |h| > 0.95,)
    saturation: dict[str, tuple[list[float], ...]]
    overall_saturation: float | None = None  # RNN: share of all cells with |h| > 0.95

    @property
    def steps(self) -> int:
        return len(next(iter(self.arrays.values()), []))

    def step_input(self, step: int) -> int | None:
        """The class fed in at shown step ``step`` (0 = the first shown)."""
        index = len(self.window) - self.steps + step
        return self.window[index] if 0 <= index < len(self.window) else None


class FlowHistory:
    """Gradient-flow probes over a run, bounded: when full, every other row is dropped and
    only every ``stride``-th new probe is kept, so the rows stay evenly spread over the run."""

    def __init__(self, capacity: int = FLOW_HISTORY_ROWS) -> None:
        self.capacity = capacity
        self.stride = 1
        self.seen = 0
        self.rows: list[tuple[int, list[float]]] = []  # (epoch, norms from the last step back)

    def add(self, epoch: int, norms: list[float]) -> None:
        self.seen += 1
        if (self.seen - 1) % self.stride:
            return
        self.rows.append((epoch, norms))
        if len(self.rows) > self.capacity:
            self.rows = self.rows[::2]
            self.stride *= 2


@dataclass
class FlowState:
    """One model's latest gradient flow and its history."""

    epoch: int = 0
    norms: list[float] = field(default_factory=list)  # ||dL/dh_t||, from the last step back
    cell_norms: list[float] | None = None  # ||dL/dc_t|| (LSTM)
    horizon: int | None = None
    cell_horizon: int | None = None
    history: FlowHistory = field(default_factory=FlowHistory)


def _panel_keys() -> dict[str, int]:
    keys = {"header": 0, "gradients": 0, "system": 0}
    for model in MODELS:
        keys[f"chart:{model}"] = 0
        keys[f"prediction:{model}"] = 0
        keys[f"gates:{model}"] = 0
    return keys


class DashboardState:
    """Everything the dashboard shows, folded from engine events in arrival order."""

    def __init__(self, config: RunConfig | None = None) -> None:
        self.config: dict[str, Any] = config.to_dict() if config else {}
        self.label = config.label if config else ""
        self.total_epochs = config.epochs if config else 0
        self.lr: float | None = config.lr if config else None
        self.started_at: float | None = None  # wall time of the run's first start
        self.system: deque[Any] = deque(maxlen=SYSTEM_HISTORY)  # tui.dashboard.system.SystemSample, 1 a second
        self.watching: str | None = None  # the run directory, when following one's log
        self.run_state = "loading"  # until the engine says otherwise
        self.reason = "loading torch…"
        self.device = ""
        self.device_name = ""
        self.chance_loss = CHANCE_LOSS
        self.best_loss: float | None = None
        self.runs = 0  # RunStarted events seen: 1 after the first start, +1 per restart
        self.failure: str | None = None
        self.last_alert: Alert | None = None
        self.versions = _panel_keys()
        self.models = {name: ModelState(name) for name in MODELS}
        self.probes: dict[str, ProbeState] = {}
        self.flows = {name: FlowState() for name in MODELS}
        self._epoch_times: deque[tuple[float, int]] = deque(maxlen=RATE_WINDOW)
        self._clock_started: float | None = None  # wall time the running clock last started
        self._clock_accum = 0.0  # seconds spent running before that

    # -- derived figures ------------------------------------------------------------------

    @property
    def epoch(self) -> int:
        """Epochs completed by both models."""
        return min(m.epoch for m in self.models.values())

    @property
    def task(self) -> str:
        return str(self.config.get("task", ""))

    def elapsed(self, now: float | None = None) -> float:
        """Seconds spent running (pauses do not count)."""
        if self._clock_started is None:
            return self._clock_accum
        return self._clock_accum + max(0.0, (now if now is not None else time.time()) - self._clock_started)

    @property
    def epochs_per_s(self) -> float | None:
        if len(self._epoch_times) < 2:
            return None
        (t0, e0), (t1, e1) = self._epoch_times[0], self._epoch_times[-1]
        if t1 <= t0:
            return None
        return (e1 - e0) / (t1 - t0)

    def eta(self) -> float | None:
        """Seconds to the last epoch at the current pace, while running."""
        rate = self.epochs_per_s
        if self.run_state != "running" or not rate:
            return None
        return max(0, self.total_epochs - self.epoch) / rate

    # -- folding events -------------------------------------------------------------------

    def bump(self, *panels: str) -> None:
        for panel in panels:
            self.versions[panel] += 1

    def apply_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.apply(event)

    def apply(self, event: Event) -> None:
        match event:
            case RunStarted():
                self._run_started(event)
            case EpochEnd():
                self._epoch_end(event)
            case Prediction():
                self._prediction(event)
            case Gates():
                self._probe(event.model, event, {k: getattr(event, k) for k in ("i", "f", "g", "o", "c", "h")},
                            {k: (v["low"], v["high"]) for k, v in event.saturation.items()}, None)
            case Hidden():
                self._probe(event.model, event, {"h": event.h}, {"h": (event.saturation_per_unit,)},
                            event.saturation)
            case GradientFlow():
                self._gradient_flow(event)
            case State():
                self._state(event)
            case CommandApplied():
                if event.lr is not None:
                    self.lr = event.lr
                    self.bump("header")
            case Alert():
                self.last_alert = event
                self.bump("header")
            case RunFailed():
                self.failure = event.message
                self.run_state = "failed"
                self.reason = event.message
                self._stop_clock(event.time)
                self.bump("header")
            case RunFinished():
                self.bump("header")

    def _run_started(self, event: RunStarted) -> None:
        self.config = dict(event.config)
        preset = self.config.get("preset")
        task = self.config.get("task", "seed")
        self.label = preset or (f"echo lag {self.config.get('lag')}" if task == "echo" else "seed")
        self.total_epochs = int(self.config.get("epochs", 0))
        self.lr = self.config.get("lr", self.lr)
        self.device = event.device
        self.device_name = event.device_name
        self.chance_loss = event.chance_loss
        self.best_loss = event.best_loss if task == "echo" else None
        self.failure = None
        resumed = event.resumed_from_epoch
        if resumed and self.runs:
            # The same run, continued from its checkpoint: keep its history up to there.
            for model in self.models.values():
                for series in (model.train, model.val, model.train_smoothed, model.val_smoothed, model.times):
                    series.truncate_after(resumed)
                model.epoch = min(model.epoch, resumed)
            self._clock_started = None
        else:
            self.started_at = event.time
            self.models = {name: ModelState(name) for name in MODELS}
            self.probes = {}
            self.flows = {name: FlowState() for name in MODELS}
            self._clock_started = None
            self._clock_accum = 0.0
            for model in self.models.values():
                model.epoch = resumed
        self.runs += 1
        self._epoch_times.clear()
        self.bump(*self.versions)

    def _epoch_end(self, event: EpochEnd) -> None:
        model = self.models.get(event.model)
        if model is None:
            return
        before = self.epoch
        model.epoch = event.epoch
        model.train_loss = event.train_loss
        model.val_loss = event.val_loss
        model.val_acc = event.val_acc
        model.train.add(event.epoch, event.train_loss)
        model.train_smoothed.add(event.epoch, event.train_loss)
        model.times.add(event.epoch, event.time)
        if event.val_loss is not None:
            model.val.add(event.epoch, event.val_loss)
            model.val_smoothed.add(event.epoch, event.val_loss)
        self.lr = event.lr
        if self.epoch != before:
            self._epoch_times.append((event.time, self.epoch))
        self.bump("header", f"chart:{event.model}", f"prediction:{event.model}")

    def _prediction(self, event: Prediction) -> None:
        model = self.models.get(event.model)
        if model is None:
            return
        model.probabilities = list(event.probabilities)
        model.predicted = event.predicted
        model.true = event.true
        model.prediction_epoch = event.epoch
        model.recent.append((event.epoch, event.predicted, float(event.probabilities[event.predicted])))
        self.bump(f"prediction:{event.model}")

    def _probe(self, model: str, event: Gates | Hidden, arrays: dict[str, list[list[float]]],
               saturation: dict[str, tuple[list[float], ...]], overall: float | None) -> None:
        if model not in self.models:
            return
        self.probes[model] = ProbeState(event.epoch, event.window_start, list(event.window), arrays,
                                        saturation, overall)
        self.bump(f"gates:{model}")

    def _gradient_flow(self, event: GradientFlow) -> None:
        flow = self.flows.get(event.model)
        if flow is None:
            return
        flow.epoch = event.epoch
        flow.norms = list(event.norms)
        flow.cell_norms = list(event.cell_norms) if event.cell_norms is not None else None
        flow.horizon = event.horizon
        flow.cell_horizon = event.cell_horizon
        flow.history.add(event.epoch, flow.norms)
        self.bump("gradients")

    def _state(self, event: State) -> None:
        self.run_state = event.state
        if event.state == "failed" and not event.reason and self.failure:
            self.reason = self.failure
        else:
            self.reason = event.reason
        if event.state == "running":
            if self._clock_started is None:
                self._clock_started = event.time
            # A resume restarts the pace measurement: the pause is not part of it.
            self._epoch_times.clear()
        else:
            self._stop_clock(event.time)
        self.bump("header")

    def _stop_clock(self, when: float) -> None:
        if self._clock_started is not None:
            self._clock_accum += max(0.0, when - self._clock_started)
            self._clock_started = None
