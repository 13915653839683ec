"""The dashboard: both models side by side while a Session trains them.

Nothing here imports torch at module level: the first frame shows while a worker thread
imports the engine's session (and with it torch), then starts the run.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.worker import get_current_worker

from engine.config import RunConfig, from_preset
from engine.events import Alert, Event, RunFailed, RunFinished, RunStarted, State
from tui.dashboard.prefs import Prefs, save_prefs
from tui.dashboard.screen import DashboardScreen
from tui.dashboard.state import MODELS, SMOOTHING_WEIGHTS, DashboardState
from tui.screens.config_form import ConfigForm
from tui.screens.help import HelpScreen
from tui.screens.quit_confirm import QuitConfirm
from tui.widgets.footer import KeyFooter
from tui.widgets.gate_heatmap import LSTM_VIEWS, GatePanel
from tui.widgets.gradient_flow import GradientFlowChart
from tui.widgets.gradient_history import GradientHistory
from tui.widgets.header import RunHeader
from tui.widgets.loss_chart import X_MODES, LossChart
from tui.widgets.prediction import PredictionPanel
from tui.widgets.system_pane import SystemPane

if TYPE_CHECKING:
    from engine.rundir.log import CheckpointCadence, RunLog
    from engine.session import Session

TITLES = {"lstm": "LSTM", "rnn": "RNN"}
ALERT_SEVERITY = {"info": "information", "warning": "warning", "error": "error"}
SLOWEST_REDRAW_S = 2.0
# Python hands the GIL over every 5 ms by default: a 40 ms chart build would then stall the
# training thread between every pair of torch ops. 1 ms lets both threads through.
GIL_SWITCH_INTERVAL_S = 0.001
GC_THRESHOLDS = (5_000, 10, 10)  # CPython's default is (700, 10, 10)
SCREEN_FILE = "screen.svg"  # what `e` writes beside metrics.csv
WATCH_POLL_S = 0.25  # how often a watcher looks for new lines in the run's log
MAX_PULSE_S = 0.25  # engine events wait at most this long to be folded, however slow the redraws


def ui_cpu_share(cores: int | None = None) -> float:
    """The share of one core the UI thread may use for drawing: 2 % per core of the box.

    Every frame takes its CPU from training on a box whose cores training keeps busy, and can
    cost it more than its own time (an OpenMP thread preempted mid-op holds up its partner at
    the next barrier). On 2 cores (4 %) the dashboard took about 10 % off training; halving
    that budget made no difference measurable through the noise, and slowed the charts. A
    bigger box has room to spare, so its charts refresh faster.
    """
    cores = cores or os.cpu_count() or 1
    return min(0.25, 0.02 * cores)


AUTOGROUP_SWITCH = Path("/proc/sys/kernel/sched_autogroup_enabled")


def training_niceness(switch: Path = AUTOGROUP_SWITCH) -> int:
    """How far below the UI thread the training threads run.

    They yield the CPU to the UI whenever it has work, so keys stay quick on a box whose
    cores training keeps busy (the UI's CPU budget keeps that work small). With the kernel's
    autogroups (most distributions) a niceness only ranks threads within this terminal
    session, so training keeps its full share against the rest of the box; without them,
    nice 19 would let any other user's process starve training, so it is milder.
    """
    try:
        autogroups = switch.read_text().strip() == "1"
    except OSError:
        autogroups = False
    return 19 if autogroups else 5


class EngineEvent(Message):
    """One engine event (tests and other sources post these directly)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


def _b(key: str, action: str, short: str, long: str, *, show: bool = True, display: str | None = None) -> Binding:
    """A binding with a short footer label and a full description for help and the palette."""
    return Binding(key, action, short, show=show, key_display=display, tooltip=long)


class DashboardApp(App[int]):
    """Runs one Session and shows the LSTM and the RNN side by side."""

    CSS_PATH = "app.tcss"
    TITLE = "lstm-tui"
    # The first panel, named: in a real terminal Textual's "first focusable widget" could land
    # on the LSTM heatmap, and on a short terminal the view then opened scrolled past the charts.
    AUTO_FOCUS = "#loss-lstm"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-tiny"), (20, "-short"), (34, "-tall")]
    BINDINGS = [
        _b("space", "toggle_pause", "Pause", "Pause or resume training"),
        _b("n", "step", "Step", "Train one epoch, then pause"),
        _b("s", "stop", "Stop", "Stop the run", show=False),
        _b("r", "restart", "Restart", "Restart the run from epoch 0"),
        _b("left_square_bracket", "scale_lr(0.5)", "lr÷2", "Halve the learning rate", show=False, display="["),
        _b("right_square_bracket", "scale_lr(2.0)", "lr×2", "Double the learning rate", show=False,
           display="]"),
        _b("c", "configure", "Config", "Configure the run and restart it"),
        _b("1", "preset('seed-10k')", "seed-10k", "Restart with the seed-10k preset", show=False),
        _b("2", "preset('seed-50k')", "seed-50k", "Restart with the seed-50k preset", show=False),
        _b("3", "preset('seed-100k')", "seed-100k", "Restart with the seed-100k preset", show=False),
        _b("4", "preset('echo')", "echo", "Restart with the echo task preset", show=False),
        _b("g", "cycle_gate", "Gate", "Show the LSTM's next gate: i, f, g, o, then cell c and hidden h"),
        _b("l", "toggle_log", "Log", "Toggle a log scale on the loss charts"),
        _b("x", "cycle_x_axis", "X axis", "Loss charts' x axis: epoch, wall-clock time, time since start",
           show=False),
        _b("y", "toggle_system", "System", "Show or hide the system pane: CPU, memory and GPU over time",
           show=False),
        _b("m", "cycle_smoothing", "Smooth", "Smooth the loss curves: off, EMA 0.6, 0.9, 0.99", show=False),
        _b("z", "zoom", "Zoom", "Zoom the focused panel to full screen and back", show=False),
        _b("e", "export", "Export", "Save metrics.csv and an SVG of the screen in the run directory",
           show=False),
        _b("question_mark", "help", "Help", "Show every key", display="?"),
        _b("q", "quit", "Quit", "Quit (asks while a run is active)"),
    ]

    def __init__(
        self,
        config: RunConfig,
        *,
        refresh_hz: float = 10.0,
        run_dir: Path | None = None,
        start: bool = True,
        resume: dict[str, Any] | None = None,
        cadence: CheckpointCadence | None = None,
        watch: Path | None = None,
        prefs: Prefs | None = None,
        prefs_file: Path | None = None,
        prefs_warnings: Sequence[str] = (),
        ascii_only: bool = False,
    ) -> None:
        """``run_dir``: the run's directory (log, checkpoints, command file); ``resume``: a
        checkpoint of that run to continue from; ``cadence``: when to checkpoint besides
        every pause, stop, finish and quit; ``watch``: instead of training, show the run in
        that directory from its log, and steer it through its command file; ``prefs``: the
        display settings to start with, saved to ``prefs_file`` (if any) when they change;
        ``ascii_only``: nothing outside ASCII reaches the terminal (tui/ascii.py)."""
        super().__init__()
        self.ascii_only = ascii_only
        if ascii_only:
            from tui.ascii import AsciiFilter

            self._filters.append(AsciiFilter())
        self._skipped_lines: list[str] = list(prefs_warnings)  # notices for once the screen is up
        self.config = config
        self.refresh_hz = max(0.5, float(refresh_hz))
        self.start_engine = start
        self.state = DashboardState(config)
        self.session: Session | None = None
        self.runlog: RunLog | None = None
        self.prefs = prefs or Prefs()
        self.log_scale = self.prefs.log_scale
        self.prefs_file = prefs_file
        self._prefs_applied = False  # until mounted: setting the saved theme is not a change
        self.smoothing = self.prefs.smoothing
        self.x_mode = self.prefs.x_axis
        self.cursor_epoch: int | None = None  # the loss charts' shared cursor; None: not shown
        self.cursor_follow = False  # on the last epoch, moving with each new one
        self.x_zoom: tuple[float, float] | None = None  # epochs shown by both loss charts
        self.redraw_interval = 1 / self.refresh_hz  # paced between 1/refresh_hz and SLOWEST_REDRAW_S
        self.ui_share = ui_cpu_share()
        self._cpu_mark = (time.perf_counter(), time.thread_time())  # reset at mount
        self._switch_interval = sys.getswitchinterval()  # restored at unmount
        self._gc_thresholds = gc.get_threshold()
        self._drawn: dict[str, int] = {}
        self._header_second = -1
        self._header_run_state: tuple[str, str] = ("", "")  # what the header last showed
        self._lock = threading.Lock()  # orders engine start-up against shutdown
        self._shutting_down = False
        self._closed_session: Session | None = None
        self._inbox: deque[Event] = deque()  # filled by the engine's thread, drained each pulse
        self.pulse_s = min(1 / self.refresh_hz, MAX_PULSE_S)
        self._next_redraw = 0.0
        self._session_options: dict[str, Any] = {}
        if run_dir is not None and resume is not None:
            from engine.rundir.log import EVENTS_FILE, RunDirError, read_events

            # The run so far, so a resumed run's charts go on from where they were.
            log = run_dir / EVENTS_FILE
            try:
                self.state.apply_all(read_events(log, on_skip=self._note_skipped))
            except FileNotFoundError:  # as `train --resume`: the log starts over, the checkpoint holds
                self._skipped_lines.append(f"{log} is missing: the resumed run starts a new log")
            except OSError as exc:
                raise RunDirError(f"cannot read {log}: {exc.strerror or exc}") from None
        if run_dir is not None:
            from engine.rundir.log import RunLog  # torch-free; raises RunDirError for a bad directory

            self.runlog = RunLog(run_dir, config, resume=resume is not None)
            self._session_options = dict(run_dir=run_dir, cadence=cadence, resume=resume)
        self.watch_dir = watch
        self.watch_status = ""
        if watch is not None:
            self.start_engine = False
            self.state.watching = str(watch)
            self.state.reason = "reading the run's log…"
        elif not start:
            self.state.run_state, self.state.reason = "stopped", "not started"

    # -- layout ---------------------------------------------------------------------------------

    def get_default_screen(self) -> Screen:
        return DashboardScreen(id="_default")

    def compose(self) -> ComposeResult:
        yield RunHeader(id="header")
        yield SystemPane(id="system")
        # Scrolls only when the terminal is too short for every panel at its least height;
        # moving focus (tab) brings the focused panel into view.
        with VerticalScroll(id="main", can_focus=False):
            with Horizontal(id="columns"):
                for model in MODELS:
                    with Vertical(id=f"column-{model}", classes="column"):
                        with Horizontal(classes="losses"):
                            yield LossChart(model, TITLES[model], id=f"loss-{model}")
                            yield PredictionPanel(model, f"{TITLES[model]} prediction", id=f"prediction-{model}")
                        yield GatePanel(model, TITLES[model], id=f"gates-{model}")
            with Horizontal(id="gradients"):
                yield GradientFlowChart(id="gradient-flow")
                yield GradientHistory(id="gradient-history")
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        # Kept by reference: while a dialog is open, app-level queries would search the dialog.
        self.header = self.query_one(RunHeader)
        self.charts = {model: self.query_one(f"#loss-{model}", LossChart) for model in MODELS}
        self.predictions = {model: self.query_one(f"#prediction-{model}", PredictionPanel) for model in MODELS}
        self.gates = {model: self.query_one(f"#gates-{model}", GatePanel) for model in MODELS}
        self.gradient_flow = self.query_one(GradientFlowChart)
        self.gradient_history = self.query_one(GradientHistory)
        self.system_pane = self.query_one(SystemPane)
        self._apply_prefs()
        self._sample_system()
        self._redraw(force=True)
        self._cpu_mark = (time.perf_counter(), time.thread_time())  # start-up is not a frame
        self._next_redraw = time.perf_counter() + self.redraw_interval
        self.pulse_timer = self.set_interval(self.pulse_s, self._pulse)
        for note in self._skipped_lines:
            self.notify(note, title="Run log", severity="warning")
        if self.start_engine:
            self._start_engine()
        elif self.watch_dir is not None:
            self._follow_run(self.watch_dir)

    # -- the engine -----------------------------------------------------------------------------

    def _receive(self, event: Event) -> None:
        """The Session's inline sink, called on the training thread: the event waits in the inbox.

        No message per event: each would wake the UI thread, which then takes a core and the
        GIL from training (tens of times a second, however little it draws). The UI folds the
        inbox on its own pulse instead, and a run of millisecond epochs cannot flood it. An
        append returns at once, so it needs no delivery thread of its own (and its wake-ups).
        """
        self._inbox.append(event)

    def _drain_inbox(self) -> None:
        inbox = self._inbox
        while inbox:
            self._handle(inbox.popleft())

    def _sinks(self) -> list[Callable[[Event], None]]:
        """The sinks that get a delivery thread each (the inbox is fed inline, by ``_receive``)."""
        sinks: list[Callable[[Event], None]] = []
        if self.runlog is not None:
            sinks.append(self.runlog)
        return sinks

    @work(thread=True, exclusive=True, group="engine", exit_on_error=False)
    def _start_engine(self) -> None:
        try:
            from engine.session import Session  # imports torch, which takes seconds

            # torch and Textual leave ~1M long-lived objects; a full collection walking them
            # took 80-260 ms here, stalling keys. Frozen, they are no longer walked; and
            # younger collections less often (drawing makes many short-lived objects) keep
            # the rest short.
            gc.freeze()
            gc.set_threshold(*GC_THRESHOLDS)
        except Exception as exc:  # a broken install shows in the header, not as a traceback
            self.post_message(EngineEvent(RunFailed(message=f"cannot load the engine: {exc}", traceback="")))
            return
        with self._lock:
            if self._shutting_down:
                return
            self.session = Session(
                self.config, self._sinks(), niceness=training_niceness(), inline_sinks=[self._receive],
                **self._session_options
            ).start()

    @work(thread=True, exclusive=True, group="watch", exit_on_error=False)
    def _follow_run(self, run_dir: Path) -> None:
        """Replay the watched run's log at once, then follow it as it grows."""
        from engine.rundir.commands import run_status
        from engine.rundir.follow import LogFollower
        from engine.rundir.log import EVENTS_FILE, RunDirError

        worker = get_current_worker()
        follower = LogFollower(run_dir / EVENTS_FILE, on_skip=self._log_line_skipped)
        told = ""
        while not worker.is_cancelled:
            try:
                events = follower.read()
            except RunDirError as exc:  # the log cannot be read: say so, and stop following
                with suppress(RuntimeError):
                    self.call_from_thread(self.notify, str(exc), title="Run log", severity="error", timeout=30)
                return
            for event in events:
                self._receive(event)
            if not events:
                try:
                    status = run_status(run_dir)
                except RunDirError as exc:
                    status = str(exc)
                if status != "live":
                    follower.finish()
                if status != told:
                    told = status
                    with suppress(RuntimeError):  # the app is closing
                        self.call_from_thread(self._watched_status, status)
            time.sleep(WATCH_POLL_S)

    def _note_skipped(self, line: int, why: str) -> None:
        self._skipped_lines.append(f"events.jsonl line {line} skipped: {why}")

    def _log_line_skipped(self, line: int, why: str) -> None:
        with suppress(RuntimeError):  # the app is closing
            self.call_from_thread(self.notify, f"events.jsonl line {line} skipped: {why}", title="Run log",
                                  severity="warning")

    def _watched_status(self, status: str) -> None:
        """What the run directory says beyond its log: nobody trains a run whose log ends mid-run."""
        self._drain_inbox()  # the log's events, read before this status, come first
        self.watch_status = status
        state = self.state
        if state.run_state == "loading":
            state.reason = "" if status == "live" else "the log is empty"
            state.bump("header")
        if status != "live" and state.run_state in ("running", "paused", "loading"):
            reason = "no process is training it (killed or crashed)" if status == "crashed" else status
            self._handle(State(state="stopped", reason=reason))

    def on_engine_event(self, message: EngineEvent) -> None:
        self._handle(message.event)

    def _handle(self, event: Event) -> None:
        self.state.apply(event)
        if isinstance(event, RunStarted) and not event.resumed_from_epoch and self.cursor_epoch is not None:
            self._reset_cursor()  # a new run: its epochs are not the old one's
        if self.watch_dir is not None and not self.watch_status:
            return  # replaying a watched run's past: its old news is on screen, not in toasts
        match event:
            case Alert():
                self.notify(event.message, title="Alert", severity=ALERT_SEVERITY.get(event.level, "warning"))
            case RunFailed():
                self.notify(event.message, title="Run failed", severity="error", timeout=10)
            case RunFinished():
                self.notify(_summary_line(event), title="Run finished")

    def shutdown(self) -> None:
        """Stop the worker (within a second), flush the sinks, then close the run log."""
        with self._lock:
            self._shutting_down = True
            session, self.session = self.session, None
        if session is not None:
            self._closed_session = session
            session.close(timeout=1.0)
        if self.runlog is not None:
            self.runlog.close()

    def wait_for_worker(self, timeout: float) -> bool:
        """After shutdown: wait for a worker still inside a long batch; True once it has ended.

        Leaving the interpreter while torch computes on the daemon thread aborts the process.
        """
        session = self._closed_session
        if session is None:
            return True
        session.join(timeout)
        return not session.alive

    def on_unmount(self) -> None:
        self.shutdown()
        sys.setswitchinterval(self._switch_interval)
        gc.set_threshold(*self._gc_thresholds)

    # -- redraws --------------------------------------------------------------------------------

    def _pulse(self) -> None:
        """A few times a second: fold what the engine sent, and redraw when the pace allows."""
        self._drain_inbox()
        now = time.perf_counter()
        if now >= self._next_redraw - self.pulse_s / 2:  # pulses jitter; a redraw is not skipped for it
            self._tick()
            self._next_redraw = now + self.redraw_interval
        else:
            # A pause, stop or failure answers a key or needs the user: it shows now, however
            # slowly the charts are paced (up to SLOWEST_REDRAW_S on a busy box); and the one
            # line of epoch count and clocks ticks each second, as a clock should.
            wall = time.time()
            if (self._header_run_state != (self.state.run_state, self.state.reason)
                    or int(self.state.elapsed(wall)) != self._header_second):
                self._show_header(wall)

    def _show_header(self, now: float) -> None:
        self._header_second = int(self.state.elapsed(now))
        self._header_run_state = (self.state.run_state, self.state.reason)
        self.header.show(self.state, now)

    def _tick(self) -> None:
        self._redraw()
        # Pace on what the UI thread really spent since the last tick (thread CPU time covers
        # event handling, chart builds and Textual's compositing alike).
        wall, cpu = time.perf_counter(), time.thread_time()
        share = (cpu - self._cpu_mark[1]) / max(wall - self._cpu_mark[0], 1e-6)
        self._cpu_mark = (wall, cpu)
        if share > self.ui_share:
            self.redraw_interval = min(self.redraw_interval * 2, SLOWEST_REDRAW_S)
        elif share < self.ui_share / 2:
            self.redraw_interval = max(self.redraw_interval / 1.25, 1 / self.refresh_hz)

    def _changed(self, panel: str) -> bool:
        version = self.state.versions[panel]
        if self._drawn.get(panel) == version:
            return False
        self._drawn[panel] = version
        return True

    def _redraw(self, force: bool = False) -> None:
        state = self.state
        now = time.time()
        second = int(state.elapsed(now))
        if self._changed("header") or force or second != self._header_second:
            self._show_header(now)
        if self.cursor_follow and self.cursor_epoch != self._last_epoch():
            self.cursor_epoch = self._last_epoch()
            for chart in self.charts.values():
                chart.cursor_epoch = self.cursor_epoch
        for model in MODELS:
            if self._changed(f"chart:{model}") or force:
                self.charts[model].show(state)
            if self._changed(f"prediction:{model}") or force:
                self.predictions[model].show(state.models[model])
            if self._changed(f"gates:{model}") or force:
                self.gates[model].show(state.probes.get(model))
        if (self._changed("system") or force) and self.system_pane.display:
            self.system_pane.show(state.system)
        if self._changed("gradients") or force:
            self.gradient_flow.show(state)
            self.gradient_history.show(state)

    # -- actions --------------------------------------------------------------------------------

    def _send(self, command: str, **args: Any) -> None:
        """Watching: the command goes to the run's command file, which its trainer polls."""
        from engine.rundir.commands import send_command
        from engine.rundir.log import RunDirError

        assert self.watch_dir is not None
        if self.watch_status != "live":
            self.notify(f"The run is not live ({self.watch_status}): nothing to steer.", severity="warning")
            return
        try:
            send_command(self.watch_dir, command, **args)
        except (OSError, RunDirError) as exc:
            self.notify(f"cannot send {command}: {exc}", severity="error")

    def _watch_only(self) -> bool:
        """Restart and reconfigure belong to the process that trains the run."""
        if self.watch_dir is None:
            return False
        self.notify("Watching a run: restart or reconfigure it from the terminal that trains it "
                    "(or start a new run).", severity="warning")
        return True

    def _live_session(self) -> Session | None:
        if self.session is None:
            self.notify("The engine is still loading." if self.start_engine else "No run is attached.",
                        severity="warning")
        return self.session

    def _idle_note(self, session: Session) -> None:
        self.notify(f"The run is {session.state}: press r to restart it.", severity="warning")

    def action_toggle_pause(self) -> None:
        if self.watch_dir is not None:
            self._send("resume" if self.state.run_state == "paused" else "pause")
            return
        if (session := self._live_session()) is None:
            return
        if session.state == "paused":
            session.resume()
        elif session.state in ("running", "idle"):
            session.pause()
        else:
            self._idle_note(session)

    def action_step(self) -> None:
        if self.watch_dir is not None:
            self._send("step")
            return
        if (session := self._live_session()) is None:
            return
        if session.active:
            session.step()
        else:
            self._idle_note(session)

    def action_stop(self) -> None:
        if self.watch_dir is not None:
            self._send("stop")
            return
        if (session := self._live_session()) is not None and session.active:
            session.stop()

    def action_restart(self) -> None:
        if not self._watch_only():
            self._restart(None)

    def _restart(self, config: RunConfig | None) -> None:
        if config is not None:
            self.config = config
            if self.runlog is not None:
                self.runlog.update_config(config)
            self.state.total_epochs = config.epochs
            self.state.label = config.label
            self.state.bump("header")
        if (session := self._live_session()) is not None:
            session.restart(config)

    def action_scale_lr(self, factor: float) -> None:
        if self.watch_dir is not None:
            self._send("scale_lr", factor=factor)
            return
        if (session := self._live_session()) is None:
            return
        if session.active:
            session.scale_lr(factor)
        else:
            self._idle_note(session)

    def action_configure(self) -> None:
        if self._watch_only():
            return

        def apply(config: RunConfig | None) -> None:
            if config is not None:
                self._restart(config)

        self.push_screen(ConfigForm(self.config), apply)

    def action_preset(self, name: str) -> None:
        if self._watch_only():
            return
        # The device is a property of the machine, not of the preset: keep the one chosen.
        self._restart(from_preset(name, device=self.config.device))

    def action_cycle_gate(self) -> None:
        panel = self.gates["lstm"]
        view = LSTM_VIEWS[(LSTM_VIEWS.index(panel.view) + 1) % len(LSTM_VIEWS)]
        panel.set_view(view)

    def action_cycle_smoothing(self) -> None:
        steps = (0.0, *SMOOTHING_WEIGHTS)
        self.smoothing = steps[(steps.index(self.smoothing) + 1) % len(steps)]
        for chart in self.charts.values():
            chart.set_smoothing(self.smoothing, self.state)
        self._remember(smoothing=self.smoothing)

    # -- the loss charts' cursor and zoom ----------------------------------------------------

    def _last_epoch(self) -> int:
        return max((m.epoch for m in self.state.models.values()), default=0)

    def on_loss_chart_cursor_move(self, message: LossChart.CursorMove) -> None:
        """Both charts' cursor moves together, so one epoch is read across LSTM and RNN."""
        last = self._last_epoch()
        if last < 1:
            return
        current = self.cursor_epoch if self.cursor_epoch is not None else last
        target = {
            "left": current - 1, "right": current + 1, "home": 1, "end": last,
            "to": round(message.epoch) if message.epoch is not None else current,
        }[message.kind]
        self.cursor_epoch = min(max(1, target), last)
        self.cursor_follow = self.cursor_epoch == last  # `end`, or walking onto the last epoch
        for chart in self.charts.values():
            chart.set_cursor(self.cursor_epoch, self.state)

    def _reset_cursor(self) -> None:
        self.cursor_epoch, self.cursor_follow, self.x_zoom = None, False, None
        for chart in self.charts.values():
            chart.cursor_epoch, chart.zoom = None, None

    def on_loss_chart_zoom(self, message: LossChart.Zoom) -> None:
        """The x range shrinks or grows around the cursor (the middle when there is none)."""
        last = self._last_epoch()
        if last < 2:
            return
        low, high = self.x_zoom or (1.0, float(last))
        centre = self.cursor_epoch if self.cursor_epoch is not None else (low + high) / 2
        half = (high - low) * message.factor / 2
        low, high = max(1.0, centre - half), min(float(last), centre + half)
        self.x_zoom = None if (low <= 1 and high >= last) or high - low < 2 else (low, high)
        for chart in self.charts.values():
            chart.set_zoom(self.x_zoom, self.state)

    def action_cycle_x_axis(self) -> None:
        self.x_mode = X_MODES[(X_MODES.index(self.x_mode) + 1) % len(X_MODES)]
        for chart in self.charts.values():
            chart.set_x_mode(self.x_mode, self.state)
        self._remember(x_axis=self.x_mode)

    def action_toggle_system(self) -> None:
        self.system_pane.display = not self.system_pane.display
        if self.system_pane.display:
            self.system_pane.show(self.state.system)
        self._remember(system_pane=bool(self.system_pane.display))

    # -- preferences ---------------------------------------------------------------------------

    def _apply_prefs(self) -> None:
        prefs = self.prefs
        if prefs.theme in self.available_themes:
            self.theme = prefs.theme
        elif prefs.theme != Prefs().theme:
            self._skipped_lines.append(f"config.toml: theme {prefs.theme!r} is not one of Textual's themes; "
                                       "using the default")
        for chart in self.charts.values():
            chart.smoothing, chart.x_mode = self.smoothing, self.x_mode
            chart.set_log_scale(self.log_scale)
        self.system_pane.display = prefs.system_pane
        self._prefs_applied = True

    def _remember(self, **changes: Any) -> None:
        """A display setting changed: keep it for the next session (when there is a file)."""
        self.prefs = self.prefs.with_(**changes)
        if self.prefs_file is None:
            return
        try:
            save_prefs(self.prefs, self.prefs_file)
        except OSError as exc:
            self.notify(f"cannot save {self.prefs_file}: {exc.strerror or exc}", severity="warning")
            self.prefs_file = None  # one warning, not one per key press

    def watch_theme(self, theme: str) -> None:
        if self._prefs_applied and theme != self.prefs.theme:  # chosen in the command palette
            self._remember(theme=theme)

    @work(thread=True, exclusive=True, group="system", exit_on_error=False)
    def _sample_system(self) -> None:
        """Once a second, on this thread (never the training one): CPU, memory, the GPU's."""
        from tui.dashboard.system import SAMPLE_SECONDS, SystemSampler, cuda_index

        worker = get_current_worker()
        sampler: SystemSampler | None = None
        while not worker.is_cancelled:
            # Watching, the figures are the trainer's (its pid is in the run's lock file).
            pid = self._trainer_pid() if self.watch_dir is not None else None
            try:
                if sampler is None or sampler.pid != pid or sampler.cuda_index != cuda_index(self.state.device):
                    sampler = None if self.watch_dir is not None and pid is None else SystemSampler(
                        cuda_index(self.state.device), pid)
                sample = sampler.sample(time.time()) if sampler is not None else None
            except psutil.Error:  # the watched trainer ended between two looks
                sampler = sample = None
            if sample is not None:
                with suppress(RuntimeError):  # the app is closing
                    self.call_from_thread(self._add_system_sample, sample)
            time.sleep(SAMPLE_SECONDS)

    def _trainer_pid(self) -> int | None:
        from engine.rundir.log import LOCK_FILE

        if self.watch_status != "live" or self.watch_dir is None:
            return None
        try:
            text = (self.watch_dir / LOCK_FILE).read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def _add_system_sample(self, sample: Any) -> None:
        self.state.system.append(sample)
        self.state.bump("system", "header")

    def action_toggle_log(self) -> None:
        self.log_scale = not self.log_scale
        for chart in self.charts.values():
            chart.set_log_scale(self.log_scale)
        self._remember(log_scale=self.log_scale)

    def action_zoom(self) -> None:
        screen = self.screen
        if screen.maximized is not None:
            screen.minimize()
        elif screen.focused is not None:
            screen.maximize(screen.focused, container=False)

    @property
    def run_dir(self) -> Path | None:
        """The directory of the run on screen: the one being trained, or the one watched."""
        if self.watch_dir is not None:
            return self.watch_dir
        return self.runlog.dir if self.runlog is not None else None

    def action_export(self) -> None:
        run_dir = self.run_dir
        if run_dir is None:
            self.notify("This run has no run directory to export into.", severity="warning")
            return
        try:
            screen = Path(self.save_screenshot(SCREEN_FILE, str(run_dir)))
        except OSError as exc:
            self.notify(f"cannot write {run_dir / SCREEN_FILE}: {exc.strerror or exc}", severity="error")
            return
        self._export_metrics(run_dir, screen)

    @work(thread=True, group="export", exit_on_error=False)
    def _export_metrics(self, run_dir: Path, screen: Path) -> None:
        """The CSV comes from the whole log, which may be long: off the UI thread."""
        from engine.rundir.log import EVENTS_FILE, read_events
        from tui.cli.export import write_metrics

        try:  # the run log flushes every epoch: what it holds is what the screen shows
            metrics = write_metrics(run_dir, read_events(run_dir / EVENTS_FILE))
        except OSError as exc:
            self.call_from_thread(self.notify, f"cannot write metrics.csv: {exc.strerror or exc}",
                                  severity="error")
            return
        self.call_from_thread(self.notify, f"{metrics}\n{screen}", title="Exported")

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.key_rows()))

    async def action_quit(self) -> None:
        if self.session is not None and self.session.active:
            def answer(quit_app: bool | None) -> None:
                if quit_app:
                    self.exit(0)

            self.push_screen(QuitConfirm(), answer)
        else:
            self.exit(0)

    # -- keys listed for help and the command palette ----------------------------------------

    def key_rows(self) -> list[tuple[str, str]]:
        rows = []
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            rows.append((binding.key_display or binding.key, binding.tooltip or binding.description))
        for binding in LossChart.BINDINGS:  # the loss charts' own keys, while one has focus
            assert isinstance(binding, Binding)
            rows.append((binding.key, f"{binding.tooltip} (chart focused)"))
        for binding in GatePanel.BINDINGS:  # the heatmap's own keys, while it has focus
            assert isinstance(binding, Binding)
            rows.append((binding.key, f"{binding.tooltip} (heatmap focused)"))
        return rows

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            if binding.action == "quit":
                continue  # Textual's own Quit command calls action_quit
            key = binding.key_display or binding.key
            yield SystemCommand(binding.tooltip or binding.description, f"key: {key}",
                                partial(self.run_action, binding.action))
        yield from super().get_system_commands(screen)


def _summary_line(event: RunFinished) -> str:
    parts = []
    for model, metrics in event.summary.items():
        acc = metrics.get("val_acc")
        loss = metrics.get("val_loss")
        acc_text = "--" if acc is None else f"{acc:.1%}"
        loss_text = "--" if loss is None else f"{loss:.4f}"
        parts.append(f"{TITLES.get(model, model)} val loss {loss_text}, acc {acc_text}")
    return "; ".join(parts)
