"""How an `lstm-tui` process ends on SIGHUP or SIGTERM, whatever its threads are doing, and
what it does with standard streams that are closed, full or gone (see "the standard streams").

From the first line of ``main`` to the process's end, a hang-up (SIGHUP, or the terminal's
descriptors failing) or a SIGTERM ends the process within seconds, with 128 + the signal:

* before there is an app to ask, at once, after releasing what is held;
* once an app is attached, by asking it to exit like a quit (the worker writes its final
  checkpoint, the log is closed); if the process still lives GRACE_S later, the last resort:
  what is held is released (the run's session closed, the log and its lock) and the process
  ends with os._exit;
* a second SIGTERM (or SIGINT, where handled) ends it at once.

The signals reach a watchdog thread through ``signal.set_wakeup_fd``: the C-level handler writes
the signal's number to a pipe, from whichever thread the kernel interrupted. Nothing here waits
for the main thread, which may be the thing that is stuck (issue 21: blocked for good on
Textual's output queue, so the event loop's own signal handlers never ran). Torch-free and
Textual-free: cheap enough for the first line of ``main``, whatever the command.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

GRACE_S = 3.0  # the app's own shutdown gets this long after the first signal
CLEANUP_LIMIT_S = 8.0  # then the last resort's release of what is held (a final checkpoint) this long
ENDING_SIGNALS = (signal.SIGHUP, signal.SIGTERM)
TERMINAL_GONE = 0  # on the wakeup pipe beside the signals' numbers: no signal has number 0

ExitApp = Callable[[int], None]


def terminal_fds() -> list[int]:
    """The standard descriptors that are a terminal. Ask before a hang-up: after one, isatty()
    on the dead terminal fails (EIO) and says False."""
    return [fd for fd in (0, 1, 2) if os.isatty(fd)]


def mute_fds(fds: list[int]) -> None:
    """Point ``fds`` at /dev/null: later writes (ours, Rich's, Python's final flush at exit)
    succeed and go nowhere, instead of failing on a terminal or pipe that is gone."""
    if not fds:
        return
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in fds:
            os.dup2(null, fd)
    finally:
        os.close(null)


# -- the standard streams -----------------------------------------------------------------------
# Any of them may be closed (`2>&-`), full (/dev/full), a pipe whose reader went away (`| head -1`)
# or a terminal that hung up. A closed one is /dev/null from the start; a write to stdout that
# fails stops the writing, is said in one line on stderr (unless the reader went away: `| head`
# has what it wanted), and costs exit status 0 its success where stdout was the product. Nothing
# is ever written to stderr that could fail louder than a lost message.

_stdout_problem: str | None = None  # why writing stdout failed, once it did (not for EPIPE)


def open_standard_fds() -> list[int]:
    """Give each closed standard descriptor /dev/null, and Python a stream on it; the ones that
    were closed. First thing in ``main``: the next file opened would otherwise take the closed
    number (the signal pipe, a run's log), and whatever writes to "standard error" would write
    into it. Also starts this process's record of stdout afresh (``stdout_problem``)."""
    global _stdout_problem
    _stdout_problem = None
    closed = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed.append(fd)
    for fd in closed:
        null = os.open(os.devnull, os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
    # Python found them closed at start and made these None: print() would drop text, but
    # argparse, Rich and Textual call methods on them.
    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        if getattr(sys, name) is None:
            stream = open(fd, "r" if fd == 0 else "w", encoding="utf-8", closefd=False)  # noqa: SIM115
            setattr(sys, name, stream)
            setattr(sys, f"__{name}__", stream)
    return closed


def write_stdout(text: str) -> bool:
    """Write ``text`` to stdout and flush it; False once stdout has failed (then it points at
    /dev/null: later writes, and Python's flush at exit, go nowhere instead of failing)."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
        return True
    except (OSError, ValueError) as exc:  # ValueError: the stream was closed
        _stdout_failed(exc)
        return False


def stdout_problem() -> str | None:
    """Flush stdout; why writing it failed (e.g. "No space left on device"), or None, also when
    its reader went away (EPIPE)."""
    with contextlib.suppress(AttributeError):  # a stream replaced by one without flush
        try:
            sys.stdout.flush()
        except (OSError, ValueError) as exc:
            _stdout_failed(exc)
    return _stdout_problem


def _stdout_failed(exc: BaseException) -> None:
    global _stdout_problem
    with contextlib.suppress(OSError):
        mute_fds([1])
    if not isinstance(exc, BrokenPipeError) and _stdout_problem is None:
        _stdout_problem = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def say_error(line: str) -> None:
    """One line on stderr, if stderr can take it (a lost message must not become a traceback)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


class Ending:
    """The signal handling of one process; ``install`` and ``uninstall`` on the main thread."""

    def __init__(self, *, grace: float = GRACE_S, cleanup_limit: float = CLEANUP_LIMIT_S,
                 exit: Callable[[int], Any] = os._exit) -> None:
        self.grace = grace
        self.cleanup_limit = cleanup_limit
        self._exit = exit
        self.ttys = terminal_fds()  # now, before any hang-up: isatty() on a dead terminal says False
        self.signum: int | None = None  # the first ending signal, once one came
        self._signals: set[int] = set()
        self._previous: dict[int, Any] = {}
        self._previous_wakeup = -1
        self._exit_app: ExitApp | None = None
        self._cleanups: list[Callable[[], object]] = []
        self._listeners: list[Callable[[int], object]] = []
        self._deadline: float | None = None
        self._read_fd = self._write_fd = -1
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # guards the pipe's write end against uninstall
        self._taking = threading.RLock()  # held while something is taken and its release not yet held

    # -- on the main thread ---------------------------------------------------------------------

    def install(self, signals: tuple[int, ...] = ENDING_SIGNALS) -> Ending:
        """Handle ``signals`` from now on (more may be added by calling again). A SIGHUP that is
        ignored (nohup) stays ignored. Only the main thread may set handlers: elsewhere (a test
        calling ``main`` from a thread) this does nothing."""
        if threading.current_thread() is not threading.main_thread():
            return self
        if self._thread is None:
            self._read_fd, self._write_fd = os.pipe()
            os.set_blocking(self._write_fd, False)  # a signal handler's write never blocks
            self._previous_wakeup = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
            self._thread = threading.Thread(target=self._watch, name="lstm-tui-ending", daemon=True)
            self._thread.start()
        for signum in signals:
            if signum in self._signals:
                continue
            if signum == signal.SIGHUP and signal.getsignal(signum) is signal.SIG_IGN:
                continue
            # A Python-level handler, so the C handler writes to the wakeup fd; the work is the
            # watchdog's, so this one has nothing to do on the main thread.
            self._previous[signum] = signal.signal(signum, _wake_only)
            self._signals.add(signum)
        return self

    def uninstall(self) -> None:
        """Give the signals back. A signal already being handled keeps the watchdog going, so
        the process still ends within its grace period if its shutdown hangs."""
        if self._thread is None or threading.current_thread() is not threading.main_thread():
            return
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
        self._signals.clear()
        with contextlib.suppress(ValueError):
            current = signal.set_wakeup_fd(self._previous_wakeup)
            if current != self._write_fd:  # someone else took the wakeup fd since: theirs stays
                signal.set_wakeup_fd(current)
        if self.signum is None or not self._thread.is_alive():
            with self._lock:
                os.close(self._write_fd)  # the watchdog reads the end of the pipe, and ends
                self._write_fd = -1
            self._thread = None

    # -- from any thread ------------------------------------------------------------------------

    def terminal_gone(self) -> None:
        """A write to (or read from) the terminal failed: a hang-up, though no SIGHUP may come
        (this process is not the session's leader, or the hang-up is ignored)."""
        with self._lock:
            if self._write_fd >= 0:
                with contextlib.suppress(OSError):  # a full pipe already holds a wake-up
                    os.write(self._write_fd, bytes([TERMINAL_GONE]))

    def attach(self, exit_app: ExitApp) -> None:
        """From now on the first signal asks ``exit_app(128 + signal)`` to end the app (on the
        watchdog thread: it must only pass the request on, e.g. call_soon_threadsafe)."""
        self._exit_app = exit_app

    def ending_by_itself(self) -> None:
        """The app has ended and the process is on its way out: a signal now gives it the grace
        period to finish, then the last resort."""
        self._exit_app = _nothing_to_ask

    def hold(self, cleanup: Callable[[], object]) -> None:
        """The last resort calls ``cleanup`` (most recent first) before the process ends."""
        self._cleanups.append(cleanup)

    @contextlib.contextmanager
    def taking(self) -> Iterator[None]:
        """A block that takes something (a run's lock) and then ``hold``s its release: the last
        resort waits for the block to end, so a signal in the middle never leaves what was taken
        half done (a run with config.json but no word in its log that it stopped)."""
        with self._taking:
            yield

    def on_signal(self, listener: Callable[[int], object]) -> None:
        """``listener(signum)`` is told of every ending signal, on the watchdog thread."""
        self._listeners.append(listener)

    # -- the watchdog thread --------------------------------------------------------------------

    def _watch(self) -> None:
        read_fd = self._read_fd
        try:
            while True:
                deadline = self._deadline
                timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                ready, _, _ = select.select([read_fd], [], [], timeout)
                if not ready:
                    self._last_resort()
                    return
                data = os.read(read_fd, 512)
                if not data:
                    return  # uninstalled with no signal pending
                for byte in data:
                    # Every Python-handled signal wakes us (SIGWINCH, SIGCONT too): only ours count.
                    if byte == TERMINAL_GONE:
                        byte = signal.SIGHUP
                    elif byte not in self._signals:
                        continue
                    if self._handle(byte):
                        return
        finally:
            os.close(read_fd)

    def _handle(self, signum: int) -> bool:
        """One ending signal; True once the process has been ended (in a test, ``exit`` returns)."""
        if signum == signal.SIGHUP:
            mute_fds(self.ttys)  # later writes, ours and Python's at exit, go nowhere instead of failing
        first = self.signum is None
        if first:
            self.signum = signum
        for listener in self._listeners:
            with contextlib.suppress(Exception):
                listener(signum)
        if not first:
            if signum == signal.SIGHUP:
                return False  # a shell passing the hang-up on: already ending
            self._exit(128 + signum)  # a second SIGTERM: now
            return True
        if self._exit_app is None:  # nothing to ask yet: release what is held, and go
            return self._last_resort()
        self._deadline = time.monotonic() + self.grace
        try:
            self._exit_app(128 + signum)
        except Exception:  # the loop is gone: nobody will end it but us
            return self._last_resort()
        return False

    def finish(self) -> None:
        """After a signal, once what was held is released: end the process now, with 128 + the
        signal, without the interpreter's finalization. That waits for every thread (one may be
        importing torch, for seconds) and flushes stderr under a lock that Textual's writer may
        hold for ever, blocked on a stalled terminal."""
        if self.signum is None:
            return
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        self._exit(128 + self.signum)

    def _last_resort(self) -> bool:
        code = 128 + (self.signum or signal.SIGTERM)
        # A block taking something finishes first (it is quick: no more than opening a run), unless
        # it is stuck: then the kernel's release at exit is all there is.
        taken = self._taking.acquire(timeout=self.cleanup_limit)
        cleanups = list(reversed(self._cleanups))
        if taken:
            self._taking.release()
        if cleanups:
            # On a thread of their own: one might block for ever (on a lock the stuck main thread
            # holds). Whatever they did not finish, the kernel releases at exit (the run's flock).
            worker = threading.Thread(target=_run_all, args=(cleanups,), name="lstm-tui-release", daemon=True)
            worker.start()
            worker.join(self.cleanup_limit)
        self._exit(code)
        return True


def _run_all(cleanups: list[Callable[[], object]]) -> None:
    for cleanup in cleanups:
        with contextlib.suppress(Exception):
            cleanup()


def _wake_only(signum: int, frame: object) -> None:
    """The Python-level handler: the C handler has already woken the watchdog."""


def _nothing_to_ask(code: int) -> None:
    """The app has already ended: there is nothing to ask it."""


_current: Ending | None = None


def current() -> Ending | None:
    """The process's Ending, while one is installed."""
    return _current


@contextlib.contextmanager
def installed(*extra: int) -> Iterator[Ending]:
    """The process's Ending, installed for this block (and SIGHUP, SIGTERM and ``extra``
    handled); inside another such block, the same one, with ``extra`` added."""
    global _current
    if _current is not None:
        yield _current.install(extra)
        return
    ending = _current = Ending().install((*ENDING_SIGNALS, *extra))
    try:
        yield ending
    finally:
        ending.finish()  # a signal ended the command: the process ends here
        ending.uninstall()
        _current = None


def taking() -> contextlib.AbstractContextManager[None]:
    """The process's ``Ending.taking`` block, or a block that does nothing where none is installed."""
    return _current.taking() if _current is not None else contextlib.nullcontext()


def hand_over() -> None:
    """This command handles its own signals from here (`train` survives a hang-up): the
    process's Ending steps aside."""
    global _current
    if _current is not None:
        _current.uninstall()
        _current = None
