"""Shared test setup: the repository root on sys.path, and small fixtures for the engine."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# `engine` and `tui` are imported from the checkout, installed or not. tests/engine has no
# __init__.py, so without the root on sys.path `import engine` could find that folder instead.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pytest_configure(config):
    import signal

    import torch

    # Under `nohup` (a suite left running in the background) SIGHUP arrives ignored, and every
    # process started from here would inherit that: the hang-up tests need it as a terminal has it.
    if signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)

    # The test models are tiny; on a shared 2-core box a second intra-op thread mostly waits
    # for a core (measured: 3-epoch runs took 0.3-4 s with 2 threads, 0.05-0.1 s with 1).
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def private_config_home(tmp_path_factory, monkeypatch):
    """No test reads or writes the preferences of whoever runs the tests (subprocesses too)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))


@pytest.fixture
def cpu():
    import torch

    return torch.device("cpu")


@pytest.fixture
def tiny():
    """A run that trains both models for 3 epochs in a blink."""
    from engine.config import RunConfig

    return RunConfig(series_length=300, look_back=5, epochs=3, device="cpu")
