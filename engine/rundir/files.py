"""Writing a run directory's files so that a crash leaves the old file or the new one, never half."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


class RunDirError(ValueError):
    """A run directory is missing, unwritable, busy or not a run; the message is one line."""


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable: the directory entry is data too."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """``write`` into a temporary file beside ``path``, fsync it, rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes it private; a watcher may run as another user
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def os_problem(run_dir: Path, exc: OSError) -> str:
    """'run directory DIR: FILE: Permission denied', the file named when it is not DIR itself."""
    name = Path(exc.filename).name if exc.filename and Path(exc.filename) != run_dir else ""
    return f"run directory {run_dir}: {name + ': ' if name else ''}{exc.strerror or exc}"
