"""The dashboard's terminal driver (tui/dashboard/terminal.py): no write, and no close, waits for
ever on a terminal that hung up or stalled; SIGCONT resumes only what Ctrl+Z suspended."""

from __future__ import annotations

import errno
import signal
import threading
import time
from collections.abc import AsyncIterator

import pytest
from textual.drivers._writer_thread import MAX_QUEUED_WRITES, WriterThread
from textual.drivers.linux_driver import LinuxDriver

from tui.dashboard.terminal import CLOSE_WAIT_S, ENDING_WRITE_S, GuardedStream, TerminalDriver, TerminalLink

MANY = 3 * MAX_QUEUED_WRITES  # more writes than Textual's queue holds
HANG_S = 10.0  # only a hang (or a wait per write: MANY seconds) takes this long, on the busiest machine


class FakeTerminal:
    """The stream under Textual's writer thread: keeps what is written; can hang up (EIO) or
    stall (a write blocks until it flows again)."""

    def __init__(self) -> None:
        self.written: list[str] = []
        self.hung_up = False
        self.flowing = threading.Event()
        self.flowing.set()

    def write(self, text: str) -> int:
        self.flowing.wait()
        if self.hung_up:
            raise OSError(errno.EIO, "Input/output error")
        self.written.append(text)
        return len(text)

    def flush(self) -> None:
        if self.hung_up:
            raise OSError(errno.EIO, "Input/output error")

    def fileno(self) -> int:
        return 2


@pytest.fixture
def hang_ups() -> list[None]:
    return []


@pytest.fixture
async def driver(hang_ups: list[None]) -> AsyncIterator[TerminalDriver]:
    """A driver whose writer thread writes to a FakeTerminal, as start_application_mode sets it
    up (without taking over the real terminal)."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTSTP, signal.SIGCONT)}  # the driver sets both
    link = TerminalLink(on_hang_up=lambda: hang_ups.append(None))
    driver = TerminalDriver.bound(link)(object())  # type: ignore[arg-type]
    driver.terminal = FakeTerminal()
    driver._file.stream = driver.terminal  # under the driver's guard, in place of the real stderr
    driver._writer_thread = WriterThread(driver._file)
    driver._writer_thread.start()
    yield driver
    driver.terminal.flowing.set()
    driver.close()
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def timed(work) -> float:
    start = time.monotonic()
    work()
    return time.monotonic() - start


async def test_the_writer_writes_through_a_guard(driver):
    assert isinstance(driver._file, GuardedStream)


async def test_writes_reach_the_terminal_through_the_writer(driver):
    driver.write("one ")
    driver.write("two")
    driver.close()
    assert "".join(driver.terminal.written) == "one two"


async def test_writes_to_a_terminal_that_hung_up_are_dropped_and_the_hang_up_is_told_once(driver, hang_ups):
    driver.terminal.hung_up = True
    took = timed(lambda: [driver.write("frame") for _ in range(MANY)])
    assert took < HANG_S
    assert driver.link.closed and hang_ups == [None]
    assert driver._writer_thread.is_alive()  # Textual's own writer would have died on the EIO


async def test_writes_after_the_writer_ended_return_at_once(driver):
    driver.close()
    assert timed(lambda: [driver.write("frame") for _ in range(MANY)]) < HANG_S


async def test_once_ending_writes_wait_on_a_stalled_terminal_at_most_the_ending_budget(driver):
    driver.terminal.flowing.clear()  # a frozen link: the writer blocks inside write()
    driver.link.ending()
    took = timed(lambda: [driver.write("frame") for _ in range(MANY)])
    assert ENDING_WRITE_S <= took < ENDING_WRITE_S + HANG_S  # the budget in all, not one a write
    assert driver.link.closed  # later writes do not wait at all


async def test_close_waits_a_bounded_time_for_a_writer_stuck_on_the_terminal(driver):
    driver.terminal.flowing.clear()
    driver.write("frame")
    assert timed(driver.close) < CLOSE_WAIT_S + HANG_S


async def test_a_sigcont_that_came_with_a_hang_up_does_not_start_application_mode_again(driver, monkeypatch):
    started: list[bool] = []
    monkeypatch.setattr(driver, "start_application_mode", lambda: started.append(True))
    driver._sigcont_application()  # the kernel sends SIGCONT with every hang-up's SIGHUP
    assert started == []


async def test_a_sigcont_after_ctrl_z_resumes_application_mode(driver, monkeypatch):
    started: list[bool] = []
    monkeypatch.setattr(driver, "stop_application_mode", lambda: None)
    monkeypatch.setattr(driver, "start_application_mode", lambda: started.append(True))
    driver.suspend_application_mode()  # what Ctrl+Z (SIGTSTP) does before stopping the process
    driver._sigcont_application()
    assert started == [True]


async def test_a_failed_read_is_a_hang_up_and_not_a_panic(driver, hang_ups, monkeypatch):
    def read_a_hung_up_terminal(self: LinuxDriver) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(LinuxDriver, "run_input_thread", read_a_hung_up_terminal)
    driver.run_input_thread()
    assert hang_ups == [None]


async def test_input_ends_once_the_terminal_is_gone(driver):
    assert not driver.exit_event.is_set()
    driver.link.hang_up()
    assert driver.exit_event.is_set()  # Textual's input thread would spin on the dead terminal's EOF
