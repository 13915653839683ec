"""The lock file: an exclusive flock held by the one process training a run, with its pid.

The kernel drops a flock when its process dies, however it dies, so a watcher can tell a live
run from a crashed one.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from engine.rundir.files import RunDirError


class RunLock:
    """An exclusive flock on ``path``, held while this process trains the run."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        self._claimed = False
        if not _try_lock(self._fd, fcntl.LOCK_EX):
            pid = _read_pid(self._fd)
            os.close(self._fd)
            raise RunDirError(f"{path.parent} is being trained by another process (pid {pid})")

    def claim(self) -> None:
        """Write our pid: called once the run directory is known to be usable, so a refused
        start leaves the file as it was."""
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)
        self._claimed = True

    def release(self) -> None:
        if self._fd < 0:
            return
        if self._claimed:
            os.ftruncate(self._fd, 0)  # no pid: nobody trains it now
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = -1


def _try_lock(fd: int, kind: int, tries: int = 5) -> bool:
    # A few tries: is_locked holds a shared lock for a few microseconds while it looks.
    for _ in range(tries):
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            time.sleep(0.01)
    return False


def _read_pid(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode().strip() or "?"
    except (OSError, UnicodeDecodeError):
        return "?"


def is_locked(path: Path) -> bool:
    """Whether some process holds the lock at ``path`` (is training the run) right now."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def holder_pid(path: Path) -> int | None:
    """The pid of the process holding the lock at ``path``, or None when nobody holds it."""
    if not is_locked(path):
        return None
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
