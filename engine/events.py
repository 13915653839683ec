"""The closed set of events a run emits: frozen dataclasses holding plain data.

The engine knows nothing of who listens. Each event turns into one JSON object with an
``"event"`` field naming it (``to_dict``) and back (``from_dict``); the run log is those
objects, one per line. ``from_dict`` is the one validator of what a log holds: each field is
checked against its type hint (bounds, lengths and a config's settings are ``Annotated`` on
it), and arrays that must agree in shape by the event's ``shape_problem``; a line it refuses
is data the reader skips, never a crash in a front end.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from itertools import chain
from typing import (
    Annotated,
    Any,
    ClassVar,
    TypedDict,
    Union,
    get_args,
    get_origin,
    get_type_hints,
    is_typeddict,
)

from engine.config import CLASS_NAMES, MAX_CLASSES, MIN_CLASSES, RunConfig


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
    DISK = "disk"  # a write to the run directory failed (a full disk, a file that is not ours)
    COMPLETED = "completed"  # every epoch trained
    ERROR = "error"  # an exception ended the run
    CLOSED = "closed"  # the Session was closed (the front end quit) while the run was active
    SIGNAL = "signal"  # SIGINT or SIGTERM reached `lstm-tui train`
    TRAINER_GONE = "trainer_gone"  # a watcher found nobody training a run whose log ends mid-run


# -- what a field may hold, beyond its type: read by from_dict's checker (the end of this file) ----


@dataclass(frozen=True)
class Range:
    """An ``Annotated`` bound: the number lies in [low, high] (NaN never does)."""

    low: float = -math.inf
    high: float = math.inf


@dataclass(frozen=True)
class Length:
    """An ``Annotated`` list length: ``items`` exactly, or from ``items`` to ``most``."""

    items: int
    most: int | None = None


@dataclass(frozen=True)
class FieldsOf:
    """An ``Annotated`` dict that is a dataclass's dict form: the keys naming its fields hold
    their types. Keys may be missing or unknown: a log keeps configs of older and later versions."""

    cls: type


MAX_TIME = 253_402_300_799.0  # 9999-12-31T23:59:59Z: the last wall time datetime can show
Time = Annotated[float, Range(0.0, MAX_TIME)]
Count = Annotated[int, Range(0)]  # epochs, windows, indices: never negative
# A class: an index into the run's classes (RunStarted.classes: Sunny, Rainy, Cloudy on the
# built-in tasks). An event alone cannot know how many the run has: the fold that does (engine/
# history.py) drops a prediction of another count; a probe's window is checked by its reader.
Class = Annotated[int, Range(0, MAX_CLASSES - 1)]
Probabilities = Annotated[list[float], Length(MIN_CLASSES, MAX_CLASSES)]  # one per class, class 0 first
ClassNames = Annotated[list[str], Length(MIN_CLASSES, MAX_CLASSES)]
Matrix = list[list[float]]  # [T][H]; from_dict checks that each event's are rectangular and agree
ConfigDict = Annotated[dict[str, Any], FieldsOf(RunConfig)]


class ModelSummary(TypedDict, total=False):
    """One model's line of RunFinished.summary."""

    epochs: Count
    val_loss: float | None
    val_acc: float | None
    probabilities: Probabilities
    predicted: Class


class Saturation(TypedDict):
    """One gate's saturation per unit (see Gates.saturation)."""

    low: list[float]
    high: list[float]


class GateSaturation(TypedDict, total=False):
    """Gates.saturation: gate -> its shares, in the gates' order."""

    i: Saturation
    f: Saturation
    g: Saturation
    o: Saturation


class GruSaturation(TypedDict, total=False):
    """GruGates.saturation: gate -> its shares, in the gates' order."""

    r: Saturation
    z: Saturation
    n: Saturation


@dataclass(frozen=True, kw_only=True)
class Event:
    name: ClassVar[str] = ""
    time: Time = field(default_factory=time.time)  # wall clock, seconds since the epoch

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.name, **dataclasses.asdict(self)}

    def shape_problem(self) -> str | None:
        """What is inconsistent between fields whose types are each right (arrays that do not
        agree in shape), for from_dict; None when nothing is."""
        return None


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    """A fresh run (or a restart, or a resume) has built its data and models."""

    name: ClassVar[str] = "run_started"
    config: ConfigDict
    device: str
    device_name: str
    parameters: dict[str, Count]  # model -> parameter count
    train_windows: Count
    val_windows: Count
    data_sha256: str  # of the series the models see (class indices as little-endian int64)
    chance_loss: float  # ln of the class count: a uniform guess
    # The lowest achievable expected cross-entropy for this task; None where it is not known
    # (a csv file's series: its baselines bound it from above).
    best_loss: float | None
    batches_per_epoch: Count
    chunks_per_batch: Count
    # A resume from a checkpoint: the epochs already trained. Later events continue from
    # epoch resumed_from_epoch + 1; the log may hold epochs past it from before the resume
    # (trained after the checkpoint, then lost), which a reader should drop. 0: a fresh run.
    resumed_from_epoch: Count = 0
    # The names of the classes, class 0 first (a csv column's values, sorted); a log from before
    # the csv task has none, and its runs had the built-in three.
    classes: ClassNames = field(default_factory=lambda: list(CLASS_NAMES))
    # Validation cross-entropy of simple predictors (engine/baselines.py): "chance", "frequency",
    # "markov-1", "markov-2", "markov-3"; {} in a log from before them.
    baselines: dict[str, float] = field(default_factory=dict)

    def shape_problem(self) -> str | None:
        if len(set(self.classes)) != len(self.classes):
            return "classes names a class twice"
        return None


@dataclass(frozen=True, kw_only=True)
class EpochEnd(Event):
    name: ClassVar[str] = "epoch_end"
    model: str  # "lstm" | "rnn" | "gru"
    epoch: Annotated[int, Range(1)]  # 1-based
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
    epoch: Count
    probabilities: Probabilities  # softmax over the run's classes (Sunny, Rainy, Cloudy built in)
    predicted: Class
    true: Class | None  # the generator's next draw; None when unknown (a file's next day)

    def shape_problem(self) -> str | None:
        return _classes_problem(self.probabilities, self.predicted, self.true)


@dataclass(frozen=True, kw_only=True)
class RunStateChanged(Event):
    """The run entered ``state``, because of ``cause``; ``reason`` says it in words for a person."""

    name: ClassVar[str] = "state"
    state: RunState
    reason: str = ""
    epoch: Count = 0  # epochs completed by both models
    # None in logs written before causes were logged; from_dict reads a later version's as None.
    cause: Cause | None = None

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
    config: ConfigDict | None = None  # restart: the config the next run starts with


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
    summary: dict[str, ModelSummary]  # model -> final metrics and prediction

    def shape_problem(self) -> str | None:
        for model, line in self.summary.items():
            if "probabilities" in line and (problem := _classes_problem(
                    line["probabilities"], line.get("predicted"), None)):
                return f"summary.{model}: {problem}"
        return None


def _classes_problem(probabilities: list[float], predicted: int | None, true: int | None) -> str | None:
    """Why a prediction's class indices do not fit its probabilities (one per class)."""
    for name, index in (("predicted", predicted), ("true", true)):
        if index is not None and index >= len(probabilities):
            return f"{name} is class {index}, but there are {len(probabilities)} probabilities"
    return None


# -- probes: inside the models after an epoch (engine/probes.py) ------------------------------
# Arrays are [T][H]: the probe window's last T steps (oldest first), one value per hidden unit
# of the top layer. Floats are rounded to 6 significant digits to keep the run log small.


@dataclass(frozen=True, kw_only=True)
class Gates(Event):
    """The LSTM's gates, cell and hidden state on the seed's inference window."""

    name: ClassVar[str] = "gates"
    model: str  # "lstm"
    epoch: Count
    window_start: Count  # index in the series of the window's first day
    window: list[Class]  # the whole window as class indices, run from zero initial states
    i: Matrix  # input gate, in [0, 1]
    f: Matrix  # forget gate, in [0, 1]
    g: Matrix  # candidate, in [-1, 1]
    o: Matrix  # output gate, in [0, 1]
    c: Matrix  # cell state
    h: Matrix  # hidden state, in [-1, 1]
    # gate -> {"low": [H], "high": [H]}: per unit, the share of the T steps with the gate < 0.1
    # and > 0.9 for i, f, o; for the candidate g (tanh, in [-1, 1]) < -0.9 and > 0.9.
    saturation: GateSaturation

    def shape_problem(self) -> str | None:
        arrays = {name: getattr(self, name) for name in ("i", "f", "g", "o", "c", "h")}
        if problem := _matrices_problem(arrays, len(self.window)):
            return problem
        units = len(self.h[0]) if self.h else 0
        for gate, shares in self.saturation.items():
            if gate not in ("i", "f", "g", "o"):
                return f"saturation of {gate!r}, which is not a gate"
            if len(shares["low"]) != units or len(shares["high"]) != units:
                return f"saturation of {gate} is not one share per unit ({units})"
        return None


@dataclass(frozen=True, kw_only=True)
class GruGates(Event):
    """The GRU's reset gate r, update gate z, candidate n and hidden state h on the seed's
    inference window (PyTorch's equations: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),
    h' = (1 - z) * n + z * h)."""

    name: ClassVar[str] = "gru_gates"
    model: str  # "gru"
    epoch: Count
    window_start: Count
    window: list[Class]
    r: Matrix  # reset gate, in [0, 1]
    z: Matrix  # update gate, in [0, 1]: the share of h kept from the step before
    n: Matrix  # candidate, in [-1, 1]
    h: Matrix  # hidden state, in [-1, 1]
    # gate -> {"low": [H], "high": [H]}: per unit, the share of the T steps with r, z < 0.1 and
    # > 0.9; for the candidate n (tanh) < -0.9 and > 0.9.
    saturation: GruSaturation

    def shape_problem(self) -> str | None:
        arrays = {name: getattr(self, name) for name in ("r", "z", "n", "h")}
        if problem := _matrices_problem(arrays, len(self.window)):
            return problem
        units = len(self.h[0]) if self.h else 0
        for gate, shares in self.saturation.items():
            if gate not in ("r", "z", "n"):
                return f"saturation of {gate!r}, which is not a gate"
            if len(shares["low"]) != units or len(shares["high"]) != units:
                return f"saturation of {gate} is not one share per unit ({units})"
        return None


@dataclass(frozen=True, kw_only=True)
class Hidden(Event):
    """The vanilla RNN's hidden state on the seed's inference window."""

    name: ClassVar[str] = "hidden"
    model: str  # "rnn"
    epoch: Count
    window_start: Count
    window: list[Class]
    h: Matrix
    saturation: float  # share of (step, unit) cells with |h| > 0.95
    saturation_per_unit: list[float]  # [H], the same share per unit

    def shape_problem(self) -> str | None:
        if problem := _matrices_problem({"h": self.h}, len(self.window)):
            return problem
        units = len(self.h[0]) if self.h else 0
        if len(self.saturation_per_unit) != units:
            return f"saturation_per_unit is not one share per unit ({units})"
        return None


@dataclass(frozen=True, kw_only=True)
class GradientFlow(Event):
    """How far back the loss gradient reaches: ||dL/dh_t|| on a fixed probe batch."""

    name: ClassVar[str] = "gradient_flow"
    model: str
    epoch: Count
    norms: list[float]  # ||dL/dh_t||, index 0 = the last step, then backwards (length T)
    cell_norms: list[float] | None  # ||dL/dc_t|| likewise; LSTM only (the GRU has no cell)
    horizon: Count  # steps back before the norm falls below 1e-3 of its last-step value
    cell_horizon: Count | None

    def shape_problem(self) -> str | None:
        if self.cell_norms is not None and len(self.cell_norms) != len(self.norms):
            return f"cell_norms and norms differ in length ({len(self.cell_norms)} and {len(self.norms)})"
        return None


def _matrices_problem(arrays: dict[str, Matrix], window: int) -> str | None:
    """Why a probe's [T][H] arrays are not all one rectangular shape with T <= the window's
    length; None when they are."""
    first: tuple[str, int, int] | None = None  # name, steps, units
    for name, rows in arrays.items():
        units = {len(row) for row in rows}
        if len(units) > 1:
            return f"{name} is not rectangular (rows of {min(units)} to {max(units)} values)"
        here = (name, len(rows), units.pop() if units else 0)
        if first is not None and here[1:] != first[1:]:
            return f"{name} is {here[1]} x {here[2]} but {first[0]} is {first[1]} x {first[2]}"
        first = first or here
    if first is not None and first[1] > window:
        return f"the arrays have {first[1]} steps, more than the window's {window}"
    return None


EVENT_TYPES: dict[str, type[Event]] = {
    cls.name: cls
    for cls in (
        RunStarted, EpochEnd, Prediction, RunStateChanged, CommandApplied, Alert, RunFailed, RunFinished,
        Gates, GruGates, Hidden, GradientFlow,
    )
}


class UnknownEvent(ValueError):
    pass


def from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from ``to_dict`` output (e.g. one line of events.jsonl), checking every
    field against its type hint: anything else is an UnknownEvent saying which field holds
    what. Fields added since a version have defaults, so old logs load."""
    data = dict(data)
    kind = data.pop("event", None)
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise UnknownEvent(f"unknown event {_show(kind)}")
    checks, required = _field_checks(cls)
    if unknown := sorted(set(data) - set(checks)):
        raise UnknownEvent(f"malformed {kind!r} event: unknown field {unknown[0]!r}")
    if missing := [name for name in required if name not in data]:
        raise UnknownEvent(f"malformed {kind!r} event: no {', '.join(missing)}")
    try:
        event = cls(**{name: checks[name](value, name) for name, value in data.items()})
    except _Mismatch as exc:
        raise UnknownEvent(f"malformed {kind!r} event: {exc}") from None
    if problem := event.shape_problem():
        raise UnknownEvent(f"malformed {kind!r} event: {problem}")
    return event


# -- the checker: a value read from JSON against a type hint ---------------------------------
# One check per hint, built once: from_dict runs it on every field of every line of a log, and
# a probe's arrays hold thousands of floats, so a list of plain values is checked in one pass.

Check = Callable[[Any, str], Any]  # (value, where it is) -> the value as the field holds it
INT_BOUND = 2**63  # a whole number beyond 64 bits is no count this program makes
# How the log writes what JSON cannot (log.py's _plain), and the spellings other tools use.
NON_FINITE = frozenset({"nan", "inf", "-inf", "+inf", "infinity", "-infinity", "+infinity"})


class _Mismatch(ValueError):
    """A value that its field's type hint does not admit; the message says where and what."""


def _show(value: Any) -> str:
    """A value as JSON, cut short: what a person sees in the log line."""
    try:
        text = json.dumps(value, allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(x: float) -> str:
    """A bound as the flags' own text writes numbers: 2, 253,402,300,799, 0.5."""
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def _fail(value: Any, where: str, expected: str) -> _Mismatch:
    return _Mismatch(f"{where} is {_show(value)}, not {expected}")


@cache
def _field_checks(cls: type[Event]) -> tuple[dict[str, Check], tuple[str, ...]]:
    """Each field's check, and the fields that have no default."""
    hints = get_type_hints(cls, include_extras=True)
    fields = dataclasses.fields(cls)
    required = tuple(f.name for f in fields
                     if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
    return {f.name: _check(hints[f.name]) for f in fields}, required


@cache
def _check(hint: Any) -> Check:  # noqa: C901 - one branch per kind of hint
    """The check of a value read from JSON against ``hint``: it returns the value as a field of
    that type holds it (an int where a float goes is a float, the log's "nan" is NaN) and raises
    _Mismatch, naming where the value is, when the hint does not admit it."""
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any:
        return lambda value, where: value
    if origin is Annotated:
        return _annotated(_check(args[0]), args[0], hint.__metadata__)
    if origin in (Union, types.UnionType):
        return _union(args)
    if hint is type(None):
        def check_none(value: Any, where: str) -> None:
            if value is not None:
                raise _fail(value, where, "null")
        return check_none
    if hint is int:
        def check_int(value: Any, where: str) -> int:
            if type(value) is not int:
                raise _fail(value, where, "a whole number")
            if not -INT_BOUND <= value < INT_BOUND:
                raise _fail(value, where, "a whole number of 64 bits")
            return value
        return check_int
    if hint is float:
        return _check_float
    if hint is str:
        def check_str(value: Any, where: str) -> str:
            if type(value) is not str:
                raise _fail(value, where, "text")
            return value
        return check_str
    if isinstance(hint, type) and issubclass(hint, Enum):
        words = ", ".join(hint)

        def check_word(value: Any, where: str) -> Enum:
            if type(value) is not str or value not in hint._value2member_map_:
                raise _fail(value, where, f"one of {words}")
            return hint(value)
        return check_word
    if is_typeddict(hint):
        return _typed_dict(hint)
    if origin is list:
        return _list(args[0])
    if origin is dict:
        item = _check(args[1])

        def check_dict(value: Any, where: str) -> dict[str, Any]:
            if type(value) is not dict:
                raise _fail(value, where, "an object")
            return {k: item(v, f"{where}.{k}") for k, v in value.items()}
        return check_dict
    raise TypeError(f"no check for the type hint {hint!r}")


def _check_float(value: Any, where: str) -> float:
    if type(value) is float:
        return value
    if type(value) is int and -INT_BOUND <= value < INT_BOUND:  # JSON tools write 2.0 as 2
        return float(value)
    if type(value) is str and value.lower() in NON_FINITE:
        return float(value)
    raise _fail(value, where, "a number")


def _list(item_hint: Any) -> Check:
    item = _check(item_hint)
    plain = _plain_type(item_hint)
    rows = _plain_type(get_args(item_hint)[0]) if get_origin(item_hint) is list else None  # a Matrix's

    def check_list(value: Any, where: str) -> list[Any]:
        if type(value) is not list:
            raise _fail(value, where, "a list")
        # The usual cases, in C: a list of plain values, or of lists of them (a probe's arrays).
        if plain is not None and _all_plain(value, plain):
            return value
        if rows is not None and set(map(type, value)) <= {list} and _all_plain(chain.from_iterable(value), rows):
            return value
        return [item(v, f"{where}[{k}]") for k, v in enumerate(value)]
    return check_list


def _plain_type(hint: Any) -> tuple[type, float, float] | None:
    """int, float or str (a whole number in a Range too): what a JSON value is as it comes,
    with nothing to convert; with the bounds of a number."""
    if hint in (int, float, str):
        return hint, -INT_BOUND, INT_BOUND - 1
    if get_origin(hint) is Annotated and get_args(hint)[0] is int and all(
            isinstance(rule, Range) for rule in hint.__metadata__):
        low = max([-INT_BOUND, *(rule.low for rule in hint.__metadata__)])
        return int, low, min([INT_BOUND - 1, *(rule.high for rule in hint.__metadata__)])
    return None


def _all_plain(values: Iterable[Any], plain: tuple[type, float, float]) -> bool:
    """Every value is of the plain type exactly (so no bool for an int); whole numbers within
    their bounds."""
    kind, low, high = plain
    values = list(values)
    if not set(map(type, values)) <= {kind}:
        return False
    return kind is not int or not values or (low <= min(values) and max(values) <= high)


def _union(members: tuple[Any, ...]) -> Check:
    checks = [_check(m) for m in members if m is not type(None)]
    optional = type(None) in members
    # A word from a later version where the field may be None (a new Cause) reads as None:
    # the rest of the event still counts.
    later_word = optional and any(isinstance(m, type) and issubclass(m, Enum) for m in members)

    def check_union(value: Any, where: str) -> Any:
        if value is None and optional:
            return None
        failure: _Mismatch | None = None
        for check in checks:
            try:
                return check(value, where)
            except _Mismatch as exc:
                failure = exc  # the hints here have one member besides None: its words say it
        if later_word and type(value) is str:
            return None
        raise failure or _fail(value, where, "null")
    return check_union


def _annotated(base: Check, base_hint: Any, metadata: tuple[Any, ...]) -> Check:
    def check_annotated(value: Any, where: str) -> Any:
        value = base(value, where)
        for rule in metadata:
            if isinstance(rule, Range) and not rule.low <= value <= rule.high:
                if rule.high == math.inf:
                    raise _fail(value, where, f"{_number(rule.low)} or more")
                raise _fail(value, where, f"between {_number(rule.low)} and {_number(rule.high)}")
            if isinstance(rule, Length) and rule.most is None and len(value) != rule.items:
                raise _Mismatch(f"{where} has {len(value)} items, not {rule.items}")
            if isinstance(rule, Length) and rule.most is not None and not rule.items <= len(value) <= rule.most:
                raise _Mismatch(f"{where} has {len(value)} items, not {rule.items} to {rule.most}")
            if isinstance(rule, FieldsOf):
                value = _in_order(value, {k: _check(h) for k, h in _dataclass_hints(rule.cls).items()}, where)
        return value
    return check_annotated


@cache
def _dataclass_hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _typed_dict(hint: Any) -> Check:
    checks = {key: _check(h) for key, h in get_type_hints(hint, include_extras=True).items()}
    required = hint.__required_keys__

    def check_typed_dict(value: Any, where: str) -> dict[str, Any]:
        if type(value) is not dict:
            raise _fail(value, where, "an object")
        if missing := sorted(required - set(value)):
            raise _Mismatch(f"{where} has no {missing[0]!r}")
        return _in_order(value, checks, where)
    return check_typed_dict


def _in_order(value: dict[str, Any], checks: dict[str, Check], where: str) -> dict[str, Any]:
    """The keys ``checks`` knows, checked and in its order (a tool that sorted the keys changes
    nothing), then the others as they are: a later version's."""
    known = {k: checks[k](value[k], f"{where}.{k}") for k in checks if k in value}
    return known | {k: v for k, v in value.items() if k not in checks}
