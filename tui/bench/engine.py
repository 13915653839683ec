"""The engine's figures for `lstm-tui bench`: its overhead against a bare loop written like the
seed's, the probes' cost, and memory at the seed's scale, each with the run's models.

The bare loop (BareLoop) trains the same models on the same data, batches and validation pass
as the engine's Trainer; tui/bench/paired.py runs it and the engine in processes of their own,
taking turns in short windows, and the figure that matters is the ratio of their epochs per
second, with its interval. The dashboard's figures are in tui/bench/dashboard.py, and
tui/bench/run.py runs and prints them all.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.allocator import keep_freed_memory
from engine.config import NUM_CLASSES, RunConfig, split_point
from engine.data import Split, make_series
from engine.device import resolve_device, synchronize

# Timed epochs start after these: start-up (the app's first paints, caches, the first
# frames before redraw pacing settles) is measured apart, as time to first frame.
WARMUP_EPOCHS = 20


def _seed_dataset(series, look_back: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The seed's create_dataset + one_hot_encode + permute, materialised up front."""
    xs, ys = [], []
    for i in range(len(series) - look_back):
        xs.append(series[i : i + look_back])
        ys.append(series[i + look_back])
    x = torch.nn.functional.one_hot(torch.from_numpy(np.array(xs)), NUM_CLASSES).float().permute(1, 0, 2)
    return x.contiguous().to(device), torch.from_numpy(np.array(ys)).long().to(device)


class BareLoop:
    """The seed's training loop, one epoch per ``step()``: every model of the run on the seed's
    materialised one-hot windows, each epoch on the Trainer's batches, then the same validation.

    Full batch (the seed's): one forward and backward over every window. Mini-batches (the echo
    preset's 128): the batches the engine's Trainer takes, drawn from a generator seeded as its
    ``shuffle`` is, so both loops see the same windows in the same order (``batches``). What it
    leaves out is what the engine adds: events, gradient norms, the rollback copy, the
    prediction, probes, the run log and checkpoints.
    """

    def __init__(self, cfg: RunConfig) -> None:
        from engine.trainer import initial_models

        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        series = make_series(cfg)[: cfg.series_length]
        split = split_point(cfg)
        self.x, self.y = _seed_dataset(series[:split], cfg.look_back, self.device)
        self.xv, self.yv = _seed_dataset(series[split:], cfg.look_back, self.device)
        torch.manual_seed(cfg.seed)
        self.models = list(initial_models(cfg, self.device).values())  # drawn as the engine draws them
        self.optimizers = [torch.optim.Adam(m.parameters(), lr=cfg.lr) for m in self.models]
        self.criterion = nn.CrossEntropyLoss()
        windows = len(self.y)
        self.batch_size = min(cfg.batch_size or windows, windows)
        self.shuffle = torch.Generator().manual_seed(cfg.seed)  # as Trainer.shuffle: the same order

    def batches(self) -> list[torch.Tensor] | None:
        """The next epoch's batches as training-window indices (Trainer._epoch_batches' draw);
        None for the full batch."""
        windows = len(self.y)
        if self.batch_size >= windows:
            return None
        order = torch.randperm(windows, generator=self.shuffle)
        return list(order.to(self.device).split(self.batch_size))

    def step(self) -> None:
        """One epoch of every model, on the same batches."""
        batches = self.batches()
        for model, optimizer in zip(self.models, self.optimizers):
            model.train()
            if batches is None:
                optimizer.zero_grad()
                loss = self.criterion(model(self.x), self.y)
                loss.backward()
                optimizer.step()
                loss.item()
            else:
                total = torch.zeros((), device=self.device)
                for batch in batches:
                    optimizer.zero_grad()
                    # index_select, not x[:, batch]: the engine cuts its batches from a kept
                    # encoding so, and advanced indexing took twice as long (the floor stays a floor).
                    loss = self.criterion(model(self.x.index_select(1, batch)), self.y.index_select(0, batch))
                    loss.backward()
                    optimizer.step()
                    total += loss.detach()
                total.item()  # one host sync an epoch, as the Trainer's
            model.eval()
            with torch.no_grad():
                out = model(self.xv)
                self.criterion(out, self.yv).item()
                (out.argmax(1) == self.yv).sum().item()


PROBE_PRESETS = ("seed-10k", "seed-50k", "seed-100k", "echo")


def probe_cost(preset: str, device_choice: str, probes: int = 5, models: str | None = None) -> dict[str, float]:
    """One probe's time against one epoch's (every model: ``models``, or the preset's pair), and
    the share of training time probes take at the default cadence (``probe_every`` 1, at most
    one per ``probe_seconds``)."""
    from engine.config import from_preset
    from engine.probes import Prober
    from engine.trainer import Trainer

    cfg = from_preset(preset, device=device_choice, **({"models": models} if models else {}))
    device = resolve_device(cfg.device)
    trainer = Trainer(cfg, device)
    noop = lambda *_: None  # noqa: E731
    trainer.run_epoch(noop, noop)  # warm-up: allocations, kernels
    synchronize(device)
    started = time.perf_counter()
    trainer.run_epoch(noop, noop)
    synchronize(device)
    epoch_s = time.perf_counter() - started
    prober = Prober(trainer, cfg.probe_steps)
    prober.probe(trainer.epoch)
    synchronize(device)
    started = time.perf_counter()
    for _ in range(probes):
        prober.probe(trainer.epoch)
    synchronize(device)
    probe_s = (time.perf_counter() - started) / probes
    # At the defaults a probe follows an epoch at most once per probe_seconds.
    interval = max(epoch_s * cfg.probe_every, cfg.probe_seconds)
    return {"epoch_ms": 1000 * epoch_s, "probe_ms": 1000 * probe_s,
            "share_every_epoch": probe_s / epoch_s, "share_at_defaults": probe_s / (interval + probe_s)}


def in_fresh_thread(fn: Any, *args: Any) -> Any:
    """Run ``fn`` on a new thread, as the Session runs training.

    Each thread that computes gets its own OpenMP pool, and a pool left behind by the main
    thread costs every other thread about 30% on 2 cores (measured here). So no loop runs on
    the main thread: bare and engine each start on equal footing.
    """
    result: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(fn(*args))
        except BaseException as exc:  # re-raised on the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=target, name="lstm-tui-bench")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


# -- memory at the seed's scale (issue 6) -----------------------------------------------------

# The seed's "extremely long sequence": 500,000 days. At look-back 1,000 one full-batch epoch of
# both models took 834 s on a quiet 2-core CPU (1,279 chunks a model), so by default the bench
# trains the first SCALE_CHUNKS chunks of each model and of validation: every chunk is as big as
# in the whole epoch, so memory peaks as high (578 MiB over that whole epoch, 569 MiB over 40
# chunks), and the epoch's time is extrapolated from them.
SCALE_SETTING = {"series_length": 500_000, "look_back": 1_000}
SCALE_CHUNKS = 40
NDARRAY_VIEW_BYTES = sys.getsizeof(np.arange(2)[:1])  # a slice's header; it owns no data
LIST_SLOT_BYTES = 8  # one pointer in a Python list


def seed_dataset_bytes(series_length: int, look_back: int) -> dict[str, int]:
    """What the seed's ``create_dataset`` and one-hot encoding hold for a series, computed.

    With N = series_length - look_back windows (the seed keeps no validation split):

    * list_of_views  N x (ndarray view header + list slot): ``data_x`` before ``np.array``
    * windows_int64  N x look_back x 8: ``np.array(data_x)``, the draws as int64
    * one_hot_float32  N x look_back x 3 x 4: the input tensor the seed trains on
    * total  all three: the list and the int64 array are alive while the one-hot is built
    """
    n = series_length - look_back
    sizes = {
        "windows": n,
        "list_of_views": n * (NDARRAY_VIEW_BYTES + LIST_SLOT_BYTES),
        "windows_int64": n * look_back * 8,
        "one_hot_float32": n * look_back * NUM_CLASSES * 4,
    }
    sizes["total"] = sizes["list_of_views"] + sizes["windows_int64"] + sizes["one_hot_float32"]
    return sizes


def _peak_rss_bytes() -> int:
    """This process's peak resident memory.

    On Linux from VmHWM: getrusage's ru_maxrss survives exec, so a child started from a big
    process (pytest, the dashboard) would report its parent's size at the fork.
    """
    import resource

    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


def measure_scale(cfg: RunConfig, chunks: int, epochs: int) -> dict[str, Any]:
    """Train ``cfg`` in this process and report its peak resident memory (run it in a fresh one).

    ``epochs`` > 0: that many whole epochs. Otherwise one epoch of the first ``chunks`` chunks of
    the training split and of the validation split, chunked exactly as the whole splits are (the
    Trainer plans its chunk size once, for the whole split), and the whole epoch's time
    extrapolated from it. Then one probe, as a run makes after its first epoch.
    """
    import psutil

    from engine.probes import Prober
    from engine.trainer import Trainer, bytes_per_window

    device = resolve_device(cfg.device)
    started = time.perf_counter()
    trainer = Trainer(cfg, device)
    build_s = time.perf_counter() - started
    n_train, n_val = len(trainer.data.train), len(trainer.data.val)
    # One window through each model first: the runtime's one-time allocations (thread pools,
    # kernels) belong to the baseline, not to what a chunk costs.
    for model in trainer.models.values():
        inputs, targets = trainer.data.batch(trainer.data.train.starts[:1])
        trainer.loss_fn(model(inputs), targets).backward()
        model.zero_grad(set_to_none=True)
    baseline = psutil.Process().memory_info().rss
    if epochs <= 0:
        windows = chunks * trainer.chunk
        if windows < n_train:  # a prefix: not the split itself, so chunked like the whole one
            trainer.data.train = Split(trainer.data.train.starts[:windows])
        if windows < n_val:
            trainer.data.val = Split(trainer.data.val.starts[:windows])
    trained_train, trained_val = len(trainer.data.train), len(trainer.data.val)
    ends: list[Any] = []
    noop = lambda *_: None  # noqa: E731
    started = time.perf_counter()
    for _ in range(max(epochs, 1)):
        trainer.run_epoch(noop, lambda event: ends.append(event) if event.name == "epoch_end" else None)
    synchronize(device)
    run_s = time.perf_counter() - started
    started = time.perf_counter()
    Prober(trainer, cfg.probe_steps).probe(trainer.epoch)
    synchronize(device)
    probe_s = time.perf_counter() - started
    if epochs > 0:
        epoch_s = run_s / epochs
    else:  # each model's training and validation time, scaled to the whole splits
        epoch_s = 0.0
        for end in ends:
            train_s = trained_train / end.samples_per_s
            val_s = max(end.seconds - train_s, 0.0)
            epoch_s += train_s * n_train / trained_train + (val_s * n_val / trained_val if trained_val else 0)
    peak = _peak_rss_bytes()
    return {
        "series_length": cfg.series_length,
        "look_back": cfg.look_back,
        "models": list(cfg.model_names),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "memory_budget": cfg.memory_budget,
        "bytes_per_window": bytes_per_window(cfg),
        "chunk_windows": trainer.chunk,
        "chunks_per_epoch": -(-n_train // trainer.chunk),
        "train_windows": n_train,
        "val_windows": n_val,
        "trained_windows": trained_train,
        "validated_windows": trained_val,
        "epochs": epochs,
        "build_s": build_s,
        "epoch_s": epoch_s,
        "epoch_s_estimated": epochs <= 0 and trained_train < n_train,
        "probe_s": probe_s,
        "baseline_rss": baseline,
        "peak_rss": peak,
        "peak_over_baseline": peak - baseline,
        "within_budget": peak - baseline <= cfg.memory_budget,
    }


def _scale_child() -> None:
    """Entry point of the fresh interpreter ``scale_figures`` starts: one JSON line out."""
    keep_freed_memory()  # as lstm-tui does: the peak is that of lstm-tui's own allocator settings
    cfg = RunConfig.from_dict(json.loads(sys.argv[1]))
    print(json.dumps(measure_scale(cfg, int(sys.argv[2]), int(sys.argv[3]))))


def scale_figures(cfg: RunConfig, chunks: int = SCALE_CHUNKS, epochs: int = 0,
                  timeout: float = 3600) -> dict[str, Any]:
    """``measure_scale`` in a fresh interpreter, so the peak resident memory is that run's alone,
    with the seed's ``create_dataset`` figures for the same setting."""
    import os
    import subprocess

    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    code = "from tui.bench.engine import _scale_child; _scale_child()"
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(cfg.to_dict()), str(chunks), str(epochs)],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=root,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the scale run failed (exit {done.returncode}): {last}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["seed_create_dataset"] = seed_dataset_bytes(cfg.series_length, cfg.look_back)
    # The seed's single full-batch pass over all N windows, at the Trainer's per-window estimate.
    figures["seed_full_batch_pass"] = figures["seed_create_dataset"]["windows"] * figures["bytes_per_window"]
    return figures


def scale_config(config: RunConfig) -> RunConfig:
    """The seed's 500k series at look-back 1,000, full batch, with the bench's budget, device and models."""
    return RunConfig(**SCALE_SETTING, memory_budget=config.memory_budget, device=config.device,
                     seed=config.seed, models=config.models)


def print_scale(scale: dict[str, Any]) -> None:
    from engine.config import MODEL_TITLES, format_size

    seed = scale["seed_create_dataset"]
    models = ", ".join(MODEL_TITLES[name] for name in scale["models"])
    span = (f"{scale['epochs']} whole epoch(s)" if scale["epochs"] > 0 else
            f"the first {scale['trained_windows']:,} of {scale['train_windows']:,} training windows")
    how = "estimated from the windows trained" if scale["epoch_s_estimated"] else "measured"
    within = "within it" if scale["within_budget"] else "OVER IT"
    print(f"  memory at the seed's scale: series {scale['series_length']:,}, look-back {scale['look_back']:,}, "
          f"full batch, {scale['device']} ({span}, fresh process)")
    print(f"    peak resident memory    {format_size(scale['peak_rss']):>10}   (baseline "
          f"{format_size(scale['baseline_rss'])} + training {format_size(scale['peak_over_baseline'])}; "
          f"budget {format_size(scale['memory_budget'])}: {within})")
    print(f"    chunks                  {scale['chunk_windows']:>10,} windows, {scale['chunks_per_epoch']:,} "
          f"per model per epoch ({format_size(scale['bytes_per_window'])} a window, estimated)")
    print(f"    one epoch               {scale['epoch_s']:>10.0f} s   ({models}; {how}; data built in "
          f"{scale['build_s']:.1f} s, one probe {scale['probe_s']:.2f} s)")
    print(f"    seed's create_dataset   {format_size(seed['total']):>10}   ({seed['windows']:,} x "
          f"{scale['look_back']:,} x 3 x 4 B one-hot float32 = {format_size(seed['one_hot_float32'])}, plus "
          f"{seed['windows']:,} x {scale['look_back']:,} x 8 B int64 windows = "
          f"{format_size(seed['windows_int64'])} and the list of {seed['windows']:,} views, "
          f"{format_size(seed['list_of_views'])})")
    print(f"    seed's full-batch pass  {format_size(scale['seed_full_batch_pass']):>10}   (all "
          f"{seed['windows']:,} windows in one forward/backward, at the estimate above)")
