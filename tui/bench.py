"""`lstm-tui bench`: the engine's overhead against a bare loop written like the seed's.

Both loops run in this process, alternating, on the same model, data, batch and validation
pass; the figure that matters is the ratio of their epochs per second, which cancels most
of a shared machine's noise.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.config import NUM_CLASSES, RunConfig, split_point
from engine.data import make_series
from engine.device import device_name, resolve_device, synchronize
from engine.models import LSTM, StandardRNN


def _seed_dataset(series, look_back: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The seed's create_dataset + one_hot_encode + permute, materialised up front."""
    xs, ys = [], []
    for i in range(len(series) - look_back):
        xs.append(series[i : i + look_back])
        ys.append(series[i + look_back])
    x = torch.nn.functional.one_hot(torch.tensor(xs), NUM_CLASSES).float().permute(1, 0, 2)
    return x.contiguous().to(device), torch.tensor(ys).long().to(device)


def bare_seconds_per_epoch(cfg: RunConfig, epochs: int) -> float:
    """Both models, one full-batch epoch each, like the seed's loop plus the same validation."""
    device = resolve_device(cfg.device)
    series = make_series(cfg)[: cfg.series_length]
    split = split_point(cfg)
    x, y = _seed_dataset(series[:split], cfg.look_back, device)
    xv, yv = _seed_dataset(series[split:], cfg.look_back, device)
    torch.manual_seed(cfg.seed)
    models = [m(NUM_CLASSES, cfg.hidden, NUM_CLASSES, cfg.layers).to(device) for m in (LSTM, StandardRNN)]
    optimizers = [torch.optim.Adam(m.parameters(), lr=cfg.lr) for m in models]
    criterion = nn.CrossEntropyLoss()
    start = 0.0
    for epoch in range(epochs + 1):  # epoch 0 warms up and is not timed
        if epoch == 1:
            synchronize(device)
            start = time.perf_counter()
        for model, optimizer in zip(models, optimizers):
            model.train()
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            loss.item()
            model.eval()
            with torch.no_grad():
                out = model(xv)
                criterion(out, yv).item()
                (out.argmax(1) == yv).sum().item()
    return (time.perf_counter() - start) / epochs


def engine_seconds_per_epoch(cfg: RunConfig, epochs: int) -> float:
    """The Session as `lstm-tui train` runs it: worker thread, events, a run log on disk."""
    from engine.runlog import RunLog
    from engine.session import Session

    ends: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        run_log = RunLog(Path(tmp), cfg)
        done = _Done()

        def timing(event: Any) -> None:
            if event.name == "epoch_end" and event.model == "rnn":
                ends.append(event.time)
            if event.name == "state" and event.state in ("finished", "failed", "stopped"):
                done.set()

        session = Session(cfg.replace(epochs=epochs + 1), [timing, run_log]).start()
        done.wait()
        session.close()
        run_log.close()
    if len(ends) < epochs + 1:
        raise RuntimeError("the engine run ended early")
    return (ends[-1] - ends[0]) / epochs


class _Done:
    def __init__(self) -> None:
        import threading

        self._event = threading.Event()
        self.set = self._event.set

    def wait(self) -> None:
        self._event.wait()


def run_bench(config: RunConfig, *, rounds: int = 3, epochs: int = 30, as_json: bool = False) -> int:
    if config.preset is None and config == RunConfig():
        config = config.replace(preset="seed-10k")
    if config.batch_size is not None:
        print("lstm-tui bench: error: batch-size: the bare seed loop is full-batch; use --batch-size full")
        return 2
    device = resolve_device(config.device)
    figures: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "device": str(device),
        "device_name": device_name(device),
        "torch": torch.__version__,
        "setting": config.label,
        "series_length": config.series_length,
        "look_back": config.look_back,
        "epochs_per_round": epochs,
        "rounds": rounds,
    }
    bare, engine = [], []
    for _ in range(rounds):
        bare.append(1 / bare_seconds_per_epoch(config, epochs))
        engine.append(1 / engine_seconds_per_epoch(config, epochs))
    ratios = [e / b for e, b in zip(engine, bare)]
    figures.update(
        bare_epochs_per_s=statistics.median(bare),
        engine_epochs_per_s=statistics.median(engine),
        engine_over_bare=statistics.median(ratios),
        engine_over_bare_each_round=ratios,
    )
    if as_json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"lstm-tui bench — {figures['setting']} on {figures['device_name']} ({figures['device']}), "
          f"torch {figures['torch']}, {rounds} rounds x {epochs} epochs, both models per epoch")
    print(f"  bare seed-style loop   {figures['bare_epochs_per_s']:8.2f} epochs/s")
    print(f"  engine, headless       {figures['engine_epochs_per_s']:8.2f} epochs/s")
    print(f"  engine / bare          {figures['engine_over_bare']:8.3f}   (target >= 0.95; rounds: "
          + ", ".join(f"{r:.3f}" for r in ratios) + ")")
    return 0
