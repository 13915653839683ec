"""Asks before quitting stops the sweep's running trials."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label


class StopConfirm(ModalScreen[bool]):
    """Dismisses with True to stop the trials and quit, False to stay."""

    BINDINGS = [
        Binding("y", "answer(True)", "Stop and quit",
                tooltip="Stop every trial with a checkpoint, then quit"),
        Binding("n,escape", "answer(False)", "Stay", tooltip="Keep the sweep running"),
    ]

    def __init__(self, running: int, queued: int) -> None:
        super().__init__()
        self.running = running
        self.queued = queued

    def compose(self) -> ComposeResult:
        trials = f"{self.running} trial{'s' * (self.running != 1)} running"
        if self.queued:
            trials += f", {self.queued} queued"
        with Vertical(id="stop-dialog", classes="dialog"):
            yield Label(f"The sweep is running ({trials}). Stop every trial with a checkpoint and quit? "
                        "The same command resumes them.", id="stop-question")
            with Horizontal(classes="buttons"):
                yield Button("Stop and quit (y)", variant="error", id="stop-yes")
                yield Button("Stay (n)", variant="primary", id="stop-no")

    def on_mount(self) -> None:
        self.query_one("#stop-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "stop-yes")

    def action_answer(self, stop: bool) -> None:
        self.dismiss(stop)
