"""A run directory: what a run leaves on disk, written so a crash never tears it.

    runs/20261127T163501Z-seed-10k/
        config.json      the RunConfig (rewritten only when a resume extends the epochs)
        events.jsonl     one event per line, appended, flushed every epoch
        checkpoint.pt    models, optimisers, epoch and random streams (engine/checkpoint.py)
        commands.jsonl   commands from watchers, appended one line each (engine/control.py)
        lock             flock-ed by the process training the run; says its pid

Everything here is torch-free, so the dashboard can open a run directory before torch loads.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from engine.config import ConfigError, RunConfig
from engine.events import Event, UnknownEvent, from_dict

CONFIG_FILE = "config.json"
EVENTS_FILE = "events.jsonl"
CHECKPOINT_FILE = "checkpoint.pt"
COMMANDS_FILE = "commands.jsonl"
LOCK_FILE = "lock"
RUNS_ROOT = Path("runs")  # where runs go by default, under the current directory


class RunDirError(ValueError):
    """A run directory is missing, unwritable, busy or not a run; the message is one line."""


@dataclass(frozen=True)
class CheckpointCadence:
    """When checkpoint.pt is written, besides every pause, stop, finish and close.

    Measured on a 2-core CPU box: one checkpoint (torch.save of both models and both Adam
    states, 34 KB, plus two fsyncs) takes 3.4 ms at seed-10k (p90 5 ms) and 6.6 ms at echo,
    against epochs of ~100 ms and ~1.2 s. Every epoch would cost 3.3% at seed-10k, and more
    on a GPU, whose epochs are shorter; at most one per 2 s costs under 0.5% on any device.
    """

    every: int = 1  # after every N-th completed epoch; 0: only at pause, stop, finish, close
    seconds: float = 2.0  # and at most one per S seconds of wall time; 0: no time limit

    def __post_init__(self) -> None:
        if isinstance(self.every, bool) or not isinstance(self.every, int) or not 0 <= self.every <= 10_000_000:
            raise ConfigError("checkpoint_every", f"{self.every!r} is out of range (allowed 0..10,000,000)")
        if not (isinstance(self.seconds, (int, float)) and math.isfinite(self.seconds)
                and 0 <= self.seconds <= 86_400):
            raise ConfigError("checkpoint_seconds", f"{self.seconds!r} is out of range (allowed 0..86,400)")


# -- writing files so a crash leaves the old one or the new one, never half of one ------------


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


def _config_text(config: RunConfig) -> str:
    return json.dumps(config.to_dict(), indent=2) + "\n"


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


# -- naming and checking run directories ------------------------------------------------------


def new_run_dir(root: Path = RUNS_ROOT, config: RunConfig | None = None, now: datetime | None = None) -> Path:
    """Create ``root/<UTC time>-<preset or task>/``; a second run in the same second gets -2, -3..."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    name = f"{stamp}-{(config.preset or config.task) if config else 'run'}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        for n in range(1, 10_000):
            path = root / (name if n == 1 else f"{name}-{n}")
            try:
                path.mkdir()  # atomic: two processes never get the same directory
                return path
            except FileExistsError:
                continue
    except OSError as exc:
        raise RunDirError(f"cannot create a run directory in {root}: {exc.strerror or exc}") from None
    raise RunDirError(f"too many runs named {name} in {root}")


def check_new_run_dir(path: Path) -> None:
    """A fresh run may go into a new or empty directory, never over another run."""
    if path.exists() and not path.is_dir():
        raise RunDirError(f"run directory {path} is a file, not a directory")
    if (path / CONFIG_FILE).exists():
        raise RunDirError(f"{path} already holds a run (continue it with --resume {path}, or pick another --run-dir)")


def check_run_dir(path: Path) -> None:
    """``path`` is an existing run directory (it has a config.json)."""
    if not path.exists():
        raise RunDirError(f"run directory {path} does not exist")
    if not path.is_dir():
        raise RunDirError(f"{path} is not a directory")
    if not (path / CONFIG_FILE).is_file():
        raise RunDirError(f"{path} is not a run directory (no {CONFIG_FILE})")


def load_config(run_dir: Path) -> RunConfig:
    """The run's config.json as a RunConfig; a bad file is a one-line RunDirError."""
    check_run_dir(run_dir)
    path = run_dir / CONFIG_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return RunConfig.from_dict(data)
    except OSError as exc:
        raise RunDirError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, TypeError) as exc:  # JSONDecodeError and ConfigError are ValueErrors
        raise RunDirError(f"{path} is not a valid config: {exc}") from None


# -- the lock: who is training this run --------------------------------------------------------


class RunLock:
    """An exclusive flock on ``lock``, held while this process trains the run.

    The kernel drops it when the process dies, however it dies, so a watcher can tell a live
    run from a crashed one (``engine.rundir.commands.run_status``). The file holds the trainer's pid.
    """

    def __init__(self, run_dir: Path) -> None:
        path = run_dir / LOCK_FILE
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        self._claimed = False
        if not _try_lock(self._fd, fcntl.LOCK_EX):
            pid = _read_pid(self._fd)
            os.close(self._fd)
            raise RunDirError(f"{run_dir} is being trained by another process (pid {pid})")

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
    # A few tries: is_live holds a shared lock for a few microseconds while it looks.
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


def is_live(run_dir: Path) -> bool:
    """Whether some process holds the run's lock (is training it) right now."""
    try:
        fd = os.open(run_dir / LOCK_FILE, os.O_RDONLY)
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


# -- the log ------------------------------------------------------------------------------------


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


class RunLog:
    """An event sink that appends each event to events.jsonl and flushes per epoch.

    Opening one takes the run's lock, so two processes never write the same run. A fresh run
    writes config.json; a resume (``resume=True``) keeps it unless the config changed (a
    resume may extend the epochs) and appends to the existing log.
    """

    def __init__(self, run_dir: Path | str, config: RunConfig, *, resume: bool = False) -> None:
        self.dir = Path(run_dir)
        lock: RunLock | None = None
        file: IO[str] | None = None
        try:  # the lock first, config.json last: a refused start changes nothing
            self.dir.mkdir(parents=True, exist_ok=True)
            lock = RunLock(self.dir)
            file = open(self.dir / EVENTS_FILE, "a", encoding="utf-8")  # noqa: SIM115
            if _ends_torn(self.dir / EVENTS_FILE):
                file.write("\n")  # close a crash's half line, so the next event is a line of its own
            if not (resume and _same_config(self.dir, config)):
                atomic_write_text(self.dir / CONFIG_FILE, _config_text(config))
            lock.claim()
        except OSError as exc:
            if file is not None:
                file.close()
            if lock is not None:
                lock.release()
            raise RunDirError(_os_problem(self.dir, exc)) from None
        self._lock: RunLock | None = lock
        self._file: IO[str] = file

    def __call__(self, event: Event) -> None:
        if self._file.closed:
            return
        self._file.write(event_to_json(event) + "\n")
        # Flushed at each model's epoch end and at every state change, so a killed process
        # leaves a log that is complete up to its last epoch.
        if event.name not in ("prediction",):
            self._file.flush()

    def update_config(self, config: RunConfig) -> None:
        atomic_write_text(self.dir / CONFIG_FILE, _config_text(config))

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def _os_problem(run_dir: Path, exc: OSError) -> str:
    """'run directory DIR: FILE: Permission denied', the file named when it is not DIR itself."""
    name = Path(exc.filename).name if exc.filename and Path(exc.filename) != run_dir else ""
    return f"run directory {run_dir}: {name + ': ' if name else ''}{exc.strerror or exc}"


def _same_config(run_dir: Path, config: RunConfig) -> bool:
    try:
        return json.loads((run_dir / CONFIG_FILE).read_text(encoding="utf-8")) == config.to_dict()
    except (OSError, ValueError):
        return False


SkipReport = Callable[[int, str], None]  # (line number, why), for a notice in the UI


def read_events(path: Path | str, on_skip: SkipReport | None = None) -> Iterator[Event]:
    """Events of a log. Lines that are not events are skipped, and reported to ``on_skip``:
    a torn last line (a crash mid-write, or a writer still writing), bad JSON, an unknown event.
    """

    def skip(number: int, why: str) -> None:
        if on_skip is not None:
            on_skip(number, why)

    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            if not line.endswith("\n"):
                skip(number, "incomplete last line")
                return
            line = line.strip()
            if not line:
                continue
            try:
                data = json.loads(line)
                if not isinstance(data, dict):
                    raise UnknownEvent("not a JSON object")
                yield from_dict(data)
            except json.JSONDecodeError:
                skip(number, "not valid JSON")
            except UnknownEvent as exc:
                skip(number, str(exc))
