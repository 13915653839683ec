"""Helpers for the dashboard tests: waiting on the app, made-up runs."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.notifications import Notification
from textual.pilot import Pilot
from textual.widget import Widget

from engine.config import RunConfig
from engine.events import (
    EpochEnd,
    Gates,
    GradientFlow,
    GruGates,
    Hidden,
    Prediction,
    RunStarted,
    RunStateChanged,
)

# Each model's parameter count at hidden 10 with the 3-class head (as engine.models builds them).
PARAMETERS = {"lstm": 633, "rnn": 183, "gru": 483}


async def wait_until(pilot: Pilot, condition: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    """Let the app run until ``condition()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.05)


def notifications(app: App) -> list[Notification]:
    """The notifications the app has shown and not yet dismissed (Textual keeps them, with no
    public way to read them back: this is the tests' one look inside)."""
    return list(app._notifications)


def synthetic_run(config: RunConfig, epochs: int) -> list:
    """The events of a short, made-up run of the config's models, for tests without torch.

    Model i (in the config's order) has train loss 1.1 - 0.02 * epoch / (1 + i)."""
    events: list = [
        RunStarted(config=config.to_dict(), device="cpu", device_name="test CPU",
                   parameters={name: PARAMETERS[name] for name in config.model_names},
                   train_windows=200, val_windows=50, data_sha256="0", chance_loss=1.0986, best_loss=0.29,
                   batches_per_epoch=1, chunks_per_batch=1),
        RunStateChanged(state="running"),
    ]
    for epoch in range(1, epochs + 1):
        for i, model in enumerate(config.model_names):
            loss = 1.1 - 0.02 * epoch / (1 + i)
            events.append(EpochEnd(model=model, epoch=epoch, train_loss=loss, val_loss=loss + 0.01,
                                   val_acc=0.4 + 0.01 * epoch, grad_norm=0.1, lr=config.lr, seconds=0.01,
                                   samples_per_s=1000.0))
            events.append(Prediction(model=model, epoch=epoch, probabilities=[0.2, 0.5, 0.3],
                                     predicted=1, true=2))
    return events


class OneWidgetApp(App[None]):
    """An app showing just ``widget``, to test a panel on its own."""

    def __init__(self, widget: Widget) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


def visible_text(widget: Widget) -> str:
    """The widget's lines as they are on screen, border included."""
    region = Region(0, 0, widget.outer_size.width, widget.outer_size.height)
    return "\n".join(strip.text for strip in widget.render_lines(region))


def synthetic_probes(epoch: int, steps: int = 10, units: int = 10, *, window_start: int = 100,
                     models: tuple[str, ...] = ("lstm", "rnn")) -> list:
    """Made-up probe events of ``models`` for one epoch: every value is distinct and predictable.

    The LSTM's forget gate (and the GRU's update gate) at step s, unit u is
    (s * units + u) / (steps * units), so a test can name the exact value under any cursor
    position. Horizons: the LSTM steps - 1 (its cell's too), the RNN 6, the GRU steps - 2.
    """
    cells = steps * units

    def grid(offset: float, scale: float) -> list[list[float]]:
        return [[offset + scale * (s * units + u) / cells for u in range(units)] for s in range(steps)]

    window = [(day * 7) % 3 for day in range(steps + 2)]  # two days more than shown
    low_high = {gate: {"low": [0.1 * u / units for u in range(units)], "high": [0.5] * units}
                for gate in ("i", "f", "g", "o")}
    norms = [10.0 ** (-0.5 * k) for k in range(steps)]
    gru_low_high = {gate: {"low": [0.2] * units, "high": [0.1 * u / units for u in range(units)]}
                    for gate in ("r", "z", "n")}
    probes = {
        "lstm": [Gates(model="lstm", epoch=epoch, window_start=window_start, window=window, i=grid(0.0, 0.5),
                       f=grid(0.0, 1.0), g=grid(-1.0, 2.0), o=grid(0.5, 0.5), c=grid(-3.0, 6.0),
                       h=grid(-0.5, 1.0), saturation=low_high),
                 GradientFlow(model="lstm", epoch=epoch, norms=[1.0] * steps, cell_norms=[2.0] * steps,
                              horizon=steps - 1, cell_horizon=steps - 1)],
        "rnn": [Hidden(model="rnn", epoch=epoch, window_start=window_start, window=window, h=grid(-1.0, 2.0),
                       saturation=0.25, saturation_per_unit=[0.05 * u for u in range(units)]),
                GradientFlow(model="rnn", epoch=epoch, norms=norms, cell_norms=None, horizon=6, cell_horizon=None)],
        "gru": [GruGates(model="gru", epoch=epoch, window_start=window_start, window=window, r=grid(0.0, 0.5),
                         z=grid(0.0, 1.0), n=grid(-1.0, 2.0), h=grid(-0.5, 1.0), saturation=gru_low_high),
                GradientFlow(model="gru", epoch=epoch, norms=[10.0 ** (-0.2 * k) for k in range(steps)],
                             cell_norms=None, horizon=steps - 2, cell_horizon=None)],
    }
    # The probes of each model in turn, then the gradient flows, as the old pair's order was.
    return [probes[m][0] for m in models] + [probes[m][1] for m in models]
