"""A disk a test fills and frees, for runs written under tmp_path (a real one needs root: see
tests/tui/test_full_disk_front_ends.py)."""

from __future__ import annotations

import errno
import os
from typing import Any

import pytest
import torch

import engine.rundir.log

NO_SPACE = os.strerror(errno.ENOSPC)


class FullDisk:
    """While ``log_full``, the run log's writes fail with ENOSPC, the first one part-way (as the
    kernel writes what fits, then refuses the rest); while ``checkpoint_full``, torch.save writes
    part of the file and raises what it raises on a full disk, a RuntimeError with the OSError
    as its context."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.log_full = False
        self.checkpoint_full = False
        self._short = True
        real_write, real_save = os.write, torch.save
        disk = self

        class LogOs:  # engine.rundir.log's os module, its write() on this disk
            def __getattr__(self, name: str) -> Any:
                return getattr(os, name)

            @staticmethod
            def write(fd: int, data: bytes) -> int:
                if not disk.log_full:
                    return real_write(fd, data)
                if disk._short and len(data) > 1:
                    disk._short = False
                    return real_write(fd, bytes(data[: len(data) // 2]))
                raise OSError(errno.ENOSPC, NO_SPACE)

        def save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
            if not disk.checkpoint_full:
                return real_save(obj, f, *args, **kwargs)
            f.write(b"PK\x03\x04 the first part of a checkpoint")
            try:
                raise OSError(errno.ENOSPC, NO_SPACE)
            except OSError:
                raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598") from None

        monkeypatch.setattr(engine.rundir.log, "os", LogOs())
        monkeypatch.setattr(torch, "save", save)

    def fill(self) -> None:
        self.log_full = self.checkpoint_full = True
        self._short = True

    def free(self) -> None:
        self.log_full = self.checkpoint_full = False
