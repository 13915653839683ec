"""The command file, commands.jsonl: how a watcher in another process steers a run.

A watcher (maybe in another SSH session) appends one JSON object per line:

    {"command": "pause", "time": 1764261301.2, "pid": 4242}
    {"command": "scale_lr", "factor": 0.5, "time": 1764261302.9, "pid": 4242}

The training process reads only the lines added since it started, between batches, at most
every POLL_SECONDS, and applies them as the Session's own commands. Torch-free.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config import lr_factor
from engine.rundir.files import RunDirError, check_ours

FILE_COMMANDS = ("pause", "resume", "step", "stop", "scale_lr")  # restart and close stay local
POLL_SECONDS = 0.05  # a stat() per 50 ms at most: a command lands within one batch or so


@dataclass(frozen=True)
class FileCommand:
    name: str
    factor: float = 1.0  # scale_lr
    sender: str = ""  # "pid N" of the watcher that wrote it
    file: str = ""  # the command file's name, to say where a command came from

    @property
    def source(self) -> str:
        return f"{self.file} ({self.sender})" if self.sender else self.file


def parse_command(data: Any, file: str = "") -> FileCommand:
    """One line's JSON object as a command; ValueError says what is wrong with it."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    name = data.get("command")
    if name not in FILE_COMMANDS:
        raise ValueError(f"unknown command {name!r} (allowed: {', '.join(FILE_COMMANDS)})")
    factor = 1.0
    if name == "scale_lr":
        # 1e999 (inf to JSON), NaN, 0 or -1 never reach the trainer; a finite factor however
        # large does, and the rate stops at its bound (engine/config.py LR_MAX).
        try:
            factor = lr_factor(data.get("factor", 1.0))
        except ValueError as exc:
            raise ValueError(f"scale_lr: {exc}") from None
    pid = data.get("pid")
    return FileCommand(name, float(factor), f"pid {pid}" if isinstance(pid, int) else "", file)


def append_command(path: Path, name: str, **args: Any) -> dict[str, Any]:
    """Append one command to the command file at ``path``; returns what was written.

    One write() under an exclusive flock, on a descriptor opened with O_APPEND: two watchers
    writing at once never interleave their lines.
    """
    record = {"command": name, **args, "time": time.time(), "pid": os.getpid()}
    parse_command(record)  # refuse what the trainer would refuse
    line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
    check_ours(path)  # a link, a directory or a read-only file in its place is the user's
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise RunDirError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        # A writer that died mid-line left no newline: start afresh so the lines stay apart.
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line
        while line:
            line = line[os.write(fd, line):]
    finally:
        os.close(fd)  # closing releases the flock
    return record


class CommandPoller:
    """The command-file lines added since this poller began: complete lines only, each once."""

    def __init__(
        self, path: Path | str, interval: float = POLL_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.path = Path(path)
        self.interval = interval
        self.clock = clock
        # Lines already there are history (e.g. the stop that ended the run now resumed).
        self.offset = self._size()
        self._next_check = 0.0

    def _size(self) -> int:
        try:
            return os.stat(self.path).st_size
        except OSError:
            return 0

    def due(self) -> bool:
        """Whether ``poll`` would look at the file now (its interval has passed)."""
        return self.clock() >= self._next_check

    def poll(self) -> list[FileCommand | ValueError]:
        """New commands, in order; a bad line comes back as the ValueError describing it.

        Costs one clock read when called again within ``interval``, one stat() when the file
        has not grown.
        """
        now = self.clock()
        if now < self._next_check:
            return []
        self._next_check = now + self.interval
        size = self._size()
        if size < self.offset:  # truncated or replaced: read the new file from its start
            self.offset = 0
        if size == self.offset:
            return []
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read(size - self.offset)
        except OSError:
            return []
        end = data.rfind(b"\n")
        if end < 0:
            return []  # a line still being written: take it when its newline arrives
        self.offset += end + 1
        commands: list[FileCommand | ValueError] = []
        for raw in data[:end].split(b"\n"):
            if not raw.strip():
                continue
            try:
                commands.append(parse_command(json.loads(raw), self.path.name))
            except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
                commands.append(ValueError(f"{self.path.name}: ignored a line: {exc}"))
        return commands
