"""The sweep screen's top line: the sweep, its trials done/running/queued, where they run, and
what the sweep is doing (running, stopping, done)."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Static

from tui.sweep.live import LiveSweep


def clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def phase(live: LiveSweep) -> tuple[str, str]:
    """(what the sweep is doing, in a few words, and its style)."""
    if live.error is not None:
        return f"the executor failed: {type(live.error).__name__}: {live.error}", "bold red"
    if live.killed:
        return "ending the workers…", "bold red"
    if live.stopping:
        return "stopping with checkpoints… (q again: end the workers now)", "bold yellow"
    if not live.ended:
        if live.runs_trials:
            # A worker's first trial waits for torch's import (seconds on a busy machine).
            return ("running" if live.seen_running else "starting the workers…"), "bold green"
        return f"followed (run by pid {live.sweep.runner_pid() or '?'})", "bold green"
    counts = live.counts()
    if counts["queued"] or counts["failed"]:
        return "ended with trials left: run it again to go on", "bold yellow"
    return "done", "bold cyan"


def header_text(live: LiveSweep, now: float, width: int) -> Text:
    counts = live.counts()
    size = live.grid.size
    what, style = phase(live)
    where = live.executor_name + (f" ×{live.workers}" if live.workers else "")
    parts = [f"{counts['done']}/{size} done", f"{counts['running']} running", f"{counts['queued']} queued"]
    if counts["failed"]:
        parts.append(f"{counts['failed']} failed")
    tail = Text(" · ".join(parts) + f" · {where} · {clock(now - live.started)} · ") + Text(what, style=style)
    # The directory is the first to give way (to its name, then altogether): the counts matter more.
    for name in (str(live.sweep.path), live.sweep.path.name):
        text = Text(f"sweep {name}", style="bold") + " · " + tail
        if text.cell_len <= width:
            return text
    return tail


class SweepHeader(Static):
    def show(self, live: LiveSweep) -> None:
        # The app's width: on the first frame the header has none of its own yet.
        self.update(header_text(live, time.time(), max(1, self.app.size.width - 2)))
