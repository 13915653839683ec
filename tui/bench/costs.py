"""The seed article's cost claim, measured: each model's parameters and training epoch against the RNN's.

The article says an LSTM is "up to four times more expensive than standard RNNs" and that GRUs
were made to cut that cost. Here each chosen model has a Trainer of its own (the engine's own
epoch: windows one-hot on the device, chunks, Adam), and the models take turns epoch by epoch
as they do in a run, but with the order turning about every epoch, so a shared machine's slow
spells hit each alike. An epoch's time is the Trainer's own clock of its training split (forward, backward
and the Adam step: EpochEnd.samples_per_s); validation and the prediction are not in it.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from engine.config import MODEL_KINDS, MODEL_TITLES, RunConfig
from engine.device import resolve_device

BASELINE = "rnn"  # the article's "standard RNN": every ratio is to it
COST_WARMUP_EPOCHS = 2  # per model, untimed: allocations, kernels, the encoded full batch
TIMING = ("engine.trainer.Trainer.run_epoch, one Trainer per model; an epoch's time is its training "
          "split's forward, backward and Adam step (EpochEnd.samples_per_s), validation excluded")


def epoch_orders(models: Sequence[str], epochs: int) -> list[tuple[str, ...]]:
    """The order the models train in, epoch by epoch: as given, then reversed, alternately."""
    forward = tuple(models)
    return [forward if epoch % 2 == 0 else forward[::-1] for epoch in range(epochs)]


def model_costs(config: RunConfig, models: Sequence[str] = MODEL_KINDS, *, rounds: int = 3, epochs: int = 30,
                warmup: int = COST_WARMUP_EPOCHS) -> dict[str, Any]:
    """Each model's parameter count and seconds of one training epoch on ``config``'s data, and
    both as ratios to the RNN's (None when the RNN is not among ``models``).

    ``rounds`` of ``epochs`` epochs of every model, after ``warmup`` untimed ones. A round's
    figure for a model is its mean epoch in that round; its time ratio is that over the RNN's
    figure of the same round, and the median and range are over the rounds.
    """
    from engine.models import parameter_count
    from engine.trainer import Trainer

    device = resolve_device(config.device)
    # probe_every 0: the Trainer never probes, but a config that says so cannot mislead.
    trainers = {name: Trainer(config.replace(models=name, probe_every=0), device) for name in models}
    seconds: dict[str, list[float]] = {name: [] for name in models}  # one figure per round

    def train(name: str) -> float:
        ends: list[Any] = []
        trainers[name].run_epoch(lambda: None, lambda event: ends.append(event) if event.name == "epoch_end" else None)
        return len(trainers[name].data.train) / ends[0].samples_per_s

    # The order turns about every epoch across the whole run, so it alternates even at one epoch a round.
    orders = epoch_orders(models, warmup + rounds * epochs)
    for order in orders[:warmup]:
        for name in order:
            train(name)
    for round_ in range(rounds):
        spent = dict.fromkeys(models, 0.0)
        for order in orders[warmup + round_ * epochs : warmup + (round_ + 1) * epochs]:
            for name in order:
                spent[name] += train(name)
        for name in models:
            seconds[name].append(spent[name] / epochs)

    parameters = {name: parameter_count(trainers[name].models[name]) for name in models}
    per_model: dict[str, dict[str, Any]] = {}
    for name in models:
        epoch_ms = [1000 * s for s in seconds[name]]
        ratios = [s / b for s, b in zip(seconds[name], seconds[BASELINE])] if BASELINE in models else None
        per_model[name] = {
            "parameters": parameters[name],
            "parameters_over_rnn": parameters[name] / parameters[BASELINE] if BASELINE in models else None,
            "epoch_ms": statistics.median(epoch_ms),
            "epoch_ms_min": min(epoch_ms),
            "epoch_ms_max": max(epoch_ms),
            "epoch_ms_each_round": epoch_ms,
            "time_over_rnn": statistics.median(ratios) if ratios else None,
            "time_over_rnn_min": min(ratios) if ratios else None,
            "time_over_rnn_max": max(ratios) if ratios else None,
            "time_over_rnn_each_round": ratios,
        }
    first = trainers[models[0]]
    return {
        "timing": TIMING,
        "baseline": BASELINE,
        "models": list(models),
        "setting": config.label,
        "series_length": config.series_length,
        "look_back": config.look_back,
        "hidden": config.hidden,
        "layers": config.layers,
        "batch_size": first.batch_size,
        "train_windows": len(first.data.train),
        "device": str(device),
        "rounds": rounds,
        "epochs_per_round": epochs,
        "warmup_epochs": warmup,
        "orders": [list(order) for order in dict.fromkeys(orders)],  # the one or two orders taken in turn
        "per_model": per_model,
    }


def print_costs(costs: dict[str, Any]) -> None:
    """The cost table, one line a model, as `lstm-tui bench` prints it."""
    orders = " / ".join(",".join(order) for order in costs["orders"])
    print(f"  model costs, {costs['setting']} ({costs['train_windows']:,} training windows, hidden "
          f"{costs['hidden']}, {costs['device']}): the article says an LSTM is \"up to four times more "
          f"expensive\" than an RNN")
    print(f"    {costs['rounds']} rounds x {costs['epochs_per_round']} epochs of each model, alternating every "
          f"epoch ({orders}); medians, ranges over rounds")
    print("    one epoch = the Trainer's own: forward, backward and Adam step over the training split "
          "(validation excluded)")
    print(f"    {'model':<6}{'parameters':>11}{'x RNN':>7}   {'one epoch (range)':<30}x RNN (range)")

    def ratio(value: float | None) -> str:
        return "—" if value is None else f"{value:.2f}"

    for name, cost in costs["per_model"].items():
        epoch = f"{cost['epoch_ms']:6.1f} ms ({cost['epoch_ms_min']:.1f}–{cost['epoch_ms_max']:.1f})"
        times = ratio(cost["time_over_rnn"])
        if cost["time_over_rnn"] is not None:
            times += f" ({cost['time_over_rnn_min']:.2f}–{cost['time_over_rnn_max']:.2f})"
        print(f"    {MODEL_TITLES[name]:<6}{cost['parameters']:>11,}{ratio(cost['parameters_over_rnn']):>7}   "
              f"{epoch:<30}{times}")
    if costs["baseline"] not in costs["models"]:
        print("    (no ratios: add rnn to --models)")
