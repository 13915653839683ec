"""What a sweep says: per grid point and model, how often the models learned, with the
uncertainty of a rate over few seeds. Torch-free (the live screen computes it as trials end).

A trial *learned* when its best validation loss fell below the success loss: ``--success-loss``,
or by default halfway between chance and the best achievable loss of its task (from its
run_started event, in nats). The seed task has nothing to learn (its best is chance): no default
there, so its rate is blank unless a success loss is given.

Per grid point and model:
  * successes of trials, the rate, and its 95 % Wilson score interval;
  * the median epoch of first success (over the trials that learned), the median best and the
    median final validation loss (over every trial);
  * the mean final train and validation loss, each with a 95 % Student-t interval across seeds;
  * the article's "volatility" of training: per trial, the standard deviation (n - 1) of the
    epoch-to-epoch changes of the train loss, L[t] - L[t-1]; its mean across seeds, with a 95 %
    Student-t interval of that mean.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from engine.baselines import best_baseline
from engine.history import RunHistory
from engine.sweep.grid import Grid

Z95 = 1.959963984540054  # the standard normal's 97.5 % quantile: a two-sided 95 % interval
# Student's t 97.5 % quantiles for 1..30 degrees of freedom (beyond 30: the Cornish-Fisher series).
T975 = (12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836, 2.446911851, 2.364624252,
        2.306004135, 2.262157163, 2.228138852, 2.200985160, 2.178812830, 2.160368656, 2.144786688,
        2.131449546, 2.119905299, 2.109815578, 2.100922040, 2.093024054, 2.085963447, 2.079613845,
        2.073873068, 2.068657610, 2.063898562, 2.059538553, 2.055529439, 2.051830516, 2.048407142,
        2.045229642, 2.042272456)


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a rate of ``successes`` in ``trials`` (None for no trials)."""
    if trials <= 0:
        return None
    p = successes / trials
    scale = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / scale
    half = z / scale * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


def t_critical(df: int) -> float:
    """Student's t 97.5 % quantile with ``df`` degrees of freedom (two-sided 95 %)."""
    if df < 1:
        raise ValueError("a t quantile needs one degree of freedom or more")
    if df <= len(T975):
        return T975[df - 1]
    z = Z95  # Cornish-Fisher expansion in 1/df: under 1e-6 off from df 31 on
    return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
            + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * df**4))


def mean_interval(values: Sequence[float]) -> tuple[float | None, float | None, float | None]:
    """(mean, low, high): the mean and its 95 % Student-t interval; no interval under 2 values."""
    if not values:
        return None, None, None
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, None, None
    half = t_critical(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return mean, mean - half, mean + half


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def volatility(train_losses: Sequence[float]) -> float | None:
    """The standard deviation (n - 1) of the epoch-to-epoch changes of the train loss; None
    under three epochs (two changes)."""
    changes = [b - a for a, b in zip(train_losses, train_losses[1:])]
    return statistics.stdev(changes) if len(changes) >= 2 else None


def default_success_loss(chance_loss: float, best_loss: float | None,
                         baselines: Mapping[str, float] | None = None) -> float | None:
    """Where a model counts as having learned. With the best achievable loss known (the echo
    task): halfway between chance and it. With it unknown (a csv file's series): under the best
    of its baselines (engine/baselines.py), i.e. beyond what a Markov chain of the last 1-3 days
    (or the class frequencies) predicts; halfway to an unknown floor would be a guess. None where
    nothing can be learned (the seed task, whose best is chance) or nothing is known."""
    if best_loss is None:
        best = best_baseline(baselines or {})
        return best[1] if best is not None else None
    if not best_loss < chance_loss:
        return None
    return (chance_loss + best_loss) / 2


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


@dataclass(frozen=True)
class ModelResult:
    """One model of one ended trial, reduced to what the summary needs."""

    epochs: int
    best_val_loss: float | None
    best_epoch: int | None
    final_val_loss: float | None
    final_train_loss: float | None
    success_epoch: int | None  # the first epoch whose validation loss fell below the success loss
    volatility: float | None


@dataclass(frozen=True)
class TrialResult:
    """An ended trial: its success loss (None: not defined for its task) and each model's result."""

    success_loss: float | None
    chance_loss: float
    best_loss: float | None
    models: Mapping[str, ModelResult]

    def learned(self, model: str) -> bool | None:
        """Whether ``model`` learned; None where success is not defined."""
        if self.success_loss is None or model not in self.models:
            return None
        return self.models[model].success_epoch is not None


def model_result(history: RunHistory, name: str, success_loss: float | None) -> ModelResult:
    """``name``'s result from a history that kept every epoch (``keep_epochs=True``)."""
    model = history.models[name]
    logged = model.logged if model.logged is not None else {}
    epochs = [logged[k] for k in sorted(logged)]
    vals = [(e.epoch, e.val_loss) for e in epochs if _finite(e.val_loss)]
    best = min(vals, key=lambda pair: pair[1]) if vals else None
    first = next((epoch for epoch, loss in vals if success_loss is not None and loss < success_loss), None)
    last = epochs[-1] if epochs else None
    train = [e.train_loss for e in epochs if math.isfinite(e.train_loss)]
    return ModelResult(
        epochs=model.epoch,
        best_val_loss=best[1] if best else None,
        best_epoch=best[0] if best else None,
        final_val_loss=last.val_loss if last is not None and _finite(last.val_loss) else None,
        final_train_loss=last.train_loss if last is not None and math.isfinite(last.train_loss) else None,
        success_epoch=first,
        volatility=volatility(train),
    )


def trial_result(history: RunHistory, success_loss: float | None = None) -> TrialResult:
    """An ended trial's result from its history (``keep_epochs=True``); ``success_loss`` None:
    the trial's default (halfway between its chance and best achievable loss)."""
    threshold = success_loss if success_loss is not None else default_success_loss(
        history.chance_loss, history.best_loss, history.baselines)
    models = {name: model_result(history, name, threshold) for name in history.models}
    return TrialResult(threshold, history.chance_loss, history.best_loss, models)


@dataclass(frozen=True)
class SummaryRow:
    """One grid point and model. Counts are of ended trials; rates and medians over them."""

    point: tuple[tuple[str, str], ...]
    model: str
    planned: int  # trials of the point in the grid
    trials: int  # ended (finished, or stopped by a non-finite loss): their results count
    failed: int  # raised an error (retried when the sweep runs again): not counted
    successes: int | None  # None where success is not defined
    success_rate: float | None
    rate_low: float | None  # 95 % Wilson interval
    rate_high: float | None
    success_loss: float | None
    median_epochs_to_success: float | None
    median_best_val_loss: float | None
    median_final_val_loss: float | None
    final_train_loss: float | None  # mean across seeds, and its 95 % t interval
    final_train_low: float | None
    final_train_high: float | None
    final_val_loss: float | None
    final_val_low: float | None
    final_val_high: float | None
    volatility: float | None  # mean across seeds of each trial's volatility, and its 95 % t interval
    volatility_low: float | None
    volatility_high: float | None

    def to_json(self) -> dict[str, Any]:
        """The row as one JSON object: the point as {field: text}, then every column."""
        data = asdict(self)
        data["point"] = {name.replace("_", "-"): text for name, text in self.point}
        return data


VALUE_COLUMNS = tuple(f.name for f in fields(SummaryRow) if f.name != "point")


def summarise(grid: Grid, results: Mapping[str, TrialResult], failed: Collection[str] = ()) -> list[SummaryRow]:
    """A row per grid point and model, in grid order, from the ended trials' ``results`` (trial
    name -> result); ``failed``: names of trials that raised."""
    by_point: dict[int, list[str]] = {}
    for trial in grid.trials:
        by_point.setdefault(trial.index, []).append(trial.name)
    rows = []
    for index, point in enumerate(grid.points):
        names = by_point.get(index, [])
        ended = [results[name] for name in names if name in results]
        models = grid.trial(names[0]).config.model_names if names else ()
        for model in models:
            rows.append(_row(point, model, len(names), ended, sum(name in failed for name in names)))
    return rows


def _row(point: tuple[tuple[str, str], ...], model: str, planned: int, ended: Sequence[TrialResult],
         failed: int) -> SummaryRow:
    mine = [(r, r.models[model]) for r in ended if model in r.models]
    threshold = next((r.success_loss for r, _ in mine if r.success_loss is not None), None)
    successes = rate = low = high = None
    if threshold is not None and mine:
        successes = sum(m.success_epoch is not None for _, m in mine)
        rate = successes / len(mine)
        low, high = wilson_interval(successes, len(mine)) or (None, None)
    train = mean_interval([m.final_train_loss for _, m in mine if m.final_train_loss is not None])
    val = mean_interval([m.final_val_loss for _, m in mine if m.final_val_loss is not None])
    vol = mean_interval([m.volatility for _, m in mine if m.volatility is not None])
    return SummaryRow(
        point=point, model=model, planned=planned, trials=len(mine), failed=failed,
        successes=successes, success_rate=rate, rate_low=low, rate_high=high, success_loss=threshold,
        median_epochs_to_success=median([m.success_epoch for _, m in mine if m.success_epoch is not None]),
        median_best_val_loss=median([m.best_val_loss for _, m in mine if m.best_val_loss is not None]),
        median_final_val_loss=median([m.final_val_loss for _, m in mine if m.final_val_loss is not None]),
        final_train_loss=train[0], final_train_low=train[1], final_train_high=train[2],
        final_val_loss=val[0], final_val_low=val[1], final_val_high=val[2],
        volatility=vol[0], volatility_low=vol[1], volatility_high=vol[2],
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return format(value, ".10g")
    return str(value)


def summary_csv(grid: Grid, rows: Iterable[SummaryRow]) -> str:
    """summary.csv: a column per swept axis (its flag's name), then the row's columns."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*(axis.replace("_", "-") for axis in grid.axes), *VALUE_COLUMNS])
    for row in rows:
        texts = dict(row.point)
        writer.writerow([*(texts.get(axis, "") for axis in grid.axes),
                         *(_cell(getattr(row, column)) for column in VALUE_COLUMNS)])
    return out.getvalue()


def summary_json_lines(rows: Iterable[SummaryRow]) -> str:
    """One JSON object per row, a line each (for `lstm-tui sweep --json | jq`)."""
    return "".join(json.dumps(row.to_json(), allow_nan=False) + "\n" for row in rows)
