"""RunHistory: the one fold of a run's events into what every front end shows. Torch-free.

Per model: the loss curves (bounded, min/max-preserving: ``MinMaxSeries``), the last logged
figures, prediction and gradient horizon; per run: its config, label, epochs, state, device,
class names and reference losses (chance, the best achievable, the data's baselines). The dashboard's state, the runs table's summary, the export's CSV and
`lstm-tui train`'s final table all build on it, so they agree on this rule, kept here alone:
a run that starts afresh (a restart) clears the history, and a run resumed from a checkpoint
after epoch k truncates it to epochs 1..k (the log may hold later epochs, trained after that
checkpoint and lost with their process; they are trained again).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.config import CHANCE_LOSS, CLASS_NAMES, RunConfig, model_names, run_label
from engine.events import (
    Cause,
    CommandApplied,
    EpochEnd,
    Event,
    GradientFlow,
    Prediction,
    RunFailed,
    RunStarted,
    RunState,
    RunStateChanged,
)
from engine.rundir.directory import RunStatus

HISTORY_BUCKETS = 1024  # per curve; two points (min and max) at most per bucket
# Each model's last epochs, predictions and probes kept, for the figures a resume steps back
# to. A resume goes back to the last checkpoint, taken at most 2 s (CheckpointCadence) before
# the process died; were more epochs lost than this, the figures are blank until the next one.
RECENT_EPOCHS = 256
# What RunHistory folds: a reader that wants only the history passes these (LogReader's only=).
HISTORY_EVENTS = frozenset({"run_started", "epoch_end", "prediction", "gradient_flow", "state", "command",
                            "run_failed"})


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



@dataclass
class ModelHistory:
    """One model's history: its curves (None when not kept), its last figures and probes."""

    name: str
    train: MinMaxSeries | None = field(default_factory=MinMaxSeries)  # (epoch, train loss)
    val: MinMaxSeries | None = field(default_factory=MinMaxSeries)  # (epoch, validation loss)
    times: MinMaxSeries | None = field(default_factory=MinMaxSeries)  # (epoch, wall time it ended)
    epoch: int = 0  # epochs completed
    # Every epoch's event and every probed epoch's horizon, when the history keeps them (export).
    logged: dict[int, EpochEnd] | None = None
    horizons: dict[int, int] | None = None
    _epochs: deque[EpochEnd] = field(default_factory=lambda: deque(maxlen=RECENT_EPOCHS), repr=False)
    _flows: deque[GradientFlow] = field(default_factory=lambda: deque(maxlen=RECENT_EPOCHS), repr=False)
    _predictions: deque[Prediction] = field(default_factory=lambda: deque(maxlen=RECENT_EPOCHS), repr=False)

    @property
    def last(self) -> EpochEnd | None:
        """The last epoch's event."""
        return self._epochs[-1] if self._epochs else None

    @property
    def train_loss(self) -> float | None:
        return self._epochs[-1].train_loss if self._epochs else None

    @property
    def val_loss(self) -> float | None:
        return self._epochs[-1].val_loss if self._epochs else None

    @property
    def val_acc(self) -> float | None:
        return self._epochs[-1].val_acc if self._epochs else None

    @property
    def prediction(self) -> Prediction | None:
        return self._predictions[-1] if self._predictions else None

    @property
    def flow(self) -> GradientFlow | None:
        """The last gradient-flow probe."""
        return self._flows[-1] if self._flows else None

    @property
    def horizon(self) -> int | None:
        return self._flows[-1].horizon if self._flows else None

    @property
    def cell_horizon(self) -> int | None:
        return self._flows[-1].cell_horizon if self._flows else None

    def add_epoch(self, event: EpochEnd) -> None:
        self.epoch = event.epoch
        self._epochs.append(event)
        if self.train is not None:
            self.train.add(event.epoch, event.train_loss)
        if self.times is not None:
            self.times.add(event.epoch, event.time)
        if self.val is not None and event.val_loss is not None:
            self.val.add(event.epoch, event.val_loss)
        if self.logged is not None:
            self.logged[event.epoch] = event  # an epoch retried after a non-finite loss: the last try

    def add_prediction(self, event: Prediction) -> None:
        self._predictions.append(event)

    def add_flow(self, event: GradientFlow) -> None:
        self._flows.append(event)
        if self.horizons is not None:
            self.horizons[event.epoch] = event.horizon

    def truncate_after(self, epoch: int) -> None:
        """Forget everything after ``epoch``: a resume from its checkpoint trains it again."""
        self.epoch = epoch
        for recent in (self._epochs, self._flows, self._predictions):
            while recent and recent[-1].epoch > epoch:
                recent.pop()
        for series in (self.train, self.val, self.times):
            if series is not None:
                series.truncate_after(epoch)
        for kept in (self.logged, self.horizons):
            if kept is not None:
                for later in [k for k in kept if k > epoch]:
                    del kept[later]


class RunHistory:
    """A run's events folded in arrival order.

    ``curves``: keep each model's loss curves (the runs table does without, to stay small over
    many runs). ``keep_epochs``: keep every epoch's event too (the export's CSV needs each).
    Front ends that show more (the dashboard's probes and clocks) extend ``_new_run`` and
    ``_resumed``, which say what a restart clears and a resume truncates.
    """

    def __init__(self, config: RunConfig | None = None, *, curves: bool = True, keep_epochs: bool = False) -> None:
        self.curves = curves
        self.keep_epochs = keep_epochs
        self.config: dict[str, Any] = config.to_dict() if config else {}
        self.label = config.label if config else ""
        self.total_epochs = config.epochs if config else 0
        self.lr: float | None = config.lr if config else None
        self.run_state = RunState.IDLE
        self.cause: Cause | None = None
        self.reason = ""
        self.device = ""
        self.device_name = ""
        self.chance_loss = CHANCE_LOSS
        self.best_loss: float | None = None
        # The run's class names, class 0 first (RunStarted.classes); before its start, the
        # built-in three. A csv run's come from its log: no front end needs its file.
        self.classes: tuple[str, ...] = CLASS_NAMES
        # Validation losses of simple predictors (engine/baselines.py; best_baseline and
        # beaten_baseline say which line a loss is under); {} until logged.
        self.baselines: dict[str, float] = {}
        self.runs = 0  # run_started events seen: 1 after the first start, +1 per restart or resume
        self.first_started_at: float | None = None  # wall time of the first fresh start (not a resume)
        self.started_at: float | None = None  # of the current run's fresh start (a restart's)
        self.resumed_from = 0  # the epoch the current run resumed after; 0: a fresh run
        self.failure: str | None = None
        self.models: dict[str, ModelHistory] = self._new_models()

    def _new_model(self, name: str) -> ModelHistory:
        model = ModelHistory(name) if self.curves else ModelHistory(name, train=None, val=None, times=None)
        if self.keep_epochs:
            model.logged, model.horizons = {}, {}
        return model

    def _new_models(self) -> dict[str, ModelHistory]:
        return {name: self._new_model(name) for name in self.model_names}

    @property
    def model_names(self) -> tuple[str, ...]:
        """The run's models in the order shown (config's models; a run from before --models
        trained the seed's pair, lstm and rnn)."""
        return model_names(self.config)

    @property
    def epoch(self) -> int:
        """Epochs completed by every model."""
        return min(m.epoch for m in self.models.values())

    @property
    def task(self) -> str:
        return str(self.config.get("task", ""))

    def class_name(self, index: int) -> str:
        """Class ``index``'s name; '?' for one the run does not have (a crafted probe's window)."""
        return self.classes[index] if 0 <= index < len(self.classes) else "?"

    def apply_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.apply(event)

    def apply(self, event: Event) -> None:
        match event:
            case RunStarted():
                self._run_started(event)
            case EpochEnd() if event.model in self.models:
                self.models[event.model].add_epoch(event)
                self.lr = event.lr
            case Prediction() if event.model in self.models and len(event.probabilities) == len(self.classes):
                self.models[event.model].add_prediction(event)  # another count is not this run's
            case GradientFlow() if event.model in self.models:
                self.models[event.model].add_flow(event)
            case RunStateChanged():
                self._state(event)
            case CommandApplied():
                if event.config is not None:  # a restart: the next run's settings, before it starts
                    self._set_config(event.config)
                if event.lr is not None:
                    self.lr = event.lr
            case RunFailed():
                self.failure = event.message
                self.run_state, self.cause, self.reason = RunState.FAILED, Cause.ERROR, event.message

    def _set_config(self, config: dict[str, Any]) -> None:
        self.config = dict(config)
        self.label = run_label(self.config)
        self.total_epochs = int(self.config.get("epochs", 0) or 0)
        self.lr = self.config.get("lr", self.lr)

    def _run_started(self, event: RunStarted) -> None:
        self._set_config(event.config)
        self.device, self.device_name = event.device, event.device_name
        self.chance_loss, self.best_loss = event.chance_loss, event.best_loss
        self.classes, self.baselines = tuple(event.classes), dict(event.baselines)
        self.failure = None
        self.runs += 1
        if self.first_started_at is None and not event.resumed_from_epoch:
            self.first_started_at = event.time
        self.resumed_from = event.resumed_from_epoch
        if event.resumed_from_epoch:
            if self.started_at is None:  # the log before the resume is lost: the run starts here
                self.started_at = event.time
            if tuple(self.models) != self.model_names:  # the run's own models, not a default pair
                self.models = self._new_models()
            self._resumed(event.resumed_from_epoch)
        else:
            self.started_at = event.time
            self._new_run()

    def _new_run(self) -> None:
        """A run from epoch 0 (the first, or a restart): nothing of an earlier run counts."""
        self.models = self._new_models()

    def _resumed(self, epoch: int) -> None:
        """The run continues from its checkpoint after ``epoch``: later epochs are redone."""
        for model in self.models.values():
            model.truncate_after(epoch)

    def _state(self, event: RunStateChanged) -> None:
        self.run_state, self.cause = event.state, event.cause
        # A failure's state event may come without words: the run_failed message says it.
        self.reason = self.failure if event.state == RunState.FAILED and not event.reason and self.failure \
            else event.reason

    def trainer_gone(self, ended: RunStatus) -> RunStateChanged | None:
        """A watcher learnt that nobody trains the run any more (``ended``: the directory's
        status, e.g. crashed): the state event that says so, when the log ends mid-run."""
        if self.run_state not in (RunState.RUNNING, RunState.PAUSED, RunState.LOADING, RunState.IDLE):
            return None
        reason = "no process is training it (killed or crashed)" if ended == RunStatus.CRASHED else str(ended)
        return RunStateChanged(state=RunState.STOPPED, cause=Cause.TRAINER_GONE, reason=reason, epoch=self.epoch)
