"""Fixtures shared by the engine's tests."""

from __future__ import annotations

import pytest

from engine.config import RunConfig
from engine.session import Session


@pytest.fixture
def start():
    """Start a Session on the given sinks; every one is closed after the test."""
    sessions: list[Session] = []

    def _start(config: RunConfig, *sinks) -> Session:
        session = Session(config, list(sinks)).start()
        sessions.append(session)
        return session

    yield _start
    for session in sessions:
        session.close(timeout=5)
