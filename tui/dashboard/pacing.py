"""When the dashboard folds engine events and when it redraws: paced to the UI's CPU budget.

Redraw cost is real on a box whose cores training keeps busy (DESIGN.md: four charts of 400
points at 10 Hz took 11-22 % off training). So events are folded a few times a second, panels
redraw at most ``refresh_hz`` times a second, and the redraws back off, down to one every
SLOWEST_REDRAW_S, while drawing takes more than the UI thread's share of a core.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Protocol

from textual.message_pump import MessagePump
from textual.timer import Timer

SLOWEST_REDRAW_S = 2.0
MAX_PULSE_S = 0.25  # engine events wait at most this long to be folded, however slow the redraws


def ui_cpu_share(cores: int | None = None) -> float:
    """The share of one core the UI thread may use for drawing: 2 % per core of the box.

    Every frame takes its CPU from training on a box whose cores training keeps busy, and can
    cost it more than its own time (an OpenMP thread preempted mid-op holds up its partner at
    the next barrier). On 2 cores (4 %) the dashboard took about 10 % off training; halving
    that budget made no difference measurable through the noise, and slowed the charts. A
    bigger box has room to spare, so its charts refresh faster.
    """
    cores = cores or os.cpu_count() or 1
    return min(0.25, 0.02 * cores)


class Paced(Protocol):
    """What the pacer drives (the dashboard's screen is one)."""

    def fold(self) -> None:
        """Fold the engine events waiting since the last pulse into the state."""

    def redraw(self) -> None:
        """Redraw every panel whose data changed."""

    def between_frames(self) -> None:
        """A pulse with no redraw due: what must not wait for the next frame."""


class RedrawPacer:
    """Pulses a few times a second (the fold), and redraws when the pace allows.

    ``interval`` (seconds between redraws) moves between ``1 / refresh_hz`` and
    SLOWEST_REDRAW_S; ``next_redraw`` is when the next one is due, on ``clock``
    (``time.perf_counter``; the bench's clock stops while it holds the run between windows, so
    a window draws the frames a continuous run would, not an overdue one each time it starts).
    """

    def __init__(self, paced: Paced, refresh_hz: float, ui_share: float | None = None) -> None:
        self.paced = paced
        self.refresh_hz = refresh_hz
        self.interval = 1 / refresh_hz
        self.pulse_s = min(1 / refresh_hz, MAX_PULSE_S)
        self.ui_share = ui_cpu_share() if ui_share is None else ui_share
        self.next_redraw = 0.0
        self.clock: Callable[[], float] = time.perf_counter
        self._cpu_mark = (self.clock(), time.thread_time())
        self.timer: Timer | None = None

    def start(self, node: MessagePump) -> None:
        """Pulse on ``node``'s timer from now on (the first frame is already drawn)."""
        self._cpu_mark = (self.clock(), time.thread_time())  # start-up is not a frame
        self.next_redraw = self.clock() + self.interval
        self.timer = node.set_interval(self.pulse_s, self.pulse)

    def pause(self) -> None:
        """No pulses until ``resume``: the UI thread neither folds nor draws (the bench's quiet windows)."""
        if self.timer is not None:
            self.timer.pause()

    def resume(self) -> None:
        if self.timer is not None:
            self.timer.resume()

    def pulse(self) -> None:
        """A few times a second: fold what the engine sent, and redraw when the pace allows."""
        self.paced.fold()
        now = self.clock()
        if now >= self.next_redraw - self.pulse_s / 2:  # pulses jitter; a redraw is not skipped for it
            self.tick()
            self.next_redraw = now + self.interval
        else:
            self.paced.between_frames()

    def tick(self) -> None:
        """One redraw, then the pace for the next ones."""
        self.paced.redraw()
        # Pace on what the UI thread really spent since the last tick (thread CPU time covers
        # event handling, chart builds and Textual's compositing alike).
        wall, cpu = self.clock(), time.thread_time()
        share = (cpu - self._cpu_mark[1]) / max(wall - self._cpu_mark[0], 1e-6)
        self._cpu_mark = (wall, cpu)
        if share > self.ui_share:
            self.interval = min(self.interval * 2, SLOWEST_REDRAW_S)
        elif share < self.ui_share / 2:
            self.interval = max(self.interval / 1.25, 1 / self.refresh_hz)
