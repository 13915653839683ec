"""What the machine is doing: this process's CPU and memory, and the GPU's when training on one.

GPU figures come from NVIDIA's management library (``nvidia-ml-py``, the ``gpu`` extra) when it
is installed, else from what ``torch.cuda`` can say without it (memory only). Sampling is cheap
(a few system calls) and runs on the dashboard's sampler thread, never the training thread.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

SAMPLE_SECONDS = 1.0  # at most one sample a second


@dataclass(frozen=True)
class GpuSample:
    utilisation: float | None  # percent
    memory_used: int  # bytes
    memory_total: int
    temperature: float | None  # degrees Celsius
    source: str  # "nvml" or "torch"


@dataclass(frozen=True)
class SystemSample:
    time: float
    cpu_percent: float  # this process, all threads: 200 % is two busy cores
    rss: int  # resident memory, bytes
    gpu: GpuSample | None = None


class SystemSampler:
    """Samples this process (or process ``pid``: a watched run's trainer), and the CUDA device
    ``cuda_index`` when there is one. ``psutil.Error`` when that process is gone."""

    def __init__(self, cuda_index: int | None = None, pid: int | None = None) -> None:
        import psutil  # on the sampler's thread: the header's text needs none of it

        self.pid = pid
        self.process = psutil.Process(pid)
        self.process.cpu_percent(None)  # the first call only starts the measurement
        self.cuda_index = cuda_index
        self._nvml: Any = None
        self._handle: Any = None
        if cuda_index is not None:
            self._open_nvml(cuda_index)

    def _open_nvml(self, index: int) -> None:
        try:
            import pynvml  # nvidia-ml-py

            pynvml.nvmlInit()
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            self._nvml = pynvml
        except Exception:  # noqa: BLE001 - not installed, no driver: fall back to torch's figures
            self._nvml = None

    def sample(self, now: float) -> SystemSample:
        with self.process.oneshot():
            cpu = self.process.cpu_percent(None)
            rss = self.process.memory_info().rss
        return SystemSample(now, cpu, rss, self._gpu())

    def _gpu(self) -> GpuSample | None:
        if self.cuda_index is None:
            return None
        if self._nvml is not None:
            nvml, handle = self._nvml, self._handle
            with contextlib.suppress(Exception):
                memory = nvml.nvmlDeviceGetMemoryInfo(handle)
                utilisation = nvml.nvmlDeviceGetUtilizationRates(handle).gpu
                temperature = nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)
                return GpuSample(float(utilisation), int(memory.used), int(memory.total), float(temperature), "nvml")
        return self._torch_gpu()

    def _torch_gpu(self) -> GpuSample | None:
        try:
            import torch

            free, total = torch.cuda.mem_get_info(self.cuda_index)
        except Exception:  # noqa: BLE001 - no CUDA after all: no GPU line
            return None
        return GpuSample(None, int(total - free), int(total), None, "torch")


def cuda_index(device: str) -> int | None:
    """The CUDA device index of a run's device string ("cuda", "cuda:1"), else None."""
    if not device.startswith("cuda"):
        return None
    _, _, index = device.partition(":")
    return int(index) if index.isdigit() else 0


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit in ("B", "KB", "MB") else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def system_text(sample: SystemSample) -> str:
    """The header's system figures, e.g. ``cpu 187% · 412 MB · gpu 63% 3.1/80.0 GB 61°C``."""
    parts = [f"cpu {sample.cpu_percent:.0f}%", format_bytes(sample.rss)]
    gpu = sample.gpu
    if gpu is not None:
        text = "gpu"
        if gpu.utilisation is not None:
            text += f" {gpu.utilisation:.0f}%"
        text += f" {gpu.memory_used / 2**30:.1f}/{gpu.memory_total / 2**30:.1f} GB"
        if gpu.temperature is not None:
            text += f" {gpu.temperature:.0f}°C"
        parts.append(text)
    return " · ".join(parts)
