"""Following a run's log as it grows: the events of each complete line added since last time.

A line without its newline is a writer still writing (or a crash mid-write): it is left for
the next read, and reported only when the caller says the log has stopped growing for good.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.events import Event, UnknownEvent, from_dict
from engine.rundir.log import RunDirError, SkipReport


class LogFollower:
    def __init__(self, path: Path | str, on_skip: SkipReport | None = None) -> None:
        self.path = Path(path)
        self.on_skip = on_skip
        self.offset = 0  # bytes of complete lines read so far
        self.lines = 0
        self._torn_reported = False

    def read(self) -> list[Event]:
        """Events of the complete lines appended since the last read (all of them at first)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        except OSError as exc:  # a directory in its place, no permission: say which file
            raise RunDirError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        events: list[Event] = []
        for raw in data[: end + 1].split(b"\n")[:-1]:
            self.lines += 1
            if not raw.strip():
                continue
            try:
                parsed = json.loads(raw)
                if not isinstance(parsed, dict):
                    raise UnknownEvent("not a JSON object")
                events.append(from_dict(parsed))
            except (ValueError, UnknownEvent) as exc:  # JSONDecodeError is a ValueError
                self._skip(self.lines, "not valid JSON" if isinstance(exc, json.JSONDecodeError) else str(exc))
        return events

    def finish(self) -> None:
        """The writer is gone: a partial last line will never be completed, so report it."""
        if self._torn_reported:
            return
        try:
            size = self.path.stat().st_size
        except OSError:
            return
        if size > self.offset:
            self._torn_reported = True
            self._skip(self.lines + 1, "incomplete last line")

    def _skip(self, line: int, why: str) -> None:
        if self.on_skip is not None:
            self.on_skip(line, why)
