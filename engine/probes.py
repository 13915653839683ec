"""Probes: look inside every model of a run after an epoch, without touching their training.

PyTorch's fused nn.LSTM / nn.RNN / nn.GRU kernels hide the per-step gates and states, so a
probe recomputes them from the models' own weights, one step at a time, from zero initial
states exactly as the models' forward does:

  * the LSTM's gates i, f, g, o, its cell c and hidden h on the seed's inference window;
  * the GRU's reset gate r, update gate z, candidate n and hidden h on the same window;
  * the RNN's hidden h on the same window;
  * gradient flow: ||dL/dh_t|| (all) and ||dL/dc_t|| (LSTM) for every step t of a fixed
    probe batch, and the "gradient horizon": how many steps back the norm stays above 1e-3
    of its value at the last step.

Probes only read. Weights are detached copies, so no parameter's .grad is written; they never
see the optimisers, and they draw no random numbers, so training is bit-identical with probes
on or off.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from engine.events import Alert, Event, Gates, GradientFlow, GruGates, Hidden
from engine.models import GRU, LSTM, StandardRNN

if TYPE_CHECKING:
    from engine.config import RunConfig
    from engine.trainer import Trainer

GATE_LOW, GATE_HIGH = 0.1, 0.9  # a gate below/above these is as good as shut/open
CANDIDATE_LIMITS = (-0.9, 0.9)  # g = tanh(.): saturated near either end
HIDDEN_SATURATED = 0.95  # |tanh| above this passes almost no gradient back
HORIZON_RATIO = 1e-3
PROBE_BATCH = 256  # windows in the gradient-flow batch, at most
MAX_PROBE_SHARE = 0.05  # of wall time, when probes are time-limited
SIGNIFICANT_DIGITS = 6

Array = Tensor | Sequence[Sequence[float]]


# -- unrolling the fused kernels step by step -------------------------------------------------


def _layer_weights(module: nn.RNNBase, layer: int) -> tuple[Tensor, Tensor, Tensor]:
    """(W_ih, W_hh, b_ih + b_hh) of one layer, detached: a probe reads weights, never trains them."""
    w_ih = getattr(module, f"weight_ih_l{layer}").detach()
    w_hh = getattr(module, f"weight_hh_l{layer}").detach()
    bias = getattr(module, f"bias_ih_l{layer}").detach() + getattr(module, f"bias_hh_l{layer}").detach()
    return w_ih, w_hh, bias


def _check_plain(module: nn.RNNBase) -> None:
    if module.bidirectional or not module.bias or getattr(module, "proj_size", 0) or module.batch_first:
        raise ValueError("probes support one-way, seq-first layers with biases and no projection")


def _zero_state(x: Tensor, hidden: int, leaf: bool) -> Tensor:
    # A leaf that requires grad makes every later state of its layer a graph node, so
    # autograd.grad can reach them while the (detached) weights stay out of the graph.
    return torch.zeros(x.size(1), hidden, dtype=x.dtype, device=x.device, requires_grad=leaf)


PROJECTED_STEPS = 64  # steps whose input projection is one product (a block's memory: 64 x B x G floats)


def _projected(x: Tensor, w_ih: Tensor, bias: Tensor) -> Iterator[Tensor]:
    """x_t @ W_ih^T + bias (B, G) for every step t of ``x`` (L, B, I), a product per block of
    PROJECTED_STEPS steps: at the seed's look-back of 1,000 the whole (L, B, 4H) at once was
    41 MB more for a probe to hold."""
    for block in x.split(PROJECTED_STEPS):
        yield from torch.addmm(bias, block.reshape(-1, x.size(-1)), w_ih.T).view(block.size(0), x.size(1), -1)


# Ops this small cost their dispatch (and, tracked, their autograd node), not their arithmetic:
# each step below is as few ops as its equations allow, with the input's share of every step
# computed up front. A probe took 35 ms at echo (look-back 35) with the equations written out.


def _unroll_lstm(lstm: nn.LSTM, x: Tensor, track: bool = False) -> dict[str, list[Tensor]]:
    """Run every layer from zero states; per-step i, f, g, o, c, h (each (B, H)) of the top layer.

    ``track``: the top layer's states become graph nodes for autograd.grad.
    """
    _check_plain(lstm)
    top: dict[str, list[Tensor]] = {}
    hidden = lstm.hidden_size
    for layer in range(lstm.num_layers):
        w_ih, w_hh, bias = _layer_weights(lstm, layer)
        x = x.to(w_ih.dtype)
        leaf = track and layer == lstm.num_layers - 1
        h = _zero_state(x, hidden, leaf)
        c = _zero_state(x, hidden, leaf)
        top = {key: [] for key in "ifgoch"}
        w_hh_t = w_hh.T
        for projected_t in _projected(x, w_ih, bias):
            gates = torch.addmm(projected_t, h, w_hh_t)
            i, f, _, o = gates.sigmoid().chunk(4, dim=-1)  # PyTorch's gate order: i, f, g, o
            g = gates[:, 2 * hidden : 3 * hidden].tanh()
            c = torch.addcmul(f * c, i, g)
            h = o * c.tanh()
            for key, value in zip("ifgoch", (i, f, g, o, c, h)):
                top[key].append(value)
        x = torch.stack(top["h"])  # the next layer's input
    return top


def _unroll_gru(gru: nn.GRU, x: Tensor, track: bool = False) -> dict[str, list[Tensor]]:
    """Run every layer from a zero state; per-step r, z, n, h (each (B, H)) of the top layer.

    PyTorch's GRU keeps b_hn inside the reset gate's product, so its biases are not summed
    as the LSTM's are: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) n + z h.
    """
    _check_plain(gru)
    top: dict[str, list[Tensor]] = {}
    hidden = gru.hidden_size
    for layer in range(gru.num_layers):
        w_ih = getattr(gru, f"weight_ih_l{layer}").detach()
        w_hh = getattr(gru, f"weight_hh_l{layer}").detach()
        b_ih = getattr(gru, f"bias_ih_l{layer}").detach()
        b_hh = getattr(gru, f"bias_hh_l{layer}").detach()
        x = x.to(w_ih.dtype)
        h = _zero_state(x, hidden, track and layer == gru.num_layers - 1)
        top = {key: [] for key in "rznh"}
        w_hh_t = w_hh.T
        for projected_t in _projected(x, w_ih, b_ih):  # PyTorch's gate order: r, z, n
            from_h = torch.addmm(b_hh, h, w_hh_t)
            r, z = (projected_t[:, : 2 * hidden] + from_h[:, : 2 * hidden]).sigmoid().chunk(2, dim=-1)
            n = torch.addcmul(projected_t[:, 2 * hidden :], r, from_h[:, 2 * hidden :]).tanh()
            h = torch.lerp(n, h, z)  # (1 - z) n + z h
            for key, value in zip("rznh", (r, z, n, h)):
                top[key].append(value)
        x = torch.stack(top["h"])
    return top


def _unroll_rnn(rnn: nn.RNN, x: Tensor, track: bool = False) -> list[Tensor]:
    """Run every layer from a zero state; the top layer's per-step h (each (B, H))."""
    _check_plain(rnn)
    activation = torch.tanh if rnn.nonlinearity == "tanh" else torch.relu
    hs: list[Tensor] = []
    for layer in range(rnn.num_layers):
        w_ih, w_hh, bias = _layer_weights(rnn, layer)
        x = x.to(w_ih.dtype)
        h = _zero_state(x, rnn.hidden_size, track and layer == rnn.num_layers - 1)
        hs = []
        w_hh_t = w_hh.T
        for projected_t in _projected(x, w_ih, bias):
            h = activation(torch.addmm(projected_t, h, w_hh_t))
            hs.append(h)
        x = torch.stack(hs)
    return hs


# no_grad as a block in these, not a decorator: mutmut leaves decorated functions unmutated


def lstm_gates(model: LSTM, window_onehot: Tensor) -> dict[str, Tensor]:
    """The top layer's i, f, g, o, c, h for every step of a window (L, B, 3): each (L, B, H)."""
    with torch.no_grad():
        steps = _unroll_lstm(model.lstm, window_onehot)
        return {key: torch.stack(values) for key, values in steps.items()}


def gru_gates(model: GRU, window_onehot: Tensor) -> dict[str, Tensor]:
    """The top layer's r, z, n, h for every step of a window (L, B, 3): each (L, B, H)."""
    with torch.no_grad():
        steps = _unroll_gru(model.gru, window_onehot)
        return {key: torch.stack(values) for key, values in steps.items()}


def rnn_hidden(model: StandardRNN, window_onehot: Tensor) -> Tensor:
    """The top layer's hidden state for every step of a window (L, B, 3): (L, B, H)."""
    with torch.no_grad():
        return torch.stack(_unroll_rnn(model.rnn, window_onehot))


# -- what the values say --------------------------------------------------------------------


def gate_saturation(
    gate_values: Array, low: float = GATE_LOW, high: float = GATE_HIGH
) -> tuple[list[float], list[float]]:
    """Per unit, the share of steps with the gate below ``low`` (shut) and above ``high`` (open).

    ``gate_values`` is [T][H]; returns (low [H], high [H]). The candidate g lives in [-1, 1],
    so the Prober asks it about -0.9 and 0.9: saturated at either end of tanh.
    """
    values = torch.as_tensor(gate_values, dtype=torch.float64)
    below = (values < low).double().mean(dim=0)
    above = (values > high).double().mean(dim=0)
    return below.tolist(), above.tolist()


def hidden_saturation(h: Array) -> float:
    """Share of (step, unit) cells of h [T][H] with |h| > 0.95, where tanh passes little gradient."""
    return float((torch.as_tensor(h).abs() > HIDDEN_SATURATED).double().mean())


def hidden_saturation_per_unit(h: Array) -> list[float]:
    """Per unit, the share of steps of h [T][H] with |h| > 0.95."""
    return (torch.as_tensor(h).abs() > HIDDEN_SATURATED).double().mean(dim=0).tolist()


# -- gradient flow --------------------------------------------------------------------------


def gradient_flow(
    model: nn.Module, inputs: Tensor, targets: Tensor, steps: int
) -> tuple[list[float], list[float] | None]:
    """||dL/dh_t|| (and ||dL/dc_t|| for the LSTM) of the top layer for the last ``steps`` steps.

    L is the mean cross-entropy of the model's head on the last step's hidden state, as in the
    model's forward, on ``inputs`` (L, B, 3) and ``targets`` (B,). Norms are Frobenius over batch
    and units, ordered from the last step backwards (index 0 = the last step). The cell norms
    are None for the RNN and the GRU (whose h is its only state).

    These are the deltas of backprop through time: dL/dc_t counts both ways c_t reaches the
    loss, through c_{t+1} and through h_t = o_t * tanh(c_t) (so the last step's is not zero).
    """
    _, norms, cell_norms = _unroll_and_flow(model, inputs, targets, steps)
    return norms, cell_norms


def states_and_gradient_flow(
    model: nn.Module, window: Tensor, inputs: Tensor, targets: Tensor, steps: int
) -> tuple[dict[str, Tensor], list[float], list[float] | None]:
    """The top layer's states on ``window`` (L, 1, 3), as lstm_gates, gru_gates or rnn_hidden
    give them (each key's last ``steps`` steps, (steps, H); the RNN's only key is "h"), and
    ``gradient_flow(model, inputs, targets, steps)``, from one unroll: the window rides as one
    more column of the probe batch, outside the loss, so its gradients are zero and no norm
    counts them. A probe unrolled each model twice before (2.6 of a 13 ms seed-10k probe)."""
    values, norms, cell_norms = _unroll_and_flow(model, torch.cat([inputs, window], dim=1), targets, steps)
    states = {key: torch.stack(per_step[-steps:])[:, -1].detach() for key, per_step in values.items()}
    return states, norms, cell_norms


def _unroll_and_flow(
    model: nn.Module, inputs: Tensor, targets: Tensor, steps: int
) -> tuple[dict[str, list[Tensor]], list[float], list[float] | None]:
    """The tracked unroll's per-step values by key, and gradient_flow's norms on the first
    len(targets) columns of ``inputs`` (any column past them is not in the loss)."""
    steps = max(1, min(steps, inputs.size(0)))
    batch = len(targets)
    with torch.enable_grad():
        if isinstance(model, LSTM):
            values = _unroll_lstm(model.lstm, inputs, track=True)
            hs, cs = values["h"], values["c"]
        elif isinstance(model, GRU):
            values = _unroll_gru(model.gru, inputs, track=True)
            hs, cs = values["h"], None
        elif isinstance(model, StandardRNN):
            values = {"h": _unroll_rnn(model.rnn, inputs, track=True)}
            hs, cs = values["h"], None
        else:
            raise TypeError(f"no gradient-flow probe for {type(model).__name__}")
        logits = nn.functional.linear(hs[-1][:batch], model.fc.weight.detach(), model.fc.bias.detach())
        loss = nn.functional.cross_entropy(logits, targets)
        wanted = hs[-steps:] + (cs[-steps:] if cs is not None else [])
        # autograd.grad returns the gradients instead of accumulating them into any .grad.
        grads = torch.autograd.grad(loss, wanted)
    # One op for every norm, one host sync; the probe batch's rows only.
    norms = torch.stack(torch._foreach_norm([g[:batch] for g in grads])).tolist()
    h_norms = norms[:steps][::-1]
    c_norms = norms[steps:][::-1] if cs is not None else None
    return values, h_norms, c_norms


def gradient_horizon(norms: Sequence[float], ratio: float = HORIZON_RATIO) -> int:
    """Steps back the gradient reaches: the largest j with norms[0..j] all >= ratio * norms[0].

    ``norms`` run from the last step backwards. 0 means the step before the last is already
    below; len(norms) - 1 means it never falls below. An empty list, or a last-step norm that is
    zero or not finite (no gradient to compare with), gives 0.
    """
    if not norms or not math.isfinite(norms[0]) or norms[0] <= 0:
        return 0
    floor = ratio * norms[0]
    for j, norm in enumerate(norms):
        if not norm >= floor:  # a NaN ends the horizon too
            return j - 1
    return len(norms) - 1


# -- when to probe ---------------------------------------------------------------------------


class ProbeSchedule:
    """When to probe: every ``probe_every``-th epoch, the first and last always.

    With ``probe_seconds`` > 0, a probe also waits until ``probe_seconds`` have passed since the
    last one began, and until probes have taken at most 5% of the wall time since then: on a
    busy or slow machine a probe can cost far more than it does on a quiet one.
    """

    def __init__(self, cfg: RunConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = cfg.probe_every
        self.seconds = cfg.probe_seconds
        self.last_epoch = cfg.epochs
        self.clock = clock
        self._next_after: float | None = None  # clock time before which no probe is due

    def due(self, epoch: int) -> bool:
        """Whether to probe after ``epoch``."""
        if self.every == 0:
            return False
        if epoch in (1, self.last_epoch):
            return True
        if epoch % self.every:
            return False
        return self._next_after is None or self.clock() >= self._next_after

    def record(self, started: float, seconds: float) -> None:
        """A probe began at clock time ``started`` and took ``seconds``."""
        if self.seconds:
            self._next_after = started + max(self.seconds, seconds / MAX_PROBE_SHARE)


# -- the probes of a run ----------------------------------------------------------------------


def one_line(exc: BaseException) -> str:
    """An exception as one line for an Alert: its type and the first line of its message."""
    first = (str(exc).splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"


def _sig(value: float) -> float:
    """Round to 6 significant digits: exact enough to plot, short in events.jsonl."""
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def _sig_rows(rows: list[list[float]]) -> list[list[float]]:
    return [[_sig(v) for v in row] for row in rows]


def _sig_list(values: list[float]) -> list[float]:
    return [_sig(v) for v in values]


def _evenly_spaced(n: int, count: int) -> Tensor:
    """``count`` distinct indices spread evenly over range(n), first and last included."""
    return torch.linspace(0, n - 1, count, dtype=torch.float64).round().long()


class Prober:
    """The probes of one run. Inputs are built once, so every epoch sees the same data.

    * gates and hidden states: the seed's inference window (the last look_back days, as
      Trainer.predict uses); its last ``steps`` steps are shown.
    * gradient flow: up to 256 validation windows, evenly spaced (training windows when there
      is no validation split), and no more than fit the memory budget in one pass.
    """

    def __init__(self, trainer: Trainer, steps: int) -> None:
        data = trainer.data
        self.models = trainer.models
        self.window = data.inference_window()
        self.window_start = len(data.series) - data.look_back
        self.window_classes = [int(v) for v in data.series[self.window_start :]]
        self.steps = min(data.look_back, steps)
        split = data.val if len(data.val) else data.train
        count = min(PROBE_BATCH, len(split), trainer.chunk)
        picks = _evenly_spaced(len(split), count).to(split.starts.device)
        self.inputs, self.targets = data.batch(split.starts[picks])

    def probe(self, epoch: int) -> list[Event]:
        """Per model, its states probe and its gradient flow, from one unroll; an Alert for a
        probe that raised (both, when the unroll itself did)."""
        events: list[Event] = []
        for name, model in self.models.items():
            kind, states_event = (("gates", self.gates) if isinstance(model, LSTM)
                                  else ("gates", self.gru_gates) if isinstance(model, GRU) else ("hidden", self.hidden))
            try:
                states, norms, cell_norms = states_and_gradient_flow(
                    model, self.window, self.inputs, self.targets, self.steps)
            except Exception as exc:  # a broken probe must not stop training
                events.append(Alert(level="warning", message=f"probe {name.upper()} failed at epoch {epoch}: "
                                                             f"{one_line(exc)}"))
                continue
            for what, build, found in ((kind, states_event, (states,)),
                                       ("gradient flow", self.gradient_flow, (norms, cell_norms))):
                try:
                    event = build(name, epoch, *found)
                except Exception as exc:
                    events.append(Alert(level="warning", message=f"probe {name.upper()} {what} failed at epoch "
                                                                 f"{epoch}: {one_line(exc)}"))
                    continue
                if event is not None:
                    events.append(event)
        return events

    def gates(self, name: str, epoch: int, states: dict[str, Tensor]) -> Gates | None:
        """None when a value is not finite (JSON could not carry it, and no chart could show it)."""
        shown = torch.stack([states[key] for key in "ifgoch"]).cpu()
        if not torch.isfinite(shown).all():
            return None
        saturation = {}
        for key, gate in zip("ifgo", shown):
            low, high = gate_saturation(gate, *CANDIDATE_LIMITS) if key == "g" else gate_saturation(gate)
            saturation[key] = {"low": _sig_list(low), "high": _sig_list(high)}
        i, f, g, o, c, h = (_sig_rows(rows) for rows in shown.tolist())
        return Gates(
            model=name, epoch=epoch, window_start=self.window_start, window=self.window_classes,
            i=i, f=f, g=g, o=o, c=c, h=h, saturation=saturation,
        )

    def gru_gates(self, name: str, epoch: int, states: dict[str, Tensor]) -> GruGates | None:
        """None when a value is not finite, as for the LSTM's."""
        shown = torch.stack([states[key] for key in "rznh"]).cpu()
        if not torch.isfinite(shown).all():
            return None
        saturation = {}
        for key, gate in zip("rzn", shown):
            low, high = gate_saturation(gate, *CANDIDATE_LIMITS) if key == "n" else gate_saturation(gate)
            saturation[key] = {"low": _sig_list(low), "high": _sig_list(high)}
        r, z, n, h = (_sig_rows(rows) for rows in shown.tolist())
        return GruGates(
            model=name, epoch=epoch, window_start=self.window_start, window=self.window_classes,
            r=r, z=z, n=n, h=h, saturation=saturation,
        )

    def hidden(self, name: str, epoch: int, states: dict[str, Tensor]) -> Hidden | None:
        shown = states["h"].cpu()
        if not torch.isfinite(shown).all():
            return None
        h = _sig_rows(shown.tolist())
        return Hidden(
            model=name, epoch=epoch, window_start=self.window_start, window=self.window_classes,
            h=h, saturation=_sig(hidden_saturation(shown)),
            saturation_per_unit=_sig_list(hidden_saturation_per_unit(shown)),
        )

    def gradient_flow(self, name: str, epoch: int, norms: list[float],
                      cell_norms: list[float] | None) -> GradientFlow | None:
        if not all(math.isfinite(v) for v in norms + (cell_norms or [])):
            return None
        return GradientFlow(
            model=name, epoch=epoch, norms=_sig_list(norms),
            cell_norms=None if cell_norms is None else _sig_list(cell_norms),
            horizon=gradient_horizon(norms),
            cell_horizon=None if cell_norms is None else gradient_horizon(cell_norms),
        )
