"""A sink for the engine's tests: keeps every event and lets a test wait for one."""

from __future__ import annotations

import threading

WAIT = 30.0  # generous: the box is shared; a passing test never waits this long


class Recorder:
    """A sink that keeps every event and lets the test wait for one."""

    def __init__(self) -> None:
        self.events: list = []
        self._cond = threading.Condition()

    def __call__(self, event) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(self, predicate, after: int = 0, timeout: float = WAIT) -> tuple[int, object]:
        """Index and event of the first event at or after ``after`` that matches."""
        found: list = []

        def match() -> bool:
            for i in range(after, len(self.events)):
                if predicate(self.events[i]):
                    found.append((i, self.events[i]))
                    return True
            return False

        with self._cond:
            if not self._cond.wait_for(match, timeout):
                names = [(e.name, getattr(e, "state", getattr(e, "epoch", ""))) for e in self.events[-8:]]
                raise AssertionError(f"timed out waiting; last events: {names}")
        return found[0]

    def snapshot(self) -> list:
        with self._cond:
            return list(self.events)

    def __len__(self) -> int:
        with self._cond:
            return len(self.events)
