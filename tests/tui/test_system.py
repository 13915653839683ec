"""System figures: the header line and the `y` pane, sampled off the training thread."""

from __future__ import annotations

import mmap
import os
import threading
import time

import pytest

from engine.config import RunConfig
from tests.tui.helpers import visible_text, wait_until
from tui.dashboard.app import DashboardApp
from tui.dashboard.system import GpuSample, SystemSample, SystemSampler, cuda_index, system_text
from tui.widgets.header import RunHeader
from tui.widgets.system_pane import SystemPane

CONFIG = RunConfig(series_length=300, look_back=5, epochs=40)
GPU = GpuSample(utilisation=63.0, memory_used=3 * 2**30, memory_total=80 * 2**30, temperature=61.0, source="nvml")


def test_header_figures_read_cpu_memory_and_the_gpu() -> None:
    assert system_text(SystemSample(0.0, 187.4, 412 * 2**20)) == "cpu 187% · 412 MB"
    assert system_text(SystemSample(0.0, 12.0, 2**30, GPU)) == "cpu 12% · 1.0 GB · gpu 63% 3.0/80.0 GB 61°C"
    torch_only = GpuSample(None, 2**30, 16 * 2**30, None, "torch")
    assert system_text(SystemSample(0.0, 5.0, 2**20, torch_only)).endswith("gpu 1.0/16.0 GB")


@pytest.mark.parametrize(("device", "index"), [("cpu", None), ("cuda", 0), ("cuda:3", 3), ("mps", None), ("", None)])
def test_cuda_index_of_a_device(device: str, index: int | None) -> None:
    assert cuda_index(device) == index


def test_sampler_measures_this_processs_cpu_time_over_the_wall_time() -> None:
    """100% is one core: the CPU time this process counts for itself, over the wall time between
    two samples, whatever else the machine is doing."""
    sampler = SystemSampler()  # the first sample starts the measurement
    wall, cpu = time.monotonic(), time.process_time()
    while time.process_time() - cpu < 0.5:  # busy
        pass
    sample = sampler.sample(1.0)
    used = 100 * (time.process_time() - cpu) / (time.monotonic() - wall)
    assert sample.cpu_percent == pytest.approx(used, abs=10)
    assert sample.gpu is None


def test_sampler_measures_the_memory_this_process_touches() -> None:
    size = 64 * 2**20
    sampler, by_pid = SystemSampler(), SystemSampler(pid=os.getpid())
    before = sampler.sample(0.0).rss
    block = mmap.mmap(-1, size)  # pages of its own, from the kernel (not from a heap that kept freed ones)
    for offset in range(0, size, mmap.PAGESIZE):
        block[offset] = 1  # resident once written
    grown = sampler.sample(1.0).rss - before
    assert 0.95 * size <= grown < 1.5 * size
    assert by_pid.sample(1.0).rss == pytest.approx(sampler.sample(1.0).rss, rel=0.02)  # the same process
    block.close()


async def test_header_shows_this_processs_figures_once_sampled() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: bool(app.state.system), what="a sample")
        await wait_until(pilot, lambda: "cpu " in app.query_one(RunHeader).plain, what="the header")
        assert " MB" in app.query_one(RunHeader).plain or " GB" in app.query_one(RunHeader).plain


async def test_sampling_runs_on_its_own_thread() -> None:
    threads: list[str] = []
    app = DashboardApp(CONFIG, start=False)
    sample = SystemSampler.sample

    def recording(self, now):  # noqa: ANN001, ANN202
        threads.append(threading.current_thread().name)
        return sample(self, now)

    SystemSampler.sample = recording  # type: ignore[method-assign]
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: bool(threads))
    finally:
        SystemSampler.sample = sample  # type: ignore[method-assign]
    assert threading.main_thread().name not in threads


async def test_y_toggles_the_pane_with_a_row_per_figure() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(SystemPane)
        assert not pane.display
        await pilot.press("y")
        for second in range(5):
            app.dashboard.add_system_sample(SystemSample(float(second), 50.0 + second, 2**30, GPU))
        await wait_until(pilot, lambda: app.dashboard.caught_up)
        await pilot.pause()
        assert pane.display
        text = " ".join(visible_text(label) for label in pane.query("Label"))
        for label in ("CPU", "memory", "GPU", "GPU memory", "3.0 GB"):
            assert label in text
        await pilot.press("y")
        assert not pane.display


async def test_gpu_rows_are_hidden_without_a_gpu() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("y")
        app.dashboard.add_system_sample(SystemSample(0.0, 10.0, 2**30))
        await pilot.pause(0.3)
        app.redraw_now()
        assert not app.query_one("#system-gpu-util").display
        assert app.query_one("#system-cpu").display
