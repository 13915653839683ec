"""The Ray executor: each trial a Ray task on any node, its files mirrored live into the sweep
directory on the machine that launched the sweep. No shared filesystem is assumed.

    lstm-tui sweep (the driver)      TrialMirror (an actor on the driver's node)   a task (any node)
    one task per trial       ---->                                     open(): the head's files
                                     holds SWEEP_DIR/trials/NAME/lock  <----   copied to a node-local
                                     writes what each push brings      <----   run directory; run_trial
                                     replies: stop?, new command lines ---->   there; a push every PUSH_S
    ray.wait for the outcomes        close(): the last push, the lock let go  <----   the TrialOutcome

So the trial directory on the head is a normal run directory while the trial runs elsewhere:
held (the follower and `watch` see it live), its events.jsonl growing, its checkpoint.pt the
last one the task wrote, and a watcher's commands.jsonl line reaching the task in the next
push's reply. The task sends a checkpoint with the log it read a push later, and the mirror
writes the log before the checkpoint, so the head's log always covers its checkpoint.

Why an actor and not a streaming generator: a retried generator is replayed and must yield what
its first attempt did (Ray fails it otherwise: StreamingGeneratorReplayInconsistentError), while
a retried trial resumes from a newer checkpoint and sends other bytes; and each push's reply is
the back channel (stop, commands) a generator lacks.

Failures: Ray retries a task whose worker or node died (``max_retries``; ``retry_exceptions``
stays off: run_trial reports its own errors). Each attempt opens the trial anew and gets the
head's files as they are then, so it resumes from the last checkpoint that reached the head; a
push from an attempt that another one replaced is refused, and that attempt stops. ``stop``
asks every open trial to stop with a checkpoint (through the replies) and cancels the tasks not
begun; ``kill`` ends the tasks' worker processes (``ray.cancel(force=True)``).

Worker processes are reused (``max_calls=0``: Ray would end a GPU task's worker after each
task), so a worker imports torch once, with its first trial, not per trial.

Ray is imported only once this executor connects: the module imports without it. It knows
nothing of executor.py (which makes it, and turns its RayUnavailable into ExecutorUnavailable).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import math
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.rundir.directory import CHECKPOINT_FILE, COMMANDS_FILE, CONFIG_FILE, EVENTS_FILE, LOCK_FILE
from engine.rundir.files import RunDirError, atomic_write, check_ours, write_problem
from engine.rundir.lock import RunLock
from engine.sweep.follow import TrialState
from engine.sweep.trials import TrialJob, TrialOutcome

PUSH_S = 0.25  # a running trial's files reach the head, and a command the trial, this often
TRIAL_RETRIES = 3  # Ray's tries after a trial's worker or node died (each resumes from the head's checkpoint)
WAIT_S = 0.5  # how long the driver waits for an outcome before it looks at its queue again
CAPACITY_S = 5.0  # how often the cluster's size is asked again (nodes come and go)
STOP_TIMEOUT_S = 10.0  # the mirror's answer to a stop; without one, nothing is cancelled
SILENT_S = 10.0  # an attempt not heard from for this long is taken for dead when the sweep stops
LOCAL_OBJECT_STORE = 256 * 2**20  # a local instance's object store: pushes are small, the box may be too
NODE_IP = "127.0.0.1"  # a local instance binds to the loopback only
RAY_CLUSTER_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": Ray takes 127.0.0.1 as this node's address
PROBE_S = 5.0  # a --ray-address that does not answer within this is said so (ray.init would wait minutes)
LOG_TORN = 1  # the newline a LogWriter adds to close a crashed run's last line (engine/rundir/log.py)
GPU_SHARE = 0.25  # a trial's share of a GPU by default, as the local executor packs them
RAY_MISSING = "Ray is not installed: pip install 'lstm-tui[cluster]'"

Report = Callable[[TrialOutcome], None]

log = logging.getLogger(__name__)


class RayUnavailable(ValueError):
    """Ray cannot run the sweep's trials as asked; the message is one line saying why."""


def import_ray() -> Any:
    """The ray module; RayUnavailable when it is missing or broken."""
    try:
        import ray
    except ImportError as exc:
        if isinstance(exc, ModuleNotFoundError) and exc.name == "ray":
            raise RayUnavailable(RAY_MISSING) from None
        raise RayUnavailable(f"Ray cannot be imported ({_one_line(exc)}): pip install 'lstm-tui[cluster]'") from None
    return ray


def check_ray_address(address: str, *, reach: bool = False) -> None:
    """RayUnavailable for an address this executor cannot use; ``reach``: and for one where nothing
    answers (a TCP connect, seconds at most: ray.init would wait minutes)."""
    if address.startswith("ray://"):
        raise RayUnavailable(
            f"ray-address: {address} is a Ray Client address, which a sweep cannot use (its trials' files "
            "come back to the node it runs on): run the sweep on a node of the cluster "
            "(`ray start --address HEAD:6379` there) with --ray-address HEAD:6379")
    if address != "auto":
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise RayUnavailable(f"ray-address: {address!r} is not HOST:PORT (the head's `ray start --head` "
                                 "prints it; or auto)")
        if reach:
            _probe(address)


def check_gpus_per_trial(gpus: float | None) -> None:
    """Ray takes a share of one GPU, or whole GPUs: 0.25 and 2 are resources, 1.5 is not."""
    if gpus is not None and gpus > 1 and not float(gpus).is_integer():
        raise RayUnavailable(f"gpus-per-trial: {gpus:g} is more than one GPU but not a whole number of them "
                             "(Ray gives a trial a share of one GPU, or whole GPUs)")


def _probe(address: str) -> None:
    """RayUnavailable unless something listens at ``address`` (HOST:PORT)."""
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_S).close()  # [::1]:6379 too
    except OSError as exc:
        why = exc.strerror or str(exc) or type(exc).__name__
        raise RayUnavailable(f"ray-address: no Ray cluster answers at {address} ({why}); start one with "
                             "`ray start --head` on its head node") from None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:299] + "…"


@dataclass(frozen=True)
class Attempt:
    """One attempt at a trial, as its task told the mirror when it opened the trial."""

    name: str
    token: int  # the mirror's number for it; a push with an older one is refused
    node: str  # the Ray node id it ran on
    pid: int  # its worker process
    torch_loaded: bool  # torch was imported in that worker already (an earlier trial did it)
    resumed: bool  # the head had a checkpoint for it


# -- the head's side: the mirror actor -------------------------------------------------------------

@dataclass
class _Lease:
    name: str
    path: Path
    token: int
    lock: RunLock
    error: str | None = None  # a write to the head failed: the trial stops, the head keeps what it had
    heard: float = dataclasses.field(default_factory=time.monotonic)  # its attempt's last open or push


class TrialMirror:
    """On the driver's node: holds each running trial's directory on the head and writes into it
    what the trial's task pushes. One call at a time (a plain actor), so no locking here."""

    def __init__(self) -> None:
        self.leases: dict[str, _Lease] = {}
        self.names: dict[int, str] = {}  # token -> trial
        self.command_offsets: dict[str, int] = {}  # how much of each commands.jsonl the trials have had
        self.stop_reason: str | None = None
        self.tokens = 0
        self.log: list[Attempt] = []

    def open(self, name: str, path: str, where: dict[str, Any]) -> tuple[int | None, Any]:
        """(token, the trial's files) to run it; (None, None) when the sweep is stopping, (None,
        why) when the trial cannot run (another process trains it, a file is not ours)."""
        if self.stop_reason is not None:
            return None, None
        run = Path(path)
        lease = self.leases.get(name)
        self.tokens += 1
        try:
            if lease is None:
                run.mkdir(parents=True, exist_ok=True)
                for file in (CONFIG_FILE, EVENTS_FILE, CHECKPOINT_FILE, COMMANDS_FILE, LOCK_FILE):
                    check_ours(run / file)
                lock = RunLock(run / LOCK_FILE)
                lock.claim()
                lease = self.leases[name] = _Lease(name, run, self.tokens, lock)
            else:  # a retry: the attempt that held it is gone (its worker or node died)
                self.names.pop(lease.token, None)
                lease.token, lease.error, lease.heard = self.tokens, None, time.monotonic()
            files = {file: (run / file).read_bytes() for file in (CONFIG_FILE, EVENTS_FILE, CHECKPOINT_FILE)
                     if (run / file).is_file()}
        except (OSError, RunDirError) as exc:
            if lease is not None and self.leases.get(name) is lease:
                self._let_go(lease)
            return None, str(exc) if isinstance(exc, RunDirError) else write_problem(run, exc)
        self.names[lease.token] = name
        self.command_offsets.setdefault(name, _size(run / COMMANDS_FILE))  # lines there already are history
        self.log.append(Attempt(name, lease.token, str(where.get("node", "")), int(where.get("pid", 0)),
                                bool(where.get("torch", False)), CHECKPOINT_FILE in files))
        return lease.token, files

    def push(self, token: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Write what a running trial sent; reply with the stop asked (if any) and the command lines
        written on the head since the last reply. ``lost``: this attempt no longer has the trial."""
        lease = self._lease(token)
        if lease is None:
            return {"lost": True, "stop": None, "commands": b""}
        lease.heard = time.monotonic()
        self._apply(lease, changes)
        stop = self.stop_reason or (f"the sweep ({lease.error})" if lease.error else None)
        return {"lost": False, "stop": stop, "commands": self._commands(lease)}

    def close(self, token: int, changes: dict[str, Any]) -> str | None:
        """The trial's last push (its log closed, its last checkpoint written); its directory is let
        go. Returns why the head did not get all of it, or None."""
        lease = self._lease(token)
        if lease is None:
            return "another attempt had taken the trial"
        self._apply(lease, changes, final=True)
        error = lease.error
        self._let_go(lease)
        return error

    def release(self, name: str) -> None:
        """The driver: this trial's task has ended, however it ended; its directory is let go."""
        lease = self.leases.get(name)
        if lease is not None:
            self._let_go(lease)

    def release_all(self) -> None:
        for lease in list(self.leases.values()):
            self._let_go(lease)

    def stop(self, reason: str) -> list[str]:
        """Every open trial stops with a checkpoint at its next push, none opens any more; the
        trials being trained now (the driver cancels the others' tasks: not begun, or waiting for
        Ray to retry them after their node died, which could be for ever)."""
        self.stop_reason = reason
        now = time.monotonic()
        return [name for name, lease in self.leases.items() if now - lease.heard < SILENT_S]

    def attempts(self) -> list[Attempt]:
        return list(self.log)

    # -- writing the head's copy --------------------------------------------------------------

    def _lease(self, token: int) -> _Lease | None:
        name = self.names.get(token)
        lease = self.leases.get(name) if name is not None else None
        return lease if lease is not None and lease.token == token else None

    def _apply(self, lease: _Lease, changes: dict[str, Any], *, final: bool = False) -> None:
        """config.json, then the log, then the checkpoint: the log is never behind the checkpoint."""
        if lease.error is not None:
            return
        path = lease.path
        try:
            if CONFIG_FILE in changes:
                data = changes[CONFIG_FILE]
                atomic_write(path / CONFIG_FILE, lambda f: f.write(data))
            if EVENTS_FILE in changes:
                offset, data = changes[EVENTS_FILE]
                _write_log(path / EVENTS_FILE, offset, data, sync=final)
            elif final and (path / EVENTS_FILE).is_file():
                _write_log(path / EVENTS_FILE, _size(path / EVENTS_FILE), b"", sync=True)
            if CHECKPOINT_FILE in changes:
                data = changes[CHECKPOINT_FILE]
                atomic_write(path / CHECKPOINT_FILE, lambda f: f.write(data))
        except (OSError, RunDirError) as exc:
            lease.error = str(exc) if isinstance(exc, RunDirError) else write_problem(path, exc)
            log.error("%s: %s", lease.name, lease.error)

    def _commands(self, lease: _Lease) -> bytes:
        """The whole lines appended to the head's commands.jsonl since the trial last had them."""
        path = lease.path / COMMANDS_FILE
        offset = self.command_offsets.get(lease.name, 0)
        size = _size(path)
        if size < offset:  # replaced: read the new one from its start
            offset = 0
        if size == offset:
            return b""
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read(size - offset)
        except OSError:
            return b""
        end = data.rfind(b"\n")
        if end < 0:
            return b""  # a line being written: it comes with the next reply
        self.command_offsets[lease.name] = offset + end + 1
        return data[:end + 1]

    def _let_go(self, lease: _Lease) -> None:
        self.leases.pop(lease.name, None)
        self.names.pop(lease.token, None)
        with contextlib.suppress(OSError):
            lease.lock.release()
        # A trial that never wrote anything (stopped before it began) leaves no directory, as
        # run_trial leaves none; the lock file was ours.
        with contextlib.suppress(OSError):
            if [p.name for p in lease.path.iterdir()] == [LOCK_FILE]:
                (lease.path / LOCK_FILE).unlink()
                lease.path.rmdir()


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _write_log(path: Path, offset: int, data: bytes, *, sync: bool = False) -> None:
    """The head's log made the task's: cut to ``offset`` (the task's log was replaced: never
    by the engine, which only appends), then ``data`` written there."""
    check_ours(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        size = os.fstat(fd).st_size
        if offset > size:
            raise RunDirError(f"{path}: {offset - size} bytes of the log never arrived")
        if offset < size:
            os.ftruncate(fd, offset)
        view = memoryview(data)
        while view:
            written = os.pwrite(fd, view, offset)
            view, offset = view[written:], offset + written
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


# -- the task's side: a node-local copy of the trial, pushed to the head ----------------------------

def _signature(fd: int) -> tuple[int, int, int]:
    st = os.fstat(fd)
    return st.st_ino, st.st_size, st.st_mtime_ns


class _LocalCopy:
    """The trial's run directory on the task's node: the head's files to begin with, then what
    run_trial adds, sent back by ``changes``."""

    def __init__(self, path: Path, files: dict[str, bytes]) -> None:
        self.path = path
        path.mkdir(parents=True)
        for name, data in files.items():
            (path / name).write_bytes(data)
        self.sent: dict[str, tuple[int, int, int]] = {}
        for name in (CONFIG_FILE, CHECKPOINT_FILE):
            self._read(name)  # the head has these: only a new one is sent
        self.log_start = self.log_sent = len(files.get(EVENTS_FILE, b""))
        self.held: bytes | None = None  # the newest checkpoint, sent with the next push's log
        self.commands = bytearray()  # command lines from the head, until the trial's run reads them

    def _read(self, name: str) -> bytes | None:
        """The file's bytes if it changed since last sent (a rename brings a new inode)."""
        try:
            fd = os.open(self.path / name, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            signature = _signature(fd)  # of the file read, not of one renamed over it since
            if self.sent.get(name) == signature:
                return None
            with os.fdopen(os.dup(fd), "rb") as f:
                data = f.read()
            self.sent[name] = signature
            return data
        finally:
            os.close(fd)

    def changes(self, *, final: bool = False) -> dict[str, Any]:
        """What the head has not had: a new config.json, the log's new whole lines (all of it once
        the trial has ended), and a checkpoint.pt read one push before that log. The engine emits
        an epoch's events before it checkpoints the epoch, but its log writer is a thread of its
        own that may trail the checkpoint by a few lines; a push later, it has caught up. So the
        head's log always holds the epochs of the head's checkpoint (the mirror writes the log
        first): a resume from it never leaves a gap in the log."""
        out: dict[str, Any] = {}
        config = self._read(CONFIG_FILE)
        if config is not None:
            out[CONFIG_FILE] = config
        checkpoint = self._read(CHECKPOINT_FILE)
        if final:  # the run is closed, its log complete: the newest checkpoint goes now
            checkpoint = checkpoint if checkpoint is not None else self.held
            if checkpoint is not None:
                out[CHECKPOINT_FILE] = checkpoint
            self.held = None
        else:
            if self.held is not None and checkpoint is not None:
                out[CHECKPOINT_FILE] = self.held  # the one before: its epochs are in this log
            elif self.held is not None:
                out[CHECKPOINT_FILE], self.held = self.held, None
            if checkpoint is not None:
                self.held = checkpoint
        path = self.path / EVENTS_FILE
        size = _size(path)
        offset = self.log_sent if size >= self.log_sent else 0  # never smaller, unless replaced
        if size > offset or offset != self.log_sent:
            try:
                with open(path, "rb") as f:
                    f.seek(offset)
                    data = f.read(size - offset)
            except OSError:
                data = b""
            if not final:
                data = data[:data.rfind(b"\n") + 1]  # whole lines: a watcher never reads half of one
            if data or offset != self.log_sent:
                out[EVENTS_FILE] = (offset, data)
                self.log_sent = offset + len(data)
        return out

    def forward(self, commands: bytes) -> None:
        """Append the head's new command lines to the trial's commands.jsonl, once its run reads
        that file: its poller counts only the lines written after the run opened, and the run's
        first event follows that (a crashed log's closing newline may come before it)."""
        self.commands += commands
        if self.commands and _size(self.path / EVENTS_FILE) > self.log_start + LOG_TORN:
            fd = os.open(self.path / COMMANDS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                data = memoryview(bytes(self.commands))
                while data:
                    data = data[os.write(fd, data):]
            finally:
                os.close(fd)
            self.commands.clear()


class _Pump(threading.Thread):
    """Pushes the local copy's changes to the mirror every ``push_s`` and keeps its replies: the
    stop asked for, the command lines. run_trial (on the task's main thread) asks ``stop_reason``."""

    def __init__(self, ray: Any, mirror: Any, token: int, local: _LocalCopy, push_s: float) -> None:
        super().__init__(name="lstm-tui-mirror-pump", daemon=True)
        self.ray, self.mirror, self.token, self.local, self.push_s = ray, mirror, token, local, push_s
        self.reason: str | None = None
        self.lost = False
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.push_s):
            try:
                reply = self.ray.get(self.mirror.push.remote(self.token, self.local.changes()))
            except Exception as exc:  # the mirror is gone: so is the sweep's driver
                self.reason, self.lost = f"lstm-tui sweep (its driver is gone: {type(exc).__name__})", True
                return
            if reply["lost"]:
                self.reason, self.lost = "lstm-tui sweep (another attempt has this trial)", True
                return
            if reply["stop"] and self.reason is None:
                self.reason = reply["stop"]
            self.local.forward(reply["commands"])

    def stop_reason(self) -> str | None:
        return self.reason

    def finish(self) -> None:
        self._done.set()
        self.join()


_worker_ready = False  # this worker process has had its one-time set-up


def _prepare_worker(threads: int) -> None:
    """As the local executor's workers are set up: once per process, then the threads per trial."""
    global _worker_ready
    if not _worker_ready:
        from engine.allocator import keep_freed_memory

        keep_freed_memory()  # after Ray's own threads exist, so in part (engine/allocator.py)
        _worker_ready = True
    import torch

    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # already set where torch ran inter-op work
        torch.set_num_interop_threads(1)


def trial_task(job: TrialJob, mirror: Any, threads: int = 1, push_s: float = PUSH_S) -> TrialOutcome:
    """One trial as a Ray task (the body of the remote function): open it on the head, run it in
    a node-local copy, push its files back as it goes, close it."""
    import ray

    from engine.sweep.trials import run_trial

    where = {"node": ray.get_runtime_context().get_node_id(), "pid": os.getpid(), "torch": "torch" in sys.modules}
    token, files = ray.get(mirror.open.remote(job.name, job.path, where))
    if token is None:
        if files is None:
            return TrialOutcome(job.name, TrialState.INTERRUPTED, message="not started: the sweep is stopping",
                                trained=False)
        return TrialOutcome(job.name, TrialState.FAILED, message=files, trained=False)
    _prepare_worker(threads)
    with tempfile.TemporaryDirectory(prefix="lstm-tui-trial-") as tmp:
        local = _LocalCopy(Path(tmp) / job.name, files)
        pump = _Pump(ray, mirror, token, local, push_s)
        pump.start()
        problem = None
        try:
            outcome = run_trial(dataclasses.replace(job, path=str(local.path)), pump.stop_reason)
        finally:  # a ray.cancel's KeyboardInterrupt too: run_trial closed its run, the head gets its end
            pump.finish()
            if not pump.lost:
                try:
                    problem = ray.get(mirror.close.remote(token, local.changes(final=True)))
                except Exception as exc:  # the mirror is gone
                    problem = f"the sweep's driver is gone ({type(exc).__name__})"
    outcome = dataclasses.replace(outcome, message=outcome.message.replace(str(local.path), job.path))
    if pump.lost or problem:
        why = problem or pump.reason or "lost"
        return dataclasses.replace(outcome, state=TrialState.INTERRUPTED,
                                   message=f"its files did not all reach the sweep directory: {why}")
    return outcome


@functools.cache
def _remote_task() -> Any:
    import ray

    # max_calls=0: workers are kept for trial after trial (torch imported once per worker); only
    # the decorator sets it (Ray would make it 1 for a task given GPUs).
    return ray.remote(max_calls=0, max_retries=TRIAL_RETRIES, retry_exceptions=False)(trial_task)


@functools.cache
def _remote_mirror() -> Any:
    import ray

    return ray.remote(num_cpus=0, max_restarts=0)(TrialMirror)


# -- the driver's side -----------------------------------------------------------------------------

@contextlib.contextmanager
def _hang_ups_ignored() -> Iterator[None]:
    """A local instance's processes (raylet, GCS, their workers) share the sweep's process group,
    which a terminal's hang-up signals, and die of it; started with SIGHUP ignored, they keep it
    ignored. (Ray blocks SIGINT in them itself.) The sweep handles its own hang-up, as `train` does.
    Only the main thread may: elsewhere they start unprotected, with a warning in the log. (Blocking
    SIGHUP in the calling thread instead was tried: the instance still died of a hang-up.)"""
    if not hasattr(signal, "SIGHUP"):
        yield
        return
    if threading.current_thread() is not threading.main_thread():
        log.warning("a local Ray instance started off the main thread: a hang-up of the terminal ends it")
        yield
        return
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGHUP, previous)


def trial_slots(nodes: Sequence[dict[str, Any]], cpus: float, gpus: float) -> int:
    """How many trials of ``cpus`` CPUs and ``gpus`` GPUs the alive ``nodes`` (ray.nodes()) run at once."""
    slots = 0
    for node in nodes:
        if not node.get("Alive", True):
            continue
        resources = node.get("Resources", {})
        fit = math.floor(resources.get("CPU", 0) / cpus + 1e-9) if cpus else sys.maxsize
        if gpus:
            fit = min(fit, math.floor(resources.get("GPU", 0) / gpus + 1e-9))
        slots += fit
    return slots


def wants_gpu(devices: Collection[str]) -> bool:
    return any(device == "auto" or device.startswith("cuda") for device in devices)


class RayExecutor:
    """Trials as Ray tasks: on a local Ray instance this executor starts (``local_cpus`` CPUs,
    default: this machine's cores) and stops, or on the running cluster at ``address`` (joined,
    then left). ``workers``: trials in flight at most (default: what the cluster holds);
    ``gpus_per_trial`` None: GPU_SHARE where the cluster has GPUs and the trials may use one."""

    name = "ray"

    def __init__(self, address: str | None = None, devices: Collection[str] = ("cpu",), *,
                 cpus_per_trial: int = 1, gpus_per_trial: float | None = None, workers: int | None = None,
                 local_cpus: int | None = None, push_s: float = PUSH_S, retries: int = TRIAL_RETRIES) -> None:
        self.address = address
        self.devices = set(devices)
        self.workers = workers
        self.local_cpus = local_cpus
        self.push_s = push_s
        self.retries = retries
        self.cpus = max(1, cpus_per_trial)
        self.gpus_asked = gpus_per_trial
        self.gpus = 0.0  # decided once the cluster is known
        self.attempts: list[Attempt] = []  # every attempt, once ``run`` has returned
        self.stopping = False
        self.killed = False
        self._ray: Any = None
        self._owns_ray = False  # connected by us: disconnected (a local instance stopped) at the end
        self._mirror: Any = None
        self._lock = threading.Lock()
        self._running: dict[Any, TrialJob] = {}
        self._stop_reason = "lstm-tui sweep"
        self._capacity = (0, -math.inf)  # (trials at once, when asked)

    # -- connecting ---------------------------------------------------------------------------

    def connect(self) -> None:
        """Join the cluster (or start the local instance) and check it can run the trials;
        RayUnavailable (one line) when not, with nothing left running."""
        if self._ray is not None:
            return
        address = self.address
        if address is not None:
            check_ray_address(address)
        check_gpus_per_trial(self.gpus_asked)
        if address is None:
            os.environ[RAY_CLUSTER_ENV] = "0"  # before ray is imported: Ray reads it then
        ray = import_ray()
        if not ray.is_initialized():
            if address is not None and address != "auto":
                _probe(address)
            try:
                if address is None:
                    with _hang_ups_ignored():
                        ray.init(address="local", num_cpus=self.local_cpus or os.cpu_count() or 1,
                                 _node_ip_address=NODE_IP, include_dashboard=False,
                                 object_store_memory=LOCAL_OBJECT_STORE, log_to_driver=False,
                                 logging_level=logging.ERROR)
                else:
                    ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
            except Exception as exc:  # Ray's own: ConnectionError, RuntimeError, ValueError...
                with contextlib.suppress(Exception):
                    ray.shutdown()
                where = f"join the Ray cluster at {address}" if address else "start a local Ray instance"
                raise RayUnavailable(f"executor: cannot {where}: {_one_line(exc)}") from None
            self._owns_ray = True
        self._ray = ray
        try:
            self._check_cluster()
        except RayUnavailable:
            self._disconnect()
            raise

    def _check_cluster(self) -> None:
        """The resources asked for exist on some node; --gpus-per-trial's default decided."""
        nodes = [node for node in self._ray.nodes() if node.get("Alive")]
        largest = {kind: max((node["Resources"].get(kind, 0) for node in nodes), default=0) for kind in ("CPU", "GPU")}
        if self.cpus > largest["CPU"]:
            raise RayUnavailable(f"cpus-per-trial: {self.cpus} CPUs per trial, but no node of the Ray cluster "
                                      f"has more than {largest['CPU']:g}")
        gpus = self.gpus_asked
        if gpus is None:  # on GPUs, several small trials share each (as the local executor does)
            gpus = GPU_SHARE if largest["GPU"] and wants_gpu(self.devices) else 0.0
        if gpus and gpus > largest["GPU"]:
            has = f"its largest node has {largest['GPU']:g}" if largest["GPU"] else "it has none"
            raise RayUnavailable(f"gpus-per-trial: {gpus:g} GPUs per trial, but {has} in the Ray cluster")
        if not gpus and any(device.startswith("cuda") for device in self.devices):
            raise RayUnavailable("device: the trials ask for a CUDA GPU, but the Ray cluster has none "
                                      "(or give --gpus-per-trial)")
        self.gpus = float(gpus)

    def _disconnect(self) -> None:
        if self._ray is not None and self._owns_ray:
            with contextlib.suppress(Exception):
                self._ray.shutdown()  # a local instance: its processes end; a cluster: left as it was
        self._ray, self._owns_ray = None, False

    # -- running ------------------------------------------------------------------------------

    def run(self, jobs: Sequence[TrialJob], report: Report) -> None:
        self.connect()
        ray = self._ray
        try:
            here = ray.get_runtime_context().get_node_id()
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            # On the driver's node, so it can write the sweep directory; no CPU of the trials'.
            mirror = _remote_mirror().options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False)).remote()
            with self._lock:
                self._mirror = mirror
                stopping = self.stopping
            if stopping:
                ray.get(mirror.stop.remote(self._stop_reason))
            self._run(ray, mirror, jobs, report)
        finally:
            self._end()

    def _run(self, ray: Any, mirror: Any, jobs: Sequence[TrialJob], report: Report) -> None:
        task = _remote_task()
        waiting = deque(jobs)
        while True:
            unstarted: list[TrialJob] = []
            with self._lock:
                if self.stopping:
                    unstarted, waiting = list(waiting), deque()
                limit = self._limit() if waiting else 0
                while waiting and len(self._running) < limit:
                    job = waiting.popleft()
                    ref = task.options(**self._task_options(job)).remote(
                        dataclasses.replace(job, path=os.path.abspath(job.path)), mirror, self.cpus, self.push_s)
                    self._running[ref] = job
                running = list(self._running)
            for job in unstarted:
                report(TrialOutcome(job.name, TrialState.INTERRUPTED, message="not started: the sweep stopped",
                                    trained=False))
            if not running:
                return
            ready, _ = ray.wait(running, num_returns=1, timeout=WAIT_S, fetch_local=True)
            for ref in ready:
                with self._lock:
                    job = self._running.pop(ref)
                report(self._outcome(ray, mirror, ref, job))

    def _task_options(self, job: TrialJob) -> dict[str, Any]:
        options: dict[str, Any] = {"num_cpus": self.cpus, "max_retries": self.retries,
                                   "name": f"lstm-tui trial {job.name}"}
        if self.gpus:
            options["num_gpus"] = self.gpus
        return options

    def _limit(self) -> int:
        """Trials in flight at most: --workers, or what the cluster runs at once. None queued in
        Ray beyond that: a queue makes Ray start fresh workers for it, while a trial submitted
        as one ends gets the worker that ran it, torch imported (this loop wakes at each end)."""
        if self.workers is not None:
            return self.workers
        slots, asked = self._capacity
        if time.monotonic() - asked > CAPACITY_S:
            with contextlib.suppress(Exception):  # the last known size will do
                slots = trial_slots(self._ray.nodes(), self.cpus, self.gpus)
            self._capacity = (slots, time.monotonic())
        return max(1, slots)

    def _outcome(self, ray: Any, mirror: Any, ref: Any, job: TrialJob) -> TrialOutcome:
        from ray.exceptions import RayError, RayTaskError, TaskCancelledError

        try:
            return ray.get(ref)
        except TaskCancelledError:  # the sweep stopped before it began (or while Ray waited to retry it)
            return TrialOutcome(job.name, TrialState.INTERRUPTED, trained=False,
                                message="the sweep stopped before it ran: it resumes from its last checkpoint")
        except RayTaskError as exc:  # an error in the task's own code (run_trial reports the trial's)
            cause = exc.cause if exc.cause is not None else exc
            return TrialOutcome(job.name, TrialState.FAILED, message=f"{type(cause).__name__}: {_one_line(cause)}")
        except RayError as exc:
            why = ("its worker was ended" if self.killed else
                   f"its worker or node died ({self.retries + 1} tries: {type(exc).__name__})")
            return TrialOutcome(job.name, TrialState.INTERRUPTED, trained=False,
                                message=f"{why}: it resumes from its last checkpoint")
        finally:
            with contextlib.suppress(Exception):
                mirror.release.remote(job.name)  # however it ended, its directory is let go

    def _end(self) -> None:
        """The attempts kept, the mirror gone (its leases let go), Ray left or stopped."""
        with self._lock:
            mirror, self._mirror = self._mirror, None
            self._running = {}
        ray = self._ray
        if mirror is not None and ray is not None:
            with contextlib.suppress(Exception):
                ray.get(mirror.release_all.remote(), timeout=STOP_TIMEOUT_S)
            with contextlib.suppress(Exception):
                self.attempts = ray.get(mirror.attempts.remote(), timeout=STOP_TIMEOUT_S)
            with contextlib.suppress(Exception):
                ray.kill(mirror)
        self._disconnect()

    def attempts_now(self) -> list[Attempt]:
        """Every attempt so far, asked of the mirror while the sweep runs (for tests and tools)."""
        with self._lock:
            mirror = self._mirror
        if mirror is None:
            return list(self.attempts)
        return self._ray.get(mirror.attempts.remote(), timeout=STOP_TIMEOUT_S)

    # -- stopping -----------------------------------------------------------------------------

    def stop(self, signum: int = -1) -> None:  # -1: no signal (executor.STOP_ASKED)
        reason = "lstm-tui sweep"
        if signum > 0:
            with contextlib.suppress(ValueError):
                reason = signal.Signals(signum).name
        with self._lock:
            if self.stopping:
                return
            self.stopping, self._stop_reason = True, reason
            mirror, running = self._mirror, dict(self._running)
        if mirror is None:
            return  # run() tells the mirror once it has one
        ray = self._ray
        try:
            opened = set(ray.get(mirror.stop.remote(reason), timeout=STOP_TIMEOUT_S))
        except Exception:  # noqa: BLE001 - no answer: nothing is cancelled, the open trials stop anyway
            return
        for ref, job in running.items():
            if job.name not in opened:  # never begun, and never will: the mirror opens none now
                with contextlib.suppress(Exception):
                    ray.cancel(ref)

    def kill(self) -> None:
        self.stop()
        with self._lock:
            self.killed = True
            running = list(self._running)
        for ref in running:
            with contextlib.suppress(Exception):
                self._ray.cancel(ref, force=True)
