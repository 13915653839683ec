"""A run's log, events.jsonl: one event per line, appended, flushed every epoch.

The one reader of a log is ``LogReader``: it reads the complete lines after the last ones it
read (all of them at first), so it serves a whole log read once (``read_events``) and a live
log followed as it grows (engine/rundir/follow.py) alike. Lines that are not events are skipped
and reported: a torn last line (a crash mid-write, or a writer still writing), bad JSON, an
unknown event, an event whose fields do not have their types (engine.events.from_dict checks
each). Old logs load: events.py gives every field added since a default. A log another tool
rewrote (other spacing, key order, escapes, a byte-order mark) reads as the original.

Torch-free, like everything a watcher needs, so the dashboard opens a run before torch loads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import math
import os
import re
import stat
import threading
from collections.abc import Callable, Collection, Iterator
from functools import cache
from pathlib import Path
from typing import IO, Any

from engine.events import Event, RunState, UnknownEvent, from_dict
from engine.rundir.files import RunDirError, check_ours

SkipReport = Callable[[int, str], None]  # (line number, why), for a notice in the UI
TAIL_BYTES = 256 * 1024  # the end of a log that last_state reads
# What a log that cannot be written keeps for a retry: a paused run adds a few lines, so this is
# only reached by a run that cannot pause (closing); past it, lines are let go.
PENDING_LIMIT = 64 * 2**20
# A line's event name, from its first bytes: lines of events a reader does not want (most of a
# log's bytes are probes: a gates event holds six T x H arrays) are passed over unparsed, so a
# 400-epoch log with 64-step probes (23 MB) summarises in about 0.1 s instead of 0.9 s. A line
# that does not start so (another tool's key order or escapes) is parsed, and filtered after.
_EVENT_NAME = re.compile(rb'^(?:\xef\xbb\xbf)?\{\s*"event"\s*:\s*"(\w+)"')


def _plain(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as strings that float() reads back."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@cache
def _field_names(cls: type[Event]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def event_to_json(event: Event) -> str:
    """``event.to_dict()`` as one line of JSON. Read off the fields as they are, not copied
    (``dataclasses.asdict`` copies every list and dict, then ``_plain`` copied them again: 40 us
    an epoch-end event, on the thread that shares the cores with training); copied only when a
    NaN or an infinity must become a string."""
    fields = {"event": event.name, **{name: getattr(event, name) for name in _field_names(type(event))}}
    try:
        return json.dumps(fields, separators=(",", ":"), allow_nan=False)
    except ValueError:  # an out-of-range float somewhere: JSON has no NaN or infinity
        return json.dumps(_plain(fields), separators=(",", ":"), allow_nan=False)


class LogReader:
    """The events of the complete lines added to a log since the last read.

    A line without its newline is a writer still writing (or a crash mid-write): it is left for
    the next read, and reported only by ``finish``, once the caller knows no writer is left.
    ``only``: the names of the events wanted; other lines are passed over (and not reported).
    """

    def __init__(self, path: Path | str, on_skip: SkipReport | None = None, *,
                 only: Collection[str] | None = None, offset: int = 0) -> None:
        self.path = Path(path)
        self.on_skip = on_skip
        self.only = frozenset(only) if only is not None else None
        self.offset = offset  # bytes of complete lines read so far
        self.lines = 0
        self._torn_reported = False

    def read(self) -> list[Event]:
        """What was appended since the last read; a missing log reads as empty, a log that
        cannot be read is a RunDirError naming it."""
        try:
            return list(self.events())
        except FileNotFoundError:
            return []
        except OSError as exc:  # a directory in its place, no permission: say which file
            raise RunDirError(f"cannot read {self.path}: {exc.strerror or exc}") from None

    def events(self) -> Iterator[Event]:
        """Like ``read``, one event at a time, raising OSError as open() and read() do."""
        with self._open() as f:
            f.seek(self.offset)
            for raw in f:
                if not raw.endswith(b"\n"):
                    return  # being written: taken when its newline arrives
                self.offset += len(raw)
                self.lines += 1
                event = self._parse(raw)
                if event is not None:
                    yield event

    def _open(self) -> IO[bytes]:
        """The log, opened for reading; OSError naming it when it is not a regular file."""
        # O_NONBLOCK: a FIFO in the log's place must not hang the reader until someone writes.
        fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            code = errno.EISDIR if stat.S_ISDIR(mode) else errno.EINVAL
            raise OSError(code, os.strerror(code) if code == errno.EISDIR else "not a regular file", str(self.path))
        return open(fd, "rb")  # noqa: SIM115 - the caller's with-block closes it

    def _parse(self, raw: bytes) -> Event | None:
        if self.only is not None and (match := _EVENT_NAME.match(raw)) and match.group(1).decode() not in self.only:
            return None
        if not raw.strip():
            return None
        try:
            # utf-8-sig: an editor's byte-order mark on the first line is no part of the JSON.
            data = json.loads(raw.decode("utf-8-sig", errors="replace"))
            if not isinstance(data, dict):
                raise UnknownEvent("not a JSON object")
            event = from_dict(data)
        except UnknownEvent as exc:
            self._skip(self.lines, str(exc))
            return None
        except (ValueError, RecursionError):  # JSONDecodeError; a number of 4,300 digits; [[[[...
            self._skip(self.lines, "not valid JSON")
            return None
        return event if self.only is None or event.name in self.only else None

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


def read_events(path: Path | str, on_skip: SkipReport | None = None, *,
                only: Collection[str] | None = None) -> Iterator[Event]:
    """Every event of a log that no one writes any more (a torn last line is reported at the
    end); raises OSError (FileNotFoundError included) as open() does."""
    reader = LogReader(path, on_skip, only=only)
    yield from reader.events()
    reader.finish()


def last_state(path: Path) -> RunState | None:
    """The state of the last state event in the log's tail, or None when there is none.

    A run that ended properly wrote its final state last; so when the tail holds none, the
    run ended without one. The tail's first line is cut: it fails to parse and is passed over.
    """
    try:
        start = max(0, path.stat().st_size - TAIL_BYTES)
        states = list(LogReader(path, only=("state",), offset=start).events())
    except OSError:
        return None
    return states[-1].state if states else None  # type: ignore[attr-defined]


def _ends_torn(path: Path) -> bool:
    """The log's last line has no newline: a process died while writing it."""
    try:
        with open(path, "rb") as f:
            if f.seek(0, os.SEEK_END) == 0:
                return False
            f.seek(-1, os.SEEK_END)
            return f.read(1) != b"\n"
    except OSError:
        return False


class LogWriter:
    """Appends events to a log, one line each; written at every event but predictions (each
    model's epoch end, every state change), so a killed process leaves a log complete up to
    its last epoch.

    A write that fails (a full disk) never raises: the error waits in ``error`` (the Session
    pauses the run on it) and the lines not written wait, in order, for ``retry``, so once there
    is space the log is as if nothing had happened. Thread-safe: the Session's delivery thread
    writes, its training thread retries.
    """

    def __init__(self, path: Path) -> None:
        check_ours(path)  # a link, a directory or a read-only file in its place is the user's
        self.path = path
        # O_NOFOLLOW: nor is a link that took its place since the check followed.
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        self._pending = bytearray()  # the lines (the first maybe in part) not on disk yet
        self._lock = threading.Lock()
        self.error: OSError | None = None  # the write that failed, until a retry succeeds
        self.dropped = 0  # lines let go past PENDING_LIMIT
        if _ends_torn(path):
            self._pending += b"\n"  # close a crash's half line, so the next event is a line of its own
            self._flush()

    def write(self, event: Event) -> None:
        line = (event_to_json(event) + "\n").encode()
        with self._lock:
            if self._fd < 0:
                return
            if len(self._pending) + len(line) > PENDING_LIMIT:
                self.dropped += 1
                return
            self._pending += line
            if event.name != "prediction" and self.error is None:
                self._flush()

    def retry(self) -> OSError | None:
        """Write the lines waiting since a failed write; the error that still stops them, or None."""
        with self._lock:
            if self._fd >= 0:
                self.error = None
                self._flush()
            return self.error

    def _flush(self) -> None:
        """Write what waits (the lock held). A short write leaves the rest waiting: the lines on
        disk are exactly the ones before it, then the first part of one."""
        try:
            while self._pending:
                del self._pending[:os.write(self._fd, self._pending)]
        except OSError as exc:
            if exc.filename is None and exc.errno is not None:
                exc.filename = str(self.path)
            self.error = exc

    def close(self) -> None:
        """Write what waits, if the disk lets us, then fsync and close; never raises (a run
        closed on a full disk keeps the lines written before it filled)."""
        with self._lock:
            if self._fd < 0:
                return
            self._flush()
            with contextlib.suppress(OSError):
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1
