"""The weather series, its windows and the chronological train/validation split.

The seed draws ``np.random.seed(42); np.random.randint(0, 3, size=N)``. A RandomState(42)
gives the same draws, so we reproduce the series bit for bit without touching numpy's
global generator. The csv task's series is a column of a file (engine/csv_series.py), its
classes the column's values. Windows are zero-copy views; one-hot encoding happens per batch
(the Trainer keeps a small training split's encoding whole: engine/trainer.py's _encode).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view

from engine.config import CLASS_NAMES, NUM_CLASSES, RunConfig, read_data, split_point


def weather_series(length: int, seed: int = 42) -> np.ndarray:
    """The seed's raw_data, plus one more draw: the 'tomorrow' its generator would give.

    Returns ``length + 1`` values; the first ``length`` equal the seed's series exactly.
    """
    return np.random.RandomState(seed).randint(0, NUM_CLASSES, size=length + 1)


def echo_series(length: int, lag: int, p: float, seed: int = 42) -> np.ndarray:
    """Weather where the value ``lag`` steps back returns with probability ``p``.

    Otherwise the day is a fresh draw. The fresh draws are the seed's series, so p = 0 gives
    the seed's data exactly. Returns ``length + 1`` values like :func:`weather_series`.
    """
    rng = np.random.RandomState(seed)
    fresh = rng.randint(0, NUM_CLASSES, size=length + 1)
    echoes = rng.random_sample(length + 1) < p
    series = fresh.copy()
    # Each block of `lag` days depends only on the block before it.
    for start in range(lag, length + 1, lag):
        stop = min(start + lag, length + 1)
        series[start:stop] = np.where(
            echoes[start:stop], series[start - lag : stop - lag], fresh[start:stop]
        )
    return series


def best_achievable_loss(cfg: RunConfig) -> float | None:
    """The lowest expected cross-entropy any model can reach on this task (nats); None where
    it is not known (a csv file's series: its baselines, engine/baselines.py, bound it above).

    Seed task: every day is an independent uniform draw, so nothing beats ln 3. Echo task with
    the lag inside the window: tomorrow is the day ``lag`` back with probability p + (1-p)/3,
    each other class (1-p)/3; no other visible day carries more information.
    """
    if cfg.task == "csv":
        return None
    if cfg.task != "echo" or cfg.lag > cfg.look_back:
        return math.log(NUM_CLASSES)
    same = cfg.echo_p + (1 - cfg.echo_p) / NUM_CLASSES
    other = (1 - cfg.echo_p) / NUM_CLASSES
    return -sum(q * math.log(q) for q in (same, other, other) if q > 0)


def task_series(cfg: RunConfig) -> tuple[np.ndarray, tuple[str, ...]]:
    """The task's series and its class names (class 0 first), from one read of a csv run's file:
    ``series_length + 1`` values for the built-in tasks (the last one the generator's 'tomorrow'),
    a csv file's first ``series_length`` rows (its tomorrow is unknown)."""
    if cfg.task == "csv":
        read = read_data(cfg)  # ConfigError when the file has changed since the run began
        return read.codes[: cfg.series_length].astype(np.int64), read.classes
    if cfg.task == "echo":
        return echo_series(cfg.series_length, cfg.lag, cfg.echo_p, cfg.seed), CLASS_NAMES
    return weather_series(cfg.series_length, cfg.seed), CLASS_NAMES


def make_series(cfg: RunConfig) -> np.ndarray:
    """The task's series (``task_series`` without the names)."""
    return task_series(cfg)[0]


def task_classes(cfg: RunConfig) -> tuple[str, ...]:
    """The names of the run's classes, class 0 first: the seed's weather, or a csv column's values
    (sorted). Reads a csv run's file (ConfigError when it has changed since the run began)."""
    return read_data(cfg).classes if cfg.task == "csv" else CLASS_NAMES


def windows(series: np.ndarray, look_back: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets like the seed's ``create_dataset``, as views (no copy)."""
    inputs = sliding_window_view(series[:-1], look_back)
    targets = series[look_back:]
    return inputs, targets


def series_sha256(series: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(series, dtype="<i8").tobytes()).hexdigest()


@dataclass
class Split:
    """Window start indices of one split; window i is series[i:i+L], target series[i+L]."""

    starts: torch.Tensor  # int64, on the device

    def __len__(self) -> int:
        return int(self.starts.numel())


class WeatherData:
    """The series on the device and the two splits, with per-batch one-hot encoding."""

    def __init__(self, cfg: RunConfig, device: torch.device) -> None:
        full, self.classes = task_series(cfg)
        self.num_classes = len(self.classes)
        self.series = full[: cfg.series_length]  # what the models may see
        # The generator's next draw, the truth the seed's prediction is checked against; a
        # file's day after its last row is unknown.
        self.tomorrow: int | None = int(full[cfg.series_length]) if len(full) > cfg.series_length else None
        self.split = split_point(cfg)
        self.look_back = cfg.look_back
        self.sha256 = series_sha256(self.series)
        self.device = device
        self._series = torch.from_numpy(self.series).to(device)
        # unfold is a view: row i is series[i:i+L], with no copy of N x L values.
        self._windows = self._series.unfold(0, cfg.look_back, 1)
        self._eye = torch.eye(self.num_classes, device=device)
        self._inference_window: torch.Tensor | None = None
        split = self.split
        # A training window's target lies before the split; a validation window lies after it.
        self.train = Split(torch.arange(0, split - cfg.look_back, device=device))
        n_val = max(cfg.series_length - split - cfg.look_back, 0)
        self.val = Split(torch.arange(split, split + n_val, device=device))

    def batch(self, starts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One-hot inputs (look_back, B, classes), seq-first like the seed, and targets (B,)."""
        idx = self._windows[starts].T.contiguous()  # (look_back, B): seq-first
        # Rows of an identity matrix are the float one-hot codes; one_hot(idx).float() would
        # first build an int64 tensor twice the size of the float one (the same values).
        inputs = self._eye[idx]
        targets = self._series[starts + self.look_back]
        return inputs, targets

    def val_and_inference_window(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The validation windows' inputs with the inference window as one more, last, column
        (look_back, n_val + 1, classes), and the validation targets (n_val,): one forward gives
        both the held-out loss and the prediction."""
        inputs, targets = self.batch(self.val.starts)
        return torch.cat([inputs, self.inference_window()], dim=1), targets

    def inference_window(self) -> torch.Tensor:
        """The seed's inference input: the last look_back days, as a batch of one (built once:
        the series does not change, and each epoch's prediction reads it)."""
        if self._inference_window is None:
            idx = self._series[-self.look_back :].unsqueeze(1)
            self._inference_window = torch.nn.functional.one_hot(idx, self.num_classes).float()
        return self._inference_window
