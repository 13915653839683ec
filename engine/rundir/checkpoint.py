"""checkpoint.pt: what an exact resume needs, written so a crash never leaves half of it.

The file is one ``torch.save`` dict, readable with ``torch.load(weights_only=True)``:

    format      FORMAT (1); a reader refuses any other
    config      RunConfig.to_dict() of the run
    epoch       epochs both models have completed (a checkpoint never describes half an epoch)
    lstm, rnn   each model's state_dict
    optimizers  {"lstm": ..., "rnn": ...}: each Adam's state_dict (its moments, steps and lr)
    rng         {"shuffle": the mini-batch order generator, "torch": the global CPU generator,
                 "cuda": the device's generator when training on CUDA}

It is written to a temporary file in the run directory, fsynced and renamed over
checkpoint.pt, then the directory is fsynced: after a crash the file is the old checkpoint or
the new one. Imports torch: engine/rundir/directory.py imports this module only when needed.
"""

from __future__ import annotations

import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from engine.config import NUM_CLASSES, CheckpointCadence, ConfigError, RunConfig
from engine.models import MODEL_CLASSES, MODEL_NAMES
from engine.rundir.files import RunDirError, atomic_write
from engine.trainer import Trainer

FORMAT = 1
KEYS = ("format", "config", "epoch", "optimizers", "rng", *MODEL_NAMES)


class CheckpointError(RunDirError):
    """checkpoint.pt is missing, unreadable, from another version, or not this run's."""


def save_checkpoint(path: Path, trainer: Trainer) -> None:
    """Write the trainer's last completed epoch to ``path``, atomically."""
    checkpoint = {"format": FORMAT, "config": trainer.cfg.to_dict(), **trainer.state_dict()}
    atomic_write(path, lambda f: torch.save(checkpoint, f))


def read_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint on the CPU; a missing or unreadable file is a CheckpointError."""
    if not path.is_file():
        raise CheckpointError(f"{path.parent} has no {path.name} to resume from")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive
        raise CheckpointError(f"{path} is corrupt or not a checkpoint (not a torch.save archive)")
    try:
        # weights_only: a checkpoint is tensors and plain data, so loading one runs no pickled code.
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
        raise CheckpointError(f"{path} is corrupt or not a checkpoint ({first})") from None
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path} is not a checkpoint (it holds a {type(checkpoint).__name__})")
    return checkpoint


def check_checkpoint(checkpoint: dict[str, Any], config: RunConfig, path: Path) -> None:
    """Raise CheckpointError unless ``checkpoint`` is this version's and fits ``config``."""
    if checkpoint.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} has format {checkpoint.get('format')!r}; this version reads format {FORMAT}"
        )
    missing = [key for key in KEYS if key not in checkpoint]
    if missing:
        raise CheckpointError(f"{path} is incomplete: no {', '.join(missing)}")
    try:
        saved = RunConfig.from_dict(checkpoint["config"]).replace(epochs=config.epochs)
    except (ConfigError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{path} has an unusable config ({exc})") from None
    if saved != config:
        differ = [k for k, v in config.to_dict().items() if saved.to_dict()[k] != v]
        raise CheckpointError(f"{path} is from a different run: config.json differs in {', '.join(differ)}")
    epoch = checkpoint["epoch"]
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise CheckpointError(f"{path} has a bad epoch count {epoch!r}")
    for name in MODEL_NAMES:
        _check_shapes(name, checkpoint[name], config, path)
        optimizer = checkpoint["optimizers"].get(name) if isinstance(checkpoint["optimizers"], dict) else None
        if not isinstance(optimizer, dict) or not {"state", "param_groups"} <= set(optimizer):
            raise CheckpointError(f"{path} has no optimiser state for the {name.upper()}")
    rng = checkpoint["rng"]
    if not (isinstance(rng, dict) and all(isinstance(rng.get(k), torch.Tensor) for k in ("shuffle", "torch"))):
        raise CheckpointError(f"{path} has no random-generator states")


def _check_shapes(name: str, state: Any, config: RunConfig, path: Path) -> None:
    """The saved tensors have the names and shapes ``config``'s model has (built on the meta
    device: shapes without memory)."""
    with torch.device("meta"):
        expected = MODEL_CLASSES[name](NUM_CLASSES, config.hidden, NUM_CLASSES, config.layers).state_dict()
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} has no {name.upper()} weights")
    got = {k: tuple(v.shape) for k, v in state.items() if isinstance(v, torch.Tensor)}
    if got != {k: tuple(v.shape) for k, v in expected.items()}:
        raise CheckpointError(f"{path} holds {name.upper()} weights of another shape than config.json's model")


def resume_point(config: RunConfig, path: Path, epochs: int | None = None) -> tuple[RunConfig, dict[str, Any]]:
    """The config and the checkpoint at ``path`` to resume a run of ``config`` with; ``epochs``
    extends the run. Reads only: a missing, corrupt or foreign checkpoint, or fewer epochs than
    already trained, raises before anything is written."""
    checkpoint = read_checkpoint(path)
    check_checkpoint(checkpoint, config, path)
    if epochs is not None:
        if epochs < checkpoint["epoch"]:
            raise CheckpointError(
                f"--epochs {epochs} is fewer than the {checkpoint['epoch']} epochs {path.parent} has trained"
            )
        config = config.replace(epochs=epochs)
    return config, checkpoint


class Checkpointer:
    """Writes a run's checkpoint (at ``path``) when its cadence says so, and whenever asked."""

    def __init__(
        self, path: Path, cadence: CheckpointCadence, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.cadence = cadence
        self.clock = clock
        self.written = 0  # checkpoints written
        self._last_time = clock()
        self._on_disk: tuple[Trainer, int, float] | None = None  # what checkpoint.pt holds

    def due(self, epoch: int) -> bool:
        """Whether to checkpoint after completing ``epoch``."""
        every, seconds = self.cadence.every, self.cadence.seconds
        return every > 0 and epoch % every == 0 and self.clock() - self._last_time >= seconds

    def write(self, trainer: Trainer) -> bool:
        """Save ``trainer``'s last completed epoch, unless checkpoint.pt holds it already."""
        held = self._on_disk
        if held is not None and held[0] is trainer and held[1:] == (trainer.epoch, trainer.lr):
            return False
        save_checkpoint(self.path, trainer)
        self._on_disk = (trainer, trainer.epoch, trainer.lr)
        self._last_time = self.clock()
        self.written += 1
        return True
