"""RunDirectory: the one owner of what a run leaves on disk.

    runs/20261127T163501Z-seed-10k/
        config.json      the RunConfig (rewritten when a restart changes it or a resume extends it)
        events.jsonl     one event per line, appended, flushed every epoch (engine/rundir/log.py)
        checkpoint.pt    models, optimisers, epoch and random streams (engine/rundir/checkpoint.py)
        commands.jsonl   commands from watchers, appended one line each (engine/rundir/commands.py)
        lock             flock-ed by the process training the run; says its pid (engine/rundir/lock.py)

Only this module knows those names. A ``RunDirectory`` is the reader's side, for any process:
the config, the log (read whole, or followed: engine/rundir/follow.py), the status, the trainer's
pid, sending a command.
``RunDirectory.open_writer`` gives the writer's side, ``RunWriter``, to the one process that
trains the run. Torch-free: checkpoint code, which needs torch, is imported when first used.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Collection, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.config import CheckpointCadence, RunConfig
from engine.events import FINAL_STATES, Event, Word
from engine.rundir.commands import POLL_SECONDS, CommandPoller, append_command
from engine.rundir.files import RunDirError, atomic_write_text, check_ours, os_problem
from engine.rundir.lock import RunLock, holder_pid, is_locked
from engine.rundir.log import LogReader, LogWriter, SkipReport, last_state, read_events

if TYPE_CHECKING:
    from engine.rundir.checkpoint import Checkpointer
    from engine.trainer import Trainer

CONFIG_FILE = "config.json"
EVENTS_FILE = "events.jsonl"
CHECKPOINT_FILE = "checkpoint.pt"
COMMANDS_FILE = "commands.jsonl"
LOCK_FILE = "lock"
CONFIG_LIMIT = 2**20  # bytes of config.json read at most: a config is under 1 KB
RUNS_ROOT = Path("runs")  # where runs go by default, under the current directory


class RunStatus(Word):
    """What a run directory says of its run, seen from outside the process training it."""

    LIVE = "live"  # a process holds the lock: training, paused, or showing the run
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"
    CRASHED = "crashed"  # nobody holds the lock and the log does not end in a final state
    GONE = "gone"  # no longer a run directory (removed while watched)


def _cut(text: str, limit: int = 300) -> str:
    """A message about a file's value, kept to a line a person reads (a 10 MB string stays out)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _config_text(config: RunConfig) -> str:
    return json.dumps(config.to_dict(), indent=2) + "\n"


class RunDirectory:
    """One run directory, as any process sees it. Cheap: it opens nothing until asked."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDirectory({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunDirectory) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def _config(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def _events(self) -> Path:
        return self.path / EVENTS_FILE

    # -- making one -------------------------------------------------------------------------

    @classmethod
    def new(cls, root: Path = RUNS_ROOT, config: RunConfig | None = None,
            now: datetime | None = None) -> RunDirectory:
        """Create ``root/<UTC time>-<preset or task>/``; a second run in the same second gets -2, -3..."""
        stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
        name = f"{stamp}-{(config.preset or config.task) if config else 'run'}"
        try:
            root.mkdir(parents=True, exist_ok=True)
            for n in range(1, 10_000):
                path = root / (name if n == 1 else f"{name}-{n}")
                try:
                    path.mkdir()  # atomic: two processes never get the same directory
                    return cls(path)
                except FileExistsError:
                    continue
        except OSError as exc:
            raise RunDirError(f"cannot create a run directory in {root}: {exc.strerror or exc}") from None
        raise RunDirError(f"too many runs named {name} in {root}")

    def check_new(self) -> None:
        """A fresh run may go into a new or empty directory, never over another run."""
        if self.path.exists() and not self.path.is_dir():
            raise RunDirError(f"run directory {self.path} is a file, not a directory")
        if self._config.exists():
            raise RunDirError(f"{self.path} already holds a run (continue it with --resume {self.path}, "
                              "or pick another --run-dir)")

    # -- reading it ---------------------------------------------------------------------------

    @property
    def is_run(self) -> bool:
        """It has a config.json (which may still be broken: ``load_config`` says)."""
        return self._config.is_file()

    def check(self) -> None:
        """Raise RunDirError unless this is an existing run directory (it has a config.json)."""
        if not self.path.exists():
            raise RunDirError(f"run directory {self.path} does not exist")
        if not self.path.is_dir():
            raise RunDirError(f"{self.path} is not a directory")
        if not self._config.is_file():
            raise RunDirError(f"{self.path} is not a run directory (no {CONFIG_FILE})")

    def load_config(self) -> RunConfig:
        """The run's config.json as a RunConfig; a file of any other shape, size or depth is a
        one-line RunDirError saying why (RunConfig.from_dict: every setting, each in range)."""
        self.check()
        try:
            with open(self._config, "rb") as f:
                raw = f.read(CONFIG_LIMIT + 1)
        except OSError as exc:
            raise RunDirError(f"cannot read {self._config}: {exc.strerror or exc}") from None
        try:
            if len(raw) > CONFIG_LIMIT:
                raise ValueError(f"over {CONFIG_LIMIT // 2**20} MiB, which no config is")
            try:
                data = json.loads(raw.decode("utf-8-sig"))  # -sig: an editor's byte-order mark
            except UnicodeDecodeError:
                raise ValueError("not UTF-8 text") from None
            except RecursionError:
                raise ValueError("not JSON (nested too deeply)") from None
            except json.JSONDecodeError as exc:
                raise ValueError(f"not JSON ({exc})") from None
            except ValueError:  # Python reads no number of over 4,300 digits
                raise ValueError("not JSON (a number too long to read)") from None
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            return RunConfig.from_dict(data)
        except (ValueError, TypeError) as exc:  # ConfigError is a ValueError
            raise RunDirError(f"{self._config} is not a valid config: {_cut(str(exc))}") from None

    def not_a_run(self) -> str | None:
        """Why this is not a usable run, in a few words for a table cell; None when it is one."""
        if not self.is_run:
            return f"no {CONFIG_FILE}"
        try:
            self.load_config()
        except RunDirError as exc:
            return str(exc).replace(str(self._config), CONFIG_FILE)
        return None

    def events(self, on_skip: SkipReport | None = None, *, only: Collection[str] | None = None
               ) -> Iterator[Event]:
        """Every event of the log so far (``only`` those named); OSError (its filename the
        log's) as open() raises it."""
        return read_events(self._events, on_skip, only=only)

    @property
    def log_path(self) -> Path:
        """The log's path, for messages ("DIR/events.jsonl line 7 skipped")."""
        return self._events

    def reader(self, on_skip: SkipReport | None = None, *, only: Collection[str] | None = None) -> LogReader:
        """A reader of the log that each ``read()`` gives what was appended since the last."""
        return LogReader(self._events, on_skip, only=only)

    def status(self) -> RunStatus:
        """live, or how it ended (finished, stopped, failed), or crashed; RunDirError when
        this is not a run directory."""
        self.check()
        if is_locked(self.path / LOCK_FILE):
            return RunStatus.LIVE
        state = last_state(self._events)
        return RunStatus(state.value) if state in FINAL_STATES else RunStatus.CRASHED

    def trainer_pid(self) -> int | None:
        """The pid of the process training the run, while one does."""
        return holder_pid(self.path / LOCK_FILE)

    def last_change(self) -> float:
        """When the log (or, without one, the config) last changed: seconds since the epoch."""
        for path in (self._events, self._config):
            try:
                return path.stat().st_mtime
            except OSError:
                continue
        return 0.0

    def send(self, command: str, **args: Any) -> dict[str, Any]:
        """Append a command for the trainer to the command file; returns what was written."""
        self.check()
        return append_command(self.path / COMMANDS_FILE, command, **args)

    def load_resume(self, epochs: int | None = None) -> tuple[RunConfig, dict[str, Any]]:
        """The config and checkpoint to resume the run with; ``epochs`` extends the run.

        Reads only (and imports torch): every problem (no directory, not a run, a bad config,
        a missing, corrupt or foreign checkpoint, fewer epochs than already trained, a csv run
        whose file has changed since: a ConfigError) raises before anything is written.
        """
        config = self.load_config()  # first: a bad config.json is refused before torch loads
        from engine.rundir.checkpoint import resume_point

        return resume_point(config, self.path / CHECKPOINT_FILE, epochs)

    def write_text(self, name: str, text: str) -> Path:
        """Write a front end's file (an export) into the directory, atomically."""
        if name in (CONFIG_FILE, EVENTS_FILE, CHECKPOINT_FILE, COMMANDS_FILE, LOCK_FILE):
            raise ValueError(f"{name} is the run's own file")
        path = self.path / name
        atomic_write_text(path, text)
        return path

    # -- the parts a trainer uses -------------------------------------------------------------

    def checkpointer(self, cadence: CheckpointCadence | None = None,
                     clock: Callable[[], float] = time.monotonic) -> Checkpointer:
        from engine.rundir.checkpoint import Checkpointer

        return Checkpointer(self.path / CHECKPOINT_FILE, cadence or CheckpointCadence(), clock)

    def command_poller(self, interval: float = POLL_SECONDS,
                       clock: Callable[[], float] = time.monotonic) -> CommandPoller:
        return CommandPoller(self.path / COMMANDS_FILE, interval, clock)

    def open_writer(self, config: RunConfig, *, resume: bool = False,
                    cadence: CheckpointCadence | None = None) -> RunWriter:
        """Take the run for training (RunWriter); RunDirError when another process has it."""
        return RunWriter(self, config, resume=resume, cadence=cadence)


class RunWriter:
    """The writer's side of a run directory, for the one process that trains the run.

    Opening one takes the lock, so two processes never write the same run. A fresh run
    writes config.json; a resume keeps it unless the config changed (a resume may extend the
    epochs) and appends to the existing log. Called with an event, it appends it to the log:
    it is the Session's log sink. Its checkpointer writes checkpoint.pt (torch), its poller
    reads the command file.
    """

    def __init__(self, run: RunDirectory, config: RunConfig, *, resume: bool = False,
                 cadence: CheckpointCadence | None = None) -> None:
        self.run = run
        self.config = config
        self.cadence = cadence or CheckpointCadence()
        path = run.path
        lock: RunLock | None = None
        log: LogWriter | None = None
        writes_config = not (resume and self._same_config(config))
        try:  # the lock first, config.json last: a refused start changes nothing
            # Every file the run writes, before any is: a link, a directory or a read-only file
            # in one's place is the user's, and the run does not start (one line naming it).
            for name in (LOCK_FILE, EVENTS_FILE, CHECKPOINT_FILE, *([CONFIG_FILE] if writes_config else [])):
                check_ours(path / name)
            path.mkdir(parents=True, exist_ok=True)
            lock = RunLock(path / LOCK_FILE)
            log = LogWriter(path / EVENTS_FILE)
            if writes_config:
                atomic_write_text(path / CONFIG_FILE, _config_text(config))
            lock.claim()
        except (OSError, RunDirError) as exc:
            if log is not None:
                log.close()
            if lock is not None:
                lock.release()
            if isinstance(exc, RunDirError):
                raise
            raise RunDirError(os_problem(path, exc)) from None
        self._lock: RunLock | None = lock
        self._log = log
        self.commands = run.command_poller()
        self._checkpointer: Checkpointer | None = None

    def _same_config(self, config: RunConfig) -> bool:
        try:
            return json.loads((self.run.path / CONFIG_FILE).read_text(encoding="utf-8")) == config.to_dict()
        except (OSError, ValueError):
            return False

    def __call__(self, event: Event) -> None:
        """Append ``event`` to the log; a failed write never raises (see ``log_error``)."""
        self._log.write(event)

    @property
    def log_path(self) -> Path:
        return self._log.path

    @property
    def log_error(self) -> OSError | None:
        """Why the log stopped being written (its lines wait for ``retry_log``), or None."""
        return self._log.error

    def retry_log(self) -> OSError | None:
        """Write the log's lines waiting since a failed write; the error still in the way, or None."""
        return self._log.retry()

    def write_config(self, config: RunConfig) -> None:
        """A restart with another config: config.json says what the run now is. OSError (its
        filename config.json's) or RunDirError (not ours to replace): the file is unchanged."""
        atomic_write_text(self.run.path / CONFIG_FILE, _config_text(config))
        self.config = config

    @property
    def checkpointer(self) -> Checkpointer:
        if self._checkpointer is None:  # imports torch: the trainer has it loaded by now
            self._checkpointer = self.run.checkpointer(self.cadence)
        return self._checkpointer

    def checkpoint(self, trainer: Trainer) -> bool:
        """Write the trainer's last completed epoch, unless checkpoint.pt holds it already."""
        return self.checkpointer.write(trainer)

    def close(self) -> None:
        """Flush and fsync the log, then let go of the run; never raises (a full disk keeps
        the log's last lines, which are lost)."""
        self._log.close()
        if self._lock is not None:
            with contextlib.suppress(OSError):
                self._lock.release()
            self._lock = None
