"""RunConfig: every knob of a run, validated once, plus the named presets."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, fields
from typing import Any

TASKS = ("seed", "echo")
# The models a run may train side by side (engine/models.py), in the order of their weights' draw.
MODEL_KINDS = ("lstm", "rnn", "gru")
DEFAULT_MODELS = "lstm,rnn"  # the seed article's pair: every run before --models trained these
MODEL_TITLES = {"lstm": "LSTM", "rnn": "RNN", "gru": "GRU"}  # what every screen calls each model
CLASS_NAMES = ("Sunny", "Rainy", "Cloudy")  # the seed's weather_map
NUM_CLASSES = len(CLASS_NAMES)
CHANCE_LOSS = math.log(NUM_CLASSES)  # cross-entropy of a uniform guess over 3 classes

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
LATER_KEYS = frozenset({"probe_every", "probe_seconds", "probe_steps", "models"})


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
}


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
    if name not in PRESETS:
        raise ConfigError("preset", f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
    values = {**PRESETS[name], **overrides}
    values.setdefault("preset", name)
    return RunConfig(**values)


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
    if cfg.look_back >= cfg.series_length:
        raise ConfigError(
            "look_back", f"{cfg.look_back:,} must be shorter than the series ({cfg.series_length:,})"
        )
    if cfg.task == "echo" and cfg.lag > cfg.look_back:
        raise ConfigError(
            "lag", f"{cfg.lag} is longer than the look-back window ({cfg.look_back}): "
            "the echo could never be seen"
        )
    split = split_point(cfg)
    if split - cfg.look_back < 1:
        raise ConfigError("look_back", f"{cfg.look_back:,} leaves no training window in the series")
    if cfg.val_fraction > 0 and cfg.series_length - split - cfg.look_back < 1:
        raise ConfigError(
            "val_fraction",
            f"{cfg.val_fraction:g} leaves no validation window (needs more than look-back "
            f"{cfg.look_back:,} steps after the split)",
        )


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
    its word (NONE_WORDS) or nothing for None; the memory budget takes sizes ('2G'). Ranges are
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
    return text.strip()


def format_field(name: str, value: Any) -> str:
    """The text ``parse_field`` reads back as ``value``."""
    if value is None:
        return NONE_WORDS.get(name, "")
    return f"{value:g}" if isinstance(value, float) else str(value)
