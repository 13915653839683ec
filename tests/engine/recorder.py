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


def logged_losses(run) -> dict:
    """(model, epoch) -> (train, val) of a run (a RunDirectory or its path) as a reader of its
    log sees them: a run that starts or resumes drops the epochs past its start."""
    from engine.events import EpochEnd, RunStarted
    from engine.rundir.directory import RunDirectory

    seen: dict = {}
    for event in (run if isinstance(run, RunDirectory) else RunDirectory(run)).events():
        if isinstance(event, RunStarted):
            seen = {key: v for key, v in seen.items() if key[1] <= event.resumed_from_epoch}
        elif isinstance(event, EpochEnd):
            seen[(event.model, event.epoch)] = (event.train_loss, event.val_loss)
    return seen
