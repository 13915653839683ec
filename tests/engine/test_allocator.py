"""A big block that a training thread frees is reused, not faulted in again on the next step."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

from engine import allocator

ROOT = Path(__file__).resolve().parents[2]
GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")

# Five steps on a fresh thread, each allocating and filling a block the size of oneDNN's
# seed-10k LSTM workspace (68 MB) with malloc, as torch's CPU allocator does, then freeing
# it: the most page faults of steps 2-5. (Not numpy: it asks for huge pages, which hide this.)
STEPS = """
import ctypes, ctypes.util, resource, sys, threading
from engine.allocator import keep_freed_memory
if sys.argv[1] == "tuned":
    assert keep_freed_memory()
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
SIZE = 68 * 2**20
faults = []
def steps():
    for _ in range(5):
        before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
        block = libc.malloc(SIZE)
        ctypes.memset(block, 1, SIZE)
        libc.free(block)
        faults.append(resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before)
thread = threading.Thread(target=steps)
thread.start()
thread.join()
print(max(faults[1:]))
"""


def _faults_per_step(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", STEPS, mode], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(not GLIBC, reason="tunes glibc's malloc")
def test_a_freed_68_mb_block_is_reused_by_the_next_step_without_page_faults():
    assert _faults_per_step("tuned") < 500  # a 68 MB block is 17,408 pages


@pytest.mark.skipif(not GLIBC, reason="tunes glibc's malloc")
@pytest.mark.skipif(THP.exists() and "[always]" in THP.read_text(), reason="huge pages hide the faults")
def test_without_it_every_step_faults_the_whole_block_in_again():
    assert _faults_per_step("default") > 10_000


class MuslLibc:
    """A C library with mallopt but not glibc's own gnu_get_libc_version."""

    def mallopt(self, option: int, value: int) -> int:
        raise AssertionError("glibc's mallopt options asked of another malloc")


def _no_libc_so_6(name: str) -> None:
    raise OSError(f"{name}: cannot open shared object file")


@pytest.mark.parametrize("loader", [lambda name: MuslLibc(), _no_libc_so_6], ids=["musl", "no libc.so.6"])
def test_it_is_a_no_op_where_malloc_is_not_glibcs(monkeypatch, loader):
    monkeypatch.setattr(allocator.ctypes, "CDLL", loader)
    assert allocator.keep_freed_memory() is False
    allocator.release_free_memory()  # nothing to release, and no error


def test_lstm_tui_tunes_the_allocator_before_anything_else(monkeypatch, capsys):
    from tui.cli import main as cli

    calls = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append("tuned"))
    monkeypatch.setattr(cli, "build_parser", lambda command: calls.append("parser") or cli.argparse.ArgumentParser())
    with pytest.raises(SystemExit):
        cli.main(["--no-such-flag"])
    assert calls[:2] == ["tuned", "parser"]
