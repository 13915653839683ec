"""Writing a run directory's files so that a crash leaves the old file or the new one, never half,
and never writing over what is not ours (a link, a directory, a file made read-only)."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from engine.config import format_size


class RunDirError(ValueError):
    """A run directory is missing, unwritable, busy or not a run; the message is one line."""


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable: the directory entry is data too."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_ours(path: Path) -> None:
    """RunDirError unless ``path`` is absent or a regular file we may write: a symbolic link
    (we would write where it points, or replace the link), a directory, or a file its owner
    made read-only (root could write it anyway) is the user's, and stays as it is."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        what = "a symbolic link"
    elif stat.S_ISDIR(st.st_mode):
        what = "a directory"
    elif not stat.S_ISREG(st.st_mode):
        what = "not a regular file"
    elif not st.st_mode & 0o222 or not os.access(path, os.W_OK):
        what = "read-only"
    else:
        return
    raise RunDirError(f"{path} is {what}: not written (move it away, or make it writable)")


def _os_error(exc: BaseException) -> OSError | None:
    """The OSError behind ``exc``: torch.save reports a full disk as a RuntimeError raised while
    handling the OSError its write got."""
    while exc is not None and not isinstance(exc, OSError):
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return exc


def atomic_write(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """``write`` into a temporary file beside ``path``, fsync it, rename it over ``path``.

    RunDirError (check_ours) when ``path`` is not ours to replace. A write that fails (a full
    disk) removes the temporary file and leaves ``path`` untouched; it raises the OSError,
    its filename ``path``.
    """
    check_ours(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes it private; a watcher may run as another user
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        error = _os_error(exc) if isinstance(exc, Exception) else None  # never a Ctrl+C
        if error is None:
            raise
        if error.filename is None and error.errno is not None:  # else str() would read '[Errno None] None'
            error.filename = str(path)
        if error is exc:
            raise
        raise error from None
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def write_problem(path: Path, exc: Exception) -> str:
    """A failed write in one line: 'cannot write DIR/events.jsonl: No space left on device
    (0 B left)'; a refusal (check_ours) as it says itself."""
    if not isinstance(exc, OSError):
        return str(exc)
    path = Path(exc.filename) if exc.filename else path
    try:
        left = f" ({format_size(shutil.disk_usage(path.parent).free)} left)"
    except OSError:
        left = ""
    return f"cannot write {path}: {exc.strerror or exc}{left}"


def os_problem(run_dir: Path, exc: OSError) -> str:
    """'run directory DIR: FILE: Permission denied', the file named when it is not DIR itself."""
    name = Path(exc.filename).name if exc.filename and Path(exc.filename) != run_dir else ""
    return f"run directory {run_dir}: {name + ': ' if name else ''}{exc.strerror or exc}"
