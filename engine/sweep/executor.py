"""Where trials run: the Executor seam, and the local executor (a pool of worker processes).

An Executor takes TrialJobs (engine/sweep/trials.py) and runs each to its end with
``run_trial``, reporting a TrialOutcome per job; ``stop`` makes every running trial stop between
batches with a final checkpoint and starts no more; ``kill`` gives up on the workers (their
trials resume from their last checkpoints when the sweep runs again). Progress is not the
executor's business: the front end follows the trials' run directories (engine/sweep/follow.py).

The local executor: worker processes that import torch once and run trial after trial
(concurrent.futures over a forkserver, or spawn where there is none: torch is not fork-safe
once used), each with ``cpus_per_trial`` threads (1 by default: on the CPU many single-threaded
trials beat a few multi-threaded ones). The workers ignore SIGINT and SIGHUP: a Ctrl+C reaches
the whole process group, and the sweep, not each worker, decides what it means (it stops every
trial through the pool's shared stop word). A SIGTERM sent to a worker stops its trial cleanly.
A worker that dies (killed, out of memory) breaks the pool: a new pool takes the trials left,
each resuming from its checkpoint, up to POOL_RESTARTS times.

The Ray executor (engine/sweep/ray_executor.py) is a second implementation of the same protocol
(``make_executor``): each job a Ray task calling ``run_trial`` on a node-local copy of the trial's
directory, its files brought back live to the sweep directory on the launching machine.
"""

from __future__ import annotations

import contextlib
import importlib.util
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from engine.sweep.follow import TrialState
from engine.sweep.ray_executor import (
    RAY_MISSING,
    RayExecutor,
    RayUnavailable,
    check_gpus_per_trial,
    check_ray_address,
)
from engine.sweep.trials import TrialJob, TrialOutcome

EXECUTORS = ("local", "ray")
POOL_RESTARTS = 3  # new pools after a worker died, per run of the sweep
KILL_POLL_S = 0.5  # how often the wait for trials looks whether the workers were killed
KILL_WAIT_S = 5.0  # a killed worker is gone within milliseconds; this only ends a hang
GPU_WORKERS_PER_GPU = 4  # --gpus-per-trial's default 0.25: small trials share a GPU four at a time
# torch, once; and torch._dynamo, which torch.optim imports on the first optimizer a process
# builds (about 3 s here): preloaded, no worker pays it on its first trial.
WORKER_PRELOAD = ["torch._dynamo", "engine.session", "engine.rundir.checkpoint", "engine.sweep.trials"]
STOP_NONE, STOP_ASKED = 0, -1  # the pool's stop word: 0 go on, a signal's number, or -1 (no signal)

Report = Callable[[TrialOutcome], None]


class ExecutorUnavailable(ValueError):
    """The executor asked for cannot run here (Ray not installed); the message says how to fix it."""


class Executor(Protocol):
    """Runs trials to their end; a front end calls ``run`` on a thread and ``stop`` from another."""

    name: str

    def run(self, jobs: Sequence[TrialJob], report: Report) -> None:
        """Run every job (each to its end, or until ``stop``), calling ``report`` with each
        outcome as it comes (from the calling thread); returns when none is running."""
        ...

    def stop(self, signum: int = STOP_ASKED) -> None:
        """Every running trial stops with a checkpoint (its state's reason names ``signum``'s
        signal), no other starts; safe from any thread, returns at once."""
        ...

    def kill(self) -> None:
        """End the workers now, checkpoints or not (a second Ctrl+C); from any thread."""
        ...


@dataclass(frozen=True)
class ExecutorOptions:
    """The command line's choice of executor and its resources."""

    kind: str = "local"
    workers: int | None = None  # None: one per core on the CPU (per cpus_per_trial), several per GPU
    cpus_per_trial: int = 1
    gpus_per_trial: float | None = None  # None: 1 / GPU_WORKERS_PER_GPU on CUDA
    ray_address: str | None = None


def check_executor(kind: str, options: ExecutorOptions | None = None) -> None:
    """ExecutorUnavailable unless ``kind`` can run here, and ``options`` with it; cheap (Ray is
    found, not imported; a --ray-address is reached, not joined), and asked before anything of
    the sweep is written."""
    if kind not in EXECUTORS:
        raise ExecutorUnavailable(f"executor: unknown {kind!r} (choose from {', '.join(EXECUTORS)})")
    if kind == "ray":
        if importlib.util.find_spec("ray") is None:
            raise ExecutorUnavailable(RAY_MISSING)
        if options is not None:
            try:
                if options.ray_address is not None:
                    check_ray_address(options.ray_address, reach=True)
                elif options.cpus_per_trial > cpu_cores():  # the local instance has this machine's cores
                    raise RayUnavailable(f"cpus-per-trial: {options.cpus_per_trial} CPUs per trial, but a local "
                                         f"Ray instance has this machine's {cpu_cores()}")
                check_gpus_per_trial(options.gpus_per_trial)
            except RayUnavailable as exc:
                raise ExecutorUnavailable(str(exc)) from None


def make_executor(options: ExecutorOptions, devices: Collection[str], log_path: Path | None = None) -> Executor:
    """The executor of ``options`` for trials on ``devices`` (their configs' device settings).
    Ray's is connected here (a local instance started, or the cluster at ``ray_address`` joined):
    ExecutorUnavailable, one line, when it cannot run the trials. Call it on the main thread, before
    the front end's signal handlers are set: a local instance's processes then start with SIGHUP
    ignored (a hang-up would end them), and ray.init's own SIGTERM handler is replaced by the front
    end's."""
    check_executor(options.kind)
    if options.kind == "ray":
        executor = RayExecutor(options.ray_address, devices, cpus_per_trial=options.cpus_per_trial,
                               gpus_per_trial=options.gpus_per_trial, workers=options.workers,
                               local_cpus=cpu_cores())
        try:
            executor.connect()  # ray is imported here, not before
        except RayUnavailable as exc:
            raise ExecutorUnavailable(str(exc)) from None
        return executor
    workers, gpus = local_workers(options, devices)
    return LocalExecutor(workers, threads=options.cpus_per_trial, gpus=gpus, log_path=log_path)


def cpu_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cuda_devices() -> int:
    """CUDA devices here (imports torch: only asked when a trial may run on one)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def local_workers(options: ExecutorOptions, devices: Collection[str]) -> tuple[int, int]:
    """(workers, GPUs to spread them over): ``options.workers`` if given, else one per
    ``cpus_per_trial`` cores on the CPU, or 1 / ``gpus_per_trial`` per GPU (at most one per core).
    GPUs to spread over: 0 unless every trial asks for any CUDA device (auto or cuda) and there
    are several."""
    cores = max(1, cpu_cores() // max(1, options.cpus_per_trial))
    wants_gpu = any(d == "auto" or d.startswith("cuda") for d in devices)
    gpus = cuda_devices() if wants_gpu else 0
    if options.workers is not None:
        workers = options.workers
    elif gpus:
        per_gpu = max(1, int(1 / options.gpus_per_trial)) if options.gpus_per_trial else GPU_WORKERS_PER_GPU
        workers = min(cores, gpus * per_gpu)
    else:
        workers = cores
    spread = gpus if gpus > 1 and set(devices) <= {"auto", "cuda"} else 0
    return max(1, workers), spread


# -- the worker processes --------------------------------------------------------------------------

_stop_word: Any = None  # the pool's shared stop word (a multiprocessing Value), in a worker
_terminated = False  # this worker got a SIGTERM of its own


def _on_sigterm(signum: int, frame: object) -> None:
    global _terminated
    _terminated = True


def _init_worker(stop_word: Any, threads: int, gpus: int, gpu_counter: Any, log_path: str | None) -> None:
    """Once per worker process, before its first trial."""
    global _stop_word
    _stop_word = stop_word
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the sweep stops us through the stop word
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a hung-up terminal is the sweep's to handle
    signal.signal(signal.SIGTERM, _on_sigterm)
    _quiet_streams(log_path)
    from engine.allocator import keep_freed_memory

    keep_freed_memory()  # as lstm-tui's main does, before any thread of ours exists
    if gpus > 1:  # this worker's share of the GPUs, before CUDA is first used
        with gpu_counter.get_lock():
            index = gpu_counter.value
            gpu_counter.value += 1
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")
        ids = [v for v in visible if v.strip()] or [str(i) for i in range(gpus)]
        os.environ["CUDA_VISIBLE_DEVICES"] = ids[index % len(ids)]
    import torch

    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # already set where torch ran inter-op work
        torch.set_num_interop_threads(1)
    import engine.sweep.trials  # noqa: F401 - loaded here, not in the first trial's time


def _quiet_streams(log_path: str | None) -> None:
    """stdin and stdout on /dev/null; stderr appended to the sweep's workers.log (a terminal that
    hung up must not fail a worker's write, and warnings and crashes are kept)."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        os.dup2(null, 0)
        os.dup2(null, 1)
        if log_path is not None:
            try:
                log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            except OSError:
                log = os.dup(null)
            os.dup2(log, 2)
            os.close(log)
    finally:
        os.close(null)


def _stop_reason() -> str | None:
    """The stop's source, once the sweep (or a SIGTERM to this worker) asked for one."""
    if _terminated:
        return "SIGTERM"
    code = _stop_word.value if _stop_word is not None else STOP_NONE
    if code == STOP_NONE:
        return None
    if code > 0:
        with contextlib.suppress(ValueError):
            return signal.Signals(code).name
    return "lstm-tui sweep"


def _work(job: TrialJob) -> TrialOutcome:
    """One trial in a worker (a top-level function: the pool pickles it by name)."""
    from engine.sweep.trials import run_trial

    return run_trial(job, _stop_reason)


def _start_method() -> str:
    methods = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in methods else "spawn"


class LocalExecutor:
    """Trials in ``workers`` worker processes on this machine."""

    name = "local"

    def __init__(self, workers: int, *, threads: int = 1, gpus: int = 0, log_path: Path | None = None,
                 start_method: str | None = None) -> None:
        self.workers = max(1, workers)
        self.threads = max(1, threads)
        self.gpus = gpus
        self.log_path = log_path
        self._context = multiprocessing.get_context(start_method or _start_method())
        if self._context.get_start_method() == "forkserver":
            # The server imports torch once; every worker forks from it with torch loaded, unused.
            self._context.set_forkserver_preload(WORKER_PRELOAD)
        self._stop_word = self._context.Value("i", STOP_NONE)
        self._gpu_counter = self._context.Value("i", 0)
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._futures: dict[Future[TrialOutcome], TrialJob] = {}
        self.stopping = False
        self.killed = False
        self.pools = 0  # pools started (1 + restarts after a worker died)

    def run(self, jobs: Sequence[TrialJob], report: Report) -> None:
        left = list(jobs)
        restarts = 0
        while left:
            left = self._run_pool(left, report)  # what a broken pool (a worker died) left
            if not left:
                return
            if self.stopping or restarts >= POOL_RESTARTS:
                why = "its worker was ended" if self.killed else f"its worker died ({restarts + 1} pools broke)"
                for job in left:
                    report(TrialOutcome(job.name, TrialState.INTERRUPTED, trained=False,
                                        message=f"{why}: it resumes from its last checkpoint"))
                return
            restarts += 1

    def _run_pool(self, jobs: Sequence[TrialJob], report: Report) -> list[TrialJob]:
        """One pool over ``jobs``; the jobs a broken pool left unfinished."""
        pool = ProcessPoolExecutor(
            max_workers=min(self.workers, len(jobs)), mp_context=self._context, initializer=_init_worker,
            initargs=(self._stop_word, self.threads, self.gpus, self._gpu_counter,
                      str(self.log_path) if self.log_path else None))
        broken: list[TrialJob] = []
        with self._lock:
            self._pool, self.pools = pool, self.pools + 1
            self._futures = {}
            for job in jobs:
                if self.stopping:
                    report(TrialOutcome(job.name, TrialState.INTERRUPTED, message="not started: the sweep "
                                        "stopped", trained=False))
                    continue
                self._futures[pool.submit(_work, job)] = job
            futures = dict(self._futures)
        left: set[Future] = set()  # given up on when the workers were killed: resumed next time
        try:
            for future in self._completed(futures, left):
                job = futures[future]
                try:
                    outcome = future.result()
                except CancelledError:
                    outcome = TrialOutcome(job.name, TrialState.INTERRUPTED, message="not started: the sweep "
                                           "stopped", trained=False)
                except BrokenProcessPool:
                    broken.append(job)
                    continue
                except Exception as exc:  # an error outside run_trial's own (pickling, say)
                    outcome = TrialOutcome(job.name, TrialState.FAILED, message=f"{type(exc).__name__}: {exc}")
                report(outcome)
            broken += [futures[future] for future in left]
        finally:
            pool.shutdown(wait=not self.killed, cancel_futures=True)
            with self._lock:
                self._pool = None
        return broken

    def _completed(self, futures: Collection[Future], left: set[Future]) -> Iterator[Future]:
        """``futures`` as they finish, until the workers are killed: those still pending then are
        put in ``left`` (a killed worker's pool may never finish them: Python 3.11's pool manager
        can even crash on them, and as_completed would wait for ever)."""
        pending = set(futures)
        while pending and not self.killed:
            done, pending = wait(pending, timeout=KILL_POLL_S, return_when=FIRST_COMPLETED)
            yield from done
        left.update(pending)

    def stop(self, signum: int = STOP_ASKED) -> None:
        # Jobs not begun are left queued, not cancelled: a worker that takes one sees the stop
        # word and returns "not started" at once (cancelling them races the pool's own manager).
        with self._lock:
            self.stopping = True
            self._stop_word.value = signum  # a plain store: safe from any thread

    def kill(self) -> None:
        self.stop()
        with self._lock:
            self.killed = True
            pool = self._pool
        if pool is None:
            return
        # concurrent.futures has no public way to end its workers before Python 3.14.
        processes = list(getattr(pool, "_processes", {}).values())
        for process in processes:
            with contextlib.suppress(Exception):
                process.kill()
        # Until each has died the kernel keeps its trial's lock: a reader would see it live.
        for process in processes:
            with contextlib.suppress(Exception):
                process.join(KILL_WAIT_S)


class ExecutorThread:
    """An executor's ``run`` on a thread of its own, so the caller's thread stays free to follow
    the trials' files and to take signals (a front end's main loop, the live screen's app).
    ``report`` gets each outcome (on this thread), ``on_end`` is called once ``run`` returns."""

    def __init__(self, executor: Executor, jobs: Sequence[TrialJob], report: Report,
                 on_end: Callable[[], None] = lambda: None) -> None:
        self.executor = executor
        self.jobs = list(jobs)
        self.report = report
        self.on_end = on_end
        self.error: BaseException | None = None  # what ``run`` raised, if anything
        self._thread = threading.Thread(target=self._run, name="lstm-tui-sweep", daemon=True)

    def start(self) -> ExecutorThread:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.executor.run(self.jobs, self.report)
        except BaseException as exc:  # noqa: BLE001 - said by the front end, never a silent hang
            self.error = exc
        finally:
            self.on_end()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)
