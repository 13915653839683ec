"""The seed article's two models and the GRU: same constructor, many-to-one, zero initial states."""

from __future__ import annotations

import inspect
import math

import pytest
import torch
from torch import nn

from engine.models import GRU, LSTM, MODEL_CLASSES, StandardRNN, parameter_count


def _inputs(look_back=7, batch=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    classes = torch.randint(0, 3, (look_back, batch), generator=g)
    return nn.functional.one_hot(classes, 3).float()


@pytest.mark.parametrize("cls", [LSTM, StandardRNN, GRU])
def test_output_is_one_row_of_three_logits_per_window(cls):
    model = cls(input_size=3, hidden_size=10, output_size=3)
    assert model(_inputs(batch=5)).shape == (5, 3)
    assert model(_inputs(batch=1)).shape == (1, 3)


@pytest.mark.parametrize("cls", [LSTM, StandardRNN, GRU])
def test_constructor_takes_the_seeds_arguments(cls):
    params = list(inspect.signature(cls.__init__).parameters)
    assert params[1:4] == ["input_size", "hidden_size", "output_size"]
    model = cls(3, 10, 3)  # positional, as the seed calls it
    assert model.hidden_size == 10


def test_lstm_forward_is_nn_lstm_from_zero_states_then_fc_on_the_last_step():
    torch.manual_seed(1)
    model = LSTM(3, 10, 3)
    x = _inputs(look_back=9, batch=4)
    h0 = torch.zeros(1, 4, 10)
    c0 = torch.zeros(1, 4, 10)
    out, _ = model.lstm(x, (h0, c0))
    expected = model.fc(out[-1])
    torch.testing.assert_close(model(x), expected, rtol=0, atol=0)


def test_rnn_forward_is_nn_rnn_from_a_zero_state_then_fc_on_the_last_step():
    torch.manual_seed(1)
    model = StandardRNN(3, 10, 3)
    x = _inputs(look_back=9, batch=4)
    out, _ = model.rnn(x, torch.zeros(1, 4, 10))
    torch.testing.assert_close(model(x), model.fc(out[-1]), rtol=0, atol=0)


def test_rnn_step_is_tanh_of_input_and_hidden_weights():
    """Independent of nn.RNN: unroll h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)."""
    torch.manual_seed(2)
    model = StandardRNN(3, 6, 3)
    x = _inputs(look_back=5, batch=3)
    r = model.rnn
    h = torch.zeros(3, 6)
    for x_t in x:
        h = torch.tanh(x_t @ r.weight_ih_l0.T + r.bias_ih_l0 + h @ r.weight_hh_l0.T + r.bias_hh_l0)
    torch.testing.assert_close(model(x), model.fc(h))


def test_gru_forward_is_nn_gru_from_a_zero_state_then_fc_on_the_last_step():
    torch.manual_seed(1)
    model = GRU(3, 10, 3)
    x = _inputs(look_back=9, batch=4)
    out, _ = model.gru(x, torch.zeros(1, 4, 10))
    torch.testing.assert_close(model(x), model.fc(out[-1]), rtol=0, atol=0)


def test_gru_step_follows_the_r_z_n_gate_equations():
    """Independent of nn.GRU: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) n + z h,
    gates in order r, z, n (PyTorch's nn.GRU documentation)."""
    torch.manual_seed(3)
    model = GRU(3, 6, 3)
    x = _inputs(look_back=5, batch=3)
    m = model.gru
    h = torch.zeros(3, 6)
    for x_t in x:
        x_r, x_z, x_n = (x_t @ m.weight_ih_l0.T + m.bias_ih_l0).chunk(3, dim=1)
        h_r, h_z, h_n = (h @ m.weight_hh_l0.T + m.bias_hh_l0).chunk(3, dim=1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h = (1 - z) * n + z * h
    torch.testing.assert_close(model(x), model.fc(h))


def test_lstm_step_follows_the_i_f_g_o_gate_equations():
    """Independent of nn.LSTM: c_t = f*c + i*g, h_t = o*tanh(c_t), gates in order i, f, g, o."""
    torch.manual_seed(3)
    model = LSTM(3, 6, 3)
    x = _inputs(look_back=5, batch=3)
    m = model.lstm
    h = torch.zeros(3, 6)
    c = torch.zeros(3, 6)
    for x_t in x:
        z = x_t @ m.weight_ih_l0.T + m.bias_ih_l0 + h @ m.weight_hh_l0.T + m.bias_hh_l0
        i, f, g, o = z.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
    torch.testing.assert_close(model(x), model.fc(h))


@pytest.mark.parametrize("cls", [LSTM, StandardRNN, GRU])
def test_forward_starts_from_zero_states_on_the_inputs_device(cls):
    meta = torch.device("meta")  # a device other than the CPU on any machine; nn.LSTM refuses mixed ones
    model = cls(3, 4, 3, num_layers=2).to(meta)
    out = model(_inputs(batch=5).to(meta))
    assert (out.device, out.shape) == (meta, (5, 3))


def test_in_float64_every_forward_follows_its_equations_to_float64_precision():
    torch.manual_seed(6)
    lstm, rnn, gru = LSTM(3, 5, 3).double(), StandardRNN(3, 5, 3).double(), GRU(3, 5, 3).double()
    x = _inputs(look_back=6, batch=2).double()
    m, r, u = lstm.lstm, rnn.rnn, gru.gru
    h, c, h_rnn, h_gru = (torch.zeros(2, 5, dtype=torch.float64) for _ in range(4))
    for x_t in x:
        x_r, x_z, x_n = (x_t @ u.weight_ih_l0.T + u.bias_ih_l0).chunk(3, dim=1)
        g_r, g_z, g_n = (h_gru @ u.weight_hh_l0.T + u.bias_hh_l0).chunk(3, dim=1)
        z = torch.sigmoid(x_z + g_z)
        h_gru = (1 - z) * torch.tanh(x_n + torch.sigmoid(x_r + g_r) * g_n) + z * h_gru
        i, f, g, o = (x_t @ m.weight_ih_l0.T + m.bias_ih_l0 + h @ m.weight_hh_l0.T + m.bias_hh_l0).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        h_rnn = torch.tanh(x_t @ r.weight_ih_l0.T + r.bias_ih_l0 + h_rnn @ r.weight_hh_l0.T + r.bias_hh_l0)
    with torch.no_grad():
        torch.testing.assert_close(lstm(x), lstm.fc(h), rtol=0, atol=1e-12)
        torch.testing.assert_close(rnn(x), rnn.fc(h_rnn), rtol=0, atol=1e-12)
        torch.testing.assert_close(gru(x), gru.fc(h_gru), rtol=0, atol=1e-12)


# -- the forget-gate bias ----------------------------------------------------------------------
# PyTorch's nn.LSTM docs: the rows of weight_ih_l<k>, weight_hh_l<k>, bias_ih_l<k> and bias_hh_l<k>
# are the gates' in the order i, f, g, o, hidden_size rows each.
GATE_ORDER = "ifgo"


def gate_of_row(row: int, hidden: int) -> str:
    return GATE_ORDER[row // hidden]


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_set_forget_bias_sets_the_f_rows_of_bias_ih_zeroes_those_of_bias_hh_and_leaves_every_other_row(layers):
    hidden, value = 5, 2.5
    torch.manual_seed(4)
    model = LSTM(3, hidden, 3, num_layers=layers)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    model.set_forget_bias(value)
    after = dict(model.named_parameters())
    for layer in range(layers):
        b_ih, b_hh = f"lstm.bias_ih_l{layer}", f"lstm.bias_hh_l{layer}"
        assert after[b_ih].shape == after[b_hh].shape == (4 * hidden,)
        for row in range(4 * hidden):
            if gate_of_row(row, hidden) == "f":
                assert (after[b_ih][row].item(), after[b_hh][row].item()) == (value, 0.0), (layer, row)
            else:
                assert after[b_ih][row].item() == before[b_ih][row].item(), (layer, row)
                assert after[b_hh][row].item() == before[b_hh][row].item(), (layer, row)
    for name, tensor in after.items():
        if ".bias_" not in name:
            assert torch.equal(tensor, before[name]), name  # weights and the head: untouched


def test_the_forget_bias_argument_is_set_forget_bias_on_the_same_initial_weights():
    torch.manual_seed(5)
    given = LSTM(3, 4, 3, num_layers=2, forget_bias=-1.25)
    torch.manual_seed(5)
    expected = LSTM(3, 4, 3, num_layers=2)
    expected.set_forget_bias(-1.25)
    for (name, a), b in zip(given.state_dict().items(), expected.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_the_forget_bias_is_the_gate_that_nn_lstm_multiplies_the_cell_by():
    """Closed form, through the fused kernel: with every weight 0, i = o = 1/2, g = tanh(b_g) and
    f = sigmoid(forget_bias), so c_t = (1/2) tanh(b_g) (1 - f^t) / (1 - f) from c_0 = 0."""
    hidden, steps, value, b_g = 3, 6, 1.5, 0.8
    model = LSTM(3, hidden, 3, num_layers=2)
    with torch.no_grad():
        for p in model.lstm.parameters():
            p.zero_()
        model.lstm.bias_hh_l1[2 * hidden : 3 * hidden] = b_g  # the g rows of the top layer
    model.set_forget_bias(value)
    x = _inputs(look_back=steps, batch=2)
    zeros = torch.zeros(2, 2, hidden)
    _, (_, c_n) = model.lstm(x, (zeros, zeros))
    f = 1 / (1 + math.exp(-value))
    expected = 0.5 * math.tanh(b_g) * (1 - f**steps) / (1 - f)
    torch.testing.assert_close(c_n[-1], torch.full((2, hidden), expected), rtol=1e-5, atol=1e-6)


def test_parameter_counts_are_those_of_the_seeds_models():
    # LSTM: 4H(I + H + 2) + head; RNN: H(I + H + 2) + head; head: H*O + O
    hidden, head = 10, 10 * 3 + 3
    assert parameter_count(LSTM(3, hidden, 3)) == 4 * hidden * (3 + hidden + 2) + head
    assert parameter_count(StandardRNN(3, hidden, 3)) == hidden * (3 + hidden + 2) + head
    assert parameter_count(GRU(3, hidden, 3)) == 3 * hidden * (3 + hidden + 2) + head  # 3 gates' rows


def test_model_classes_are_named_lstm_rnn_and_gru():
    assert {"lstm": LSTM, "rnn": StandardRNN, "gru": GRU} == MODEL_CLASSES
