"""What a run's losses are told against, in words every front end shares: chance and the best
achievable loss on a built-in task; on a csv file's series, its data's baselines
(engine/baselines.py), and which of them a model's validation loss is under."""

from __future__ import annotations

from collections.abc import Mapping

from engine.baselines import baseline_title, beaten_baseline, best_baseline
from engine.history import RunHistory


def against_baselines(history: RunHistory) -> bool:
    """Whether the run's losses are told against its data's baselines: a csv file's series, whose
    best achievable loss nobody knows. A built-in task's baselines are about chance (a uniform
    random series) and its screens keep chance and the best achievable loss."""
    return history.task == "csv" and bool(history.baselines)


def verdict(loss: float | None, lines: Mapping[str, float]) -> str:
    """Which baseline a validation loss is under, the lowest one (engine.baselines.beaten_baseline):
    'under Markov order 3', 'under Markov order 2 (the lowest)' when it is under every line, or
    'above every baseline'; '-' without a loss."""
    if loss is None:
        return "-"
    name = beaten_baseline(loss, lines)
    if name is None:
        return "above every baseline"
    best = best_baseline(lines)
    return f"under {baseline_title(name)}" + (" (the lowest)" if best is not None and best[0] == name else "")


def baselines_text(lines: Mapping[str, float], digits: int = 4) -> str:
    """Every baseline and its loss in a line, the lowest marked: 'chance 1.6094, class frequencies
    1.0920, Markov order 1 0.8010, Markov order 2 0.7620 (lowest), Markov order 3 0.7900'."""
    best = best_baseline(lines)
    return ", ".join(f"{baseline_title(name)} {loss:.{digits}f}" + (" (lowest)" if best and name == best[0] else "")
                     for name, loss in lines.items())
