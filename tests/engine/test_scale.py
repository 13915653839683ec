"""Memory and responsiveness at scale: how a full batch is cut into chunks, and why.

A chunk must fit the memory budget and, on a CPU, take a fraction of a second, so that a
command (pause, stop, quit) waits for one short chunk at most; the accumulated update still
equals the full-batch update, and the seed presets still train in one pass, bit for bit.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
import torch
from torch import nn

from engine.config import PRESETS, RunConfig, from_preset
from engine.events import EpochEnd, RunStateChanged
from engine.models import LSTM, StandardRNN
from engine.rundir.checkpoint import read_checkpoint
from engine.rundir.directory import CHECKPOINT_FILE, RunDirectory
from engine.session import Session
from engine.trainer import Trainer, chunk_windows

WAIT = 60.0  # generous: only a hang takes this long


def measured_bytes_per_window(look_back: int, hidden: int, layers: int = 1) -> int:
    """The per-window estimate written out: one-hot input plus 16 floats per unit and 48 per layer."""
    return 4 * look_back * (3 + layers * (16 * hidden + 48))


def forward_batch_sizes(trainer: Trainer, name: str) -> list[int]:
    """The batch size of every forward pass the model makes in one epoch (training, validation,
    then the prediction of tomorrow from one window)."""
    sizes: list[int] = []
    hook = trainer.models[name].register_forward_pre_hook(lambda m, args: sizes.append(args[0].size(1)))
    trainer.run_epoch(lambda: None, lambda e: None)
    hook.remove()
    return sizes


def bare_full_batch_step(trainer_cfg: RunConfig, inputs: torch.Tensor, targets: torch.Tensor) -> dict:
    """One Adam step of each model on the whole batch at once, as the seed's loop takes it."""
    torch.manual_seed(trainer_cfg.seed)
    models = {"lstm": LSTM(3, trainer_cfg.hidden, 3), "rnn": StandardRNN(3, trainer_cfg.hidden, 3)}
    for model in models.values():
        optimizer = torch.optim.Adam(model.parameters(), lr=trainer_cfg.lr)
        nn.functional.cross_entropy(model(inputs), targets).backward()
        optimizer.step()
    return models


def seed_windows(series: np.ndarray, starts: np.ndarray, look_back: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The seed's create_dataset and one-hot encoding for the windows starting at ``starts``."""
    x = np.stack([series[i : i + look_back] for i in starts])
    y = np.array([series[i + look_back] for i in starts])
    return torch.from_numpy(np.eye(3, dtype=np.float32)[x]).permute(1, 0, 2), torch.from_numpy(y)


# -- how big a chunk is ------------------------------------------------------------------------


@pytest.mark.parametrize("budget_mib", [1, 2, 5])
def test_the_number_of_chunks_follows_the_memory_budget(budget_mib, cpu):
    cfg = RunConfig(series_length=600, look_back=20, hidden=16, memory_budget=budget_mib * 2**20, device="cpu")
    trainer = Trainer(cfg, cpu)
    chunk = cfg.memory_budget // measured_bytes_per_window(20, 16)
    n_train, n_val = len(trainer.data.train), len(trainer.data.val)
    assert trainer.chunk == chunk
    assert trainer.started_event().chunks_per_batch == math.ceil(n_train / chunk)
    # every training and validation pass of the epoch is one chunk of at most that size; the
    # prediction's window rides with a held-out tail that leaves it room in one chunk
    sizes = forward_batch_sizes(trainer, "lstm")
    expected = [min(chunk, n_train - i) for i in range(0, n_train, chunk)]
    if n_val + 1 <= chunk:
        expected += [n_val + 1]
    else:
        expected += [min(chunk, n_val - i) for i in range(0, n_val, chunk)] + [1]
    assert sizes == expected
    assert max(sizes) <= chunk


def test_at_look_back_1000_a_cpu_chunk_is_cut_to_a_quarter_second_not_to_the_budget():
    cfg = RunConfig(series_length=500_000, look_back=1_000, device="cpu")
    # 0.25 s at an estimated 0.8 microseconds a window-step: 312 windows, far below the
    # 2 GiB budget's 2,544 windows (844,000 bytes each)
    assert cfg.memory_budget // measured_bytes_per_window(1_000, 10) == 2_544
    assert chunk_windows(cfg, 399_000, "cpu") == int(0.25 / (1_000 * 0.8e-6)) == 312
    # an accelerator's steps cost about the same for few windows or many: only the budget counts
    assert chunk_windows(cfg, 399_000, "cuda") == 2_544


def test_a_cpu_chunk_of_two_layers_or_twice_the_days_is_half_as_many_windows():
    # each layer takes a step per day of a window: the time estimate is linear in both
    cfg = RunConfig(series_length=500_000, look_back=1_000, device="cpu")
    one = chunk_windows(cfg, 399_000, "cpu")
    assert chunk_windows(cfg.replace(layers=2), 399_000, "cpu") == one // 2 == 156
    assert chunk_windows(cfg.replace(look_back=2_000), 399_000, "cpu") == one // 2


def test_a_budget_smaller_than_one_window_still_trains_one_window_at_a_time():
    cfg = RunConfig(series_length=20_000, look_back=1_000, hidden=256, memory_budget=2**20, device="cpu")
    assert measured_bytes_per_window(1_000, 256) > cfg.memory_budget  # 16.6 MB a window
    assert chunk_windows(cfg, 15_000, "cpu") == chunk_windows(cfg, 15_000, "cuda") == 1


def test_a_short_batch_that_fits_the_budget_stays_whole():
    cfg = RunConfig(series_length=2_000, look_back=100, device="cpu")
    # 1,500 windows x 100 steps x 0.8 us = 0.12 s: one pass
    assert chunk_windows(cfg, 1_500, "cpu") >= 1_500


@pytest.mark.parametrize("preset", [p for p in PRESETS if p.startswith("seed")])
def test_the_seed_presets_train_and_validate_their_full_batch_in_one_pass(preset, cpu):
    trainer = Trainer(from_preset(preset, device="cpu"), cpu)
    assert trainer.chunk >= len(trainer.data.train) >= len(trainer.data.val)
    assert trainer.started_event().chunks_per_batch == 1


# -- the chunked update is the full-batch update ----------------------------------------------


def test_a_time_limited_chunked_update_equals_the_seed_style_full_batch_update(cpu):
    # hidden 64 at look-back 100: about 0.6 ms a window, so 1,340 windows (0.83 s) are cut
    # into chunks of 405 though the whole batch would fit the budget
    cfg = RunConfig(series_length=1_800, look_back=100, hidden=64, epochs=1, device="cpu")
    trainer = Trainer(cfg, cpu)
    n_train = len(trainer.data.train)
    assert n_train == 1_340 and trainer.started_event().chunks_per_batch == 4
    trainer.run_epoch(lambda: None, lambda e: None)

    inputs, targets = seed_windows(trainer.data.series, np.arange(n_train), cfg.look_back)
    reference = bare_full_batch_step(cfg, inputs, targets)
    for name, model in reference.items():
        for (key, want), got in zip(model.named_parameters(), trainer.models[name].parameters(), strict=True):
            # the accumulated gradient is the full one to float rounding: float32 sums over
            # 134,000 window-steps that largely cancel, so to 1e-4 of the largest component ...
            atol = 1e-4 * want.grad.abs().max().item()
            torch.testing.assert_close(got.grad, want.grad, rtol=1e-5, atol=atol, msg=lambda m, k=key: f"{k}: {m}")
            # ... and Adam's first step lr * g / (|g| + 1e-8) can magnify rounding where |g| ~ 1e-8
            assert torch.allclose(got, want, rtol=0, atol=1e-5), f"{name} {key}"


# -- a stop or quit inside a long full-batch epoch -----------------------------------------------


def test_closing_a_session_mid_epoch_ends_it_before_the_next_chunk_and_keeps_the_last_epoch(
    tmp_path, cpu, monkeypatch
):
    # 7,800 training windows of 200 days: a full-batch epoch takes seconds on a CPU, cut into
    # chunks of 1,562 windows (about a quarter of a second each)
    cfg = RunConfig(series_length=10_000, look_back=200, epochs=5, probe_every=0, device="cpu")
    assert Trainer(cfg, cpu).started_event().chunks_per_batch == 5
    ends: list[EpochEnd] = []
    states: list[RunStateChanged] = []
    epoch_2_chunks: list[int] = []  # chunks of epoch 2 encoded for training or validation
    holding, close_sent = threading.Event(), threading.Event()
    encode, command = Trainer._encode, Session.command

    def encode_holding_the_second_chunk_of_epoch_2(self, starts):
        if self.mid_epoch and self.epoch == 1:
            epoch_2_chunks.append(len(starts))
            if len(epoch_2_chunks) == 2:  # inside the LSTM's epoch 2, whatever the machine's speed
                holding.set()
                assert close_sent.wait(WAIT), "close was never sent"
        return encode(self, starts)

    def command_then_tell(self, cmd):
        command(self, cmd)
        if cmd.name == "close":
            close_sent.set()

    monkeypatch.setattr(Trainer, "_encode", encode_holding_the_second_chunk_of_epoch_2)
    monkeypatch.setattr(Session, "command", command_then_tell)

    def sink(event) -> None:
        if isinstance(event, EpochEnd):
            ends.append(event)
        elif isinstance(event, RunStateChanged):
            states.append(event)

    session = Session(cfg, [sink], run=RunDirectory(tmp_path).open_writer(cfg)).start()
    assert holding.wait(WAIT), "epoch 2 never reached its second chunk"
    session.close(timeout=WAIT)

    assert not session.alive
    assert epoch_2_chunks == [1_562, 1_562]  # the close landed before the third chunk
    assert [(e.model, e.epoch) for e in ends] == [("lstm", 1), ("rnn", 1)]  # epoch 2 never ended
    assert states[-1].state == "stopped" and states[-1].epoch == 1
    checkpoint = read_checkpoint(tmp_path / CHECKPOINT_FILE)
    assert checkpoint["epoch"] == 1
    # the checkpoint's weights are epoch 1's: they score epoch 1's validation loss, recomputed
    data = Trainer(cfg, cpu).data
    inputs, targets = seed_windows(data.series, data.val.starts.numpy(), cfg.look_back)
    for end in ends:
        model = (LSTM if end.model == "lstm" else StandardRNN)(3, cfg.hidden, 3)
        model.load_state_dict(checkpoint[end.model])
        with torch.no_grad():
            val_loss = nn.functional.cross_entropy(model(inputs), targets).item()
        assert val_loss == pytest.approx(end.val_loss, rel=1e-5)
