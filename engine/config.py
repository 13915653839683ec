"""RunConfig: every knob of a run, validated once, plus the named presets."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, fields
from typing import Any

# seed: the article's uniform random weather; echo: a day that comes back; csv: a column of a
# CSV file (--data FILE --column NAME), its distinct values the classes (engine/csv_series.py).
TASKS = ("seed", "echo", "csv")
# The models a run may train side by side (engine/models.py), in the order of their weights' draw.
MODEL_KINDS = ("lstm", "rnn", "gru")
DEFAULT_MODELS = "lstm,rnn"  # the seed article's pair: every run before --models trained these
MODEL_TITLES = {"lstm": "LSTM", "rnn": "RNN", "gru": "GRU"}  # what every screen calls each model
CLASS_NAMES = ("Sunny", "Rainy", "Cloudy")  # the seed's weather_map: the built-in tasks' classes
NUM_CLASSES = len(CLASS_NAMES)  # of the built-in tasks; a csv run's are its file's (RunStarted.classes)
CHANCE_LOSS = math.log(NUM_CLASSES)  # cross-entropy of a uniform guess over 3 classes
# How many classes a csv column may have: one is nothing to predict, and past 64 a class is a
# few rows of a short file (and one-hot inputs grow with the count).
MIN_CLASSES, MAX_CLASSES = 2, 64
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")

_DEVICE_RE = re.compile(r"^(auto|cpu|cuda|cuda:\d+|mps)$")
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


# The learning rates a run may have, from --lr, config.json, the form, or [ and ] (which stop at
# the ends). Adam moves each weight by about lr per step whatever the gradient's size: at 10 a
# step already throws weights of order 1 far past any minimum (at 1e16 losses reach 6.6e15, at
# 1e300 Adam's step overflows float32); below 1e-6, 400 epochs move a weight by under 4e-4, a few
# float32 roundings of it each step, so nothing trains.
LR_MIN, LR_MAX = 1e-6, 10.0


def clamp_lr(lr: float) -> float:
    """``lr`` brought into [LR_MIN, LR_MAX] (an overflow to infinity included)."""
    return min(max(lr, LR_MIN), LR_MAX)


def lr_factor(value: Any) -> float:
    """``value`` as a factor to scale the learning rate by; ValueError unless it is a finite
    positive number (a factor however large is fine: the rate stops at its bound)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ValueError(f"a learning-rate factor must be a finite positive number, not {value!r}")
    return float(value)


class ConfigError(ValueError):
    """A configuration value is out of range; the message names the field."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field.replace('_', '-')}: {message}")


def parse_size(text: str | int) -> int:
    """'2G', '512M', '1.5GB', or a plain byte count -> bytes."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    match = _SIZE_RE.match(str(text))
    if not match:
        raise ConfigError("memory_budget", f"{text!r} is not a size (examples: 512M, 2G)")
    number, unit = match.groups()
    return int(float(number) * _SIZE_UNITS[unit.lower()])


def format_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


# The settings added since the first version (git log -p engine/config.py: the probes', in
# commit acc7c4a): a config.json written before them lacks them and loads with their defaults.
# A setting added later goes here too; no other may be missing (RunConfig.from_dict).
LATER_KEYS = frozenset({"probe_every", "probe_seconds", "probe_steps", "models",
                        "data", "column", "order_by", "data_file_sha256"})
# Fields no flag sets: what build_config reads from a csv task's file (with series_length).
DERIVED_KEYS = frozenset({"data_file_sha256"})


@dataclass(frozen=True)
class RunConfig:
    """One run of its models side by side. Field names are the CLI flags and config.json keys."""

    task: str = "seed"
    series_length: int = 10_000
    look_back: int = 10
    lag: int = 30
    echo_p: float = 0.9
    hidden: int = 10
    layers: int = 1
    # Comma-separated, in the order shown; spelled the same in flags, forms and config.json.
    models: str = DEFAULT_MODELS
    forget_bias: float | None = None  # None: PyTorch's random init, as the seed
    epochs: int = 400
    lr: float = 0.01
    batch_size: int | None = None  # None: the whole training set, as the seed does
    val_fraction: float = 0.2
    seed: int = 42
    device: str = "auto"
    memory_budget: int = 2 * 2**30
    # Probes (engine/probes.py): after every k-th epoch, at most one per probe_seconds of wall
    # time; the first and last epochs always. A probe costs ~10 ms at the seed presets and ~30 ms
    # at echo (2-core CPU), so one a second stays near 1% of training time at every preset.
    probe_every: int = 1  # 0 turns probes off
    probe_seconds: float = 1.0  # 0: no time limit
    probe_steps: int = 64  # most time steps a probe shows
    # The csv task: the file (an absolute path), the column whose values are the classes, and
    # the column to sort the rows by (None: the file's order). series_length is then the file's
    # rows (or the first of them), and data_file_sha256 its bytes' hash, both set by
    # build_config when it reads the file: a run whose file has changed is refused (read_data).
    data: str | None = None
    column: str | None = None
    order_by: str | None = None
    data_file_sha256: str | None = None
    preset: str | None = None

    def __post_init__(self) -> None:
        validate(self)

    @property
    def label(self) -> str:
        """What a run is called on every screen: its preset, or its task (and the echo's lag)."""
        return run_label(self.to_dict())

    @property
    def model_names(self) -> tuple[str, ...]:
        """The models of the run, in the order shown: ("lstm", "rnn") by default."""
        return tuple(self.models.split(","))

    @property
    def num_windows(self) -> int:
        return self.series_length - self.look_back

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """The config a config.json (or a checkpoint) holds. Every setting must be there but
        those added since the first version (LATER_KEYS), which an older file lacks and which
        get their defaults: a file with others missing was cut short, and completing it with
        defaults would train another run than the one it describes."""
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(unknown[0], "unknown setting")
        missing = [name for name in known if name not in data and name not in LATER_KEYS]
        if missing:
            also = f" (and {', '.join(name.replace('_', '-') for name in missing[1:])})" if missing[1:] else ""
            raise ConfigError(missing[0], f"missing{also}")
        return cls(**data)


def model_names(config: dict[str, Any]) -> tuple[str, ...]:
    """The models of a run as a log or config.json holds its config: one written before
    --models has none, and trained the seed's pair. Names this version does not know (a later
    version's, or a crafted log's) are left out; a list of none of them is the seed's pair."""
    text = config.get("models")
    names = [name.strip().lower() for name in text.split(",")] if isinstance(text, str) else []
    known = tuple(dict.fromkeys(name for name in names if name in MODEL_KINDS))
    return known or tuple(DEFAULT_MODELS.split(","))


def normal_models(value: Any) -> str:
    """``value`` (text such as 'LSTM, gru') as RunConfig.models spells it ('lstm,gru');
    ConfigError for an unknown, repeated or missing name."""
    if not isinstance(value, str):
        raise ConfigError("models", f"{value!r} is not a comma list of models ({', '.join(MODEL_KINDS)})")
    names = [name.strip().lower() for name in value.split(",")]
    if not any(names):
        raise ConfigError("models", f"no model named (choose from {', '.join(MODEL_KINDS)})")
    for name in names:
        if not name:
            raise ConfigError("models", f"{value!r} has an empty name (choose from {', '.join(MODEL_KINDS)})")
        if name not in MODEL_KINDS:
            raise ConfigError("models", f"unknown model {name!r} (choose from {', '.join(MODEL_KINDS)})")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError("models", f"{repeated[0]} is named twice (each model runs once)")
    return ",".join(names)


def run_label(config: dict[str, Any]) -> str:
    """RunConfig.label of a config as a log or a config.json holds it, which may be a version's
    that RunConfig no longer accepts."""
    if config.get("preset"):
        return str(config["preset"])
    if config.get("task") == "csv":
        return f"csv {config.get('column')}"
    return f"echo lag {config.get('lag')}" if config.get("task") == "echo" else "seed"


PRESETS: dict[str, dict[str, Any]] = {
    # The seed article's three result rows: 400 full-batch epochs, hidden 10, Adam lr 0.01.
    "seed-10k": dict(task="seed", series_length=10_000),
    "seed-50k": dict(task="seed", series_length=50_000),
    "seed-100k": dict(task="seed", series_length=100_000),
    # Beyond the seed: a dependency 30 steps back. The LSTM learns it, the RNN does not.
    "echo": dict(
        task="echo", series_length=20_000, look_back=35, lag=30, echo_p=0.9,
        epochs=15, batch_size=128,
        # PyTorch starts the forget gate near 0.5, so the cell halves every step and a 30-step
        # echo is out of reach; bias 2 (f ~ 0.88) is the usual remedy (Gers et al. 2000).
        forget_bias=2.0,
    ),
    # Seattle's daily weather, 2012-2015 (1,461 days: sun, fog, rain, drizzle, snow), from the
    # CSV the vega_datasets package ships (the `weather` extra); its file is found at run time
    # (seattle_csv), its rows sorted by date. A look-back of 30 days sees a month; mini-batches
    # of 64 give 18 updates an epoch on the 1,139 training windows, where a full batch would give
    # one and need hundreds of epochs; by epoch 10-25 every model's validation loss is at its
    # lowest (seeds 0-2), so 30 epochs show the fall and the start of overfitting. Measured on the
    # 2-core box (torch 2.13, one thread, while other jobs held both cores): 30 epochs of the LSTM
    # and RNN take 6 s of CPU time (all three models 11 s), and the whole `lstm-tui train --preset
    # seattle`, startup, probes and checkpoints included, 10 s of CPU in 21 s of wall time.
    "seattle": dict(task="csv", column="weather", order_by="date", look_back=30, batch_size=64, epochs=30),
}
SEATTLE_FILE = ("vega_datasets", "_data", "seattle-weather.csv")  # the package, then the file inside it
WEATHER_EXTRA = "pip install 'lstm-tui[weather]'"


def seattle_csv() -> str:
    """The path of the Seattle weather CSV inside the installed vega_datasets package, found
    without importing it (its __init__ imports pandas); ConfigError saying how to install it."""
    import importlib.util
    from pathlib import Path

    package, *inside = SEATTLE_FILE
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location).joinpath(*inside)
        if path.is_file():
            return str(path)
    raise ConfigError("preset", f"seattle reads its weather from the vega_datasets package, which is not "
                      f"installed: {WEATHER_EXTRA}")


def preset_values(name: str) -> dict[str, Any]:
    """The settings of preset ``name`` (seattle's file found here); ConfigError for an unknown
    name, or a preset whose data is not installed."""
    if name not in PRESETS:
        raise ConfigError("preset", f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
    values = dict(PRESETS[name])
    if name == "seattle":
        values["data"] = seattle_csv()
    return values


@dataclass(frozen=True)
class CheckpointCadence:
    """When a run's checkpoint.pt is written (engine/rundir), besides every pause, stop, finish
    and close.

    Measured on a 2-core CPU box: one checkpoint (torch.save of both models and both Adam
    states, 34 KB, plus two fsyncs) takes 3.4 ms at seed-10k (p90 5 ms) and 6.6 ms at echo,
    against epochs of ~100 ms and ~1.2 s. Every epoch would cost 3.3% at seed-10k, and more
    on a GPU, whose epochs are shorter; at most one per 2 s costs under 0.5% on any device.
    """

    every: int = 1  # after every N-th completed epoch; 0: only at pause, stop, finish, close
    seconds: float = 2.0  # and at most one per S seconds of wall time; 0: no time limit

    def __post_init__(self) -> None:
        if isinstance(self.every, bool) or not isinstance(self.every, int) or not 0 <= self.every <= 10_000_000:
            raise ConfigError("checkpoint_every", f"{self.every!r} is out of range (allowed 0..10,000,000)")
        if not (isinstance(self.seconds, (int, float)) and math.isfinite(self.seconds)
                and 0 <= self.seconds <= 86_400):
            raise ConfigError("checkpoint_seconds", f"{self.seconds!r} is out of range (allowed 0..86,400)")


def from_preset(name: str, **overrides: Any) -> RunConfig:
    values = {**preset_values(name), **overrides}
    values.setdefault("preset", name)
    return build_config(values)


# -- the csv task's file: read once when a config is built, checked whenever a run starts ------


def build_config(values: dict[str, Any]) -> RunConfig:
    """``RunConfig(**values)``, a csv task's file read first: series_length becomes its rows
    (a series_length given takes the first rows of it), data_file_sha256 its hash, and data an
    absolute path. Every config made from what a person typed (flags, presets, a sweep's grid)
    is built here. ConfigError for a file that cannot be a series, in one line."""
    if values.get("task") != "csv" or not isinstance(values.get("data"), str) \
            or not isinstance(values.get("column"), str) or not values["data"].strip():
        return RunConfig(**values)  # validate says what is missing
    import os

    series = _read(values["data"], values["column"], values.get("order_by"))
    rows = series.rows
    length = values.get("series_length", rows)
    if isinstance(length, int) and not isinstance(length, bool) and length > rows:
        raise ConfigError("series_length", f"{length:,} is more than the {rows:,} rows of {values['data']}")
    return RunConfig(**{**values, "data": os.path.abspath(values["data"]), "series_length": length,
                        "data_file_sha256": series.sha256})


def _read(path: str, column: str, order_by: str | None) -> Any:
    """The CsvSeries of a file (engine/csv_series.py), its CsvError as a ConfigError. The last
    one read is kept: a resume checks the file, then its Trainer reads it, and a sweep's grid
    builds one config per point, all from the same file."""
    import os

    from engine.csv_series import CsvError, read_csv_series

    try:
        stat = os.stat(path)
        key = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns, stat.st_ino, column, order_by)
    except OSError:
        key = None
    cached = _last_read.get(key) if key is not None else None
    if cached is not None:
        return cached
    try:
        series = read_csv_series(path, column, order_by, max_classes=MAX_CLASSES, min_classes=MIN_CLASSES)
    except CsvError as exc:
        raise ConfigError(exc.field, str(exc)) from None
    _last_read.clear()
    if key is not None:
        _last_read[key] = series
    return series


_last_read: dict[tuple[Any, ...], Any] = {}


def read_data(cfg: RunConfig) -> Any:
    """The CsvSeries (engine/csv_series.py) of a csv run, checked against what its config
    recorded: ConfigError, in one line, when the file has changed since (or is gone)."""
    if cfg.task != "csv" or cfg.data is None or cfg.column is None:
        raise ValueError(f"a {cfg.task} run reads no file")
    try:
        series = _read(cfg.data, cfg.column, cfg.order_by)
    except ConfigError as exc:
        raise ConfigError("data", data_changed(cfg) or str(exc)) from None
    if cfg.data_file_sha256 is not None and series.sha256 != cfg.data_file_sha256:
        raise ConfigError("data", _changed(cfg, series.sha256))
    if series.rows < cfg.series_length:
        raise ConfigError("data", f"{cfg.data} has {series.rows:,} rows, fewer than the run's {cfg.series_length:,}")
    return series


def data_changed(cfg: RunConfig) -> str | None:
    """Why a csv run's file is no longer the one it was built from (gone, unreadable, or other
    bytes than its recorded SHA-256), in one line; None when it is that file, or the run reads
    none. Hashes the file without parsing it."""
    if cfg.task != "csv" or cfg.data is None or cfg.data_file_sha256 is None:
        return None
    from engine.csv_series import file_sha256

    try:
        sha256 = file_sha256(cfg.data)
    except FileNotFoundError:
        return f"the run's file {cfg.data} is gone"
    except OSError as exc:
        return f"the run's file {cfg.data} cannot be read: {exc.strerror or exc}"
    return None if sha256 == cfg.data_file_sha256 else _changed(cfg, sha256)


def _changed(cfg: RunConfig, sha256: str) -> str:
    return (f"the run's file {cfg.data} has changed since the run began (its SHA-256 is now {sha256[:12]}…, "
            f"the run's {str(cfg.data_file_sha256)[:12]}…): put the run's file back, or start a new run")


def _int_field(cfg: RunConfig, name: str, low: int, high: int) -> None:
    value = getattr(cfg, name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(name, f"{value!r} is not a whole number (allowed {low}..{high:,})")
    if not low <= value <= high:
        raise ConfigError(name, f"{value:,} is out of range (allowed {low}..{high:,})")


def _float_field(cfg: RunConfig, name: str, low: float, high: float, *, open_low: bool = False) -> None:
    value = getattr(cfg, name)
    bracket = "(" if open_low else "["
    allowed = f"allowed {bracket}{low:g}, {high:g}]"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(name, f"{value!r} is not a number ({allowed})")
    if not math.isfinite(value) or value < low or value > high or (open_low and value == low):
        # As the user wrote it: "--lr 20" reads back as 20, not 20.0.
        raise ConfigError(name, f"{value:g} is out of range ({allowed})")


def validate(cfg: RunConfig) -> None:
    """Raise ConfigError for the first field that is out of its allowed range."""
    if cfg.task not in TASKS:
        raise ConfigError("task", f"unknown task {cfg.task!r} (choose from {', '.join(TASKS)})")
    object.__setattr__(cfg, "models", normal_models(cfg.models))  # frozen: normalised once, here
    if cfg.preset is not None and (not isinstance(cfg.preset, str) or cfg.preset not in PRESETS):
        raise ConfigError("preset", f"unknown preset {cfg.preset!r} (choose from {', '.join(PRESETS)})")
    _data_fields(cfg)
    _int_field(cfg, "series_length", 20, 100_000_000)
    _int_field(cfg, "look_back", 1, 100_000)
    _int_field(cfg, "lag", 1, 100_000)
    _float_field(cfg, "echo_p", 0.0, 1.0)
    _int_field(cfg, "hidden", 1, 4096)
    _int_field(cfg, "layers", 1, 8)
    if cfg.forget_bias is not None:
        _float_field(cfg, "forget_bias", -10.0, 10.0)
    _int_field(cfg, "epochs", 1, 10_000_000)
    _float_field(cfg, "lr", LR_MIN, LR_MAX)
    if cfg.batch_size is not None:
        _int_field(cfg, "batch_size", 1, 100_000_000)
    _float_field(cfg, "val_fraction", 0.0, 0.5)
    _int_field(cfg, "seed", 0, 2**32 - 1)
    if not isinstance(cfg.device, str) or not _DEVICE_RE.match(cfg.device):
        raise ConfigError("device", f"{cfg.device!r} is not a device (auto, cpu, cuda, cuda:N, mps)")
    _int_field(cfg, "memory_budget", 2**20, 2**50)
    _int_field(cfg, "probe_every", 0, 10_000_000)
    _float_field(cfg, "probe_seconds", 0.0, 86_400.0)
    _int_field(cfg, "probe_steps", 1, 100_000)
    series = f"the {cfg.series_length:,} rows of {cfg.data}" if cfg.task == "csv" else \
        f"the series ({cfg.series_length:,})"
    if cfg.look_back >= cfg.series_length:
        raise ConfigError("look_back", f"{cfg.look_back:,} must be shorter than {series}")
    if cfg.task == "echo" and cfg.lag > cfg.look_back:
        raise ConfigError(
            "lag", f"{cfg.lag} is longer than the look-back window ({cfg.look_back}): "
            "the echo could never be seen"
        )
    split = split_point(cfg)
    if split - cfg.look_back < 1:
        raise ConfigError("look_back", f"{cfg.look_back:,} leaves no training window in {series}")
    if cfg.val_fraction > 0 and cfg.series_length - split - cfg.look_back < 1:
        raise ConfigError(
            "val_fraction",
            f"{cfg.val_fraction:g} leaves no validation window (needs more than look-back "
            f"{cfg.look_back:,} steps after the split)",
        )


def _data_fields(cfg: RunConfig) -> None:
    """The csv task has its file and column (and its series' length from the file); no other
    task reads a file."""
    names = ("data", "column", "order_by", "data_file_sha256")
    for name in names:
        value = getattr(cfg, name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(name, f"{value!r} is not a file or column name")
    if cfg.task != "csv":
        given = [name for name in names if getattr(cfg, name) is not None]
        if given:
            raise ConfigError(given[0], f"only the csv task reads a file (this run's task is {cfg.task})")
        return
    if cfg.data is None:
        raise ConfigError("data", "the csv task needs a file: --data FILE --column NAME")
    if cfg.column is None:
        raise ConfigError("column", "the csv task needs the column to predict: --column NAME")
    if cfg.data_file_sha256 is not None and not _SHA256_RE.match(cfg.data_file_sha256):
        raise ConfigError("data_file_sha256", f"{cfg.data_file_sha256!r} is not a SHA-256 in hex")
    if isinstance(cfg.series_length, int) and not isinstance(cfg.series_length, bool) \
            and cfg.series_length < 20:
        raise ConfigError("data", f"a series of {cfg.series_length:,} rows of {cfg.data} is too short "
                          "(20 at least)")


def split_point(cfg: RunConfig) -> int:
    """Index of the first validation step: the series' tail is held out."""
    return cfg.series_length - int(round(cfg.series_length * cfg.val_fraction))


# -- a field from what a person typed: a command-line flag, a form's input -------------------

# Fields whose None has a word: `--batch-size full`, `--forget-bias default`.
NONE_WORDS = {"batch_size": "full", "forget_bias": "default"}
_FIELD_TYPES = {f.name: str(f.type) for f in fields(RunConfig)}


def _parse(text: str, field: str, kind: type[int] | type[float], what: str) -> Any:
    """``kind`` of ``text``, with _ or , between digits; ConfigError naming ``field`` otherwise."""
    try:
        return kind(text.strip().replace("_", "").replace(",", ""))
    except ValueError:
        extra = f" or '{NONE_WORDS[field]}'" if field in NONE_WORDS else ""
        raise ConfigError(field, f"{text!r} is not {what}{extra}") from None


def parse_whole(text: str, field: str = "value") -> int:
    """'10', '10_000' or '10,000' -> 10000."""
    return _parse(text, field, int, "a whole number")


def parse_number(text: str, field: str = "value") -> float:
    return _parse(text, field, float, "a number")


def parse_field(name: str, text: str) -> Any:
    """The value of RunConfig field ``name`` from its text; ConfigError names the field.

    Whole numbers and numbers may have _ or , between digits; a field that may be None takes
    its word (NONE_WORDS) or nothing for None (a text field too: --order-by ''); the memory
    budget takes sizes ('2G'). Ranges are
    RunConfig's to check.
    """
    kind = _FIELD_TYPES[name]
    if name == "memory_budget":
        return parse_size(text)
    if name in NONE_WORDS and text.strip().lower() in (NONE_WORDS[name], ""):
        return None
    if kind.startswith("int"):
        return parse_whole(text, name)
    if kind.startswith("float"):
        return parse_number(text, name)
    if kind == "str | None" and not text.strip():
        return None  # no file, no column: what format_field writes for None
    return text.strip()


def format_field(name: str, value: Any) -> str:
    """The text ``parse_field`` reads back as ``value``."""
    if value is None:
        return NONE_WORDS.get(name, "")
    return f"{value:g}" if isinstance(value, float) else str(value)
