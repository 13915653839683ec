"""`lstm-tui train`: the Session with Rich progress on the terminal instead of the dashboard.

A headless run is meant to outlive the terminal it started in:
  * SIGHUP (the SSH link dropped) is survived: training goes on, and progress stops going to
    the dead terminal. Its output is the run directory (events.jsonl, checkpoint.pt).
  * A write to a hung-up terminal (EIO) or a closed pipe (EPIPE) mutes that stream for good
    instead of raising, so no terminal error ever stops the run.
  * Ctrl+C (SIGINT) and SIGTERM stop it cleanly: final checkpoint, complete log; exit status
    130 and 143 (128 + the signal, as a shell reports a process killed by it).
  * A write to the run directory that fails (a full disk) pauses the run, said in one line;
    once there is space, a resume in the command file (`lstm-tui watch DIR`, then space) goes
    on, or Ctrl+C now and `lstm-tui train --resume DIR` later start from the last checkpoint.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from engine.config import MODEL_TITLES, RunConfig
from engine.events import FINAL_STATES, Alert, Cause, Event, RunFailed, RunStarted, RunState, RunStateChanged
from engine.history import RunHistory
from engine.rundir.directory import CheckpointCadence, RunDirectory
from tui.class_labels import short_labels
from tui.cli.ending import mute_fds, terminal_fds
from tui.reference_lines import against_baselines, baselines_text, verdict

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
BAR_WIDTH = 16
# The progress line's cells besides the run's label, the epoch count, the speed and the losses:
# the bar, the time left (0:00:00) and the gaps between its six columns.
PROGRESS_FIXED = BAR_WIDTH + len("0:00:00") + 5
# The final table's probabilities: of up to ONE_LINE classes, on one line by short label ('S 0.55
# R 0.45 C 0.00'); of more, a line per class by name, up to EVERY_CLASS classes, else the
# likeliest few and how many were left out. Never a line break inside a class's figure.
ONE_LINE, EVERY_CLASS, LIKELIEST = 3, 6, 3


class QuietStream:
    """A text stream that goes quiet for good once writing to it fails (EIO, EPIPE)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.quiet = False

    def write(self, text: str) -> int:
        if not self.quiet:
            try:
                return self.stream.write(text)
            except (OSError, ValueError):  # ValueError: the stream was closed
                self.mute()
        return len(text)

    def flush(self) -> None:
        if not self.quiet:
            try:
                self.stream.flush()
            except (OSError, ValueError):
                self.mute()

    def mute(self) -> None:
        self.quiet = True
        with contextlib.suppress(OSError, ValueError):
            mute_fds([self.stream.fileno()])  # so the interpreter's flush at exit succeeds too

    def isatty(self) -> bool:
        return not self.quiet and self.stream.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


@dataclass(frozen=True)
class StopSignal:
    """SIGINT or SIGTERM arrived: a note for the main loop, queued with the engine's events."""

    signum: int

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class RunSignals:
    """While entered (on the main thread): SIGINT and SIGTERM queue a StopSignal, SIGHUP mutes
    the terminal and training goes on. A handler only queues (SimpleQueue.put is safe in a
    signal handler), so a signal never interrupts the final checkpoint or the log's last lines.
    A SIGHUP already ignored (nohup) stays ignored.
    """

    def __init__(self, inbox: queue.SimpleQueue[Any], streams: list[QuietStream]) -> None:
        self.inbox = inbox
        self.streams = streams
        self._previous: dict[int, Any] = {}
        self._ttys: list[int] = []

    def __enter__(self) -> RunSignals:
        if threading.current_thread() is not threading.main_thread():
            return self  # only the main thread may set handlers (a test calling us from a thread)
        self._ttys = terminal_fds()
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._stop)
        if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
            self._previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, self._hang_up)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _stop(self, signum: int, frame: object) -> None:
        self.inbox.put(StopSignal(signum))

    def _hang_up(self, signum: int, frame: object) -> None:
        for stream in self.streams:
            with contextlib.suppress(OSError, ValueError):
                if stream.stream.fileno() in self._ttys:
                    stream.quiet = True
        mute_fds(self._ttys)


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def model_title(model: str) -> str:
    """What every screen calls ``model`` (engine.config.MODEL_TITLES; a crafted log's unknown
    name as it is spelt)."""
    return MODEL_TITLES.get(model, model.upper())


def probabilities_text(classes: tuple[str, ...], probabilities: list[float]) -> str:
    """A prediction's probabilities for the final table (see ONE_LINE)."""
    if len(probabilities) <= ONE_LINE:
        return " ".join(f"{label} {q:.2f}" for label, q in zip(short_labels(classes, 2), probabilities))
    shown = range(len(probabilities)) if len(probabilities) <= EVERY_CLASS else \
        sorted(range(len(probabilities)), key=lambda i: -probabilities[i])[:LIKELIEST]
    lines = [f"{classes[i] if i < len(classes) else '?'} {probabilities[i]:.2f}" for i in shown]
    if len(lines) < len(probabilities):
        lines.append(f"+{len(probabilities) - len(lines)} more")
    return "\n".join(lines)


class HeadlessRun(RunHistory):
    """The run's history (engine.history), and its pace: what the progress line and the final
    table show."""

    def __init__(self, config: RunConfig) -> None:
        super().__init__(config, curves=False)
        self.first_epoch = 0
        self.first_epoch_at: float | None = None

    def apply(self, event: Event) -> None:
        before = self.epoch
        super().apply(event)
        if self.epoch > before and self.first_epoch_at is None:
            self.first_epoch, self.first_epoch_at = self.epoch, time.perf_counter()

    def losses(self, room: int | None = None) -> str:
        """Each model's last train/validation loss, in the run's order, as fully as ``room``
        cells allow: four decimals; else three; else the validation losses alone (three
        models on an 80-column terminal)."""
        done = [(model_title(name), model) for name, model in self.models.items() if model.train_loss is not None]
        if not done:
            return ""
        forms = ["  ".join(f"{t} {m.train_loss:.4f}/{_fmt(m.val_loss)}" for t, m in done),
                 " ".join(f"{t} {m.train_loss:.3f}/{_fmt(m.val_loss, 3)}" for t, m in done)]
        if all(m.val_loss is not None for _, m in done):
            forms.append("val " + " ".join(f"{t} {_fmt(m.val_loss, 3)}" for t, m in done))
        return next((form for form in forms if room is None or cell_len(form) <= room), forms[-1])

    def progress_room(self, width: int, speed: str) -> int:
        """The cells a progress line ``width`` wide leaves for the losses."""
        total = self.total_epochs
        return width - PROGRESS_FIXED - cell_len(self.label) - len(f"{total}/{total}") - cell_len(speed)

    def epochs_per_s(self) -> str:
        if self.first_epoch_at is None or self.epoch < self.first_epoch + 1:
            return ""
        elapsed = max(time.perf_counter() - self.first_epoch_at, 1e-9)
        return f"{(self.epoch - self.first_epoch) / elapsed:.1f} ep/s"

    @property
    def against_baselines(self) -> bool:
        return against_baselines(self)

    def title(self) -> str:
        said = f"{self.label}: {self.run_state} after {self.epoch} epochs"
        if self.against_baselines:
            return said  # the lines under the table have the baselines, chance among them (report)
        chance, best = (self.chance_loss, self.best_loss) if self.runs else (None, None)
        return f"{said} (chance {_fmt(chance)}, best achievable {_fmt(best)} nats)"

    def rows(self) -> list[tuple[str, ...]]:
        """The final table's rows: model, train loss, val loss, val acc, prediction, probabilities."""
        rows = []
        for name, model in self.models.items():
            prediction = probs = "-"
            if (p := model.prediction) is not None:
                truth = f" (true {self.class_name(p.true)})" if p.true is not None else ""
                prediction = self.class_name(p.predicted) + truth
                probs = probabilities_text(self.classes, p.probabilities)
            rows.append((model_title(name), _fmt(model.train_loss), _fmt(model.val_loss),
                         "-" if model.val_acc is None else _fmt(model.val_acc, 3), prediction, probs))
        return rows

    def verdicts(self) -> str:
        """Which baseline each model's validation loss is under, in a line: 'LSTM under Markov
        order 2, RNN above every baseline'."""
        return ", ".join(f"{model_title(name)} {verdict(model.val_loss, self.baselines)}"
                         for name, model in self.models.items())

    def table(self) -> Table:
        table, rows = Table(title=self.title()), self.rows()
        table.caption = "losses: train/validation cross-entropy, nats"
        for column in ("model", "train loss", "val loss", "val acc", "prediction", "probabilities"):
            # A class's figure stays whole; a narrow terminal wraps the headers instead.
            table.add_column(column, justify="left" if column in ("model", "prediction") else "right",
                             no_wrap=column == "probabilities" and any("\n" in row[-1] for row in rows))
        for row in rows:
            table.add_row(*row)
        return table

    def report(self) -> RenderableType:
        """What the run ends with: the table, and for a csv run the baselines and which one each
        model's validation loss is under. Lines of their own under the table, not a column of it:
        they wrap at any width, where another column would squeeze the rest on 80 columns."""
        if not self.against_baselines:
            return self.table()
        return Group(self.table(), Text(f"baselines on the validation split, nats: {baselines_text(self.baselines)}"),
                     Text(f"validation loss: {self.verdicts()}"))


def run_headless(
    config: RunConfig,
    *,
    run_dir: Path | None = None,
    resume: dict[str, Any] | None = None,
    cadence: CheckpointCadence | None = None,
    console: Console | None = None,
) -> int:
    """Train to the end (or a stop) with progress on stdout; the exit status.

    ``run_dir``: the run's directory; the Session writes its log and checkpoints there and
    obeys its command file. ``resume``: a checkpoint of that run to continue from
    (RunDirectory.load_resume).
    """
    from engine.session import Session

    out = QuietStream(sys.stdout)
    console = console or Console(file=out)  # type: ignore[arg-type]
    inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()  # engine events and stop signals
    writer = RunDirectory(run_dir).open_writer(config, resume=resume is not None, cadence=cadence) \
        if run_dir else None
    run = HeadlessRun(config)
    session = Session(config, [inbox.put], run=writer, resume=resume)
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(bar_width=BAR_WIDTH), MofNCompleteColumn(),
        TextColumn("{task.fields[losses]}"), TextColumn("{task.fields[speed]}"), TimeRemainingColumn(),
        console=console, transient=False,
    )
    exit_code = 0
    with RunSignals(inbox, [out]):
        session.start()
        try:
            with progress:
                task = progress.add_task(config.label, total=config.epochs, losses="loading…", speed="")
                while run.run_state not in FINAL_STATES:
                    try:
                        event = inbox.get(timeout=0.5)
                    except queue.Empty:
                        continue
                    if isinstance(event, StopSignal):
                        name = signal.Signals(event.signum).name
                        session.stop(Cause.SIGNAL, name)
                        progress.console.print(f"[yellow]{name}: stopping cleanly…[/]")
                        exit_code = event.exit_code
                        break
                    run.apply(event)
                    exit_code = _report(event, run, session, progress) or exit_code
                    speed = run.epochs_per_s()
                    losses = run.losses(run.progress_room(console.width, speed))
                    progress.update(task, completed=run.epoch, losses=losses, speed=speed)
        finally:
            # The worker writes the final checkpoint and its last events, then the log is closed.
            session.close(timeout=10)
    # Drain what arrived after the loop so the table shows the final numbers.
    while not inbox.empty():
        if not isinstance(event := inbox.get(), StopSignal):
            run.apply(event)
    console.print(run.report())
    if run_dir:
        console.print(f"run directory: {run_dir} (continue it with: lstm-tui train --resume {run_dir})",
                      soft_wrap=True)
    return exit_code


def _report(event: Event, run: HeadlessRun, session: Any, progress: Progress) -> int:
    """Print what the progress bar cannot show; the exit status it implies (1: failed), or 0."""
    if isinstance(event, Alert):
        # One line however long (a failed write names its file and the space left), as written.
        progress.console.print(f"[yellow]{event.level}:[/] {escape(event.message)}", soft_wrap=True)
    elif isinstance(event, RunStateChanged) and event.state == RunState.PAUSED and event.cause == Cause.NON_FINITE:
        # Headless has no keyboard to resume: a run paused by a bad loss would hang forever.
        session.stop(Cause.NON_FINITE)
        return 1
    elif isinstance(event, RunFailed):
        progress.console.print(f"[red]run failed:[/] {event.message}")
        return 1
    elif isinstance(event, RunStarted):
        resumed = f"resumed after epoch {event.resumed_from_epoch}; " if event.resumed_from_epoch else ""
        progress.console.print(
            f"{resumed}{event.device_name} ({event.device}): {event.train_windows:,} training and "
            f"{event.val_windows:,} validation windows, {event.batches_per_epoch} batch(es) "
            f"per epoch" + (f" in {event.chunks_per_batch} chunks" if event.chunks_per_batch > 1 else "")
        )
        if run.against_baselines:  # what the validation losses on the progress line are up against
            progress.console.print(f"{len(run.classes)} classes; baselines (validation loss, nats): "
                                   f"{baselines_text(run.baselines, 3)}", soft_wrap=True)
    return 0
