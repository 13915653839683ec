"""Probes: the recomputed insides equal the fused kernels, and looking never changes training."""

from __future__ import annotations

import itertools
import math
import threading
from fractions import Fraction

import numpy as np
import pytest
import torch
from torch import nn

import engine.probes
from engine.config import RunConfig
from engine.events import (
    Alert,
    EpochEnd,
    Event,
    Gates,
    GradientFlow,
    GruGates,
    Hidden,
    RunStateChanged,
    from_dict,
)
from engine.models import GRU, LSTM, StandardRNN
from engine.probes import (
    Prober,
    ProbeSchedule,
    gate_saturation,
    gradient_flow,
    gradient_horizon,
    gru_gates,
    hidden_saturation,
    hidden_saturation_per_unit,
    lstm_gates,
    one_line,
    rnn_hidden,
)
from engine.rundir.directory import RunDirectory
from engine.session import Session
from engine.trainer import Trainer

TINY = RunConfig(series_length=300, look_back=5, epochs=2, device="cpu", probe_seconds=0.0)


def one_hot_windows(look_back: int, batch: int, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    classes = torch.randint(0, 3, (look_back, batch), generator=g)
    return nn.functional.one_hot(classes, 3).to(dtype)


def random_targets(batch: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 3, (batch,), generator=torch.Generator().manual_seed(seed))


def make_model(kind: str, hidden: int = 6, layers: int = 1, seed: int = 3) -> nn.Module:
    torch.manual_seed(seed)
    if kind == "lstm":
        return LSTM(3, hidden, 3, num_layers=layers, forget_bias=1.5)
    if kind == "gru":
        return GRU(3, hidden, 3, num_layers=layers)
    return StandardRNN(3, hidden, 3, num_layers=layers)


def recurrent_of(model: nn.Module) -> nn.RNNBase:
    return model.lstm if isinstance(model, LSTM) else model.gru if isinstance(model, GRU) else model.rnn


def recomputed_hidden(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The probe's top-layer h at every step, whatever the kind."""
    if isinstance(model, LSTM):
        return lstm_gates(model, x)["h"]
    return gru_gates(model, x)["h"] if isinstance(model, GRU) else rnn_hidden(model, x)


def zero_state(model: nn.Module, batch: int):
    h = torch.zeros(model.num_layers, batch, model.hidden_size, dtype=model.fc.weight.dtype)
    return (h, h.clone()) if isinstance(model, LSTM) else h


def step_by_step(model: nn.Module, x: torch.Tensor, nudge=None) -> tuple[list, torch.Tensor]:
    """The model's own nn.LSTM / nn.RNN / nn.GRU fed one step at a time, carrying its state.

    Returns each step's state ((h, c) or h, all layers) and the logits of the last step.
    ``nudge(t, state) -> state`` may change the state after step t (finite differences).
    """
    recurrent = recurrent_of(model)
    state = zero_state(model, x.size(1))
    states = []
    for t in range(x.size(0)):
        _, state = recurrent(x[t : t + 1], state)
        if nudge is not None:
            state = nudge(t, state)
        states.append(state)
    h = state[0] if isinstance(model, LSTM) else state
    return states, model.fc(h[-1])


def run_session(config: RunConfig) -> tuple[list[Event], Session]:
    """Run a Session to its end; its events and the session (whose trainer holds the models)."""
    events: list[Event] = []
    done = threading.Event()

    def sink(event: Event) -> None:
        events.append(event)
        if isinstance(event, RunStateChanged) and event.state in ("finished", "failed"):
            done.set()

    session = Session(config, [sink]).start()
    assert done.wait(60), [e.name for e in events[-5:]]
    session.close()
    return events, session


def sig6(value: float) -> bool:
    return float(f"{value:.6g}") == value


# -- recomputed insides equal the fused kernels ------------------------------------------------


@pytest.mark.parametrize("layers", [1, 2])
def test_recomputed_lstm_hidden_states_and_final_cell_equal_nn_lstm(layers):
    model = make_model("lstm", layers=layers)
    x = one_hot_windows(look_back=7, batch=4)
    out, (_, c_n) = model.lstm(x, zero_state(model, 4))
    gates = lstm_gates(model, x)
    torch.testing.assert_close(gates["h"], out, rtol=0, atol=1e-5)
    torch.testing.assert_close(gates["c"][-1], c_n[-1], rtol=0, atol=1e-5)


@pytest.mark.parametrize("layers", [1, 2])
def test_recomputed_rnn_hidden_states_equal_nn_rnn(layers):
    model = make_model("rnn", layers=layers)
    x = one_hot_windows(look_back=7, batch=4)
    out, _ = model.rnn(x, zero_state(model, 4))
    torch.testing.assert_close(rnn_hidden(model, x), out, rtol=0, atol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "rnn", "gru"])
def test_a_window_longer_than_a_projected_block_is_recomputed_as_the_fused_kernel_runs_it(kind, monkeypatch):
    """The input's projection is one product per block of steps: 7 steps in blocks of 3."""
    monkeypatch.setattr(engine.probes, "PROJECTED_STEPS", 3)
    model = make_model(kind, layers=2)
    x = one_hot_windows(look_back=7, batch=4)
    layer = getattr(model, kind)
    out = layer(x, zero_state(model, 4))[0]
    states = {"lstm": lambda: lstm_gates(model, x)["h"], "rnn": lambda: rnn_hidden(model, x),
              "gru": lambda: gru_gates(model, x)["h"]}[kind]()
    torch.testing.assert_close(states, out, rtol=0, atol=1e-5)


def test_gates_lie_in_their_ranges():
    model = make_model("lstm", layers=2)
    gates = lstm_gates(model, one_hot_windows(look_back=9, batch=3))
    for key in "ifo":
        assert gates[key].min() >= 0 and gates[key].max() <= 1, key
    assert gates["g"].min() >= -1 and gates["g"].max() <= 1
    assert gates["h"].abs().max() <= 1


@pytest.mark.parametrize("layers", [1, 2])
def test_recomputed_gru_hidden_states_equal_nn_gru(layers):
    model = make_model("gru", layers=layers)
    x = one_hot_windows(look_back=7, batch=4)
    out, _ = model.gru(x, zero_state(model, 4))
    torch.testing.assert_close(gru_gates(model, x)["h"], out, rtol=0, atol=1e-5)


def test_gru_gates_lie_in_their_ranges():
    gates = gru_gates(make_model("gru", layers=2), one_hot_windows(look_back=9, batch=3))
    for key in "rz":
        assert gates[key].min() >= 0 and gates[key].max() <= 1, key
    assert gates["n"].min() >= -1 and gates["n"].max() <= 1
    assert gates["h"].abs().max() <= 1


@pytest.mark.parametrize("kind", ["lstm", "rnn", "gru"])
def test_the_recomputed_last_hidden_state_gives_the_models_logits(kind):
    model = make_model(kind, layers=2)
    x = one_hot_windows(look_back=6, batch=2)
    h = recomputed_hidden(model, x)
    with torch.no_grad():
        torch.testing.assert_close(model.fc(h[-1]), model(x), rtol=0, atol=1e-5)


# -- every gate at every step, against a hand unroll of PyTorch's documented equations ----------
# nn.LSTM's documentation: weight_ih_l<k> is (W_ii|W_if|W_ig|W_io), hidden_size rows each, and so
# are weight_hh_l<k>, bias_ih_l<k> and bias_hh_l<k>; from zero states, at each step
#   i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)    f = sigmoid(W_if x + b_if + W_hf h + b_hf)
#   g = tanh(W_ig x + b_ig + W_hg h + b_hg)       o = sigmoid(W_io x + b_io + W_ho h + b_ho)
#   c' = f * c + i * g                            h' = o * tanh(c')
# The unroll below takes each gate's rows by name, in float64 numpy: nothing of engine/probes.py.

DOCUMENTED_GATE_ROWS = "ifgo"


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def gate_rows(module: nn.LSTM, name: str, layer: int, gate: str) -> np.ndarray:
    """The rows of parameter ``name`` (weight_ih, weight_hh, bias_ih, bias_hh) that feed ``gate``."""
    k, hidden = DOCUMENTED_GATE_ROWS.index(gate), module.hidden_size
    return getattr(module, f"{name}_l{layer}").detach().double().numpy()[k * hidden : (k + 1) * hidden]


def hand_unrolled_lstm(lstm: nn.LSTM, x: torch.Tensor) -> dict[str, np.ndarray]:
    """The top layer's i, f, g, o, c, h at every step of x (L, B, I): each (L, B, H)."""
    inputs = x.detach().double().numpy()
    for layer in range(lstm.num_layers):
        w = {(name, gate): gate_rows(lstm, name, layer, gate)
             for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh") for gate in DOCUMENTED_GATE_ROWS}
        h = np.zeros((inputs.shape[1], lstm.hidden_size))
        c = np.zeros_like(h)
        steps: dict[str, list[np.ndarray]] = {key: [] for key in "ifgoch"}
        for x_t in inputs:
            pre = {gate: x_t @ w["weight_ih", gate].T + w["bias_ih", gate] + h @ w["weight_hh", gate].T
                   + w["bias_hh", gate] for gate in DOCUMENTED_GATE_ROWS}
            i, f, g, o = sigmoid(pre["i"]), sigmoid(pre["f"]), np.tanh(pre["g"]), sigmoid(pre["o"])
            c = f * c + i * g
            h = o * np.tanh(c)
            for key, value in {"i": i, "f": f, "g": g, "o": o, "c": c, "h": h}.items():
                steps[key].append(value)
        inputs = np.stack(steps["h"])  # the next layer's input
    return {key: np.stack(values) for key, values in steps.items()}


def hand_unrolled_rnn(rnn: nn.RNN, x: torch.Tensor) -> np.ndarray:
    """The top layer's h at every step, h' = tanh(W_ih x + b_ih + W_hh h + b_hh), float64: (L, B, H)."""
    inputs = x.detach().double().numpy()
    for layer in range(rnn.num_layers):
        w_ih, w_hh, b_ih, b_hh = (getattr(rnn, f"{name}_l{layer}").detach().double().numpy()
                                  for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
        h = np.zeros((inputs.shape[1], rnn.hidden_size))
        hs = []
        for x_t in inputs:
            h = np.tanh(x_t @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
            hs.append(h)
        inputs = np.stack(hs)
    return inputs


# nn.GRU's documentation: weight_ih_l<k> is (W_ir|W_iz|W_in), and likewise weight_hh_l<k>, bias_ih_l<k>
# and bias_hh_l<k>; from a zero state, at each step
#   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
#   n = tanh(W_in x + b_in + r * (W_hn h + b_hn))  h' = (1 - z) * n + z * h
DOCUMENTED_GRU_ROWS = "rzn"


def gru_rows(module: nn.GRU, name: str, layer: int, gate: str) -> np.ndarray:
    k, hidden = DOCUMENTED_GRU_ROWS.index(gate), module.hidden_size
    return getattr(module, f"{name}_l{layer}").detach().double().numpy()[k * hidden : (k + 1) * hidden]


def hand_unrolled_gru(gru: nn.GRU, x: torch.Tensor) -> dict[str, np.ndarray]:
    """The top layer's r, z, n, h at every step of x (L, B, I), float64: each (L, B, H)."""
    inputs = x.detach().double().numpy()
    for layer in range(gru.num_layers):
        w = {(name, gate): gru_rows(gru, name, layer, gate)
             for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh") for gate in DOCUMENTED_GRU_ROWS}
        h = np.zeros((inputs.shape[1], gru.hidden_size))
        steps: dict[str, list[np.ndarray]] = {key: [] for key in "rznh"}
        for x_t in inputs:
            r = sigmoid(x_t @ w["weight_ih", "r"].T + w["bias_ih", "r"] + h @ w["weight_hh", "r"].T + w["bias_hh", "r"])
            z = sigmoid(x_t @ w["weight_ih", "z"].T + w["bias_ih", "z"] + h @ w["weight_hh", "z"].T + w["bias_hh", "z"])
            n = np.tanh(x_t @ w["weight_ih", "n"].T + w["bias_ih", "n"]
                        + r * (h @ w["weight_hh", "n"].T + w["bias_hh", "n"]))
            h = (1 - z) * n + z * h
            for key, value in {"r": r, "z": z, "n": n, "h": h}.items():
                steps[key].append(value)
        inputs = np.stack(steps["h"])
    return {key: np.stack(values) for key, values in steps.items()}


@pytest.mark.parametrize("layers", [1, 2])
def test_the_hand_unroll_reproduces_nn_grus_h_at_every_step(layers):
    model = make_model("gru", layers=layers)
    x = one_hot_windows(look_back=7, batch=4)
    out, _ = model.gru(x, zero_state(model, 4))
    np.testing.assert_allclose(out.detach().numpy(), hand_unrolled_gru(model.gru, x)["h"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("key", list("rznh"))
def test_each_gru_gate_and_state_at_every_step_equals_the_hand_unroll(key, layers):
    model = make_model("gru", layers=layers)
    x = one_hot_windows(look_back=7, batch=4)
    recomputed = gru_gates(model, x)[key]
    np.testing.assert_allclose(recomputed.numpy(), hand_unrolled_gru(model.gru, x)[key], rtol=0, atol=1e-5)


def test_the_test_grus_gates_differ_so_a_swapped_label_would_show():
    reference = hand_unrolled_gru(make_model("gru", layers=2).gru, one_hot_windows(look_back=7, batch=4))
    for a, b in itertools.combinations("rzn", 2):
        assert np.abs(reference[a] - reference[b]).max(axis=(1, 2)).min() > 1e-2, (a, b)


@pytest.mark.parametrize("layers", [1, 2])
def test_the_hand_unroll_reproduces_nn_lstms_h_and_c_at_every_step(layers):
    """The reference itself, checked against the fused kernel wherever the kernel shows a state."""
    model = make_model("lstm", layers=layers)
    x = one_hot_windows(look_back=7, batch=4)
    states, _ = step_by_step(model, x)
    reference = hand_unrolled_lstm(model.lstm, x)
    for t, (h, c) in enumerate(states):
        np.testing.assert_allclose(h[-1].detach().numpy(), reference["h"][t], rtol=0, atol=1e-5, err_msg=f"h_{t}")
        np.testing.assert_allclose(c[-1].detach().numpy(), reference["c"][t], rtol=0, atol=1e-5, err_msg=f"c_{t}")


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("key", list("ifgoch"))
def test_each_gate_and_state_at_every_step_equals_the_hand_unroll(key, layers):
    model = make_model("lstm", layers=layers)
    x = one_hot_windows(look_back=7, batch=4)
    recomputed = lstm_gates(model, x)[key]
    np.testing.assert_allclose(recomputed.numpy(), hand_unrolled_lstm(model.lstm, x)[key], rtol=0, atol=1e-5)


def test_the_test_models_gates_differ_so_a_swapped_label_would_show():
    """Two gates whose values agreed to the tolerance above could trade labels unnoticed: at
    every step, every two of the test model's gates differ by far more than that somewhere."""
    reference = hand_unrolled_lstm(make_model("lstm", layers=2).lstm, one_hot_windows(look_back=7, batch=4))
    for a, b in itertools.combinations("ifgo", 2):
        assert np.abs(reference[a] - reference[b]).max(axis=(1, 2)).min() > 1e-2, (a, b)


@pytest.mark.parametrize("layers", [1, 2])
def test_recomputed_rnn_hidden_states_equal_a_hand_unroll(layers):
    model = make_model("rnn", layers=layers)
    x = one_hot_windows(look_back=7, batch=4)
    np.testing.assert_allclose(rnn_hidden(model, x).numpy(), hand_unrolled_rnn(model.rnn, x), rtol=0, atol=1e-5)


def test_a_float64_model_is_probed_in_float64_whatever_the_windows_dtype():
    model = make_model("lstm", layers=2).double()
    x = one_hot_windows(look_back=6, batch=3)  # float32, as the data makes it
    gates = lstm_gates(model, x)
    assert gates["h"].dtype == torch.float64
    for key in "ifgoch":
        np.testing.assert_allclose(gates[key].numpy(), hand_unrolled_lstm(model.lstm, x)[key], rtol=0, atol=1e-12)
    rnn = make_model("rnn", layers=2).double()
    np.testing.assert_allclose(rnn_hidden(rnn, x).numpy(), hand_unrolled_rnn(rnn.rnn, x), rtol=0, atol=1e-12)
    gru = make_model("gru", layers=2).double()
    gru_states = gru_gates(gru, x)
    assert gru_states["h"].dtype == torch.float64
    for key in "rznh":
        np.testing.assert_allclose(gru_states[key].numpy(), hand_unrolled_gru(gru.gru, x)[key], rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["lstm", "rnn", "gru"])
def test_recomputed_states_live_on_the_models_device(kind):
    meta = torch.device("meta")  # a device other than the CPU, on any machine: shapes, no values
    model = make_model(kind, layers=2).to(meta)
    x = one_hot_windows(look_back=4, batch=2).to(meta)
    h = recomputed_hidden(model, x)
    assert (h.device, h.shape) == (meta, (4, 2, 6))


def test_a_relu_rnns_recomputed_hidden_states_equal_nn_rnns():
    model = make_model("rnn", layers=2)
    torch.manual_seed(8)
    model.rnn = nn.RNN(3, 6, num_layers=2, nonlinearity="relu")
    x = one_hot_windows(look_back=7, batch=4)
    out, _ = model.rnn(x, zero_state(model, 4))
    torch.testing.assert_close(rnn_hidden(model, x), out, rtol=0, atol=1e-5)


@pytest.mark.parametrize("change", [dict(bidirectional=True), dict(bias=False), dict(proj_size=2),
                                    dict(batch_first=True)], ids=["bidirectional", "no-bias", "projected",
                                                                  "batch-first"])
def test_probes_refuse_a_layer_they_would_unroll_wrongly(change):
    lstm, rnn = make_model("lstm"), make_model("rnn")
    lstm.lstm = nn.LSTM(3, 6, **change)
    x = one_hot_windows(look_back=4, batch=2)
    refusal = "^probes support one-way, seq-first layers with biases and no projection$"
    with pytest.raises(ValueError, match=refusal):
        lstm_gates(lstm, x)
    if "proj_size" not in change:  # nn.RNN and nn.GRU have no projection
        rnn.rnn = nn.RNN(3, 6, **change)
        with pytest.raises(ValueError, match=refusal):
            rnn_hidden(rnn, x)
        gru = make_model("gru")
        gru.gru = nn.GRU(3, 6, **change)
        with pytest.raises(ValueError, match=refusal):
            gru_gates(gru, x)


# -- gradient flow ------------------------------------------------------------------------------


def total_cell_gradient(h: torch.Tensor, c: torch.Tensor, h_grad: torch.Tensor, c_grad) -> torch.Tensor:
    """dL/dc_t as backprop through time has it: through the next step and through h_t = o_t tanh(c_t).

    The fused kernel returns h_t and c_t side by side, so the grad retained on its c_t misses
    the path through h_t; add it, with o_t = h_t / tanh(c_t) read off the kernel's outputs.
    """
    through_h = h_grad * (h / c.tanh()) * (1 - c.tanh() ** 2)
    return through_h if c_grad is None else c_grad + through_h


def fused_gradient_norms(model: nn.Module, x: torch.Tensor, targets: torch.Tensor):
    """||dL/dh_t|| (and ||dL/dc_t|| for the LSTM) of the top layer, the last step first, by autograd
    through the model's own nn.LSTM / nn.RNN / nn.GRU fed one step at a time; the cell norms None
    for the RNN and the GRU."""
    states, logits = step_by_step(model, x)
    for state in states:
        for t in state if isinstance(model, LSTM) else (state,):
            t.retain_grad()
    nn.functional.cross_entropy(logits, targets).backward()
    last_first = states[::-1]
    if not isinstance(model, LSTM):
        return [h.grad[-1].norm().item() for h in last_first], None
    cells = [
        total_cell_gradient(h[-1], c[-1], h.grad[-1], None if c.grad is None else c.grad[-1]).norm().item()
        for h, c in last_first
    ]
    return [h.grad[-1].norm().item() for h, _ in last_first], cells


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("kind", ["lstm", "rnn", "gru"])
def test_gradient_norms_equal_autograd_through_the_fused_layers_one_step_at_a_time(kind, layers):
    model = make_model(kind, layers=layers).double()
    x, targets = one_hot_windows(look_back=8, batch=5, dtype=torch.float64), random_targets(5)
    expected_norms, expected_cells = fused_gradient_norms(model, x, targets)

    norms, cell_norms = gradient_flow(model, x, targets, steps=8)

    assert norms == pytest.approx(expected_norms, rel=1e-9)
    if kind == "lstm":
        assert cell_norms == pytest.approx(expected_cells, rel=1e-9)
    else:
        assert cell_norms is None


@pytest.mark.parametrize("kind", ["lstm", "rnn", "gru"])
def test_gradient_norms_agree_with_central_finite_differences(kind):
    model = make_model(kind, hidden=2).double()
    x, targets = one_hot_windows(look_back=3, batch=4, dtype=torch.float64), random_targets(4)
    eps = 1e-6

    def nudged_state(state, which: int, index: tuple[int, int], delta: float):
        """The state after a step with one top-layer value of h (which 0) or c (which 1) moved."""
        if kind != "lstm":  # the RNN's and the GRU's state is h alone
            h = state.clone()
            h[-1][index] += delta
            return h
        h, c = (s.clone() for s in state)
        if which == 0:
            h[-1][index] += delta
        else:  # c_t moves before h_t = o_t tanh(c_t) is formed, so h_t follows it
            o = h[-1][index] / c[-1][index].tanh()
            c[-1][index] += delta
            h[-1][index] = o * c[-1][index].tanh()
        return h, c

    def loss_nudged(at: int, which: int, index: tuple[int, int], delta: float) -> float:
        def nudge(t, state):
            return nudged_state(state, which, index, delta) if t == at else state

        with torch.no_grad():
            _, logits = step_by_step(model, x, nudge)
            return nn.functional.cross_entropy(logits, targets).item()

    def fd_norm(at: int, which: int) -> float:
        squares = 0.0
        for b in range(4):
            for j in range(2):
                slope = (loss_nudged(at, which, (b, j), eps) - loss_nudged(at, which, (b, j), -eps)) / (2 * eps)
                squares += slope**2
        return math.sqrt(squares)

    norms, cell_norms = gradient_flow(model, x, targets, steps=3)
    assert norms == pytest.approx([fd_norm(t, 0) for t in (2, 1, 0)], rel=1e-6)
    if kind == "lstm":
        assert cell_norms == pytest.approx([fd_norm(t, 1) for t in (2, 1, 0)], rel=1e-6)


def test_gradient_flow_returns_the_last_steps_only_last_first():
    model = make_model("lstm")
    x, targets = one_hot_windows(look_back=8, batch=3), random_targets(3)
    all_norms, all_cells = gradient_flow(model, x, targets, steps=8)
    norms, cells = gradient_flow(model, x, targets, steps=3)
    assert norms == pytest.approx(all_norms[:3], rel=1e-6)
    assert cells == pytest.approx(all_cells[:3], rel=1e-6)


@pytest.mark.parametrize(("steps", "shown"), [(0, 1), (1, 1), (8, 8), (50, 8)])
def test_gradient_flow_shows_at_least_one_step_and_at_most_the_window(steps, shown):
    x, targets = one_hot_windows(look_back=8, batch=3), random_targets(3)
    for kind in ("lstm", "rnn"):
        norms, cells = gradient_flow(make_model(kind), x, targets, steps=steps)
        assert len(norms) == shown and (cells is None or len(cells) == shown)


def test_gradient_flow_refuses_a_model_it_has_no_probe_for():
    with pytest.raises(TypeError, match="no gradient-flow probe for Linear"):
        gradient_flow(nn.Linear(3, 3), one_hot_windows(look_back=4, batch=2), random_targets(2), steps=4)


def test_gradient_flow_writes_no_parameter_gradient():
    model = make_model("lstm", layers=2)
    gradient_flow(model, one_hot_windows(look_back=5, batch=3), random_targets(3), steps=5)
    assert all(p.grad is None for p in model.parameters())


# -- gradient horizon and saturation ------------------------------------------------------------


def test_horizon_is_the_last_index_when_every_norm_stays_above_the_ratio():
    assert gradient_horizon([1.0, 0.5, 0.01, 0.002, 0.001]) == 4


def test_horizon_ends_before_the_first_norm_below_the_ratio():
    assert gradient_horizon([1.0, 0.1, 0.01, 1e-4, 0.5]) == 2  # norms[3] is below: steps 0..2


def test_horizon_is_zero_when_the_step_before_the_last_is_already_below():
    assert gradient_horizon([2.0, 1e-3, 1.0]) == 0


def test_horizon_is_zero_for_a_single_norm():
    assert gradient_horizon([0.3]) == 0


@pytest.mark.parametrize("first", [0.0, math.nan, math.inf])
def test_horizon_is_zero_without_a_finite_positive_last_step_norm(first):
    assert gradient_horizon([first, 1.0, 1.0]) == 0


def test_horizon_uses_the_given_ratio():
    assert gradient_horizon([1.0, 0.2, 0.05], ratio=0.1) == 1


def test_gate_saturation_is_the_share_of_steps_below_0_1_and_above_0_9_per_unit():
    gate = [[0.05, 0.5, 0.95], [0.05, 0.95, 0.95], [0.5, 0.5, 0.95], [0.99, 0.5, 0.02]]
    low, high = gate_saturation(gate)
    assert low == [0.5, 0.0, 0.25]
    assert high == [0.25, 0.25, 0.75]


def test_a_gate_at_exactly_0_1_or_0_9_is_neither_shut_nor_open():
    assert gate_saturation([[0.1, 0.9]]) == ([0.0, 0.0], [0.0, 0.0])


def test_a_gate_a_hair_past_0_1_or_0_9_counts_in_float64_as_given():
    hair = 1e-12  # lost in float32, where 0.1 - hair is 0.1
    assert gate_saturation([[0.1 - hair, 0.9 + hair]]) == ([1.0, 0.0], [0.0, 1.0])


def test_hidden_saturation_is_the_share_of_cells_beyond_0_95():
    h = [[0.99, -0.97, 0.1], [-0.2, 0.96, 0.95], [0.0, -0.999, 0.5], [0.3, 0.4, -0.94]]
    assert hidden_saturation(h) == pytest.approx(4 / 12)
    assert hidden_saturation_per_unit(h) == [0.25, 0.75, 0.0]


# -- the probes of a run ------------------------------------------------------------------------


def test_the_gate_window_is_the_seeds_inference_window(cpu):
    trainer = Trainer(TINY, cpu)
    prober = Prober(trainer, steps=64)
    assert torch.equal(prober.window, trainer.data.inference_window())
    assert prober.window_start == TINY.series_length - TINY.look_back
    assert prober.window_classes == trainer.data.series[-TINY.look_back :].tolist()
    assert prober.steps == TINY.look_back  # min(look_back, probe_steps)


SHOWN = TINY.replace(look_back=8, probe_steps=3)  # a probe shows the last 3 of the window's 8 steps


def seed_window(cfg: RunConfig) -> tuple[np.ndarray, torch.Tensor]:
    """The seed's inference window, from the seed's own draws: its classes and one-hot (L, 1, 3)."""
    classes = np.random.RandomState(cfg.seed).randint(0, 3, size=cfg.series_length)[-cfg.look_back :]
    return classes, torch.from_numpy(np.eye(3)[classes][:, None, :])


def test_the_gates_event_shows_each_gate_of_the_windows_last_probe_steps_as_the_hand_unroll_has_it(cpu):
    trainer = Trainer(SHOWN, cpu)
    gates = Prober(trainer, steps=3).probe(epoch=1)[0]
    classes, window = seed_window(SHOWN)
    reference = hand_unrolled_lstm(trainer.models["lstm"].lstm, window)
    assert (gates.window, gates.window_start) == (classes.tolist(), SHOWN.series_length - 8)
    for key in "ifgoch":
        np.testing.assert_allclose(np.array(getattr(gates, key)), reference[key][-3:, 0], rtol=1e-5, atol=1e-6,
                                   err_msg=key)


def test_the_gates_events_saturation_is_each_gates_share_of_shut_and_open_steps_per_unit(cpu):
    trainer = Trainer(SHOWN, cpu)
    lstm = trainer.models["lstm"].lstm
    with torch.no_grad():  # weights 8 times their initial size: gates shut and open, each its own way
        for p in lstm.parameters():
            p.mul_(8)
    gates = Prober(trainer, steps=3).probe(epoch=1)[0]
    reference = hand_unrolled_lstm(lstm, seed_window(SHOWN)[1])
    expected = {}
    for key, (low, high) in {"i": (0.1, 0.9), "f": (0.1, 0.9), "g": (-0.9, 0.9), "o": (0.1, 0.9)}.items():
        shown = reference[key][-3:, 0]  # (steps, units)
        expected[key] = {"low": (shown < low).mean(axis=0).tolist(), "high": (shown > high).mean(axis=0).tolist()}
        assert gates.saturation[key]["low"] == pytest.approx(expected[key]["low"]), key
        assert gates.saturation[key]["high"] == pytest.approx(expected[key]["high"]), key
    assert all(expected[a] != expected[b] for a, b in itertools.combinations("ifgo", 2))  # no two alike


def test_the_hidden_event_shows_the_rnns_last_probe_steps_as_a_hand_unroll_has_them(cpu):
    trainer = Trainer(SHOWN, cpu)
    hidden = Prober(trainer, steps=3).probe(epoch=1)[2]
    classes, window = seed_window(SHOWN)
    h = hand_unrolled_rnn(trainer.models["rnn"].rnn, window)[-3:, 0]
    assert (hidden.window, hidden.window_start) == (classes.tolist(), SHOWN.series_length - 8)
    np.testing.assert_allclose(np.array(hidden.h), h, rtol=1e-5, atol=1e-6)
    assert hidden.saturation == pytest.approx((np.abs(h) > 0.95).mean())
    assert hidden.saturation_per_unit == pytest.approx((np.abs(h) > 0.95).mean(axis=0).tolist())


TRIO = SHOWN.replace(models="gru,lstm,rnn")


def test_the_gru_gates_event_shows_each_gate_of_the_windows_last_probe_steps_as_the_hand_unroll_has_it(cpu):
    trainer = Trainer(TRIO, cpu)
    gates = Prober(trainer, steps=3).probe(epoch=1)[0]
    classes, window = seed_window(TRIO)
    reference = hand_unrolled_gru(trainer.models["gru"].gru, window)
    assert isinstance(gates, GruGates) and gates.model == "gru"
    assert (gates.window, gates.window_start) == (classes.tolist(), TRIO.series_length - 8)
    for key in "rznh":
        np.testing.assert_allclose(np.array(getattr(gates, key)), reference[key][-3:, 0], rtol=1e-5, atol=1e-6,
                                   err_msg=key)


def test_the_gru_gates_events_saturation_is_each_gates_share_of_shut_and_open_steps_per_unit(cpu):
    trainer = Trainer(TRIO, cpu)
    gru = trainer.models["gru"].gru
    with torch.no_grad():
        for p in gru.parameters():
            p.mul_(8)
    gates = Prober(trainer, steps=3).probe(epoch=1)[0]
    reference = hand_unrolled_gru(gru, seed_window(TRIO)[1])
    for key, (low, high) in {"r": (0.1, 0.9), "z": (0.1, 0.9), "n": (-0.9, 0.9)}.items():
        shown = reference[key][-3:, 0]
        assert gates.saturation[key]["low"] == pytest.approx((shown < low).mean(axis=0).tolist()), key
        assert gates.saturation[key]["high"] == pytest.approx((shown > high).mean(axis=0).tolist()), key


def test_a_three_model_run_probes_each_model_in_its_order(cpu):
    events = Prober(Trainer(TRIO, cpu), steps=3).probe(epoch=2)
    assert [(type(e), e.model) for e in events] == [
        (GruGates, "gru"), (GradientFlow, "gru"), (Gates, "lstm"), (GradientFlow, "lstm"),
        (Hidden, "rnn"), (GradientFlow, "rnn"),
    ]


def test_the_gru_gradient_flow_event_is_autograds_through_nn_gru_on_the_probe_batch(cpu):
    trainer = Trainer(TRIO, cpu)
    prober = Prober(trainer, steps=3)
    flow = prober.probe(epoch=1)[1]
    norms, cells = fused_gradient_norms(trainer.models["gru"], prober.inputs, prober.targets)
    assert cells is None
    assert flow.norms == pytest.approx(norms[:3], rel=1e-4)
    assert (flow.horizon, flow.cell_norms, flow.cell_horizon) == (gradient_horizon(norms[:3]), None, None)


def test_gru_gates_events_round_trip_through_dicts(cpu):
    gates = Prober(Trainer(TRIO, cpu), steps=3).probe(epoch=1)[0]
    assert from_dict(gates.to_dict()) == gates


def test_the_gradient_flow_events_are_autograds_through_the_fused_layers_on_the_probe_batch(cpu):
    trainer = Trainer(SHOWN, cpu)
    prober = Prober(trainer, steps=3)
    _, lstm_flow, _, rnn_flow = prober.probe(epoch=1)
    for event in (lstm_flow, rnn_flow):
        model = trainer.models[event.model]
        norms, cells = fused_gradient_norms(model, prober.inputs, prober.targets)
        assert event.norms == pytest.approx(norms[:3], rel=1e-4)
        assert event.horizon == gradient_horizon(norms[:3])
        if event.model == "lstm":
            assert event.cell_norms == pytest.approx(cells[:3], rel=1e-4)
            assert event.cell_horizon == gradient_horizon(cells[:3])
        else:
            assert event.cell_norms is None and event.cell_horizon is None


def test_the_probe_batch_is_evenly_spaced_validation_windows_up_to_256(cpu):
    trainer = Trainer(RunConfig(series_length=2_000, look_back=5, device="cpu"), cpu)
    prober = Prober(trainer, steps=64)
    assert len(prober.targets) == 256
    starts = trainer.data.val.starts
    picks = torch.linspace(0, len(starts) - 1, 256).round().long()
    expected_inputs, expected_targets = trainer.data.batch(starts[picks])
    assert torch.equal(prober.inputs, expected_inputs) and torch.equal(prober.targets, expected_targets)
    assert int(picks[0]) == 0 and int(picks[-1]) == len(starts) - 1


def test_the_probe_batch_of_a_long_split_is_evenly_spaced_to_the_window():
    """round(k (n - 1) / 255) for k = 0..255, exactly, on a split of ten million windows (computed in
    float32, 37 of the 256 picks would be a window off)."""
    n = 10_000_000
    assert engine.probes._evenly_spaced(n, 256).tolist() == [round(Fraction(k * (n - 1), 255)) for k in range(256)]


def test_a_validation_split_of_fewer_than_256_windows_is_the_whole_probe_batch(cpu):
    trainer = Trainer(TINY, cpu)
    assert len(trainer.data.val) < 256 <= trainer.chunk
    prober = Prober(trainer, steps=64)
    expected_inputs, expected_targets = trainer.data.batch(trainer.data.val.starts)  # each window once
    assert torch.equal(prober.inputs, expected_inputs) and torch.equal(prober.targets, expected_targets)


def test_the_probe_batch_is_no_bigger_than_a_training_chunk(cpu):
    # hidden 32, look-back 100 in the 1 MiB minimum budget: chunks of 7 windows
    trainer = Trainer(RunConfig(series_length=2_000, look_back=100, hidden=32, memory_budget=2**20, device="cpu"),
                      cpu)
    assert trainer.chunk < 256
    prober = Prober(trainer, steps=64)
    assert len(prober.targets) == prober.inputs.size(1) == trainer.chunk
    assert prober.steps == 64  # min(look_back 100, probe steps 64)


def test_without_a_validation_split_the_probe_batch_comes_from_training_windows(cpu):
    trainer = Trainer(TINY.replace(val_fraction=0.0), cpu)
    prober = Prober(trainer, steps=64)
    assert len(prober.targets) == min(256, len(trainer.data.train))
    assert torch.equal(prober.inputs[:, 0], trainer.data.batch(trainer.data.train.starts[:1])[0][:, 0])


def test_each_model_gets_its_two_probe_events(cpu):
    trainer = Trainer(TINY, cpu)
    events = Prober(trainer, steps=64).probe(epoch=4)
    assert [(type(e), e.model) for e in events] == [
        (Gates, "lstm"), (GradientFlow, "lstm"), (Hidden, "rnn"), (GradientFlow, "rnn"),
    ]
    assert all(e.epoch == 4 for e in events)


def test_probe_floats_have_at_most_6_significant_digits(cpu):
    trainer = Trainer(TINY, cpu)
    gates, flow, hidden, _ = Prober(trainer, steps=64).probe(epoch=1)
    assert all(sig6(v) for key in "ifgoch" for row in getattr(gates, key) for v in row)
    assert all(sig6(v) for sat in gates.saturation.values() for v in sat["low"] + sat["high"])
    assert all(sig6(v) for v in flow.norms + flow.cell_norms)
    assert all(sig6(v) for row in hidden.h for v in row)


def test_one_line_is_the_exceptions_type_and_the_first_line_of_its_message():
    assert one_line(ValueError("first line\nsecond line")) == "ValueError: first line"
    assert one_line(RuntimeError()) == "RuntimeError: "


def test_a_states_probe_that_raises_is_a_warning_naming_the_model_and_the_probe(cpu, monkeypatch):
    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(engine.probes, "gate_saturation", broken)  # in the LSTM's gates event
    monkeypatch.setattr(engine.probes, "hidden_saturation", broken)  # in the RNN's hidden event
    events = Prober(Trainer(TINY, cpu), steps=64).probe(epoch=3)
    assert [type(e) for e in events] == [Alert, GradientFlow, Alert, GradientFlow]
    assert [(e.level, e.message) for e in events if isinstance(e, Alert)] == [
        ("warning", "probe LSTM gates failed at epoch 3: RuntimeError: boom"),
        ("warning", "probe RNN hidden failed at epoch 3: RuntimeError: boom"),
    ]


def test_a_gru_states_probe_that_raises_is_a_warning_naming_its_gates(cpu, monkeypatch):
    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(engine.probes, "gate_saturation", broken)
    events = Prober(Trainer(TRIO, cpu), steps=3).probe(epoch=2)
    assert [(e.level, e.message) for e in events if isinstance(e, Alert)][0] == (
        "warning", "probe GRU gates failed at epoch 2: RuntimeError: boom")


def test_an_unroll_that_raises_is_one_warning_for_that_model_and_the_others_are_still_probed(cpu, monkeypatch):
    def broken(lstm, x, track=False):
        raise RuntimeError("boom")

    monkeypatch.setattr(engine.probes, "_unroll_lstm", broken)
    events = Prober(Trainer(TINY, cpu), steps=64).probe(epoch=3)
    assert [type(e) for e in events] == [Alert, Hidden, GradientFlow]
    assert (events[0].level, events[0].message) == ("warning", "probe LSTM failed at epoch 3: RuntimeError: boom")


def test_a_model_with_non_finite_values_gets_no_probe_event(cpu):
    trainer = Trainer(TINY, cpu)
    with torch.no_grad():
        trainer.models["lstm"].lstm.weight_hh_l0[0, 0] = math.nan
    events = Prober(trainer, steps=64).probe(epoch=1)
    assert [(e.name, e.model) for e in events] == [("hidden", "rnn"), ("gradient_flow", "rnn")]


def test_a_probe_leaves_gradients_parameters_and_optimizer_state_unchanged(cpu):
    trainer = Trainer(TINY, cpu)
    trainer.run_epoch(lambda: None, lambda e: None)  # leaves .grad and Adam's state filled

    def snapshot():
        tensors = []
        for name, model in trainer.models.items():
            tensors += [p.detach().clone() for p in model.parameters()]
            tensors += [p.grad.clone() for p in model.parameters()]
            for state in trainer.optimizers[name].state.values():
                tensors += [v.clone() for v in state.values()]
        return tensors

    before = snapshot()
    Prober(trainer, steps=64).probe(epoch=1)
    after = snapshot()
    assert len(before) == len(after)
    assert all(torch.equal(a, b) for a, b in zip(before, after))


def test_a_probe_draws_no_random_numbers(cpu):
    trainer = Trainer(TINY.replace(batch_size=32), cpu)
    global_rng, shuffle = torch.get_rng_state(), trainer.shuffle.get_state()
    Prober(trainer, steps=64).probe(epoch=1)
    assert torch.equal(torch.get_rng_state(), global_rng)
    assert torch.equal(trainer.shuffle.get_state(), shuffle)


def test_probe_events_round_trip_through_dicts_and_the_run_log(cpu, tmp_path):
    trainer = Trainer(TINY, cpu)
    events = Prober(trainer, steps=64).probe(epoch=1)
    assert [from_dict(e.to_dict()) for e in events] == events
    log = RunDirectory(tmp_path).open_writer(TINY)
    for event in events:
        log(event)
    log.close()
    assert list(RunDirectory(tmp_path).events()) == events


# -- probes in a session ------------------------------------------------------------------------


def test_training_is_bit_identical_with_probes_on_and_off():
    config = TINY.replace(epochs=4, batch_size=64)  # mini-batches: the shuffle generator is in play
    on_events, on = run_session(config.replace(probe_every=1, probe_seconds=0.0))
    off_events, off = run_session(config.replace(probe_every=0))
    assert any(isinstance(e, Gates) for e in on_events)
    assert not any(isinstance(e, (Gates, Hidden, GradientFlow)) for e in off_events)

    def losses(events):
        return [(e.model, e.epoch, e.train_loss, e.val_loss) for e in events if isinstance(e, EpochEnd)]

    assert losses(on_events) == losses(off_events)
    for name in ("lstm", "rnn"):
        on_params = list(on.trainer.models[name].parameters())
        off_params = list(off.trainer.models[name].parameters())
        assert all(torch.equal(a, b) for a, b in zip(on_params, off_params, strict=True))


def test_probe_every_3_over_7_epochs_probes_1_3_6_and_7():
    events, _ = run_session(TINY.replace(epochs=7, probe_every=3, probe_seconds=0.0))
    assert [e.epoch for e in events if isinstance(e, Gates)] == [1, 3, 6, 7]
    assert [e.epoch for e in events if isinstance(e, Hidden)] == [1, 3, 6, 7]


def test_probe_events_follow_the_epochs_they_describe():
    events, _ = run_session(TINY.replace(epochs=2, probe_every=1))
    names = [(e.name, getattr(e, "epoch", None)) for e in events if e.name in ("epoch_end", "gates")]
    assert names == [("epoch_end", 1), ("epoch_end", 1), ("gates", 1), ("epoch_end", 2), ("epoch_end", 2),
                     ("gates", 2)]


def test_a_probe_that_raises_becomes_a_warning_and_the_run_finishes(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("probe bug\nwith a second line")

    monkeypatch.setattr(engine.probes, "gradient_horizon", broken)  # in each gradient-flow event
    events, session = run_session(TINY)
    alerts = [e for e in events if isinstance(e, Alert)]
    assert alerts and all(a.level == "warning" for a in alerts)
    assert "LSTM gradient flow" in alerts[0].message and "probe bug" in alerts[0].message
    assert "\n" not in alerts[0].message
    assert any(isinstance(e, Gates) for e in events)  # the other probes still ran
    assert session.run_state == "finished" and session.trainer.epoch == TINY.epochs


def test_a_prober_that_cannot_be_built_becomes_a_warning_and_the_run_finishes(monkeypatch):
    def broken(self, trainer, steps):
        raise MemoryError("no room for the probe batch")

    monkeypatch.setattr(engine.probes.Prober, "__init__", broken)
    events, session = run_session(TINY)
    alerts = [e for e in events if isinstance(e, Alert)]
    assert len(alerts) == 1 and alerts[0].level == "warning"
    assert "probes are off" in alerts[0].message and "no room for the probe batch" in alerts[0].message
    assert session.run_state == "finished"


# -- cadence --------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def probed_epochs(schedule: ProbeSchedule, clock: FakeClock, times: dict[int, float], cost: float = 0.01):
    """Epochs the schedule probes when epoch k ends at times[k] and each probe takes ``cost`` s."""
    probed = []
    for epoch, now in times.items():
        clock.now = now
        if schedule.due(epoch):
            schedule.record(now, cost)
            probed.append(epoch)
    return probed


def test_probe_seconds_allows_at_most_one_probe_per_interval():
    clock = FakeClock()
    schedule = ProbeSchedule(RunConfig(epochs=10, probe_every=1, probe_seconds=1.0), clock)
    times = {1: 0.0, 2: 0.4, 3: 0.9, 4: 1.0, 5: 1.5, 6: 2.2, 7: 2.3}
    assert probed_epochs(schedule, clock, times) == [1, 4, 6]


def test_a_slow_probe_waits_until_probes_are_5_percent_of_the_time():
    clock = FakeClock()
    schedule = ProbeSchedule(RunConfig(epochs=100, probe_every=1, probe_seconds=1.0), clock)
    times = {1: 0.0, 2: 1.5, 3: 9.9, 4: 10.0, 5: 10.5}
    assert probed_epochs(schedule, clock, times, cost=0.5) == [1, 4]  # 0.5 s probe: 10 s apart


def test_probe_seconds_0_probes_every_kth_epoch_however_slow_the_probe():
    clock = FakeClock()
    schedule = ProbeSchedule(RunConfig(epochs=10, probe_every=2, probe_seconds=0.0), clock)
    times = {k: 0.1 * k for k in range(1, 8)}
    assert probed_epochs(schedule, clock, times, cost=5.0) == [1, 2, 4, 6]


def test_the_first_and_last_epochs_are_probed_whatever_the_interval():
    clock = FakeClock()
    schedule = ProbeSchedule(RunConfig(epochs=3, probe_every=2, probe_seconds=100.0), clock)
    assert probed_epochs(schedule, clock, {1: 0.0, 2: 0.1, 3: 0.2}) == [1, 3]


def test_probe_every_0_turns_probes_off_even_for_the_first_and_last_epochs():
    clock = FakeClock()
    schedule = ProbeSchedule(RunConfig(epochs=3, probe_every=0), clock)
    assert probed_epochs(schedule, clock, {1: 0.0, 2: 10.0, 3: 20.0}) == []
