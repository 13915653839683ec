"""The closed set of events a run emits: frozen dataclasses holding plain data.

The engine knows nothing of who listens. Each event turns into one JSON object with an
``"event"`` field naming it (``to_dict``) and back (``from_dict``); the run log is those
objects, one per line.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar


class Word(str, Enum):
    """A closed set of words: each member is its string, so the JSON log holds plain words and
    ``RunState.PAUSED == "paused"``."""

    __str__ = str.__str__
    __format__ = str.__format__


class RunState(Word):
    """Where a run is. The engine's Session goes idle -> running <-> paused -> a final state;
    a front end shows loading until the engine has said anything."""

    LOADING = "loading"  # front ends only: torch or the run's log is still loading
    IDLE = "idle"  # a Session not started yet
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    FINISHED = "finished"
    FAILED = "failed"


FINAL_STATES = frozenset({RunState.FINISHED, RunState.STOPPED, RunState.FAILED})
ACTIVE_STATES = frozenset({RunState.IDLE, RunState.RUNNING, RunState.PAUSED})  # quitting interrupts


class Cause(Word):
    """Why the run state changed: a front end branches on this, and shows ``reason`` as text."""

    START = "start"  # a run (or a resume) began
    USER = "user"  # the keyboard or code of the process that trains the run
    WATCHER = "watcher"  # a command from the run's command file
    STEP = "step"  # one epoch asked for: running it, or paused after it
    NON_FINITE = "non_finite"  # a loss went NaN or infinite
    COMPLETED = "completed"  # every epoch trained
    ERROR = "error"  # an exception ended the run
    CLOSED = "closed"  # the Session was closed (the front end quit) while the run was active
    SIGNAL = "signal"  # SIGINT or SIGTERM reached `lstm-tui train`
    TRAINER_GONE = "trainer_gone"  # a watcher found nobody training a run whose log ends mid-run


@dataclass(frozen=True, kw_only=True)
class Event:
    name: ClassVar[str] = ""
    time: float = field(default_factory=time.time)  # wall clock, seconds since the epoch

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.name, **dataclasses.asdict(self)}


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    """A fresh run (or a restart, or a resume) has built its data and models."""

    name: ClassVar[str] = "run_started"
    config: dict[str, Any]
    device: str
    device_name: str
    parameters: dict[str, int]  # model -> parameter count
    train_windows: int
    val_windows: int
    data_sha256: str
    chance_loss: float
    best_loss: float  # lowest achievable expected cross-entropy for this task
    batches_per_epoch: int
    chunks_per_batch: int
    # A resume from a checkpoint: the epochs already trained. Later events continue from
    # epoch resumed_from_epoch + 1; the log may hold epochs past it from before the resume
    # (trained after the checkpoint, then lost), which a reader should drop. 0: a fresh run.
    resumed_from_epoch: int = 0


@dataclass(frozen=True, kw_only=True)
class EpochEnd(Event):
    name: ClassVar[str] = "epoch_end"
    model: str  # "lstm" | "rnn"
    epoch: int  # 1-based
    train_loss: float
    val_loss: float | None  # None when there is no validation split
    val_acc: float | None
    grad_norm: float  # mean over the epoch's updates of the global gradient norm
    lr: float
    seconds: float
    samples_per_s: float


@dataclass(frozen=True, kw_only=True)
class Prediction(Event):
    """The seed's inference: tomorrow's weather from the last look_back days."""

    name: ClassVar[str] = "prediction"
    model: str
    epoch: int
    probabilities: list[float]  # softmax over Sunny, Rainy, Cloudy
    predicted: int
    true: int | None  # the generator's next draw; None when unknown


@dataclass(frozen=True, kw_only=True)
class RunStateChanged(Event):
    """The run entered ``state``, because of ``cause``; ``reason`` says it in words for a person."""

    name: ClassVar[str] = "state"
    state: RunState
    reason: str = ""
    epoch: int = 0  # epochs completed by both models
    cause: Cause | None = None  # None in logs written before causes were logged

    def __post_init__(self) -> None:
        # Plain words (a log line, a test) become members; a word outside the set is a ValueError.
        object.__setattr__(self, "state", RunState(self.state))
        if self.cause is not None:
            object.__setattr__(self, "cause", Cause(self.cause))




@dataclass(frozen=True, kw_only=True)
class CommandApplied(Event):
    """A command from the keyboard, a watcher or a script took effect."""

    name: ClassVar[str] = "command"
    command: str  # pause | resume | step | stop | restart | scale_lr
    detail: str = ""  # where it came from: "app", or "commands.jsonl (pid N)" from a watcher
    lr: float | None = None  # the learning rate after the command
    config: dict[str, Any] | None = None  # restart: the config the next run starts with


@dataclass(frozen=True, kw_only=True)
class Alert(Event):
    name: ClassVar[str] = "alert"
    level: str  # "info" | "warning" | "error"
    message: str


@dataclass(frozen=True, kw_only=True)
class RunFailed(Event):
    name: ClassVar[str] = "run_failed"
    message: str
    traceback: str


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    name: ClassVar[str] = "run_finished"
    summary: dict[str, dict[str, Any]]  # model -> final metrics and prediction


# -- probes: inside the models after an epoch (engine/probes.py) ------------------------------
# Arrays are [T][H]: the probe window's last T steps (oldest first), one value per hidden unit
# of the top layer. Floats are rounded to 6 significant digits to keep the run log small.


@dataclass(frozen=True, kw_only=True)
class Gates(Event):
    """The LSTM's gates, cell and hidden state on the seed's inference window."""

    name: ClassVar[str] = "gates"
    model: str  # "lstm"
    epoch: int
    window_start: int  # index in the series of the window's first day
    window: list[int]  # the whole window as class indices, run from zero initial states
    i: list[list[float]]  # input gate, in [0, 1]
    f: list[list[float]]  # forget gate, in [0, 1]
    g: list[list[float]]  # candidate, in [-1, 1]
    o: list[list[float]]  # output gate, in [0, 1]
    c: list[list[float]]  # cell state
    h: list[list[float]]  # hidden state, in [-1, 1]
    # gate -> {"low": [H], "high": [H]}: per unit, the share of the T steps with the gate < 0.1
    # and > 0.9 for i, f, o; for the candidate g (tanh, in [-1, 1]) < -0.9 and > 0.9.
    saturation: dict[str, dict[str, list[float]]]


@dataclass(frozen=True, kw_only=True)
class Hidden(Event):
    """The vanilla RNN's hidden state on the seed's inference window."""

    name: ClassVar[str] = "hidden"
    model: str  # "rnn"
    epoch: int
    window_start: int
    window: list[int]
    h: list[list[float]]
    saturation: float  # share of (step, unit) cells with |h| > 0.95
    saturation_per_unit: list[float]  # [H], the same share per unit


@dataclass(frozen=True, kw_only=True)
class GradientFlow(Event):
    """How far back the loss gradient reaches: ||dL/dh_t|| on a fixed probe batch."""

    name: ClassVar[str] = "gradient_flow"
    model: str
    epoch: int
    norms: list[float]  # ||dL/dh_t||, index 0 = the last step, then backwards (length T)
    cell_norms: list[float] | None  # ||dL/dc_t|| likewise; LSTM only
    horizon: int  # steps back before the norm falls below 1e-3 of its last-step value
    cell_horizon: int | None


EVENT_TYPES: dict[str, type[Event]] = {
    cls.name: cls
    for cls in (
        RunStarted, EpochEnd, Prediction, RunStateChanged, CommandApplied, Alert, RunFailed, RunFinished,
        Gates, Hidden, GradientFlow,
    )
}


class UnknownEvent(ValueError):
    pass


def from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from ``to_dict`` output (e.g. one line of events.jsonl)."""
    data = dict(data)
    kind = data.pop("event", None)
    cls = EVENT_TYPES.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise UnknownEvent(f"unknown event {kind!r}")
    for f in dataclasses.fields(cls):
        # The run log writes NaN and infinity as strings, since JSON has no such numbers.
        if "float" in str(f.type) and isinstance(data.get(f.name), str):
            try:
                data[f.name] = float(data[f.name])
            except ValueError:
                raise UnknownEvent(f"malformed {kind!r} event: {f.name} is not a number") from None
    if cls is RunStateChanged and data.get("cause") not in (None, *Cause):
        data["cause"] = None  # a cause from a later version: the state itself still counts
    try:
        return cls(**data)
    except (TypeError, ValueError) as exc:  # ValueError: a state outside RunState
        raise UnknownEvent(f"malformed {kind!r} event: {exc}") from None
