"""Running a Textual app full screen on a terminal that may go away or stall: ``run_in_terminal``.

Textual draws through a writer thread fed by a queue of at most 30 writes
(textual/drivers/_writer_thread.py; Textual issue #6692). A dashboard whose terminal hung up
while it started blocked for good on that queue (issue 21), for three reasons found in its
threads' stacks and a trace of the driver:

* the writer thread dies on its first failed write (EIO: the terminal is gone) and nothing
  drains the queue any more: the 31st write blocks the UI thread for ever, in a frame or in
  the shutdown's last writes (``disable_input``, ``close``);
* the kernel sends SIGCONT with the SIGHUP of a hang-up, and Textual's SIGCONT handler (meant
  for coming back from Ctrl+Z) runs first, as Python-level handlers do, and starts application
  mode again: a second writer on the dead terminal, which dies at once (the first one is left
  orphaned), and a second input thread;
* ``close`` puts its end marker and joins the writer without a time limit.

Here the writer's stream never raises: a failed write means the terminal is gone, so later
writes are dropped and the hang-up is reported (``TerminalLink.hang_up``) even when no SIGHUP
comes. A write waits for room in the queue only while the writer can make some, and once the
app is ending at most ENDING_WRITE_S in all; ``close`` waits CLOSE_WAIT_S at most; SIGCONT
resumes only an app that was suspended; a failed read ends input as a hang-up, not a panic, and
input ends once the terminal is gone instead of spinning on its end-of-file. ``run_in_terminal``
runs an app on this driver, ended by tui/cli/ending.py's signal handling.
"""

from __future__ import annotations

import asyncio
import queue
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import IO, Any, ClassVar

from textual.app import App
from textual.drivers.linux_driver import LinuxDriver

from tui.cli.ending import Ending, installed

LAST_RESORT_RELEASE_S = 5.0  # after a signal whose shutdown hung: how long release() may wait
ENDING_WRITE_S = 1.0  # once the app is ending, how long in all its writes may wait on the terminal
CLOSE_WAIT_S = 1.0  # how long closing waits for the writer to empty its queue
WAIT_SLICE_S = 0.1  # a waiting write looks again this often whether it should still wait


class TerminalLink:
    """What the driver's threads and whatever ends the app share: whether the terminal is still
    there to write to, and since when the app has been ending."""

    def __init__(self, on_hang_up: Callable[[], object] = lambda: None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._on_hang_up = on_hang_up
        self._clock = clock
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._told = False
        self._ending_since: float | None = None
        self._on_close: list[Callable[[], object]] = []

    @property
    def closed(self) -> bool:
        """Writes to the terminal are dropped from now on."""
        return self._closed.is_set()

    def hang_up(self) -> None:
        """The terminal is gone (a write or read failed): drop every later write, and say so
        (once) to whoever ends the app."""
        self.close()
        with self._lock:
            told, self._told = self._told, True
        if not told:
            self._on_hang_up()

    def close(self) -> None:
        """Stop using the terminal (it hung up, or it stalled while the app ends)."""
        with self._lock:
            first = not self._closed.is_set()
            self._closed.set()
            listeners = list(self._on_close) if first else []
        for listener in listeners:
            listener()

    def on_close(self, listener: Callable[[], object]) -> None:
        """``listener()`` is called once, when the link closes (on the thread that closes it)."""
        with self._lock:
            closed = self._closed.is_set()
            if not closed:
                self._on_close.append(listener)
        if closed:
            listener()

    def ending(self) -> None:
        """The app is ending: from now on its writes may wait ENDING_WRITE_S in all."""
        with self._lock:
            if self._ending_since is None:
                self._ending_since = self._clock()

    def may_wait(self) -> bool:
        """Whether a write may (still) wait for room in the writer's queue."""
        if self.closed:
            return False
        since = self._ending_since
        if since is not None and self._clock() - since > ENDING_WRITE_S:
            self.close()  # a stalled terminal, while ending: it gets no more of our time
            return False
        return True


class GuardedStream:
    """The stream under Textual's writer thread: a failed write or flush never raises (which
    would end the thread); it hangs the link up, and later writes go nowhere."""

    def __init__(self, stream: IO[str], link: TerminalLink) -> None:
        self.stream = stream
        self.link = link

    def write(self, text: str) -> int:
        if not self.link.closed:
            try:
                return self.stream.write(text)
            except (OSError, ValueError):  # EIO, EPIPE; ValueError: the stream was closed
                self.link.hang_up()
        return len(text)

    def flush(self) -> None:
        if not self.link.closed:
            try:
                self.stream.flush()
            except (OSError, ValueError):
                self.link.hang_up()

    def fileno(self) -> int:
        return self.stream.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class TerminalDriver(LinuxDriver):
    """Textual's LinuxDriver, whose writes never block for ever (see the module's docstring).

    ``TerminalDriver.bound(link)`` is the class to give an App as its ``driver_class``.
    """

    link: ClassVar[TerminalLink] = TerminalLink()

    @classmethod
    def bound(cls, link: TerminalLink) -> type[TerminalDriver]:
        """This driver class, sharing ``link`` with whatever ends the app."""
        return type(cls.__name__, (cls,), {"link": link})

    def __init__(self, app: App[Any], **options: Any) -> None:
        super().__init__(app, **options)
        self._file = GuardedStream(self._file, self.link)  # type: ignore[arg-type]
        self._suspended = False
        # A hung-up terminal reads as end-of-file at once, for ever (or /dev/null does, once
        # muted): Textual's input thread would spin on it, taking a core from the shutdown.
        self.link.on_close(self.exit_event.set)

    def write(self, data: str) -> None:
        self._put(data)

    def _put(self, item: str | None) -> bool:
        """Queue ``item`` for the writer; False when it was dropped (writer gone, terminal gone,
        or ending and out of time)."""
        writer = self._writer_thread
        if writer is None:
            return False
        # Textual's own write() is a put without a time limit on this queue.
        put = writer._queue.put
        while self.link.may_wait() and writer.is_alive():
            try:
                put(item, timeout=WAIT_SLICE_S)
                return True
            except queue.Full:
                continue
        return False

    def close(self) -> None:
        writer = self._writer_thread
        if writer is not None and self._put(None):  # None: the writer's end marker
            writer.join(CLOSE_WAIT_S)

    def run_input_thread(self) -> None:
        try:
            super().run_input_thread()
        except OSError:  # reading a terminal that hung up: EIO (Textual would panic, exit code 0)
            self.link.hang_up()

    def suspend_application_mode(self) -> None:
        super().suspend_application_mode()
        self._suspended = True

    def resume_application_mode(self) -> None:
        self._suspended = False
        super().resume_application_mode()

    def _sigcont_application(self, *args: Any) -> None:
        # SIGCONT also comes with every hang-up: only an app that Ctrl+Z suspended resumes.
        if self._suspended and not self.link.closed:
            super()._sigcont_application(*args)


class SignalledExecutor(ThreadPoolExecutor):
    """The loop's default executor, where Textual runs its thread workers: after a signal, the
    loop's end does not wait for them (one may be importing torch, for seconds)."""

    def __init__(self, ending: Ending) -> None:
        super().__init__(thread_name_prefix="asyncio")
        self.ending = ending

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=wait and self.ending.signum is None, cancel_futures=cancel_futures)


def run_in_terminal(app: App[Any], *, release: Callable[[float], object] = lambda timeout: None,
                    release_wait: float = 30.0) -> int:
    """Run ``app`` full screen until it exits; its exit code.

    SIGHUP, SIGTERM and SIGINT end it like a quit, with 128 + the signal; a terminal whose
    writes or reads fail is a hang-up too, SIGHUP or not. ``release(timeout)`` gives back what
    the app holds (a run's session, log and lock) once it has ended, waiting up to ``timeout``
    for a worker to finish (``release_wait`` after a quit). Nothing waits for ever on the
    terminal (TerminalDriver); if the app has not ended a few seconds after the signal,
    tui/cli/ending.py's last resort calls ``release`` and ends the process; a second SIGTERM
    ends it at once.
    """
    with installed(signal.SIGINT) as ending:
        link = TerminalLink(on_hang_up=ending.terminal_gone)
        if app.driver_class is LinuxDriver:  # not when TEXTUAL_DRIVER chose another
            app.driver_class = TerminalDriver.bound(link)

        def signalled(signum: int) -> None:  # on the ending's thread
            link.ending()
            if signum == signal.SIGHUP:
                link.close()  # the terminal is gone (or muted): nothing more is worth writing

        ending.on_signal(signalled)
        ending.hold(partial(release, LAST_RESORT_RELEASE_S))

        async def run() -> Any:
            loop = asyncio.get_running_loop()
            loop.set_default_executor(SignalledExecutor(ending))
            # Through the app's message queue, which it reads only once mounted: an exit asked
            # for while it composes would leave it without widgets (Textual's mount is a no-op
            # once exiting), and an on_mount that looks for them fails: a traceback, exit code 1.
            ending.attach(lambda code: loop.call_soon_threadsafe(partial(app.call_later, app.exit, None, code)))
            try:
                return await app.run_async()
            finally:
                ending.ending_by_itself()

        try:
            result: Any = asyncio.run(run())
        finally:
            ending.ending_by_itself()  # also when the loop never ran
            release(release_wait)
        return result if isinstance(result, int) else (app.return_code or 0)
