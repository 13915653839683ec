"""The one-line (two when narrow) run header: what runs where, how far, how fast."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from engine.events import Cause, RunState
from tui.dashboard.state import DashboardState
from tui.dashboard.system import system_text
from tui.widgets.text_lines import TextLines

STATE_STYLES = {
    RunState.LOADING: "bold cyan",
    RunState.RUNNING: "bold green",
    RunState.PAUSED: "bold yellow",
    RunState.STOPPED: "bold magenta",
    RunState.FINISHED: "bold blue",
    RunState.FAILED: "bold red",
}


# Causes that only repeat what the user just did: the state word says it all.
QUIET_CAUSES = (Cause.USER,)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def format_lr(lr: float | None) -> str:
    return "?" if lr is None else f"{lr:.3g}"


def header_text(state: DashboardState, now: float | None = None, *, compact: bool = False) -> Text:
    """The header as styled text, built from the state alone; compact fits 80 columns."""
    sep = ("  " if compact else " │ ", "dim")
    text = Text(no_wrap=False, overflow="fold")
    if state.watching:
        text.append("watching ", "dim")
        text.append(state.watching, "bold cyan")
        text.append(*sep)
    text.append(state.label or "?", "bold")
    if state.device:
        text.append(*sep)
        text.append(state.device)
        if state.device.startswith("cuda") and state.device_name:
            text.append(f" {state.device_name}", "dim")
    text.append(*sep)
    text.append(f"epoch {state.epoch}/{state.total_epochs}")
    text.append(*sep)
    words = (state.reason or "loading torch…") if state.run_state == RunState.LOADING else state.run_state.upper()
    text.append(words, STATE_STYLES.get(state.run_state, "bold"))
    if state.reason and state.run_state not in (RunState.LOADING, RunState.RUNNING) and state.cause not in QUIET_CAUSES:
        text.append(f" ({state.reason})", STATE_STYLES.get(state.run_state, ""))
    text.append(*sep)
    text.append(f"lr {format_lr(state.lr)}")
    rate = state.epochs_per_s
    text.append(*sep)
    text.append(f"{rate:.3g} ep/s" if rate else "-- ep/s")
    text.append(*sep)
    text.append(format_duration(state.elapsed(now)))
    text.append(" ETA ", "dim")
    text.append(format_duration(state.eta()))
    if state.system:
        text.append(*sep)
        text.append(system_text(state.system[-1]), "dim" if compact else "")
    return text


COMPACT_BELOW = 100  # columns


class RunHeader(TextLines, Widget):
    """Shows ``header_text`` for the dashboard state it is given."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.plain = ""
        self._text = Text()
        self._one_line = False

    def show(self, state: DashboardState, now: float | None = None) -> None:
        text = header_text(state, now, compact=0 < self.size.width < COMPACT_BELOW)
        self.plain = text.plain
        self._text = text
        # Redrawn each second: the screen is laid out again only when the header may change
        # height (it wraps to a second line when narrow), not for a clock that ticked.
        one_line = 0 < text.cell_len <= self.content_region.width
        self.refresh(layout=not (one_line and self._one_line))
        self._one_line = one_line

    def render(self) -> Text:
        return self._text
