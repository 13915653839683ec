"""The dashboard's screen: the run's models side by side, redrawn from the state at a paced rate.

It lays the panels out (the models' columns: tui/widgets/model_columns.py, composed again when
a run starts with another set of models), folds the engine's events into the state on each
pulse of its pacer (tui/dashboard/pacing.py), redraws only the panels whose data changed, and
keeps the loss charts' cursor, zoom and display settings in step. The app's key actions call
down into it.
"""

from __future__ import annotations

import time
from collections import deque
from contextlib import suppress
from typing import Any

from textual import events, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.reactive import Reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.worker import get_current_worker

from engine.config import MODEL_TITLES
from engine.events import Alert, Event, RunFailed, RunFinished, RunStarted
from tui.dashboard.pacing import RedrawPacer
from tui.dashboard.prefs import Prefs
from tui.dashboard.sources import RunSource
from tui.dashboard.state import SMOOTHING_WEIGHTS, DashboardState
from tui.dashboard.tuning import resume_collections
from tui.widgets.cached_plot import CachedPlot
from tui.widgets.footer import KeyFooter
from tui.widgets.gate_heatmap import GatePanel
from tui.widgets.gradient_flow import GradientFlowChart
from tui.widgets.gradient_history import GradientHistory
from tui.widgets.header import RunHeader
from tui.widgets.loss_chart import X_MODES, LossChart
from tui.widgets.model_columns import ModelColumns
from tui.widgets.prediction import PredictionPanel
from tui.widgets.system_pane import SystemPane

ALERT_SEVERITY = {"info": "information", "warning": "warning", "error": "error"}


class DashboardScreen(Screen[None]):
    """The run's models' panels, fed from ``state``; ``source`` (started once the panels are
    drawn) delivers the events, and says whose process to sample and whether its events are news."""

    # Textual repaints the whole screen when focus moves; here only the two panels whose
    # border changes repaint (they restyle themselves). With training on both cores, the full
    # repaint was most of the delay between tab and the frame that shows it.
    focused: Reactive[Widget | None] = Reactive(None, repaint=False)

    def __init__(self, state: DashboardState, source: RunSource, prefs: Prefs, refresh_hz: float,
                 *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.state = state
        self.source = source
        self.smoothing = prefs.smoothing
        self.x_mode = prefs.x_axis
        self.log_scale = prefs.log_scale
        self._system_shown = prefs.system_pane
        self.cursor_epoch: int | None = None  # the loss charts' shared cursor; None: not shown
        self.cursor_follow = False  # on the last epoch, moving with each new one
        self.x_zoom: tuple[float, float] | None = None  # epochs shown by both loss charts
        self.pacer = RedrawPacer(self, refresh_hz)
        self._inbox: deque[Event] = deque()  # filled by the engine's thread, drained each pulse
        self._drawn: dict[str, int] = {}
        self._header_second = -1
        self._header_run_state: tuple[str, str] = ("", "")  # what the header last showed
        self._rebuilding = False

    def compose(self) -> ComposeResult:
        yield RunHeader(id="header")
        yield SystemPane(id="system")
        # Scrolls only when the terminal is too short for every panel at its least height;
        # moving focus (tab) brings the focused panel into view.
        with VerticalScroll(id="main", can_focus=False):
            columns = ModelColumns(tuple(self.state.models), id="columns")
            columns.lay_out(self.app.size.width)  # the first frame's, not unstyled until a resize
            yield columns
            with Horizontal(id="gradients"):
                yield GradientFlowChart(id="gradient-flow")
                yield GradientHistory(id="gradient-history")
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        # Kept by reference: each redraw reaches them without a query.
        self.header = self.query_one(RunHeader)
        self.columns = self.query_one(ModelColumns)
        self.gradient_flow = self.query_one(GradientFlowChart)
        self.gradient_history = self.query_one(GradientHistory)
        self.system_pane = self.query_one(SystemPane)
        self._set_up_charts()
        self.system_pane.display = self._system_shown
        # The first frame: the layout, the text panels, the charts' borders and titles; their
        # plots (and plotext's import) come in the next one. It waits for nothing it does not draw.
        for plot in self.query(CachedPlot):
            plot.deferred = True
        self.redraw(force=True)
        self.pacer.start(self)
        self.source.start(self.app)  # its worker waits for the first frame (first_frame_painted)
        self.call_after_refresh(self._start_after_first_frame)

    def _start_after_first_frame(self) -> None:
        """Once the first frame is painted: the source's work (the engine's import, torch's,
        takes seconds on a thread that would share the GIL and the cores with any frame's
        work), the system sampler, and the charts (on the next frame)."""
        resume_collections()
        self.source.first_frame_painted()
        self._sample_system()
        for plot in self.query(CachedPlot):
            plot.deferred = False
            plot.refresh()

    # -- the models' columns -------------------------------------------------------------------

    @property
    def charts(self) -> dict[str, LossChart]:
        return self.columns.charts

    @property
    def predictions(self) -> dict[str, PredictionPanel]:
        return self.columns.predictions

    @property
    def gates(self) -> dict[str, GatePanel]:
        return self.columns.gates

    def _set_up_charts(self) -> None:
        for chart in self.charts.values():
            chart.smoothing, chart.x_mode = self.smoothing, self.x_mode
            chart.cursor_epoch, chart.zoom = self.cursor_epoch, self.x_zoom
            chart.set_log_scale(self.log_scale)

    def on_resize(self, event: events.Resize) -> None:
        self.columns.lay_out(event.size.width)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        model = getattr(event.widget, "model", None)
        if isinstance(model, str):
            self.columns.focus_moved(model)

    async def _rebuild_columns(self) -> None:
        """The run on screen has other models than the columns: compose them again for its own."""
        if self._rebuilding:
            return
        self._rebuilding = True
        try:
            while tuple(self.state.models) != self.columns.models:
                lost_focus = self.focused is not None and self.focused in self.columns.walk_children()
                await self.columns.rebuild(tuple(self.state.models))
                self._set_up_charts()
                self._drawn.clear()
                if lost_focus or self.focused is None:
                    first = next(iter(self.charts.values()), None)
                    if first is not None:
                        first.focus()
                self.redraw(force=True)
        finally:
            self._rebuilding = False

    # -- events in ------------------------------------------------------------------------------

    def receive(self, event: Event) -> None:
        """The Session's inline sink, called on the training thread: the event waits in the inbox.

        No message per event: each would wake the UI thread, which then takes a core and the
        GIL from training (tens of times a second, however little it draws). The UI folds the
        inbox on its own pulse instead, and a run of millisecond epochs cannot flood it. An
        append returns at once, so it needs no delivery thread of its own (and its wake-ups).
        """
        self._inbox.append(event)

    def fold(self) -> None:
        """Fold every event waiting in the inbox into the state (UI thread)."""
        inbox = self._inbox
        while inbox:
            self.handle(inbox.popleft())

    def handle(self, event: Event) -> None:
        """Fold one event into the state, and tell the user what needs telling."""
        self.state.apply(event)
        if isinstance(event, RunStarted) and not event.resumed_from_epoch and self.cursor_epoch is not None:
            self._reset_cursor()  # a new run: its epochs are not the old one's
        if isinstance(event, RunStarted) and tuple(self.state.models) != self.columns.models:
            self.call_next(self._rebuild_columns)  # its models are not the ones shown
        if self.source.replaying:
            return  # replaying a watched run's past: its old news is on screen, not in toasts
        match event:
            case Alert():
                self.notify(event.message, title="Alert", severity=ALERT_SEVERITY.get(event.level, "warning"))
            case RunFailed():
                self.notify(event.message, title="Run failed", severity="error", timeout=10)
            case RunFinished():
                self.notify(summary_line(event), title="Run finished")

    # -- redraws --------------------------------------------------------------------------------

    @property
    def caught_up(self) -> bool:
        """Every panel shows the state's latest data."""
        return all(self._drawn.get(panel) == version for panel, version in self.state.versions.items())

    def between_frames(self) -> None:
        """A pulse with no redraw due: the header alone, when it must not wait."""
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

    def _changed(self, panel: str) -> bool:
        version = self.state.versions[panel]
        if self._drawn.get(panel) == version:
            return False
        self._drawn[panel] = version
        return True

    def redraw(self, force: bool = False) -> None:
        """Redraw the panels whose data changed since they were last drawn (all: ``force``)."""
        state = self.state
        now = time.time()
        second = int(state.elapsed(now))
        if self._changed("header") or force or second != self._header_second:
            self._show_header(now)
        if self.cursor_follow and self.cursor_epoch != self._last_epoch():
            self.cursor_epoch = self._last_epoch()
            for chart in self.charts.values():
                chart.cursor_epoch = self.cursor_epoch
        for model in self.columns.models:
            if model not in state.models or model not in self.charts:
                continue  # a run of other models began: the columns are being composed again
            if self._changed(f"chart:{model}") or force:
                self.charts[model].show(state)
            if self._changed(f"prediction:{model}") or force:
                self.predictions[model].show(state.models[model], state.classes)
            if self._changed(f"gates:{model}") or force:
                self.gates[model].show(state.probes.get(model), state.classes)
        if (self._changed("system") or force) and self.system_pane.display:
            self.system_pane.show(state.system)
        if self._changed("gradients") or force:
            self.gradient_flow.show(state)
            self.gradient_history.show(state)

    # -- display settings (the app's keys; each returns the new setting, for the app to keep) ----

    def cycle_gate(self) -> None:
        """The focused model's next gate (the model of the panel last focused)."""
        panel = self.gates.get(self.columns.focus_model)
        if panel is None:
            return
        if len(panel.views) == 1:
            self.notify(f"The {panel.title} has no gates: its panel shows the hidden state h.", timeout=3)
            return
        panel.next_view()

    def cycle_smoothing(self) -> float:
        steps = (0.0, *SMOOTHING_WEIGHTS)
        self.smoothing = steps[(steps.index(self.smoothing) + 1) % len(steps)]
        for chart in self.charts.values():
            chart.set_smoothing(self.smoothing, self.state)
        return self.smoothing

    def cycle_x_axis(self) -> str:
        self.x_mode = X_MODES[(X_MODES.index(self.x_mode) + 1) % len(X_MODES)]
        for chart in self.charts.values():
            chart.set_x_mode(self.x_mode, self.state)
        return self.x_mode

    def toggle_log_scale(self) -> bool:
        self.log_scale = not self.log_scale
        for chart in self.charts.values():
            chart.set_log_scale(self.log_scale)
        return self.log_scale

    def toggle_system(self) -> bool:
        self.system_pane.display = not self.system_pane.display
        if self.system_pane.display:
            self.system_pane.show(self.state.system)
        return bool(self.system_pane.display)

    def toggle_maximized(self) -> None:
        """The focused panel to the whole screen, or back."""
        if self.maximized is not None:
            self.minimize()
        elif self.focused is not None:
            self.maximize(self.focused, container=False)

    # -- the loss charts' cursor and zoom ----------------------------------------------------

    def _last_epoch(self) -> int:
        return max((m.epoch for m in self.state.models.values()), default=0)

    def on_loss_chart_cursor_move(self, message: LossChart.CursorMove) -> None:
        """Every chart's cursor moves together, so one epoch is read across the models."""
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

    # -- system figures -------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="system", exit_on_error=False)
    def _sample_system(self) -> None:
        """Once a second, on this thread (never the training one): CPU, memory, the GPU's."""
        import psutil  # here, on the sampler's thread: not on the way to the first frame

        from tui.dashboard.system import SAMPLE_SECONDS, SystemSampler, cuda_index

        worker = get_current_worker()
        sampler: SystemSampler | None = None
        while not worker.is_cancelled:
            # Watching, the figures are the trainer's (its pid is in the run's lock file).
            pid = self.source.trainer_pid()
            try:
                if sampler is None or sampler.pid != pid or sampler.cuda_index != cuda_index(self.state.device):
                    sampler = None if pid is None else SystemSampler(cuda_index(self.state.device), pid)
                sample = sampler.sample(time.time()) if sampler is not None else None
            except psutil.Error:  # the watched trainer ended between two looks
                sampler = sample = None
            if sample is not None:
                with suppress(RuntimeError):  # the app is closing
                    self.app.call_from_thread(self.add_system_sample, sample)
            time.sleep(SAMPLE_SECONDS)

    def add_system_sample(self, sample: Any) -> None:
        """One reading of the system figures (UI thread): the header and the `y` pane show it."""
        self.state.system.append(sample)
        self.state.bump("system", "header")


def summary_line(event: RunFinished) -> str:
    parts = []
    for model, metrics in event.summary.items():
        acc = metrics.get("val_acc")
        loss = metrics.get("val_loss")
        acc_text = "--" if acc is None else f"{acc:.1%}"
        loss_text = "--" if loss is None else f"{loss:.4f}"
        parts.append(f"{MODEL_TITLES.get(model, model)} val loss {loss_text}, acc {acc_text}")
    return "; ".join(parts)
