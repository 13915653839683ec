"""Fixtures for the dashboard tests."""

from __future__ import annotations

import pytest

from engine.config import RunConfig


@pytest.fixture
def endless() -> RunConfig:
    """A run whose epochs take milliseconds and which never ends within a test."""
    return RunConfig(series_length=300, look_back=5, epochs=100_000, device="cpu")

