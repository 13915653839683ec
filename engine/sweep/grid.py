"""The grid of a sweep: every run flag's comma list, the seeds, their product as trials, and the
sweep directory that records it (sweep.json). Torch-free.

One parser of a flag's text: each item of a list is read by engine.config.parse_field, as the
flag of `lstm-tui train` reads its one value, and kept as the text format_field writes for it,
so sweep.json reads back as the same grid. In a list, commas separate items: a thousands
separator is written 10_000, not 10,000.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any

from engine.config import (
    DEFAULT_MODELS,
    DERIVED_KEYS,
    PRESETS,
    TASKS,
    ConfigError,
    RunConfig,
    build_config,
    format_field,
    normal_models,
    parse_field,
    parse_whole,
    preset_values,
)
from engine.rundir.directory import RunDirectory
from engine.rundir.files import RunDirError, atomic_write_text
from engine.rundir.lock import RunLock, holder_pid, is_locked

GRID_LIMIT = 10_000  # trials in one sweep at most: beyond it, a typo (--seeds 1000000) is likelier
ECHO_LOOK_AHEAD = 5  # on the echo task a look-back not given is lag + 5: the echoed day, and a few more
FORMAT = 1  # sweep.json's format; a reader refuses any other
SWEEP_FILE = "sweep.json"
TRIALS_DIR = "trials"
LOCK_FILE = "lock"
WORKERS_LOG = "workers.log"
SWEEPS_ROOT = Path("sweeps")  # where sweeps go by default, under the current directory
NAME_LIMIT = 150  # a trial's directory name beyond this (many axes) is point-N_seed-S instead
DEFAULT_SEED = RunConfig().seed
# Every run flag that takes a list, in the order trial names, tables and sweep.json give them.
# --models is not among them: every trial trains its models in lockstep, as a run does.
AXES = ("preset", "task", *(f.name for f in fields(RunConfig)
                            if f.name not in ("preset", "models", "seed", *DERIVED_KEYS)))
_UNSAFE = re.compile(r"[^A-Za-z0-9.+-]")  # in a directory name: what a shell or scp would trip on


class GridError(ValueError):
    """A grid or sweep directory that cannot be run; the message is one line naming why."""


def flag(name: str) -> str:
    """The flag of RunConfig field ``name``: look_back -> --look-back."""
    return "--" + name.replace("_", "-")


def config_from_flags(flags: Mapping[str, Any]) -> RunConfig:
    """A preset's values, then each flag given (``flags``: field -> value; None is the word of
    NONE_WORDS, e.g. --batch-size full). On the echo task a look-back not given is lag + 5, so
    ``--lag 80`` needs no ``--look-back 85`` (the echo preset's own 35 is its lag 30 + 5).
    A csv task's file is read here (engine.config.build_config). ConfigError names the first
    field out of range, or what is wrong with the file."""
    values: dict[str, Any] = {}
    preset = flags.get("preset")
    if preset:
        values.update(preset_values(preset), preset=preset)
    values.update({name: value for name, value in flags.items() if name != "preset"})
    if preset and (values.get("task") != PRESETS[preset]["task"]
                   or values.get("data") != preset_values(preset).get("data")):
        values["preset"] = None  # the task (or the file) no longer matches the preset's name
    if values.get("task") != "csv":  # a csv preset's file settings, on another task given
        for name in ("data", "column", "order_by"):
            if name not in flags:
                values.pop(name, None)
    if values.get("task") == "echo" and "look_back" not in flags:
        lag = values.get("lag", RunConfig.lag)
        if isinstance(lag, int) and not isinstance(lag, bool):
            values["look_back"] = lag + ECHO_LOOK_AHEAD
    return build_config(values)


def _canonical(name: str, item: str) -> str:
    """One item of a flag's list as the text that reads back as its value; GridError if none."""
    if name == "preset":
        if item not in PRESETS:
            raise GridError(f"preset: unknown preset {item!r} (choose from {', '.join(PRESETS)})")
        return item
    if name == "task":
        if item not in TASKS:
            raise GridError(f"task: unknown task {item!r} (choose from {', '.join(TASKS)})")
        return item
    try:
        return format_field(name, parse_field(name, item))
    except ConfigError as exc:
        raise GridError(str(exc)) from None


def _value(name: str, text: str) -> Any:
    """The RunConfig value of a canonical text (None for a NONE_WORDS word)."""
    return text if name in ("preset", "task") else parse_field(name, text)


def parse_list(name: str, text: str) -> tuple[str, ...]:
    """The items of flag ``name``'s comma list, each canonical; GridError for an empty item, an
    item that is not a value of the flag, or one listed twice."""
    items = [item.strip() for item in text.split(",")]
    if not any(items):
        raise GridError(f"{name.replace('_', '-')}: no value given")
    if not all(items):
        raise GridError(f"{name.replace('_', '-')}: an empty item in {text!r}")
    texts: list[str] = []
    for item in items:
        canonical = _canonical(name, item)
        if canonical in texts:
            raise GridError(f"{name.replace('_', '-')}: {item} is listed twice")
        texts.append(canonical)
    return tuple(texts)


def parse_seeds(count: str | None, listed: str | None) -> tuple[int, ...]:
    """``--seeds N`` (seeds 0..N-1) or ``--seed A,B`` (those); neither: the default seed."""
    if count is not None and listed is not None:
        raise GridError("seeds: give --seeds N (seeds 0..N-1) or --seed A,B,..., not both")
    if count is not None:
        try:
            n = parse_whole(count, "seeds")
        except ConfigError as exc:
            raise GridError(str(exc)) from None
        if not 1 <= n <= GRID_LIMIT:
            raise GridError(f"seeds: {n:,} is out of range (allowed 1..{GRID_LIMIT:,})")
        return tuple(range(n))
    if listed is not None:
        return tuple(int(text) for text in parse_list("seed", listed))
    return (DEFAULT_SEED,)


@dataclass(frozen=True)
class Trial:
    """One run of the sweep: a grid point and a seed."""

    name: str  # its run directory's name under SWEEP_DIR/trials/
    index: int  # the grid point's index in Grid.points
    point: tuple[tuple[str, str], ...]  # (field, text) of each swept axis
    seed: int
    config: RunConfig


@dataclass(frozen=True)
class Grid:
    """What a sweep runs: each flag given with its values (canonical texts, in the order given),
    the seeds, and the models every trial trains (normalised: "GRU, lstm" is "gru,lstm")."""

    flags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    seeds: tuple[int, ...] = (DEFAULT_SEED,)
    models: str = DEFAULT_MODELS

    @classmethod
    def from_flags(cls, lists: Mapping[str, str], *, seeds: str | None = None, seed: str | None = None,
                   models: str | None = None) -> Grid:
        """The grid of the flags' texts (field -> comma list, as typed); GridError for the first
        problem, in one line. Too large a grid is refused before any trial is built."""
        unknown = sorted(set(lists) - set(AXES))
        if unknown:
            raise GridError(f"{unknown[0].replace('_', '-')}: not a flag a sweep can list")
        flags = {name: parse_list(name, lists[name]) for name in AXES if name in lists}
        seed_values = parse_seeds(seeds, seed)
        try:
            models = normal_models(DEFAULT_MODELS if models is None else models)
        except ConfigError as exc:
            raise GridError(str(exc)) from None
        size = math.prod(len(values) for values in flags.values()) * len(seed_values)
        if size > GRID_LIMIT:
            factors = [f"{len(v)} {n.replace('_', '-')}" for n, v in flags.items() if len(v) > 1]
            factors.append(f"{len(seed_values)} seed{'s' * (len(seed_values) > 1)}")
            raise GridError(f"the grid has {size:,} trials ({' x '.join(factors)}); at most {GRID_LIMIT:,}")
        grid = cls(flags, seed_values, models)
        grid.trials  # noqa: B018 - every trial's config is checked now, before anything starts
        return grid

    @property
    def axes(self) -> tuple[str, ...]:
        """The swept fields: those given more than one value."""
        return tuple(name for name, values in self.flags.items() if len(values) > 1)

    @cached_property
    def points(self) -> list[tuple[tuple[str, str], ...]]:
        """Every grid point, as (field, text) of each swept axis, in product order."""
        axes = self.axes
        return [tuple(zip(axes, combo)) for combo in itertools.product(*(self.flags[a] for a in axes))]

    @property
    def size(self) -> int:
        return len(self.points) * len(self.seeds)

    @cached_property
    def trials(self) -> list[Trial]:
        """Every trial, seed by seed (each seed over every point before the next seed), so the
        first trials to end already cover the whole grid. GridError for a config out of range."""
        fixed = {name: _value(name, values[0]) for name, values in self.flags.items() if len(values) == 1}
        fixed["models"] = self.models
        configs: list[RunConfig] = []
        for point in self.points:
            flags = {**fixed, **{name: _value(name, text) for name, text in point}}
            try:
                configs.append(config_from_flags({**flags, "seed": self.seeds[0]}))
            except ConfigError as exc:
                where = f" (at {point_label(point)})" if point else ""
                raise GridError(f"{exc}{where}") from None
        trials = []
        for seed in self.seeds:
            for index, (point, config) in enumerate(zip(self.points, configs)):
                try:
                    trial_config = config.replace(seed=seed)
                except ConfigError as exc:
                    raise GridError(str(exc)) from None
                trials.append(Trial(trial_name(index, point, seed), index, point, seed, trial_config))
        return trials

    def to_json(self) -> dict[str, Any]:
        return {"flags": {name: list(values) for name, values in self.flags.items()},
                "seeds": list(self.seeds), "models": self.models}

    @classmethod
    def from_json(cls, data: Any) -> Grid:
        """The grid sweep.json's "grid" holds, checked as flags are; GridError otherwise."""
        if not isinstance(data, dict) or set(data) != {"flags", "seeds", "models"}:
            raise GridError("its grid is not an object of flags, seeds and models")
        flags, seeds, models = data["flags"], data["seeds"], data["models"]
        if not isinstance(flags, dict) or not all(
                isinstance(v, list) and v and all(isinstance(t, str) for t in v) for v in flags.values()):
            raise GridError("its flags are not lists of texts")
        if not isinstance(seeds, list) or not seeds or not all(type(s) is int for s in seeds):
            raise GridError("its seeds are not a list of whole numbers")
        if not isinstance(models, str):
            raise GridError("its models are not text")
        grid = cls.from_flags({name: ",".join(values) for name, values in flags.items()},
                              seed=",".join(str(s) for s in seeds), models=models)
        if grid.to_json() != data:  # not as this version writes it (say, items out of their form)
            raise GridError("its grid is not in this version's form")
        return grid

    def difference(self, other: Grid) -> str:
        """How ``other`` differs from this grid, in a few words ("its --lag is 10,20, this one's 10")."""
        for name in AXES:
            mine, theirs = self.flags.get(name), other.flags.get(name)
            if mine != theirs:
                return (f"its {flag(name)} is {','.join(mine) if mine else 'not given'}, "
                        f"this one's {','.join(theirs) if theirs else 'not given'}")
        if self.seeds != other.seeds:
            return f"its seeds are {seed_label(self.seeds)}, this one's {seed_label(other.seeds)}"
        return f"its --models is {self.models}, this one's {other.models}"

    def trial(self, name: str) -> Trial | None:
        return self._by_name.get(name)

    @cached_property
    def _by_name(self) -> dict[str, Trial]:
        return {trial.name: trial for trial in self.trials}


def seed_label(seeds: tuple[int, ...]) -> str:
    """'0..9' for a range from 0, else the list."""
    if len(seeds) > 2 and seeds == tuple(range(len(seeds))):
        return f"0..{len(seeds) - 1}"
    return ",".join(str(s) for s in seeds)


def point_label(point: tuple[tuple[str, str], ...]) -> str:
    """A grid point in flag spelling: '--lag 10 --forget-bias 2'; '' for the only point."""
    return " ".join(f"{flag(name)} {text}" for name, text in point)


def trial_name(index: int, point: tuple[tuple[str, str], ...], seed: int) -> str:
    """lag-10_forget-bias-default_seed-3: each swept axis and the seed."""
    parts = [f"{name.replace('_', '-')}-{_UNSAFE.sub('.', text)}" for name, text in point]
    name = "_".join([*parts, f"seed-{seed}"])
    return name if len(name) <= NAME_LIMIT else f"point-{index}_seed-{seed}"


class SweepDirectory:
    """One sweep directory, as any process sees it (see engine/sweep/__init__.py for its files)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock: RunLock | None = None

    def __repr__(self) -> str:
        return f"SweepDirectory({str(self.path)!r})"

    @property
    def trials_path(self) -> Path:
        return self.path / TRIALS_DIR

    @property
    def workers_log(self) -> Path:
        return self.path / WORKERS_LOG

    def trial(self, name: str) -> RunDirectory:
        """A trial's run directory."""
        return RunDirectory(self.trials_path / name)

    @property
    def is_sweep(self) -> bool:
        return (self.path / SWEEP_FILE).is_file()

    def load_grid(self) -> Grid:
        """The grid sweep.json records; GridError for a directory that is not a sweep, or a
        sweep.json this version cannot read."""
        path = self.path / SWEEP_FILE
        if not self.path.is_dir():
            raise GridError(f"sweep directory {self.path} does not exist" if not self.path.exists()
                            else f"{self.path} is not a directory")
        if not path.is_file():
            raise GridError(f"{self.path} is not a sweep directory (no {SWEEP_FILE})")
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise GridError(f"{path} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT or "grid" not in data:
            raise GridError(f"{path} is not a sweep of this version (format {FORMAT})")
        try:
            return Grid.from_json(data["grid"])
        except GridError as exc:
            raise GridError(f"{path} is not a valid sweep: {exc}") from None

    def check_for(self, grid: Grid) -> None:
        """GridError unless ``grid`` may run here: a new or empty directory, or this very sweep."""
        if self.path.exists() and not self.path.is_dir():
            raise GridError(f"sweep directory {self.path} is a file, not a directory")
        if self.is_sweep:
            theirs = self.load_grid()
            if theirs != grid:
                raise GridError(f"{self.path} holds another sweep ({theirs.difference(grid)}): continue it "
                                f"with `lstm-tui sweep --sweep-dir {self.path}` alone, or pick another --sweep-dir")
        elif self.path.is_dir() and any(self.path.iterdir()):
            raise GridError(f"{self.path} is not empty and holds no sweep (no {SWEEP_FILE}): pick another "
                            "--sweep-dir")

    def create(self, grid: Grid) -> None:
        """Write sweep.json (unless it records this grid already) and make trials/."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            if not self.is_sweep:
                text = json.dumps({"format": FORMAT, "grid": grid.to_json(), "trials": grid.size,
                                   "axes": list(grid.axes)}, indent=2) + "\n"
                atomic_write_text(self.path / SWEEP_FILE, text)
            self.trials_path.mkdir(exist_ok=True)
        except OSError as exc:
            raise GridError(f"cannot create the sweep in {self.path}: {exc.strerror or exc}") from None

    # -- the one process running it --------------------------------------------------------------

    @contextlib.contextmanager
    def held(self) -> Iterator[SweepDirectory]:
        """This process runs the sweep while inside; GridError when another one does."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            lock = RunLock(self.path / LOCK_FILE)
        except RunDirError:
            pid = holder_pid(self.path / LOCK_FILE)
            raise GridError(f"{self.path} is being run by another lstm-tui sweep (pid {pid or '?'})") from None
        except OSError as exc:
            raise GridError(f"cannot use {self.path}: {exc.strerror or exc}") from None
        lock.claim()
        self._lock = lock
        try:
            yield self
        finally:
            lock.release()
            self._lock = None

    @property
    def live(self) -> bool:
        """A process is running the sweep right now."""
        return is_locked(self.path / LOCK_FILE)

    def runner_pid(self) -> int | None:
        return holder_pid(self.path / LOCK_FILE)

    def write_text(self, name: str, text: str) -> Path:
        """Write a report (summary.csv, summary.svg) into the sweep directory, atomically."""
        if name in (SWEEP_FILE, LOCK_FILE, TRIALS_DIR, WORKERS_LOG):
            raise ValueError(f"{name} is the sweep's own file")
        path = self.path / name
        atomic_write_text(path, text)
        return path


def new_sweep_dir(root: Path, grid: Grid) -> SweepDirectory:
    """A fresh ``root/<UTC time>-<preset or task>/``, named as a run directory is."""
    return SweepDirectory(RunDirectory.new(root, grid.trials[0].config).path)

