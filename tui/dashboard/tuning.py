"""The interpreter, tuned for a UI thread sharing the GIL and the cores with a training thread.

Each setting is measured against the dashboard's keys and the training's epochs/s; each one is
undone when the dashboard closes (``InterpreterTuning.restore``).
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

# Python hands the GIL over every 5 ms by default: a 40 ms chart build would then stall the
# training thread between every pair of torch ops. 1 ms lets both threads through.
GIL_SWITCH_INTERVAL_S = 0.001
GC_THRESHOLDS = (5_000, 10, 10)  # CPython's default is (700, 10, 10)
AUTOGROUP_SWITCH = Path("/proc/sys/kernel/sched_autogroup_enabled")
_collections_paused = False  # by pause_collections, until resume_collections


def pause_collections() -> None:
    """No garbage collection until ``resume_collections`` (the dashboard's first frame).

    Start-up builds long-lived objects by the hundred thousand (modules, classes, the CSS,
    the widgets) and frees next to nothing: collections while they are built walked them
    again and again for nothing, about a sixth of the CPU time to the first frame.
    """
    global _collections_paused
    if gc.isenabled():
        gc.disable()
        _collections_paused = True


def resume_collections() -> None:
    """Collect garbage again, if ``pause_collections`` stopped it (else this changes nothing)."""
    global _collections_paused
    if _collections_paused:
        _collections_paused = False
        gc.enable()


def training_niceness(switch: Path = AUTOGROUP_SWITCH) -> int:
    """How far below the UI thread the training threads run.

    They yield the CPU to the UI whenever it has work, so keys stay quick on a box whose
    cores training keeps busy. With the kernel's autogroups (most distributions) a niceness
    only ranks threads within this terminal session, so training keeps its full share against
    the rest of the box; without them it ranks against every other user's process, so it is
    milder. Not 19: a CPU-bound job started from the same shell (`lstm-tui train … &`, a
    build) shares the autogroup, and at nice 19 it left training about 1.5 % of a core's
    share (a CI run's test workers starved a test's run that way). At nice 10 it keeps about
    a tenth; keys took a median 23 ms against 17 ms at nice 19 during a seed-10k run on two
    cores (tui/bench/dashboard.py's key_latencies), and epochs/s did not differ measurably.
    """
    try:
        autogroups = switch.read_text().strip() == "1"
    except OSError:
        autogroups = False
    return 10 if autogroups else 5


class InterpreterTuning:
    """The GIL's switch interval and the garbage collector's pace, set and later restored."""

    def __init__(self) -> None:
        self._switch_interval = sys.getswitchinterval()  # as found: restored at the end
        self._gc_thresholds = gc.get_threshold()

    def ui_started(self) -> None:
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)

    def engine_loaded(self) -> None:
        """Once torch is imported (on the thread that imported it)."""
        # torch and Textual leave ~1M long-lived objects; a full collection walking them
        # took 80-260 ms here, stalling keys. Frozen, they are no longer walked; and
        # younger collections less often (drawing makes many short-lived objects) keep
        # the rest short.
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)

    def restore(self) -> None:
        sys.setswitchinterval(self._switch_interval)
        gc.set_threshold(*self._gc_thresholds)
