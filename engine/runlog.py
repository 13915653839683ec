"""A run directory: config.json and events.jsonl, written so a crash never tears them."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.config import RunConfig
from engine.events import Event, UnknownEvent, from_dict

CONFIG_FILE = "config.json"
EVENTS_FILE = "events.jsonl"


class RunDirError(ValueError):
    """A run directory is missing, unwritable or not a run."""


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temporary file beside ``path``, fsync, then rename over it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _plain(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as strings that float() reads back."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def event_to_json(event: Event) -> str:
    return json.dumps(_plain(event.to_dict()), separators=(",", ":"), allow_nan=False)


class RunLog:
    """An event sink that appends each event to events.jsonl and flushes per epoch."""

    def __init__(self, run_dir: Path | str, config: RunConfig) -> None:
        self.dir = Path(run_dir)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.dir / CONFIG_FILE, json.dumps(config.to_dict(), indent=2) + "\n")
            self._file = open(self.dir / EVENTS_FILE, "a", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise RunDirError(f"run directory {self.dir}: {exc.strerror or exc}") from None

    def __call__(self, event: Event) -> None:
        if self._file.closed:
            return
        self._file.write(event_to_json(event) + "\n")
        # Flushed at each model's epoch end and at every state change, so a killed process
        # leaves a log that is complete up to its last epoch.
        if event.name not in ("prediction",):
            self._file.flush()

    def update_config(self, config: RunConfig) -> None:
        atomic_write_text(self.dir / CONFIG_FILE, json.dumps(config.to_dict(), indent=2) + "\n")

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


def read_events(path: Path | str) -> Iterator[Event]:
    """Events of a log; a torn last line (a crash mid-write) is skipped."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                return  # the last line was cut off mid-write
            line = line.strip()
            if not line:
                continue
            try:
                yield from_dict(json.loads(line))
            except (json.JSONDecodeError, UnknownEvent):
                continue
