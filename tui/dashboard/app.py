"""The dashboard app: the run's models side by side while a Session trains them, or a run watched.

What is app-wide lives here: the keys (each with its description, for the footer, the help
screen and the command palette), the display preferences and the theme, help, export and quit.
The panels and their redraws are the screen's (tui/dashboard/screen.py); where the events come
from is the source's (tui/dashboard/sources.py), one interface for a run trained here and for
one watched, so no action asks which it has.

Nothing on the way to the first frame imports torch, numpy or plotext: once that frame is
painted, a worker thread imports the engine's session (and with it torch) and starts the run,
and the charts load plotext and draw (tui/dashboard/screen.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

from engine.config import RunConfig, from_preset
from engine.events import Event
from engine.rundir.files import RunDirError
from tui.dashboard.prefs import Prefs, save_prefs
from tui.dashboard.screen import DashboardScreen
from tui.dashboard.sources import LiveSource, Refusal, RunSource, WatchedSource
from tui.dashboard.state import DashboardState
from tui.dashboard.tuning import InterpreterTuning
from tui.palette import binding_commands
from tui.widgets.gate_heatmap import GatePanel
from tui.widgets.loss_chart import LossChart
from tui.widgets.model_columns import FIRST_CHART

if TYPE_CHECKING:
    from engine.config import CheckpointCadence
    from engine.session import Session

SCREEN_FILE = "screen.svg"  # what `e` writes beside metrics.csv


class EngineEvent(Message):
    """One engine event, folded as soon as the app handles it (the sources feed the inbox instead)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


def _b(key: str, action: str, short: str, long: str, *, show: bool = True, display: str | None = None) -> Binding:
    """A binding with a short footer label and a full description for help and the palette."""
    return Binding(key, action, short, show=show, key_display=display, tooltip=long)


class DashboardApp(App[int]):
    """One run's models side by side (the LSTM and the RNN by default): a run trained here, or one
    watched."""

    CSS_PATH = "app.tcss"
    TITLE = "lstm-tui"
    # The first panel, named: in a real terminal Textual's "first focusable widget" could land
    # on the first heatmap, and on a short terminal the view then opened scrolled past the charts.
    AUTO_FOCUS = f"LossChart.{FIRST_CHART}"
    # The width's classes depend on the number of models too: the columns set their own.
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
        _b("g", "cycle_gate", "Gate", "Focused model's next gate: LSTM i f g o c h, GRU r z n h, RNN h"),
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
        extra_sinks: Sequence[Callable[[Event], None]] = (),
    ) -> None:
        """``run_dir``: the run's directory (log, checkpoints, command file); ``resume``: a
        checkpoint of that run to continue from; ``cadence``: when to checkpoint besides
        every pause, stop, finish and quit; ``watch``: instead of training, show the run in
        that directory from its log, and steer it through its command file; ``prefs``: the
        display settings to start with, saved to ``prefs_file`` (if any) when they change;
        ``ascii_only``: nothing outside ASCII reaches the terminal (tui/ascii.py);
        ``extra_sinks``: more sinks for the run trained here, each fed on a thread of its own."""
        super().__init__()
        self.ascii_only = ascii_only
        if ascii_only:
            from tui.ascii import AsciiFilter

            self._filters.append(AsciiFilter())
        self.notices: list[str] = list(prefs_warnings)  # for once the screen is up
        self.refresh_hz = max(0.5, float(refresh_hz))
        self.prefs = prefs or Prefs()
        self.prefs_file = prefs_file
        self._prefs_applied = False  # until mounted: setting the saved theme is not a change
        self.tuning = InterpreterTuning()
        self.state = DashboardState(config)
        self.source: RunSource = (
            WatchedSource(config, self.state, watch) if watch is not None else
            LiveSource(config, self.state, run_dir=run_dir, resume=resume, cadence=cadence, start=start,
                       extra_sinks=extra_sinks, tuning=self.tuning))
        self.notices += self.source.notes
        self.dashboard = DashboardScreen(self.state, self.source, self.prefs, self.refresh_hz, id="_default")

    def get_default_screen(self) -> Screen:
        return self.dashboard

    def on_mount(self) -> None:
        self.tuning.ui_started()
        if self.prefs.theme in self.available_themes:
            self.theme = self.prefs.theme
        elif self.prefs.theme != Prefs().theme:
            self.notices.append(f"config.toml: theme {self.prefs.theme!r} is not one of Textual's themes; "
                                "using the default")
        self._prefs_applied = True
        for note in self.notices:
            self.notify(note, title="Run log", severity="warning")

    def on_unmount(self) -> None:
        self.shutdown()
        self.tuning.restore()

    # -- seams for the sources, tools and tests -----------------------------------------------

    def receive(self, event: Event) -> None:
        """Any thread: ``event`` waits in the screen's inbox for the next pulse (a source's sink)."""
        self.dashboard.receive(event)

    def fold(self) -> None:
        """UI thread: fold the events waiting in the inbox now."""
        self.dashboard.fold()

    def on_engine_event(self, message: EngineEvent) -> None:
        self.dashboard.handle(message.event)

    def redraw_now(self) -> None:
        """Fold what waits and draw every panel now, however the redraws are paced (a screenshot
        wants the latest)."""
        self.dashboard.fold()
        self.dashboard.redraw(force=True)

    @property
    def config(self) -> RunConfig:
        """The config of the run on screen: the engine's once it runs (a restart it refused
        changes nothing), else the one it starts with."""
        session = self.source.session
        return session.config if session is not None else self.source.config

    @property
    def session(self) -> Session | None:
        """The Session trained in this process, once loaded (None when watching)."""
        return self.source.session

    @property
    def run_dir(self) -> Path | None:
        """The directory of the run on screen: the one being trained, or the one watched."""
        return self.source.run_dir

    @property
    def watch_status(self) -> str:
        """A watched run's status from its directory ("live", "finished"…); "" until the log is
        replayed, and always for a run trained here."""
        return self.source.status

    def shutdown(self) -> None:
        """Stop the worker (within a second), flush the sinks, then close the run log."""
        self.source.shutdown()

    def wait_for_worker(self, timeout: float) -> bool:
        """After shutdown: wait for a worker still inside a long batch; True once it has ended.

        Leaving the interpreter while torch computes on the daemon thread aborts the process.
        """
        return self.source.wait_for_worker(timeout)

    # -- the run: the source carries the command out, or says why not ---------------------------

    def _refused(self, refusal: Refusal | None) -> bool:
        if refusal is not None:
            self.notify(refusal.message, severity=refusal.severity)  # type: ignore[arg-type]
        return refusal is not None

    def action_toggle_pause(self) -> None:
        self._refused(self.source.toggle_pause())

    def action_step(self) -> None:
        self._refused(self.source.step())

    def action_stop(self) -> None:
        self._refused(self.source.stop())

    def action_scale_lr(self, factor: float) -> None:
        self._refused(self.source.scale_lr(factor))

    def action_restart(self) -> None:
        self.restart(None)

    def restart(self, config: RunConfig | None) -> None:
        """From epoch 0, with ``config`` when given. The screen changes when the engine says the
        restart is under way: one it refuses (a device missing) is an alert, and changes nothing."""
        if self._refused(self.source.refusal("restart")):
            return
        self._refused(self.source.restart(config))

    def action_configure(self) -> None:
        if self._refused(self.source.refusal("restart")):
            return
        # The modal screens load when first asked for: their widgets are not in the first frame.
        from tui.screens.config_form import ConfigForm

        def apply(config: RunConfig | None) -> None:
            if config is not None:
                self.restart(config)

        self.push_screen(ConfigForm(self.config), apply)

    def action_preset(self, name: str) -> None:
        # The device is a property of the machine, and the models compared are the user's choice,
        # not the preset's: keep the ones chosen.
        self.restart(from_preset(name, device=self.config.device, models=self.config.models))

    # -- the display: the screen changes it, the app keeps it for the next session ---------------

    def action_cycle_gate(self) -> None:
        self.dashboard.cycle_gate()

    def action_cycle_smoothing(self) -> None:
        self.remember(smoothing=self.dashboard.cycle_smoothing())

    def action_cycle_x_axis(self) -> None:
        self.remember(x_axis=self.dashboard.cycle_x_axis())

    def action_toggle_log(self) -> None:
        self.remember(log_scale=self.dashboard.toggle_log_scale())

    def action_toggle_system(self) -> None:
        self.remember(system_pane=self.dashboard.toggle_system())

    def action_zoom(self) -> None:
        self.dashboard.toggle_maximized()

    def remember(self, **changes: Any) -> None:
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
            self.remember(theme=theme)

    # -- export, help, quit ----------------------------------------------------------------------

    def action_export(self) -> None:
        run_dir = self.run_dir
        if run_dir is None:
            self.notify("This run has no run directory to export into.", severity="warning")
            return
        try:
            screen = self.source.export_screen(SCREEN_FILE, self.export_screenshot())
        except OSError as exc:
            self.notify(f"cannot write {run_dir / SCREEN_FILE}: {exc.strerror or exc}", severity="error")
            return
        except RunDirError as exc:  # a link, a directory or a read-only file of the user's in its place
            self.notify(str(exc), severity="error")
            return
        self._export_metrics(screen)

    @work(thread=True, group="export", exit_on_error=False)
    def _export_metrics(self, screen: Path) -> None:
        """The CSV comes from the whole log, which may be long: off the UI thread."""
        try:
            metrics = self.source.export_metrics()
        except OSError as exc:
            self.call_from_thread(self.notify, f"cannot write metrics.csv: {exc.strerror or exc}",
                                  severity="error")
            return
        except RunDirError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.call_from_thread(self.notify, f"{metrics}\n{screen}", title="Exported")

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen, help_intro

        self.push_screen(HelpScreen(self.key_rows(), help_intro(tuple(self.state.models), self.state)))

    async def action_quit(self) -> None:
        if self.source.active:
            from tui.screens.quit_confirm import QuitConfirm

            def answer(quit_app: bool | None) -> None:
                if quit_app:
                    self.exit(0)

            self.push_screen(QuitConfirm(), answer)
        else:
            self.exit(0)

    def key_rows(self) -> list[tuple[str, str]]:
        """Every key, as the help screen lists it."""
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
        yield from binding_commands(self, self.BINDINGS)
        yield from super().get_system_commands(screen)
