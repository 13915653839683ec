"""Keep the memory torch frees for its next step, instead of handing it back to the kernel.

On CPU, oneDNN's LSTM asks for a fresh workspace on every training step (68 MB at seed-10k,
ten times that at seed-100k). glibc serves a block that big with its own mmap and unmaps it
on free, so every step faulted its pages in again: about 10,000 page faults per seed-10k
epoch, each zeroing a page. Served from one heap that is not trimmed, the block is reused:
seed-10k trained 1.3-1.7x faster here (see README, Measured).

This is process-wide and must run before any thread but the main one has allocated (glibc
fixes its arena limit then), so ``lstm-tui`` calls it first thing.
"""

from __future__ import annotations

import ctypes
import sys

# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
M_ARENA_MAX = -8
# Free memory at the top of the heap is given back beyond this; below it, kept for reuse.
KEPT_FREE_BYTES = 1 << 30

SETTINGS = (
    (M_ARENA_MAX, 1),  # one heap for every thread: a block too big for a thread's own arena
    # (64 MB) would otherwise be mmapped whatever M_MMAP_MAX says
    (M_MMAP_MAX, 0),  # big blocks come from that heap too, not from mmap
    (M_TRIM_THRESHOLD, KEPT_FREE_BYTES),
)


def _glibc() -> ctypes.CDLL | None:
    # glibc's own name, asked of the loader, and its own function: musl has neither. Not
    # platform.libc_ver() and ctypes.util.find_library: 25 ms of the dashboard's first frame.
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "gnu_get_libc_version") else None


def keep_freed_memory() -> bool:
    """Tune glibc's malloc as above; False where it is not glibc (macOS, musl) or refuses."""
    libc = _glibc()
    if libc is None:
        return False
    return all(libc.mallopt(option, value) == 1 for option, value in SETTINGS)


def release_free_memory() -> None:
    """Give free heap memory back to the kernel: a finished run's buffers are not reused soon."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
