"""Following a run as its log grows: the events appended, and the run's status, in that order.

The status is looked at before the log is read. A run that is no longer live has written its
last line before that look, so the read after it has every line: an update's events all came
before its status, and a front end applies them first. (Looking after the read could report
"crashed" or "finished" while the last lines were still unread.)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.events import Event
from engine.rundir.directory import RunDirectory, RunStatus
from engine.rundir.files import RunDirError
from engine.rundir.log import SkipReport

POLL_S = 0.25  # how often a follower looks: one flock, one stat and a read of what was appended


@dataclass(frozen=True)
class LogUpdate:
    """Events appended to the log, then the run's status after them."""

    events: list[Event] = field(default_factory=list)
    status: RunStatus | None = None
    problem: str = ""  # why the status is gone: the directory's error, one line

    @property
    def live(self) -> bool:
        return self.status == RunStatus.LIVE


class RunFollower:
    """One run's log followed: each ``poll`` reads what was appended and the run's status."""

    def __init__(self, run: RunDirectory, on_skip: SkipReport | None = None, *,
                 only: Collection[str] | None = None) -> None:
        self.run = run
        self.reader = run.reader(on_skip, only=only)

    def poll(self) -> LogUpdate:
        """Raises RunDirError when the log cannot be read (a directory in its place, say)."""
        try:
            status, problem = self.run.status(), ""  # first: see the module's docstring
        except RunDirError as exc:
            status, problem = RunStatus.GONE, str(exc)
        events = self.reader.read()
        if status != RunStatus.LIVE:
            self.reader.finish()  # nobody will complete a torn last line: report it
        return LogUpdate(events, status, problem)


def follow(run: RunDirectory, *, on_skip: SkipReport | None = None, only: Collection[str] | None = None,
           until_ended: bool = False, stopped: Callable[[], bool] = lambda: False,
           wait: Callable[[float], Any] = time.sleep, poll_s: float = POLL_S) -> Iterator[LogUpdate]:
    """Updates of ``run``: the first holds the log so far, later ones come when events were
    appended or the status changed. ``until_ended``: end after the first update whose run is
    not live. ``stopped`` is asked before each look; ``wait`` sleeps between looks (a
    threading.Event's wait ends the sleep when the event is set)."""
    follower = RunFollower(run, on_skip, only=only)
    told: RunStatus | None = None
    first = True
    while not stopped():
        update = follower.poll()
        if first or update.events or update.status != told:
            first, told = False, update.status
            yield update
        if until_ended and not update.live:
            return
        wait(poll_s)

