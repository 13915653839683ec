"""The seed article's two models: same constructor, many-to-one, zero initial states."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

from engine.models import LSTM, MODEL_CLASSES, StandardRNN, parameter_count


def _inputs(look_back=7, batch=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    classes = torch.randint(0, 3, (look_back, batch), generator=g)
    return nn.functional.one_hot(classes, 3).float()


@pytest.mark.parametrize("cls", [LSTM, StandardRNN])
def test_output_is_one_row_of_three_logits_per_window(cls):
    model = cls(input_size=3, hidden_size=10, output_size=3)
    assert model(_inputs(batch=5)).shape == (5, 3)
    assert model(_inputs(batch=1)).shape == (1, 3)


@pytest.mark.parametrize("cls", [LSTM, StandardRNN])
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


def test_parameter_counts_are_those_of_the_seeds_models():
    # LSTM: 4H(I + H + 2) + head; RNN: H(I + H + 2) + head; head: H*O + O
    hidden, head = 10, 10 * 3 + 3
    assert parameter_count(LSTM(3, hidden, 3)) == 4 * hidden * (3 + hidden + 2) + head
    assert parameter_count(StandardRNN(3, hidden, 3)) == hidden * (3 + hidden + 2) + head


def test_model_classes_are_named_lstm_and_rnn():
    assert {"lstm": LSTM, "rnn": StandardRNN} == MODEL_CLASSES
