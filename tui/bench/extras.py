"""The engine's own work each epoch, piece by piece, for `lstm-tui bench`: what a Session does
that the bare loop does not, each piece timed on the training thread against the epoch.

engine / bare (tui/bench/paired.py) says how much the engine costs; this says where. A Session
runs as `lstm-tui train` runs it (its run log, checkpoints and probes at their defaults, and a
listener on a delivery thread of its own) while each piece's function is wrapped in a timer.
A piece called inside another (the events a probe emits) counts for the outer one only. The
wrappers are the bench's own and are taken off again when it ends.
"""

from __future__ import annotations

import contextlib
import importlib
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from engine.config import RunConfig
from engine.events import FINAL_STATES
from tui.bench.paired import headless_session

# (what it is, module, attribute path): each a function the training thread calls
PIECES: tuple[tuple[str, str, str], ...] = (
    ("prediction", "engine.trainer", "Trainer._prediction"),
    ("rollback copy", "engine.trainer", "Rollback.save"),
    ("gradient norm", "engine.trainer", "Gradients.norm"),
    ("random state", "engine.trainer", "Trainer.rng_state"),
    ("events to listeners", "engine.session", "Session._emit"),
    ("commands between batches", "engine.session", "Session._between_batches"),
    ("probes", "engine.session", "Session._probe"),
    ("checkpoints (with the log's flush)", "engine.session", "Session._checkpoint"),
)
EPOCHS = 200  # timed, after WARMUP_EPOCHS
WARMUP_EPOCHS = 20
RUN_TIMEOUT_S = 600.0


class PieceTimes:
    """Seconds and calls of each piece, counted only while ``counting`` and only for the
    outermost piece running on a thread."""

    def __init__(self) -> None:
        self.seconds = {label: 0.0 for label, _, _ in PIECES}
        self.calls = {label: 0 for label, _, _ in PIECES}
        self.counting = False
        self._inside = threading.local()

    def timed(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if getattr(self._inside, "piece", None) is not None or not self.counting:
                return fn(*args, **kwargs)
            self._inside.piece = label
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started
                self.calls[label] += 1
                self._inside.piece = None

        return wrapper


@contextlib.contextmanager
def wrapped(times: PieceTimes) -> Iterator[None]:
    """Every piece of PIECES wrapped in ``times``' timer, and put back as it was after."""
    originals: list[tuple[Any, str, Any]] = []
    try:
        for label, module_name, path in PIECES:
            owner: Any = importlib.import_module(module_name)
            *outer, name = path.split(".")
            for part in outer:
                owner = getattr(owner, part)
            original = owner.__dict__[name]
            originals.append((owner, name, original))
            setattr(owner, name, times.timed(label, original))
        yield
    finally:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)


def engine_extras(cfg: RunConfig, epochs: int = EPOCHS, warmup: int = WARMUP_EPOCHS) -> dict[str, Any]:
    """Each piece's milliseconds and calls per epoch, and its share of the epoch, over
    ``epochs`` epochs of ``cfg``'s models after ``warmup`` untimed ones."""
    times = PieceTimes()
    last_model = cfg.model_names[-1]
    marks: dict[str, float] = {}
    finished = threading.Event()
    failure: list[str] = []

    def watch(event: Any) -> None:  # inline, on the training thread
        if event.name == "epoch_end" and event.model == last_model:
            if event.epoch == warmup:
                marks["start"] = time.perf_counter()
                times.counting = True
            elif event.epoch == warmup + epochs:
                times.counting = False
                marks["end"] = time.perf_counter()
        elif event.name == "run_failed":
            failure.append(event.message)
        elif event.name == "state" and event.state in FINAL_STATES:
            finished.set()

    run = cfg.replace(epochs=warmup + epochs)
    with tempfile.TemporaryDirectory(prefix="lstm-tui-extras-") as tmp, wrapped(times):
        session = headless_session(run, Path(tmp) / "run", [watch]).start()
        try:
            if not finished.wait(RUN_TIMEOUT_S):
                raise RuntimeError(f"the engine's run gave no end in {RUN_TIMEOUT_S:.0f} s")
        finally:
            session.close()
    if failure or "end" not in marks:
        raise RuntimeError(f"the engine's run failed: {failure[0] if failure else 'it ended early'}")
    epoch_s = (marks["end"] - marks["start"]) / epochs
    pieces = {label: {"ms_per_epoch": 1000 * times.seconds[label] / epochs,
                      "calls_per_epoch": times.calls[label] / epochs,
                      "share": times.seconds[label] / epochs / epoch_s}
              for label, _, _ in PIECES}
    return {"setting": cfg.label, "models": list(cfg.model_names), "epochs": epochs, "epoch_ms": 1000 * epoch_s,
            "pieces": pieces, "share": sum(p["share"] for p in pieces.values())}


def print_extras(extras: dict[str, Any]) -> None:
    """The figures as the bench prints them."""
    print(f"  the engine's own work, {extras['setting']}: each piece on the training thread, "
          f"{extras['epochs']} epochs of {extras['epoch_ms']:.1f} ms (one run, `lstm-tui train`'s defaults)")
    for label, piece in extras["pieces"].items():
        print(f"    {label:<36}{piece['ms_per_epoch']:7.3f} ms an epoch {piece['share']:7.2%}   "
              f"({piece['calls_per_epoch']:.2f} calls)")
    print(f"    {'all of them':<36}{extras['share'] * extras['epoch_ms']:7.3f} ms an epoch {extras['share']:7.2%}")
