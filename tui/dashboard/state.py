"""DashboardState: what the dashboard's panels show, built on engine.history.RunHistory. No Textual.

RunHistory folds the events every front end shares (curves, last figures, state; a restart
clears, a resume truncates); this adds what only the dashboard shows: smoothed curves, recent
predictions, the probes' insides, the clocks and pace, the machine's figures. Each panel has a
version counter that goes up when its data changes; the app's refresh timer redraws a panel
only when its counter moved since the last frame.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from engine.config import RunConfig
from engine.events import (
    Alert,
    CommandApplied,
    EpochEnd,
    Event,
    Gates,
    GradientFlow,
    GruGates,
    Hidden,
    Prediction,
    RunFailed,
    RunFinished,
    RunStarted,
    RunState,
    RunStateChanged,
)
from engine.history import HISTORY_BUCKETS, MinMaxSeries, ModelHistory, Reading, RunHistory
from engine.rundir.directory import RunStatus

__all__ = ["HISTORY_BUCKETS", "MinMaxSeries", "Reading", "DashboardState", "ModelState"]

PREDICTION_HISTORY = 12  # epochs of "how the prediction changed"
RATE_WINDOW = 20  # epochs used to measure epochs/s
SMOOTHING_WEIGHTS = (0.6, 0.9, 0.99)  # `m` cycles off and these, as TensorBoard's slider
SYSTEM_HISTORY = 120  # seconds of machine figures kept for the system pane
FLOW_HISTORY_ROWS = 256  # gradient-flow probes kept per model for the history heatmap


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
class ModelState(ModelHistory):
    """What one model's column shows: its history, smoothed curves and recent predictions."""

    train: MinMaxSeries = field(default_factory=MinMaxSeries)
    val: MinMaxSeries = field(default_factory=MinMaxSeries)
    times: MinMaxSeries = field(default_factory=MinMaxSeries)
    train_smoothed: SmoothedSeries = field(default_factory=SmoothedSeries)
    val_smoothed: SmoothedSeries = field(default_factory=SmoothedSeries)
    # (epoch, predicted class, its probability) for the last few epochs
    recent: deque[tuple[int, int, float]] = field(default_factory=lambda: deque(maxlen=PREDICTION_HISTORY))

    @property
    def probabilities(self) -> list[float] | None:
        return list(self.prediction.probabilities) if self.prediction else None

    @property
    def predicted(self) -> int | None:
        return self.prediction.predicted if self.prediction else None

    @property
    def true(self) -> int | None:
        return self.prediction.true if self.prediction else None

    @property
    def prediction_epoch(self) -> int:
        return self.prediction.epoch if self.prediction else 0

    def add_epoch(self, event: EpochEnd) -> None:
        super().add_epoch(event)
        self.train_smoothed.add(event.epoch, event.train_loss)
        if event.val_loss is not None:
            self.val_smoothed.add(event.epoch, event.val_loss)

    def add_prediction(self, event: Prediction) -> None:
        super().add_prediction(event)
        self.recent.append((event.epoch, event.predicted, float(event.probabilities[event.predicted])))

    def truncate_after(self, epoch: int) -> None:
        super().truncate_after(epoch)
        for series in (self.train_smoothed, self.val_smoothed):
            series.truncate_after(epoch)
        while self.recent and self.recent[-1][0] > epoch:
            self.recent.pop()


@dataclass
class ProbeState:
    """The latest look inside one model: its states over the probe window."""

    epoch: int
    window_start: int
    window: list[int]  # the whole probe input, as class indices
    arrays: dict[str, list[list[float]]]  # name (LSTM i f g o c h; GRU r z n h; RNN h) -> [step][unit]
    # LSTM, GRU: gate -> (share of steps < 0.1, share > 0.9) per unit (the candidates g, n: < -0.9,
    # > 0.9); RNN: "h" -> (per unit |h| > 0.95,)
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

    def truncate_after(self, epoch: int) -> None:
        while self.rows and self.rows[-1][0] > epoch:
            self.rows.pop()


@dataclass
class FlowState:
    """One model's latest gradient flow and its history."""

    epoch: int = 0
    norms: list[float] = field(default_factory=list)  # ||dL/dh_t||, from the last step back
    cell_norms: list[float] | None = None  # ||dL/dc_t|| (LSTM)
    horizon: int | None = None
    cell_horizon: int | None = None
    history: FlowHistory = field(default_factory=FlowHistory)


RUN_PANELS = ("header", "gradients", "system")  # the panels every run has, whatever its models
MODEL_PANELS = ("chart", "prediction", "gates")  # each model's: "chart:lstm", ...


def panel_keys(models: tuple[str, ...], versions: dict[str, int] | None = None) -> dict[str, int]:
    """The version counter of each panel of a run of ``models``: those in ``versions`` kept
    (counters only go up), a new model's at 0, and a model's no longer in the run gone."""
    versions = versions or {}
    keys = [*RUN_PANELS, *(f"{panel}:{model}" for model in models for panel in MODEL_PANELS)]
    return {key: versions.get(key, 0) for key in keys}


class DashboardState(RunHistory):
    """Everything the dashboard shows, folded from engine events in arrival order."""

    def __init__(self, config: RunConfig | None = None) -> None:
        self.system: deque[Any] = deque(maxlen=SYSTEM_HISTORY)  # tui.dashboard.system.SystemSample, 1 a second
        self.watching: str | None = None  # the run directory, when following one's log
        self.last_alert: Alert | None = None
        self.versions = panel_keys(())  # the models' panels join when the models are made
        self.probes: dict[str, ProbeState] = {}
        self.parameters: dict[str, int] = {}  # each model's parameter count, from run_started
        self._epoch_times: deque[tuple[float, int]] = deque(maxlen=RATE_WINDOW)
        self._clock_started: float | None = None  # wall time the running clock last started
        self._clock_accum = 0.0  # seconds spent running before that
        super().__init__(config)
        self.flows = {name: FlowState() for name in self.models}
        self.run_state = RunState.LOADING  # until the engine says otherwise
        self.reason = "loading torch…"
        self.models: dict[str, ModelState]  # type: ignore[assignment]  # _new_model makes them

    def _new_model(self, name: str) -> ModelState:
        return ModelState(name)

    def _new_models(self) -> dict[str, ModelHistory]:
        models = super()._new_models()
        self.versions = panel_keys(tuple(models), self.versions)
        return models

    # -- derived figures ------------------------------------------------------------------

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
        if self.run_state != RunState.RUNNING or not rate:
            return None
        return max(0, self.total_epochs - self.epoch) / rate

    # -- folding events -------------------------------------------------------------------

    def bump(self, *panels: str) -> None:
        for panel in panels:
            self.versions[panel] += 1

    def apply(self, event: Event) -> None:
        epoch_before = self.epoch
        super().apply(event)
        match event:
            case RunStarted():
                self.parameters = dict(event.parameters)
                if self.task != "echo":
                    self.best_loss = None  # the seed's data is uniform noise: chance is the best
                self._epoch_times.clear()
                self.bump(*self.versions)
            case EpochEnd() if event.model in self.models:
                if self.epoch != epoch_before:
                    self._epoch_times.append((event.time, self.epoch))
                self.bump("header", f"chart:{event.model}", f"prediction:{event.model}")
            case Prediction() if event.model in self.models:
                self.bump(f"prediction:{event.model}")
            case Gates() if event.model in self.models:
                arrays = {k: getattr(event, k) for k in ("i", "f", "g", "o", "c", "h")}
                saturation = {k: (v["low"], v["high"]) for k, v in event.saturation.items()}
                self._probe(event, arrays, saturation, None)
            case GruGates() if event.model in self.models:
                arrays = {k: getattr(event, k) for k in ("r", "z", "n", "h")}
                saturation = {k: (v["low"], v["high"]) for k, v in event.saturation.items()}
                self._probe(event, arrays, saturation, None)
            case Hidden() if event.model in self.models:
                self._probe(event, {"h": event.h}, {"h": (event.saturation_per_unit,)}, event.saturation)
            case GradientFlow() if event.model in self.flows:
                self.flows[event.model] = self._flow_state(event, self.flows[event.model].history)
                self.flows[event.model].history.add(event.epoch, list(event.norms))
                self.bump("gradients")
            case RunStateChanged():
                if event.state == RunState.RUNNING:
                    if self._clock_started is None:
                        self._clock_started = event.time
                    # A resume restarts the pace measurement: the pause is not part of it.
                    self._epoch_times.clear()
                else:
                    self._stop_clock(event.time)
                self.bump("header")
            case CommandApplied() if event.lr is not None or event.config is not None:
                self.bump("header")
            case Alert():
                self.last_alert = event
                self.bump("header")
            case RunFailed():
                self._stop_clock(event.time)
                self.bump("header")
            case RunFinished():
                self.bump("header")

    def apply_status(self, status: RunStatus) -> None:
        """Watching: what the run directory says beyond its log, once the lines read before
        it are folded (engine.rundir.follow)."""
        if self.run_state == RunState.LOADING:
            self.reason = "" if status == RunStatus.LIVE else "the log is empty"
            self.bump("header")
        if status != RunStatus.LIVE and (ended := self.trainer_gone(status)) is not None:
            self.apply(ended)

    def _new_run(self) -> None:
        super()._new_run()
        self.probes = {}
        self.flows = {name: FlowState() for name in self.models}
        self._clock_started = None
        self._clock_accum = 0.0

    def _resumed(self, epoch: int) -> None:
        super()._resumed(epoch)
        self._clock_started = None
        self.probes = {name: probe for name, probe in self.probes.items()
                       if probe.epoch <= epoch and name in self.models}
        # The run's own models: a resume may bring another set than the one shown before it.
        self.flows = {name: self.flows.get(name) or FlowState() for name in self.models}
        for name, flow in self.flows.items():
            flow.history.truncate_after(epoch)
            last = self.models[name].flow
            self.flows[name] = self._flow_state(last, flow.history) if last else FlowState(history=flow.history)

    @staticmethod
    def _flow_state(event: GradientFlow, history: FlowHistory) -> FlowState:
        return FlowState(epoch=event.epoch, norms=list(event.norms),
                         cell_norms=list(event.cell_norms) if event.cell_norms is not None else None,
                         horizon=event.horizon, cell_horizon=event.cell_horizon, history=history)

    def _probe(self, event: Gates | GruGates | Hidden, arrays: dict[str, list[list[float]]],
               saturation: dict[str, tuple[list[float], ...]], overall: float | None) -> None:
        self.probes[event.model] = ProbeState(event.epoch, event.window_start, list(event.window), arrays,
                                              saturation, overall)
        self.bump(f"gates:{event.model}")

    def _stop_clock(self, when: float) -> None:
        if self._clock_started is not None:
            self._clock_accum += max(0.0, when - self._clock_started)
            self._clock_started = None
