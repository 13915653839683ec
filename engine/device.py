"""Pick the torch device a run asks for, or say clearly why it is not there."""

from __future__ import annotations

import os
import platform

import torch

from engine.config import ConfigError


def resolve_device(spec: str) -> torch.device:
    """auto = cuda if available, else mps, else cpu. A missing device is a ConfigError."""
    mps = getattr(torch.backends, "mps", None)
    mps_ok = bool(mps and mps.is_available())
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if mps_ok else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "mps":
        if not mps_ok:
            raise ConfigError("device", "mps is not available on this machine (try --device cpu)")
        return torch.device("mps")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("device", f"{spec} is not available: no CUDA GPU found (try --device cpu)")
        index = int(spec.split(":")[1]) if ":" in spec else 0
        count = torch.cuda.device_count()
        if index >= count:
            raise ConfigError("device", f"{spec} does not exist: this machine has {count} CUDA device(s)")
        return torch.device("cuda", index)
    raise ConfigError("device", f"{spec!r} is not a device (auto, cpu, cuda, cuda:N, mps)")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    cpu = platform.processor() or platform.machine() or "CPU"
    return f"{cpu}, {torch.get_num_threads()} threads of {os.cpu_count()} cores"


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels: only for timing figures, never inside the training loop."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
