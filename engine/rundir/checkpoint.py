"""checkpoint.pt: what an exact resume needs, written so a crash never leaves half of it.

The file is one ``torch.save`` dict, readable with ``torch.load(weights_only=True)``:

    format      FORMAT (1); a reader refuses any other
    config      RunConfig.to_dict() of the run
    epoch       epochs every model has completed (a checkpoint never describes half an epoch)
    lstm, ...   each model of config's models (lstm, rnn, gru): its state_dict; a config from
                before --models has none, and holds "lstm" and "rnn"
    optimizers  {"lstm": ..., "rnn": ...}: each Adam's state_dict (its moments, steps and lr)
    rng         {"shuffle": the mini-batch order generator, "torch": the global CPU generator,
                 "cuda": the device's generator when training on CUDA}

It is written to a temporary file in the run directory, fsynced and renamed over
checkpoint.pt, then the directory is fsynced: after a crash the file is the old checkpoint or
the new one. Imports torch: engine/rundir/directory.py imports this module only when needed.
"""

from __future__ import annotations

import math
import reprlib
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from engine.config import NUM_CLASSES, CheckpointCadence, ConfigError, RunConfig
from engine.data import task_classes
from engine.models import MODEL_CLASSES
from engine.rundir.files import RunDirError, atomic_write
from engine.trainer import Trainer

FORMAT = 1
KEYS = ("format", "config", "epoch", "optimizers", "rng")  # and one per model of the config


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


def check_checkpoint(checkpoint: dict[str, Any], config: RunConfig, path: Path,
                     num_classes: int = NUM_CLASSES) -> None:
    """Raise CheckpointError unless ``checkpoint`` is this version's and fits ``config``, whose
    data has ``num_classes`` classes (engine.data.task_classes)."""
    if checkpoint.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} has format {reprlib.repr(checkpoint.get('format'))}; this version reads format {FORMAT}"
        )
    missing = [key for key in (*KEYS, *config.model_names) if key not in checkpoint]
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
        raise CheckpointError(f"{path} has a bad epoch count {reprlib.repr(epoch)}")
    if epoch > config.epochs:
        raise CheckpointError(f"{path} has trained {epoch:,} epochs, more than config.json's {config.epochs:,}")
    optimizers = checkpoint["optimizers"]
    for name in config.model_names:
        with torch.device("meta"):  # config.json's model: names and shapes without memory
            model = MODEL_CLASSES[name](num_classes, config.hidden, num_classes, config.layers)
        _check_weights(name, checkpoint[name], model, path)
        optimizer = optimizers.get(name) if isinstance(optimizers, dict) else None
        if not isinstance(optimizer, dict) or not {"state", "param_groups"} <= set(optimizer):
            raise CheckpointError(f"{path} has no optimiser state for the {name.upper()}")
        problem = _optimizer_problem(optimizer, model, config)
        if problem is not None:
            raise CheckpointError(f"{path} has an unusable optimiser state for the {name.upper()}: {problem}")
    _check_rng(checkpoint["rng"], path)


def _bad_tensor(value: Any, shape: tuple[int, ...]) -> str | None:
    """Why ``value`` is not a finite float tensor of ``shape``; None when it is one."""
    if not isinstance(value, torch.Tensor):
        return f"a {type(value).__name__}, not a tensor"
    if not value.is_floating_point():
        return f"a tensor of {value.dtype}, not of floats"
    if tuple(value.shape) != shape:
        return f"of shape {tuple(value.shape)}, not {shape}"
    if not bool(torch.isfinite(value).all()):
        return "not finite (NaN or infinity)"
    return None


def _check_weights(name: str, state: Any, model: torch.nn.Module, path: Path) -> None:
    """The saved weights are finite float tensors with the names and shapes of ``model``."""
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} has no {name.upper()} weights")
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if set(state) != set(expected) or any(
            not isinstance(v, torch.Tensor) or tuple(v.shape) != expected[k] for k, v in state.items()):
        raise CheckpointError(f"{path} holds {name.upper()} weights of another shape than config.json's model")
    for key, value in state.items():
        if (problem := _bad_tensor(value, expected[key])) is not None:
            raise CheckpointError(f"{path} holds {name.upper()} weights that cannot train: {key} is {problem}")


def _optimizer_problem(saved: dict[str, Any], model: torch.nn.Module, config: RunConfig) -> str | None:
    """Why ``saved`` is not a state of the Adam the Trainer builds for ``model`` (one group of all
    its parameters, the Trainer's settings but the learning rate, moments of each parameter's
    shape); None when it is one. Then torch itself loads it, into an Adam on the meta device."""
    shapes = [tuple(p.shape) for p in model.parameters()]
    fresh = torch.optim.Adam(model.parameters(), lr=config.lr)
    groups, state = saved["param_groups"], saved["state"]
    if not isinstance(groups, list) or len(groups) != 1 or not isinstance(groups[0], dict):
        return f"{len(groups) if isinstance(groups, list) else 'no'} parameter groups, not 1"
    group = groups[0]
    if group.get("params") != list(range(len(shapes))):
        return f"its parameter group does not hold the model's {len(shapes)} parameters"
    lr = group.get("lr")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        return f"learning rate {reprlib.repr(lr)}, not a positive number"
    for key, value in fresh.param_groups[0].items():
        if key not in ("params", "lr") and key in group and _same(group[key]) != _same(value):
            return f"{key} is {reprlib.repr(group[key])}, not {value!r} as this program trains"
    if not isinstance(state, dict) or not set(state) <= set(range(len(shapes))):
        return "its moments are not per parameter"
    for index, moments in state.items():
        if not isinstance(moments, dict) or not {"step", "exp_avg", "exp_avg_sq"} <= set(moments):
            return f"parameter {index} has no step count and moments"
        step = moments["step"]
        step = step.item() if isinstance(step, torch.Tensor) and step.numel() == 1 else step
        if isinstance(step, bool) or not isinstance(step, (int, float)) or not 0 <= step < 2**53:
            return f"parameter {index} has step count {reprlib.repr(step)}"
        for key in ("exp_avg", "exp_avg_sq"):
            if (problem := _bad_tensor(moments[key], shapes[index])) is not None:
                return f"{key} of parameter {index} is {problem}"
        if bool((moments["exp_avg_sq"] < 0).any()):
            return f"exp_avg_sq of parameter {index} is negative"
    try:
        fresh.load_state_dict(saved)  # on the meta device: torch's own rules, without memory
    except Exception as exc:
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
    return None


def _same(value: Any) -> Any:
    """A setting as compared: betas as a list are betas as a tuple."""
    return tuple(value) if isinstance(value, list) else value


def _check_rng(rng: Any, path: Path) -> None:
    """The random streams are states a CPU generator takes (CUDA's, when saved, are bytes)."""
    if not (isinstance(rng, dict) and all(isinstance(rng.get(k), torch.Tensor) for k in ("shuffle", "torch"))):
        raise CheckpointError(f"{path} has no random-generator states")
    for key in ("shuffle", "torch"):
        try:
            torch.Generator().set_state(rng[key])
        except (RuntimeError, TypeError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
            raise CheckpointError(f"{path} has an unusable {key} random-generator state ({first})") from None
    cuda = rng.get("cuda")
    if cuda is not None and not (isinstance(cuda, torch.Tensor) and cuda.dtype == torch.uint8):
        raise CheckpointError(f"{path} has an unusable cuda random-generator state")


def resume_point(config: RunConfig, path: Path, epochs: int | None = None) -> tuple[RunConfig, dict[str, Any]]:
    """The config and the checkpoint at ``path`` to resume a run of ``config`` with; ``epochs``
    extends the run. Reads only: a missing, corrupt or foreign checkpoint, fewer epochs than
    already trained, or a csv run's file changed since (a ConfigError), raises before anything
    is written."""
    classes = task_classes(config)  # first: a changed file is refused whatever the checkpoint holds
    checkpoint = read_checkpoint(path)
    check_checkpoint(checkpoint, config, path, len(classes))
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

    def holds(self, trainer: Trainer) -> None:
        """checkpoint.pt is ``trainer``'s state (a resume loaded it from there): nothing is written
        over it until the trainer's epoch or learning rate has moved on."""
        self._on_disk = (trainer, trainer.epoch, trainer.lr)

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
