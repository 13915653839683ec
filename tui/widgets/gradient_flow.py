"""How far back the loss gradient reaches, for every model of the run on one plot.

x: steps back from the window's last step; y: log10 of ||dL/dh_t|| relative to its value at
the last step, so every model starts at 0 and the horizon is where a curve crosses -3.
"""

from __future__ import annotations

import math

from textual.content import Content

from engine.config import MODEL_TITLES
from tui.dashboard.state import DashboardState, FlowState
from tui.widgets.cached_plot import CachedPlot

HORIZON_RATIO_LOG10 = -3.0  # the horizon's threshold: 1e-3 of the last step's norm
FLOOR_LOG10 = -12.0  # a norm of exactly zero is drawn here
# One colour per model, the same in --ascii (it changes characters, not colours); none of them
# is the LSTM cell's, the lag's or the threshold's.
MODEL_COLORS = {"lstm": "cyan+", "rnn": "magenta+", "gru": "yellow+"}
CELL_COLOR = "blue+"
TITLE_COLORS = {"lstm": "ansi_bright_cyan", "rnn": "ansi_bright_magenta", "gru": "ansi_bright_yellow",
                "cell": "ansi_bright_blue"}
LAG_COLOR = "green+"
THRESHOLD_COLOR = "gray"


def relative_log10(norms: list[float]) -> list[float]:
    """log10(norm / norm at the last step), floored; empty when the last step's norm is 0."""
    if not norms or not (norms[0] > 0 and math.isfinite(norms[0])):
        return []
    return [math.log10(n / norms[0]) if n > 0 and math.isfinite(n) else FLOOR_LOG10 for n in norms]


def horizon_text(flows: dict[str, FlowState], *, cells: bool = True) -> str:
    """Each model's name in its curve's colour with its horizon (the LSTM's cell one in
    brackets, unless not ``cells``), as Textual markup for the title."""
    parts = []
    for model, flow in flows.items():
        if flow.horizon is None:
            continue
        part = f"[{TITLE_COLORS.get(model, 'ansi_white')}]{MODEL_TITLES.get(model, model.upper())}[/] {flow.horizon}"
        if flow.cell_horizon is not None and cells:
            part += f" ([{TITLE_COLORS['cell']}]c[/] {flow.cell_horizon})"
        parts.append(part)
    return "horizon " + " · ".join(parts) if parts else ""


def flow_title(flows: dict[str, FlowState], width: int) -> str:
    """The chart's title at its fullest that fits a panel ``width`` cells wide (0: not known
    yet): the panel's name goes first, then the cell's horizon; every model's horizon stays."""
    horizons = horizon_text(flows)
    if not horizons:
        return "gradient flow"
    titles = [f"gradient flow · {horizons}", horizons, horizon_text(flows, cells=False)]
    # The border's corners, and a line and a space each side of the title.
    return next((t for t in titles if width <= 0 or Content.from_markup(t).cell_length <= width - 6), titles[-1])


class GradientFlowChart(CachedPlot):
    """log10 relative gradient norm against steps back, a curve per model, with the lag marked."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self._flows: dict[str, FlowState] = {}
        self._lag: int | None = None
        self.border_title = "gradient flow"
        self.border_subtitle = "log10 ‖∂L/∂hₜ‖ ÷ last step · steps back →"

    def show(self, state: DashboardState) -> None:
        self._flows = state.flows
        self._lag = int(state.config.get("lag", 0)) if state.task == "echo" else None
        self.border_title = flow_title(state.flows, self.outer_size.width)
        self.changed()

    def on_resize(self) -> None:
        self.border_title = flow_title(self._flows, self.outer_size.width)

    def draw(self, width: int) -> None:
        plt = self.plt
        longest = 2
        low = HORIZON_RATIO_LOG10 - 1
        for model, flow in self._flows.items():
            curves = [(flow.norms, MODEL_COLORS.get(model, "white"))]
            if flow.cell_norms:
                curves.append((flow.cell_norms, CELL_COLOR))
            for norms, color in curves:
                ys = relative_log10(norms)
                if not ys:
                    continue
                xs = list(range(len(ys)))
                # Named in the title in the same colours: plotext's legend box would hide the
                # curves' start, where they all meet at 0.
                plt.plot(xs, ys, color=color, marker="braille")
                longest = max(longest, len(ys))
                low = min(low, min(ys))
        x_high = longest - 1
        plt.hline(HORIZON_RATIO_LOG10, THRESHOLD_COLOR)
        plt.text("1e-3", x=x_high, y=HORIZON_RATIO_LOG10, color=THRESHOLD_COLOR, alignment="right")
        if self._lag is not None and 0 < self._lag <= longest:
            # The echoed day sits lag - 1 steps before the window's last day.
            plt.vline(self._lag - 1, LAG_COLOR)
            plt.text(f"lag {self._lag}", x=self._lag - 1, y=0.5, color=LAG_COLOR, alignment="center")
        plt.xlim(0, max(1, x_high))
        bottom = math.floor(max(low, FLOOR_LOG10)) - 0.5
        plt.ylim(bottom, 1.0)
        # Ticks at multiples of 3 once the range is wide, so -3 (the horizon's 1e-3) has one.
        step = 1 if bottom > -6 else 3 * max(1, math.ceil(-bottom / 15))
        plt.yticks(list(range(0, math.floor(bottom), -step)))
        every = max(1, math.ceil(x_high / max(1, min(10, width // 6))))
        ticks = sorted({*range(0, x_high, every), x_high})
        plt.xticks(ticks, [str(t) for t in ticks])
