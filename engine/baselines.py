"""The baselines of a run: what simple predictors score on its validation split, in nats.

A model has learned something from its window only where its validation loss is under these
lines, and something beyond the last few days only where it is under the best Markov line.

    chance      ln K: a uniform guess over the K classes
    frequency   the training part's class frequencies, add-one smoothed: always the same guess
    markov-k    an order-k Markov chain (k = 1, 2, 3): the next class given the k before it,
                p(c | context) = (n(context, c) + 1) / (n(context) + K)

Fitted on the training part of the series, series[:split]: every position t in [k, split) is
one transition (the k classes before t, then series[t]); the frequency line is order 0 (every
position t in [0, split)). Scored on the targets the models are scored on: series[t] for t in
[split + look_back, N), the targets of the validation windows, each given the k classes before
it (within its window while k <= look_back; further back otherwise). Counts are looked up by
encoding each context (and context with its next class) as one integer and sorting: no table of
K^(k+1) cells, and millions of rows take well under a second.

The helpers at the end (best_baseline, beaten_baseline) need no numpy: front ends use them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

CHANCE, FREQUENCY = "chance", "frequency"
MARKOV_ORDERS = (1, 2, 3)
TITLES = {CHANCE: "chance", FREQUENCY: "class frequencies",
          **{f"markov-{k}": f"Markov order {k}" for k in MARKOV_ORDERS}}


def markov_name(order: int) -> str:
    return FREQUENCY if order == 0 else f"markov-{order}"


def baseline_title(name: str) -> str:
    """What a screen calls a baseline: 'Markov order 2' for markov-2."""
    return TITLES.get(name, name)


def baselines(series: Any, num_classes: int, split: int, look_back: int,
              orders: Sequence[int] = MARKOV_ORDERS) -> dict[str, float]:
    """Each baseline's cross-entropy on the validation targets (see the module's docstring), in
    the order chance, frequency, markov-1, markov-2, markov-3; only chance without a validation
    split."""
    import numpy as np

    s = np.asarray(series, dtype=np.int64)
    result = {CHANCE: math.log(num_classes)}
    targets = np.arange(split + look_back, len(s))
    if len(targets) == 0 or split < 1:
        return result
    for order in (0, *orders):
        result[markov_name(order)] = markov_loss(s, num_classes, order, split, targets)
    return result


def markov_loss(series: Any, num_classes: int, order: int, split: int, targets: Any) -> float:
    """The mean cross-entropy (nats) over ``series[targets]`` of the add-one smoothed order-k
    chain whose counts are the transitions of ``series[:split]``."""
    import numpy as np

    s = np.asarray(series, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int64)
    fit = np.arange(order, split)
    fit_context = _contexts(s, fit, order, num_classes)
    context = _contexts(s, targets, order, num_classes)
    pairs = _occurrences(fit_context * num_classes + s[fit], context * num_classes + s[targets])
    contexts = _occurrences(fit_context, context)
    return float(-np.mean(np.log((pairs + 1) / (contexts + num_classes))))


def _contexts(s: Any, positions: Any, order: int, num_classes: int) -> Any:
    """The ``order`` classes before each position as one integer, the oldest the most significant."""
    import numpy as np

    code = np.zeros(len(positions), dtype=np.int64)
    for back in range(order, 0, -1):
        code = code * num_classes + s[positions - back]
    return code


def _occurrences(fitted: Any, queried: Any) -> Any:
    """How many times each of ``queried`` occurs in ``fitted``."""
    import numpy as np

    fitted = np.sort(fitted)
    return np.searchsorted(fitted, queried, side="right") - np.searchsorted(fitted, queried, side="left")


# -- for front ends: which line a loss is under ---------------------------------------------


def best_baseline(lines: Mapping[str, float]) -> tuple[str, float] | None:
    """The lowest baseline (name, loss); None when there is none."""
    finite = [(loss, name) for name, loss in lines.items() if math.isfinite(loss)]
    if not finite:
        return None
    loss, name = min(finite)
    return name, loss


def beaten_baseline(loss: float | None, lines: Mapping[str, float]) -> str | None:
    """The lowest baseline that ``loss`` is under (the one a chart shows it below): 'markov-2'
    when it is under every line, with markov-2 the lowest; None when it is under none."""
    if loss is None or not math.isfinite(loss):
        return None
    above = [(value, name) for name, value in lines.items() if math.isfinite(value) and loss < value]
    return min(above)[1] if above else None
