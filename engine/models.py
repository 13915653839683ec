"""The seed article's two models and the GRU it names next, on the fused nn.LSTM / nn.RNN / nn.GRU kernels."""

from __future__ import annotations

import torch
from torch import nn

from engine.config import MODEL_KINDS


class LSTM(nn.Module):
    """Many-to-one LSTM: zero initial states, last step through a linear head."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        num_layers: int = 1,
        forget_bias: float | None = None,
    ):
        super().__init__()
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers=num_layers, batch_first=False)
        self.fc = nn.Linear(hidden_size, output_size)
        if forget_bias is not None:
            self.set_forget_bias(forget_bias)

    def set_forget_bias(self, value: float) -> None:
        """Start the forget gate at sigmoid(value): b_ih + b_hh of the f rows (order i, f, g, o)."""
        # no_grad as a block, not a decorator: mutmut leaves decorated functions unmutated
        forget = slice(self.hidden_size, 2 * self.hidden_size)
        with torch.no_grad():
            for layer in range(self.num_layers):
                getattr(self.lstm, f"bias_ih_l{layer}")[forget] = value
                getattr(self.lstm, f"bias_hh_l{layer}")[forget] = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (self.num_layers, x.size(1), self.hidden_size)
        h0 = torch.zeros(shape, device=x.device, dtype=x.dtype)
        c0 = torch.zeros(shape, device=x.device, dtype=x.dtype)
        o, _ = self.lstm(x, (h0, c0))
        return self.fc(o[-1, :, :])


class StandardRNN(nn.Module):
    """Many-to-one tanh RNN: zero initial state, last step through a linear head."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int, num_layers: int = 1):
        super().__init__()
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.rnn = nn.RNN(input_size, hidden_size, num_layers=num_layers, batch_first=False)
        self.fc = nn.Linear(hidden_size, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h0 = torch.zeros(self.num_layers, x.size(1), self.hidden_size, device=x.device, dtype=x.dtype)
        o, _ = self.rnn(x, h0)
        return self.fc(o[-1, :, :])


class GRU(nn.Module):
    """Many-to-one GRU (Cho et al. 2014, PyTorch's gate order r, z, n): zero initial state, last
    step through a linear head, as the other two."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int, num_layers: int = 1):
        super().__init__()
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.gru = nn.GRU(input_size, hidden_size, num_layers=num_layers, batch_first=False)
        self.fc = nn.Linear(hidden_size, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h0 = torch.zeros(self.num_layers, x.size(1), self.hidden_size, device=x.device, dtype=x.dtype)
        o, _ = self.gru(x, h0)
        return self.fc(o[-1, :, :])


MODEL_NAMES = MODEL_KINDS  # every model a run may train, in the order their weights are drawn
MODEL_CLASSES: dict[str, type[nn.Module]] = {"lstm": LSTM, "rnn": StandardRNN, "gru": GRU}


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
