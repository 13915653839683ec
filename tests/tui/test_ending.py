"""How a process ends on SIGHUP and SIGTERM (tui/cli/ending.py): at once before there is an app
to ask, else by asking it, and by the last resort when it does not end in time."""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from tui.cli.ending import Ending, current, hand_over, installed

GRACE_S = 0.3
SOON_S = 10.0  # how long a test waits for what should follow a signal within milliseconds: only a hang takes it


class Recorder:
    """Stands for os._exit and for an app asked to exit: what they were given, in order."""

    def __init__(self) -> None:
        self.calls: queue.SimpleQueue[tuple[str, object]] = queue.SimpleQueue()

    def exit(self, code: int) -> None:
        self.calls.put(("exit", code))

    def ask(self, code: int) -> None:
        self.calls.put(("asked", code))

    def release(self) -> None:
        self.calls.put(("released", None))

    def next(self, timeout: float = SOON_S) -> tuple[str, object]:
        return self.calls.get(timeout=timeout)

    def nothing_within(self, seconds: float) -> bool:
        try:
            self.calls.get(timeout=seconds)
        except queue.Empty:
            return True
        return False


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def ending(recorder: Recorder) -> Iterator[Ending]:
    ending = Ending(grace=GRACE_S, exit=recorder.exit)
    ending.ttys = []  # never mute the descriptors of the test run itself
    ending.install((signal.SIGHUP, signal.SIGTERM))
    yield ending
    ending.uninstall()


def send(signum: int) -> None:
    os.kill(os.getpid(), signum)


def test_a_signal_before_there_is_an_app_releases_what_is_held_and_exits_at_once(ending, recorder):
    ending.hold(recorder.release)
    send(signal.SIGHUP)
    assert recorder.next() == ("released", None)
    assert recorder.next() == ("exit", 129)


def test_a_signal_asks_the_app_to_exit_with_128_plus_the_signal(ending, recorder):
    ending.attach(recorder.ask)
    send(signal.SIGTERM)
    assert recorder.next() == ("asked", 143)
    assert recorder.nothing_within(GRACE_S / 2)  # the app gets its grace period to end


def test_an_app_still_there_after_the_grace_period_meets_the_last_resort(ending, recorder):
    ending.attach(recorder.ask)
    ending.hold(recorder.release)
    start = time.monotonic()
    send(signal.SIGTERM)
    assert recorder.next() == ("asked", 143)
    assert recorder.next() == ("released", None)
    assert recorder.next() == ("exit", 143)
    assert time.monotonic() - start >= GRACE_S


def test_a_release_that_blocks_for_ever_does_not_keep_the_process_from_ending(ending, recorder):
    ending.cleanup_limit = 0.2
    ending.hold(threading.Event().wait)  # say, a lock that the stuck main thread holds
    start = time.monotonic()
    send(signal.SIGHUP)
    assert recorder.next() == ("exit", 129)
    assert time.monotonic() - start < 0.2 + SOON_S


def test_a_signal_while_something_is_being_taken_waits_for_its_release_to_be_held(ending, recorder):
    # CI's hang-up sweep: SIGHUP between the run's lock being taken and ``hold(shutdown)``
    # ended the process with nothing released, and the run read "crashed".
    with ending.taking():
        send(signal.SIGHUP)
        assert recorder.nothing_within(0.3)  # the last resort waits for the block
        ending.hold(recorder.release)
    assert recorder.next() == ("released", None)
    assert recorder.next() == ("exit", 129)


def test_a_block_stuck_taking_something_does_not_keep_the_process_from_ending(ending, recorder):
    ending.cleanup_limit = 0.2
    taken, done = threading.Event(), threading.Event()

    def stuck() -> None:
        with ending.taking():
            taken.set()
            done.wait()

    threading.Thread(target=stuck, daemon=True).start()
    taken.wait()
    send(signal.SIGHUP)
    try:
        assert recorder.next() == ("exit", 129)
    finally:
        done.set()


def test_a_second_sigterm_ends_the_process_at_once(ending, recorder):
    ending.attach(recorder.ask)
    ending.hold(recorder.release)
    ending.grace = 60.0
    send(signal.SIGTERM)
    assert recorder.next() == ("asked", 143)
    send(signal.SIGTERM)
    assert recorder.next() == ("exit", 143)  # nothing released first: at once


def test_a_second_sighup_does_not_cut_the_shutdown_short(ending, recorder):
    # A login shell passes its own hang-up on to its jobs: the dashboard may get two.
    ending.attach(recorder.ask)
    send(signal.SIGHUP)
    send(signal.SIGHUP)
    assert recorder.next() == ("asked", 129)
    assert recorder.nothing_within(GRACE_S / 2)


def test_a_terminal_that_went_away_is_a_hang_up_without_any_sighup(ending, recorder):
    ending.attach(recorder.ask)
    ending.terminal_gone()  # Textual's writer found the terminal gone (EIO)
    assert recorder.next() == ("asked", 129)


def test_a_signal_is_acted_on_while_the_main_thread_is_stuck(ending):
    # As in issue 21: the main thread blocked on Textual's full output queue.
    asked_at: queue.SimpleQueue[float] = queue.SimpleQueue()
    ending.attach(lambda code: asked_at.put(time.monotonic()))
    full: queue.Queue[int] = queue.Queue(1)
    full.put(0)
    threading.Timer(0.1, send, (signal.SIGHUP,)).start()
    with pytest.raises(queue.Full):
        full.put(1, timeout=1.0)
    unstuck_at = time.monotonic()
    assert asked_at.get(timeout=0) < unstuck_at - 0.5


def test_a_listener_hears_every_ending_signal(ending, recorder):
    heard: queue.SimpleQueue[int] = queue.SimpleQueue()
    ending.on_signal(heard.put)
    ending.attach(recorder.ask)
    send(signal.SIGHUP)
    send(signal.SIGHUP)
    assert [heard.get(timeout=SOON_S), heard.get(timeout=SOON_S)] == [signal.SIGHUP, signal.SIGHUP]


def test_finish_after_a_signal_ends_the_process_with_its_code(ending, recorder):
    ending.attach(recorder.ask)
    send(signal.SIGTERM)
    assert recorder.next() == ("asked", 143)
    ending.finish()
    assert recorder.next() == ("exit", 143)


def test_finish_without_a_signal_does_nothing(ending, recorder):
    ending.finish()
    assert recorder.nothing_within(0.1)


def test_an_ignored_sighup_stays_ignored(recorder):
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        ending = Ending(exit=recorder.exit).install()
        try:
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        finally:
            ending.uninstall()
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_uninstall_gives_the_signals_and_the_wakeup_fd_back(recorder):
    before = {s: signal.getsignal(s) for s in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)}
    ending = Ending(exit=recorder.exit).install((signal.SIGHUP, signal.SIGTERM, signal.SIGINT))
    assert signal.getsignal(signal.SIGTERM) is not before[signal.SIGTERM]
    ending.uninstall()
    assert {s: signal.getsignal(s) for s in before} == before
    assert signal.set_wakeup_fd(-1) == -1  # and nobody's left set


def test_installed_blocks_nest_into_one_ending_and_hand_over_steps_aside():
    before = signal.getsignal(signal.SIGINT)
    term_before = signal.getsignal(signal.SIGTERM)
    with installed() as outer:
        assert signal.getsignal(signal.SIGINT) is before  # SIGINT only where asked for
        with installed(signal.SIGINT) as inner:
            assert inner is outer is current()
            assert signal.getsignal(signal.SIGINT) is not before
        hand_over()  # as `train` does: its own handlers from here
        assert current() is None
        assert signal.getsignal(signal.SIGINT) is before
        assert signal.getsignal(signal.SIGTERM) is term_before
