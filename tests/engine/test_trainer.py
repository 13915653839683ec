"""Trainer: the seed's loop, made chunkable, validated and safe against a non-finite loss."""

from __future__ import annotations

import math
import sys
import types

import numpy as np
import pytest
import torch
from torch import nn

from engine.config import CLASS_NAMES, RunConfig
from engine.device import device_name
from engine.events import EpochEnd, Prediction
from engine.trainer import Gradients, NonFiniteLoss, Rollback, Trainer, keeps_encoding
from tests.seed_reference import create_dataset


class SeedLSTM(nn.Module):  # the seed's class, verbatim but for names
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=False)
        self.fc = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        h0 = torch.zeros(1, x.size(1), self.hidden_size)
        c0 = torch.zeros(1, x.size(1), self.hidden_size)
        o, (hn, cn) = self.lstm(x, (h0, c0))
        return self.fc(o[-1, :, :])


class SeedRNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.rnn = nn.RNN(input_size, hidden_size, batch_first=False)
        self.fc = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        o, hn = self.rnn(x, torch.zeros(1, x.size(1), self.hidden_size))
        return self.fc(o[-1, :, :])


def one_hot_seq_first(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.eye(3, dtype=np.float32)[x]).permute(1, 0, 2)


def run_epochs(trainer: Trainer, n: int = 1) -> list:
    events: list = []
    for _ in range(n):
        trainer.run_epoch(lambda: None, events.append)
    return events


def epoch_ends(events, model=None) -> list[EpochEnd]:
    return [e for e in events if isinstance(e, EpochEnd) and (model is None or e.model == model)]


def params(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_params_equal(a: dict, b: dict, **tol) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], **tol, msg=lambda m, k=key: f"{k}: {m}")


# -- the seed's training loop, reproduced ------------------------------------------------------


def test_full_batch_lstm_losses_equal_a_bare_seed_style_loop(cpu):
    cfg = RunConfig(series_length=300, look_back=5, epochs=3, val_fraction=0.0, device="cpu")
    trainer = Trainer(cfg, cpu)
    ours = [e.train_loss for e in epoch_ends(run_epochs(trainer, 3), "lstm")]

    state = np.random.get_state()
    np.random.seed(42)
    raw_data = np.random.randint(0, 3, size=300)
    np.random.set_state(state)
    x, y = create_dataset(raw_data, 5)
    input_tensor = one_hot_seq_first(x)
    target_tensor = torch.from_numpy(y).long()
    torch.manual_seed(42)
    model = SeedLSTM(input_size=3, hidden_size=10, output_size=3)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    seed_losses = []
    for _ in range(3):
        optimizer.zero_grad()
        loss = criterion(model(input_tensor), target_tensor)
        loss.backward()
        optimizer.step()
        seed_losses.append(loss.item())

    assert ours == pytest.approx(seed_losses, rel=1e-5)
    assert_params_equal(params(trainer.models["lstm"]), params(model), rtol=1e-5, atol=1e-6)


def test_both_models_start_from_the_run_seed_lstm_first_then_rnn(tiny, cpu):
    trainer = Trainer(tiny, cpu)
    torch.manual_seed(tiny.seed)
    lstm = SeedLSTM(3, 10, 3)
    rnn = SeedRNN(3, 10, 3)
    assert_params_equal(params(trainer.models["lstm"]), params(lstm), rtol=0, atol=0)
    assert_params_equal(params(trainer.models["rnn"]), params(rnn), rtol=0, atol=0)


def test_the_gru_draws_its_weights_after_the_lstm_and_the_rnn_from_the_run_seed(tiny, cpu):
    trainer = Trainer(tiny.replace(models="gru,rnn,lstm"), cpu)
    torch.manual_seed(tiny.seed)
    SeedLSTM(3, 10, 3), SeedRNN(3, 10, 3)  # noqa: B018 - their draws come first, as in the pair
    gru = nn.Module()
    gru.gru, gru.fc = nn.GRU(3, 10), nn.Linear(10, 3)  # nn.GRU, then the head: as the others are drawn
    assert list(trainer.models) == ["gru", "rnn", "lstm"]  # the run's order
    assert_params_equal(params(trainer.models["gru"]), params(gru), rtol=0, atol=0)


def test_the_order_shown_does_not_change_the_models_trained(tiny, cpu):
    pair, reversed_pair = Trainer(tiny, cpu), Trainer(tiny.replace(models="rnn,lstm"), cpu)
    for name in ("lstm", "rnn"):
        assert_params_equal(params(pair.models[name]), params(reversed_pair.models[name]), rtol=0, atol=0)


def test_a_model_alone_is_trained_alone(tiny, cpu):
    trainer = Trainer(tiny.replace(models="gru"), cpu)
    events = run_epochs(trainer)
    assert [(type(e).__name__, e.model) for e in events] == [("EpochEnd", "gru"), ("Prediction", "gru")]
    assert trainer.started_event().parameters == {"gru": 3 * 10 * 15 + 33}  # 3H(I + H + 2) + head


def test_the_forget_bias_is_the_lstms_and_a_run_without_one_ignores_it(tiny, cpu):
    trainer = Trainer(tiny.replace(models="gru,rnn", forget_bias=2.0), cpu)
    assert list(trainer.models) == ["gru", "rnn"]
    untouched = Trainer(tiny.replace(models="gru,rnn"), cpu)
    for name in ("gru", "rnn"):
        assert_params_equal(params(trainer.models[name]), params(untouched.models[name]), rtol=0, atol=0)


def test_a_run_with_a_forget_bias_starts_its_lstms_forget_rows_there_and_nothing_else(tiny, cpu):
    trainer, plain = Trainer(tiny.replace(forget_bias=2.0), cpu), Trainer(tiny, cpu)
    h = tiny.hidden
    lstm, untouched = trainer.models["lstm"].lstm, plain.models["lstm"].lstm
    # PyTorch's gate rows are i, f, g, o (H each): only f's input bias is set, its recurrent bias zeroed
    assert torch.equal(lstm.bias_ih_l0[h:2 * h], torch.full((h,), 2.0))
    assert torch.equal(lstm.bias_hh_l0[h:2 * h], torch.zeros(h))
    for other in (slice(0, h), slice(2 * h, 4 * h)):
        assert torch.equal(lstm.bias_ih_l0[other], untouched.bias_ih_l0[other])
        assert torch.equal(lstm.bias_hh_l0[other], untouched.bias_hh_l0[other])
    assert torch.equal(lstm.weight_ih_l0, untouched.weight_ih_l0)


def test_a_run_of_two_layers_trains_models_of_two_layers(tiny, cpu):
    trainer = Trainer(tiny.replace(layers=2, models="lstm,rnn,gru"), cpu)
    cells = {"lstm": "lstm", "rnn": "rnn", "gru": "gru"}
    assert {name: getattr(model, cells[name]).num_layers for name, model in trainer.models.items()} == {
        "lstm": 2, "rnn": 2, "gru": 2}


def test_a_run_of_a_64_class_column_has_models_and_chunks_of_its_classes(tmp_path, cpu):
    from engine.config import build_config
    from engine.trainer import chunk_windows

    names = [f"s{i:02d}" for i in range(64)]
    data = tmp_path / "states.csv"
    data.write_text("state\n" + "".join(f"{names[(i * 7) % 64]}\n" for i in range(400)), encoding="utf-8")
    cfg = build_config({"task": "csv", "data": str(data), "column": "state", "look_back": 4, "device": "cpu",
                        "memory_budget": 2**20})
    trainer = Trainer(cfg, cpu)
    for model in trainer.models.values():
        cell = model.lstm if hasattr(model, "lstm") else model.rnn
        assert (cell.input_size, model.fc.out_features) == (64, 64)
    # a 64-class one-hot window is bigger than a 3-class one: fewer of them fit the budget
    assert trainer.chunk < chunk_windows(cfg, trainer.batch_size, "cpu", 3)
    assert trainer.started_event().classes == names


@pytest.mark.parametrize("exact", [False, True], ids=["planned-chunk", "chunk-of-the-splits-own-size"])
def test_a_full_batch_is_one_hot_encoded_once_for_the_whole_run(tiny, cpu, monkeypatch, exact):
    trainer = Trainer(tiny, cpu)
    # Whatever the mini-batch rule says: one chunk's encoding is kept (a 64-class column's can be
    # a quarter of the chunk's memory, more than the rule allows a whole split).
    trainer.keeps_encoding = False
    if exact:
        trainer.chunk = len(trainer.data.train)  # a batch exactly one chunk long is still whole
    run_epochs(trainer)
    built: list[int] = []
    batch = trainer.data.batch
    monkeypatch.setattr(trainer.data, "batch", lambda starts: built.append(len(starts)) or batch(starts))
    run_epochs(trainer, 2)
    assert built == []  # as the seed keeps its one input tensor


def test_mini_batches_of_a_split_within_an_eighth_of_the_budget_are_cut_from_one_encoding(tiny, cpu, monkeypatch):
    cfg = tiny.replace(batch_size=16)
    trainer = Trainer(cfg, cpu)
    kept = len(trainer.data.train) * cfg.look_back * 3 * 4
    assert kept * 8 <= cfg.memory_budget
    built: list[int] = []
    batch = trainer.data.batch
    monkeypatch.setattr(trainer.data, "batch", lambda starts: built.append(len(starts)) or batch(starts))
    run_epochs(trainer, 2)
    assert built == [len(trainer.data.train), len(trainer.data.val)]  # the split once; validation once, kept


def test_a_split_over_an_eighth_of_the_budget_is_encoded_batch_by_batch(cpu, monkeypatch):
    cfg = RunConfig(series_length=20_000, look_back=10, batch_size=256, memory_budget=4 * 2**20, device="cpu")
    trainer = Trainer(cfg, cpu)
    assert trainer.chunk >= 256 and len(trainer.data.train) * 10 * 3 * 4 * 8 > cfg.memory_budget
    built: list[int] = []
    batch = trainer.data.batch
    monkeypatch.setattr(trainer.data, "batch", lambda starts: built.append(len(starts)) or batch(starts))
    trainer.run_epoch(lambda: None, lambda e: None)
    batches, n_train, n_val = math.ceil(len(trainer.data.train) / 256), len(trainer.data.train), len(trainer.data.val)
    per_model = len(built) // 2
    for model_builds in (built[:per_model], built[per_model:]):  # each batch, then the validation chunks
        train, val = model_builds[:batches], model_builds[batches:]
        assert max(train) == 256 and sum(train) == n_train and sum(val) == n_val


def test_an_encoding_of_exactly_an_eighth_of_the_budget_is_kept_and_one_byte_more_is_not():
    cfg = RunConfig(look_back=8, memory_budget=2048 * 8 * 3 * 4 * 8)  # 2,048 windows: 1.5 MiB
    assert keeps_encoding(cfg, 2048)
    assert not keeps_encoding(cfg.replace(memory_budget=cfg.memory_budget - 1), 2048)
    assert not keeps_encoding(cfg, 2049)


def test_whether_the_encoding_is_kept_is_planned_once_on_the_whole_split(cpu):
    """The bench's scale run trains a prefix of the seed's 500k split: it must hold what the
    whole run would (no kept encoding), not what a split of the prefix's size would."""
    from engine.data import Split

    cfg = RunConfig(series_length=20_000, look_back=10, batch_size=256, memory_budget=4 * 2**20, device="cpu")
    trainer = Trainer(cfg, cpu)
    assert not trainer.keeps_encoding
    trainer.data.train = Split(trainer.data.train.starts[:512])  # small enough to keep, were it the split
    trainer.run_epoch(lambda: None, lambda e: None)
    assert trainer._train_encoded is None


VALUES = ("train_loss", "val_loss", "val_acc", "grad_norm")  # an EpochEnd's figures, less its timings


def test_batches_cut_from_the_kept_encoding_train_bit_for_bit_as_batches_encoded_afresh(tiny, cpu):
    cfg = tiny.replace(batch_size=16)
    kept, fresh = Trainer(cfg, cpu), Trainer(cfg, cpu)
    fresh.keeps_encoding = False
    kept_events, fresh_events = run_epochs(kept, 2), run_epochs(fresh, 2)
    assert kept._train_encoded is not None and fresh._train_encoded is None
    for k, f in zip(epoch_ends(kept_events), epoch_ends(fresh_events), strict=True):
        assert [getattr(k, v) for v in VALUES] == [getattr(f, v) for v in VALUES]
    for name in kept.models:
        assert_params_equal(params(kept.models[name]), params(fresh.models[name]), rtol=0, atol=0)


# -- chunked gradient accumulation ----------------------------------------------------------


def test_chunked_gradient_accumulation_gives_the_full_batch_update(cpu):
    # hidden 32, look_back 10: about 20 KB a window, so the 1 MiB minimum budget holds ~50
    cfg = RunConfig(series_length=300, look_back=10, hidden=32, epochs=1, device="cpu")
    full = Trainer(cfg, cpu)
    chunked = Trainer(cfg.replace(memory_budget=2**20), cpu)
    assert full.chunk >= len(full.data.train)
    assert chunked.chunk < len(chunked.data.train) / 2  # several chunks
    full_events = run_epochs(full)
    chunked_events = run_epochs(chunked)
    for name in ("lstm", "rnn"):
        # the accumulated gradient (left in .grad by the epoch's one step) is the full one
        for (key, a), b in zip(full.models[name].named_parameters(), chunked.models[name].parameters()):
            torch.testing.assert_close(b.grad, a.grad, rtol=1e-5, atol=1e-7, msg=lambda m, k=key: f"{k}: {m}")
        # Adam's first step is lr * g / (|g| + 1e-8): where |g| is near 1e-8 it turns float noise
        # in g into ~1e-6 in the weight, so the step is compared at 1e-5 (0.1 % of lr).
        assert_params_equal(params(full.models[name]), params(chunked.models[name]), rtol=0, atol=1e-5)
    for a, b in zip(epoch_ends(full_events), epoch_ends(chunked_events), strict=True):
        assert a.train_loss == pytest.approx(b.train_loss, rel=1e-5)
        assert a.grad_norm == pytest.approx(b.grad_norm, rel=1e-5)
        assert a.val_loss == pytest.approx(b.val_loss, rel=1e-5)
        assert a.val_acc == b.val_acc


def seed_style_grad_norms(cfg: RunConfig) -> dict[str, float]:
    """Per model, the mean over an epoch's steps of the L2 norm of all its gradients together,
    from a loop written like the seed's: its data, its models, Adam on each batch's mean loss,
    batches in the order of a randperm from the run's seed (one batch of all windows when full)."""
    series = np.random.RandomState(cfg.seed).randint(0, 3, size=cfg.series_length)
    split = cfg.series_length - round(cfg.series_length * cfg.val_fraction)
    x, y = create_dataset(series[:split], cfg.look_back)
    inputs, targets = one_hot_seq_first(x), torch.from_numpy(y).long()
    n = len(y)
    if cfg.batch_size is None:
        batches = [torch.arange(n)]
    else:
        batches = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed)).split(cfg.batch_size)
    torch.manual_seed(cfg.seed)
    models = {"lstm": SeedLSTM(3, cfg.hidden, 3), "rnn": SeedRNN(3, cfg.hidden, 3)}
    means = {}
    for name, model in models.items():
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        norms = []
        for batch in batches:
            loss = nn.functional.cross_entropy(model(inputs[:, batch]), targets[batch])
            grads = torch.autograd.grad(loss, list(model.parameters()))
            norms.append(math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads)))
            for param, grad in zip(model.parameters(), grads, strict=True):
                param.grad = grad
            optimizer.step()
        means[name] = sum(norms) / len(norms)
    return means


@pytest.mark.parametrize("batch_size", [None, 64], ids=["full-batch", "mini-batch"])
def test_grad_norm_is_the_mean_over_the_epochs_steps_of_the_l2_norm_of_every_gradient(cpu, batch_size):
    cfg = RunConfig(series_length=300, look_back=5, epochs=1, batch_size=batch_size, device="cpu")
    events = epoch_ends(run_epochs(Trainer(cfg, cpu)))
    expected = seed_style_grad_norms(cfg)
    assert len(events) == 2
    for event in events:
        assert event.grad_norm == pytest.approx(expected[event.model], rel=1e-4), event.model


def test_chunked_mini_batches_match_unchunked_mini_batches(cpu):
    cfg = RunConfig(series_length=600, look_back=10, hidden=32, epochs=1, batch_size=200, device="cpu")
    whole = Trainer(cfg, cpu)
    chunked = Trainer(cfg.replace(memory_budget=2**20), cpu)
    assert chunked.chunk < cfg.batch_size <= whole.chunk
    run_epochs(whole)
    run_epochs(chunked)
    for name in ("lstm", "rnn"):
        assert_params_equal(params(whole.models[name]), params(chunked.models[name]), rtol=0, atol=1e-5)


# -- lockstep and determinism ---------------------------------------------------------------


def test_two_trainers_with_the_same_config_train_identically(tiny, cpu):
    cfg = tiny.replace(batch_size=32)  # mini-batches: the shuffle must be seeded too
    a, b = Trainer(cfg, cpu), Trainer(cfg, cpu)
    ea, eb = epoch_ends(run_epochs(a, 2)), epoch_ends(run_epochs(b, 2))
    assert [(e.model, e.epoch, e.train_loss, e.val_loss) for e in ea] == [
        (e.model, e.epoch, e.train_loss, e.val_loss) for e in eb
    ]


def test_both_models_see_the_same_mini_batches_in_the_same_order(tiny, cpu, monkeypatch):
    trainer = Trainer(tiny.replace(batch_size=32), cpu)
    seen: dict[str, list[torch.Tensor]] = {"lstm": [], "rnn": []}
    original_train_one = trainer._train_one

    def train_one(name, epoch, batches, between):
        seen[name].extend(b.clone() for b in batches)
        return original_train_one(name, epoch, batches, between)

    monkeypatch.setattr(trainer, "_train_one", train_one)
    run_epochs(trainer, 2)
    assert len(seen["lstm"]) == len(seen["rnn"]) == 2 * math.ceil(len(trainer.data.train) / 32)
    for a, b in zip(seen["lstm"], seen["rnn"], strict=True):
        assert torch.equal(a, b)
    # every training window once per epoch, in a shuffled order
    first_epoch = torch.cat(seen["lstm"][: len(seen["lstm"]) // 2])
    assert torch.equal(first_epoch.sort().values, trainer.data.train.starts)
    assert not torch.equal(first_epoch, trainer.data.train.starts)


def test_an_epoch_emits_lstm_then_rnn_each_with_its_prediction(tiny, cpu):
    trainer = Trainer(tiny, cpu)
    events = run_epochs(trainer)
    assert [(type(e).__name__, e.model, e.epoch) for e in events] == [
        ("EpochEnd", "lstm", 1),
        ("Prediction", "lstm", 1),
        ("EpochEnd", "rnn", 1),
        ("Prediction", "rnn", 1),
    ]
    assert trainer.epoch == 1


def test_between_batches_is_called_before_every_training_and_validation_chunk(tiny, cpu):
    trainer = Trainer(tiny, cpu)
    calls = []
    trainer.run_epoch(lambda: calls.append(1), lambda e: None)
    assert len(calls) == 4  # per model: one full batch in one chunk, then one validation chunk


def test_epoch_end_reports_lr_and_finite_metrics(tiny, cpu):
    trainer = Trainer(tiny, cpu)
    for e in epoch_ends(run_epochs(trainer)):
        assert e.lr == tiny.lr
        assert math.isfinite(e.train_loss) and math.isfinite(e.grad_norm) and e.grad_norm > 0
        assert 0 <= e.val_acc <= 1
        assert e.seconds > 0 and e.samples_per_s > 0


def test_scale_lr_scales_both_optimisers(tiny, cpu):
    trainer = Trainer(tiny, cpu)
    assert trainer.scale_lr(0.5) == pytest.approx(tiny.lr / 2)
    for optimizer in trainer.optimizers.values():
        assert optimizer.param_groups[0]["lr"] == pytest.approx(tiny.lr / 2)


def test_run_started_describes_the_run(tiny, cpu):
    trainer = Trainer(tiny, cpu)
    started = trainer.started_event()
    assert started.config == tiny.to_dict()
    assert started.train_windows == len(trainer.data.train)
    assert started.val_windows == len(trainer.data.val)
    assert started.data_sha256 == trainer.data.sha256
    assert started.chance_loss == pytest.approx(math.log(3))
    assert started.batches_per_epoch == 1 and started.chunks_per_batch == 1
    assert (started.device, started.device_name) == ("cpu", device_name(cpu))
    # the seed's models at hidden 10: LSTM 4H(I + H + 2) + head, RNN H(I + H + 2) + head, head H*3 + 3
    assert started.parameters == {"lstm": 4 * 10 * 15 + 33, "rnn": 10 * 15 + 33}
    assert started.best_loss == pytest.approx(math.log(3))  # nothing beats chance on the seed's data
    assert started.classes == list(CLASS_NAMES)


def test_run_started_gives_the_baselines_of_the_runs_own_data(tiny, cpu):
    trainer = Trainer(tiny, cpu)
    series, split = trainer.data.series, trainer.data.split
    # the frequency line by hand: the training part's add-one smoothed class frequencies,
    # scored on the validation windows' targets
    p = (np.bincount(series[:split], minlength=3) + 1) / (split + 3)
    frequency = -np.mean(np.log(p[series[split + tiny.look_back:]]))
    started = trainer.started_event()
    assert list(started.baselines) == ["chance", "frequency", "markov-1", "markov-2", "markov-3"]
    assert started.baselines["chance"] == pytest.approx(math.log(3))
    assert started.baselines["frequency"] == pytest.approx(frequency)
    assert trainer.started_event().baselines == started.baselines  # a resume's or a retry's: the same


def test_run_started_of_the_echo_task_gives_its_best_achievable_loss(tiny, cpu):
    cfg = tiny.replace(task="echo", look_back=5, lag=5, echo_p=0.9)
    same, other = 0.9 + 0.1 / 3, 0.1 / 3
    assert Trainer(cfg, cpu).started_event().best_loss == pytest.approx(
        -same * math.log(same) - 2 * other * math.log(other))


# -- the state a checkpoint holds ------------------------------------------------------------


def test_the_state_a_trainer_loads_is_the_state_it_saves_next(tiny, cpu):
    source = Trainer(tiny, cpu)
    run_epochs(source, 2)
    saved = source.state_dict()
    target = Trainer(tiny.replace(seed=7), cpu)
    run_epochs(target, 1)  # its own weights, random streams and start-of-epoch buffers
    target.load_state_dict(saved)
    again = target.state_dict()
    assert again["epoch"] == 2
    for name in ("lstm", "rnn"):
        assert_params_equal(again[name], saved[name], rtol=0, atol=0)
    assert torch.equal(again["rng"]["shuffle"], saved["rng"]["shuffle"])


def test_a_cpu_trainer_takes_a_gpu_runs_random_state_and_leaves_cuda_alone(tiny, cpu):
    trainer = Trainer(tiny.replace(batch_size=32), cpu)
    state = trainer.rng_state()
    expected = state["shuffle"].clone()
    trainer.shuffle.manual_seed(0)  # moved on
    trainer.set_rng_state({**state, "cuda": torch.zeros(16, dtype=torch.uint8)})  # as a CUDA run saves it
    assert torch.equal(trainer.shuffle.get_state(), expected)


def _record_cuda_rng(monkeypatch) -> list[tuple]:
    """torch.cuda's random-state calls, recorded instead of made (queued lazily on a CPU-only
    build, they would pass unseen)."""
    calls: list[tuple] = []
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda *args: calls.append(("set", *args)))
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda *args: calls.append(("get", *args)) or "cuda state")
    return calls


def test_a_cpu_trainer_never_reads_or_sets_a_cuda_generator(tiny, cpu, monkeypatch):
    trainer = Trainer(tiny, cpu)
    calls = _record_cuda_rng(monkeypatch)
    state = trainer.rng_state()
    trainer.set_rng_state({**state, "cuda": torch.zeros(16, dtype=torch.uint8)})
    assert "cuda" not in state and calls == []


def test_a_cuda_trainers_random_state_is_its_own_devices(tiny, cpu, monkeypatch):
    trainer = Trainer(tiny, cpu)
    trainer.device = torch.device("cuda", 1)  # stands in for a GPU run: only the calls are seen
    calls = _record_cuda_rng(monkeypatch)
    state = trainer.rng_state()
    assert state["cuda"] == "cuda state" and calls == [("get", torch.device("cuda", 1))]
    calls.clear()
    saved = torch.zeros(16, dtype=torch.uint8)
    trainer.set_rng_state({**state, "cuda": saved})
    assert calls == [("set", saved, torch.device("cuda", 1))]
    calls.clear()
    trainer.set_rng_state({key: value for key, value in state.items() if key != "cuda"})  # a CPU run's
    assert calls == []


# -- evaluation and prediction ---------------------------------------------------------------


def test_evaluate_matches_an_independent_computation_on_the_held_out_tail(tiny, cpu):
    trainer = Trainer(tiny, cpu)
    run_epochs(trainer)
    x, y = create_dataset(trainer.data.series, tiny.look_back)
    val = trainer.data.val.starts.numpy()
    for name, model in trainer.models.items():
        with torch.no_grad():
            logits = model(one_hot_seq_first(x[val]))
        target = torch.from_numpy(y[val])
        loss, acc = trainer.evaluate(name)
        assert loss == pytest.approx(nn.functional.cross_entropy(logits, target).item(), rel=1e-5)
        assert acc == pytest.approx((logits.argmax(1) == target).float().mean().item())


def test_evaluate_without_a_validation_split_is_none(tiny, cpu):
    trainer = Trainer(tiny.replace(val_fraction=0.0), cpu)
    assert trainer.evaluate("lstm") == (None, None)


def test_prediction_is_the_softmax_over_the_last_look_back_days(tiny, cpu):
    trainer = Trainer(tiny, cpu)
    run_epochs(trainer)
    window = one_hot_seq_first(trainer.data.series[None, -tiny.look_back :])
    for name, model in trainer.models.items():
        prediction = trainer.predict(name, 1)
        assert isinstance(prediction, Prediction) and (prediction.model, prediction.epoch) == (name, 1)
        assert sum(prediction.probabilities) == pytest.approx(1.0, abs=1e-6)
        with torch.no_grad():
            expected = torch.softmax(model(window), dim=1)[0].tolist()
        assert prediction.probabilities == pytest.approx(expected, abs=1e-6)
        assert prediction.predicted == int(np.argmax(expected))
        assert prediction.true == trainer.data.tomorrow


def _independent_val_and_prediction(trainer: Trainer, name: str) -> tuple[float, float, list[float]]:
    """The held-out loss and accuracy and the prediction, each from a forward of its own on
    inputs built here (the seed's create_dataset and one-hot), not by the Trainer."""
    model, look_back = trainer.models[name], trainer.cfg.look_back
    x, y = create_dataset(trainer.data.series, look_back)
    val = trainer.data.val.starts.numpy()
    with torch.no_grad():
        logits = model(one_hot_seq_first(x[val]))
        window = model(one_hot_seq_first(trainer.data.series[None, -look_back:]))
    target = torch.from_numpy(y[val])
    return (nn.functional.cross_entropy(logits, target).item(), (logits.argmax(1) == target).float().mean().item(),
            torch.softmax(window, dim=1)[0].tolist())


@pytest.mark.parametrize("chunked", [False, True], ids=["one-validation-chunk", "validation-in-chunks"])
def test_an_epochs_validation_and_prediction_match_forwards_of_their_own(tiny, cpu, chunked):
    trainer = Trainer(tiny, cpu)
    if chunked:
        trainer.chunk = 7  # the held-out tail in several chunks; the prediction then apart
    events = run_epochs(trainer, 2)
    for name in trainer.models:
        val_loss, val_acc, probabilities = _independent_val_and_prediction(trainer, name)
        end = epoch_ends(events, name)[-1]
        prediction = [e for e in events if isinstance(e, Prediction) and e.model == name][-1]
        assert end.val_loss == pytest.approx(val_loss, rel=1e-5)
        assert end.val_acc == pytest.approx(val_acc)
        assert prediction.probabilities == pytest.approx(probabilities, abs=1e-6)
        assert prediction.predicted == int(np.argmax(probabilities))


@pytest.mark.parametrize("room", [None, 1], ids=["planned-chunk", "chunk-of-the-tail-and-the-window"])
def test_one_validation_chunk_gives_the_prediction_in_the_same_forward(tiny, cpu, room):
    trainer = Trainer(tiny, cpu)
    if room is not None:
        trainer.chunk = len(trainer.data.val) + room  # just room for the window
    forwards: list[int] = []
    for model in trainer.models.values():
        model.register_forward_hook(lambda module, args, out: forwards.append(args[0].shape[1]))
    run_epochs(trainer)
    # per model: the training forwards (the full batch, or its chunks), then the held-out tail
    # with the inference window as its last column; no forward of one window
    n_train, n_val = len(trainer.data.train), len(trainer.data.val)
    training = [min(trainer.chunk, n_train - i) for i in range(0, n_train, trainer.chunk)]
    assert forwards == [*training, n_val + 1] * len(trainer.models)


def test_a_held_out_tail_that_fills_a_chunk_leaves_the_prediction_a_forward_of_its_own(tiny, cpu):
    trainer = Trainer(tiny, cpu)
    n_val = len(trainer.data.val)
    trainer.chunk = n_val  # one window more would be over what a forward may take
    forwards: list[int] = []
    trainer.models["lstm"].register_forward_hook(lambda module, args, out: forwards.append(args[0].shape[1]))
    run_epochs(trainer)
    assert max(forwards[-2:]) <= trainer.chunk and forwards[-2:] == [n_val, 1]


# -- a non-finite loss ----------------------------------------------------------------------


def _nan_loss(logits, targets):
    return nn.functional.cross_entropy(logits, targets, reduction="sum") * float("nan")


def test_a_non_finite_loss_says_which_model_and_epoch_and_what_to_do():
    error = NonFiniteLoss("rnn", 7, math.nan, math.inf)
    assert str(error) == ("RNN epoch 7: loss nan, gradient norm inf "
                          "(rolled back to the start of the epoch; lower the learning rate with [)")
    assert (error.model, error.epoch) == ("rnn", 7)


def test_non_finite_loss_raises_and_restores_the_epoch_start_parameters(tiny, cpu):
    trainer = Trainer(tiny, cpu)
    run_epochs(trainer)
    before = {name: params(m) for name, m in trainer.models.items()}
    adam_steps = trainer.optimizers["lstm"].state_dict()["state"][0]["step"].item()
    trainer.loss_fn = _nan_loss
    with pytest.raises(NonFiniteLoss) as info:
        run_epochs(trainer)
    assert info.value.model == "lstm" and info.value.epoch == 2
    assert trainer.epoch == 1
    assert_params_equal(params(trainer.models["lstm"]), before["lstm"], rtol=0, atol=0)
    assert trainer.optimizers["lstm"].state_dict()["state"][0]["step"].item() == adam_steps


def test_a_float64_models_gradients_are_views_of_a_float64_buffer_with_autograds_values():
    torch.manual_seed(0)
    model = nn.LSTM(3, 4).double()
    gradients = Gradients(model).bound()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    model(x)[0].sum().backward()
    assert gradients.flat.dtype == torch.float64
    assert all(p.grad._base is gradients.flat for p in model.parameters())
    reference = nn.LSTM(3, 4).double()
    reference.load_state_dict(model.state_dict())
    reference(x)[0].sum().backward()
    expected = torch.cat([p.grad.flatten() for p in reference.parameters()])
    assert torch.equal(gradients.flat, expected)
    assert gradients.norm() == torch.linalg.vector_norm(expected)


def test_the_rollback_copies_into_the_same_buffers_every_epoch(tiny, cpu):
    trainer = Trainer(tiny, cpu)
    run_epochs(trainer, 2)  # Adam's state exists from the first epoch: the second planned for it
    rollback = trainer._rollback["lstm"]
    where = [t.data_ptr() for t in rollback._saved]
    run_epochs(trainer, 2)
    assert [t.data_ptr() for t in rollback._saved] == where


def test_gradients_set_to_none_between_epochs_are_bound_again_and_still_counted(tiny, cpu):
    """The trainer keeps each model's gradients in one buffer; a model.zero_grad() between epochs
    (it sets every .grad to None) must not leave the next epoch's norm reading a stale buffer."""
    cleared, untouched = Trainer(tiny, cpu), Trainer(tiny, cpu)
    run_epochs(cleared), run_epochs(untouched)
    for model in cleared.models.values():
        model.zero_grad()
    for a, b in zip(epoch_ends(run_epochs(cleared)), epoch_ends(run_epochs(untouched)), strict=True):
        assert a.grad_norm == b.grad_norm > 0
    for model in cleared.models.values():
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


class _Mixed(nn.Module):
    """Parameters the rollback must keep in more than one buffer: two dtypes, and one that is
    not contiguous (a transposed view)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.randn(3, 4))
        self.b = nn.Parameter(torch.randn(5, dtype=torch.float64))
        self.c = nn.Parameter(torch.randn(4, 2).T)


def test_the_rollback_restores_tensors_of_every_dtype_and_layout_after_steps_that_changed_them():
    torch.manual_seed(0)
    model = _Mixed()
    assert not model.c.is_contiguous()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)

    def step() -> None:
        optimizer.zero_grad()
        (model.a.sum() + model.b.sum() * 2 + (model.c**2).sum()).backward()
        optimizer.step()

    step()  # Adam's state exists
    rollback = Rollback(model, optimizer)
    rollback.save()
    before = [t.clone() for t in rollback._tensors()]
    for _ in range(3):
        step()
    assert not any(torch.equal(a, b) for a, b in zip(before[:3], rollback._tensors()[:3]))
    model_state, optimizer_state = rollback.saved_state()
    assert torch.equal(model_state["c"], before[2]) and torch.equal(optimizer_state["state"][1]["exp_avg"], before[7])  # a, b, c; then step, exp_avg, exp_avg_sq of each
    rollback.restore()
    assert all(torch.equal(a, b) and a.dtype == b.dtype for a, b in zip(rollback._tensors(), before, strict=True))


def test_a_rollback_after_loading_a_state_restores_the_loaded_state_not_the_one_before(tiny, cpu):
    """The rollback lists the live tensors once; a load_state_dict (a resume) makes Adam's state
    anew, and the rollback must copy from and back into the new tensors."""
    trainer = Trainer(tiny, cpu)
    run_epochs(trainer, 2)  # the second epoch's rollback listed Adam's state, made in the first
    other = Trainer(tiny.replace(seed=tiny.seed + 1), cpu)
    run_epochs(other, 2)
    trainer.load_state_dict(other.state_dict())
    loaded = {name: params(m) for name, m in trainer.models.items()}
    moments = trainer.optimizers["lstm"].state_dict()["state"][0]["exp_avg"].clone()
    trainer.loss_fn = _nan_loss
    with pytest.raises(NonFiniteLoss):
        run_epochs(trainer)
    assert trainer.epoch == 2
    for name, model in trainer.models.items():
        assert_params_equal(params(model), loaded[name], rtol=0, atol=0)
    assert torch.equal(trainer.optimizers["lstm"].state_dict()["state"][0]["exp_avg"], moments)


def test_after_a_rollback_the_epoch_can_be_retried(tiny, cpu):
    trainer = Trainer(tiny, cpu)
    good_loss = trainer.loss_fn
    trainer.loss_fn = _nan_loss
    with pytest.raises(NonFiniteLoss):
        run_epochs(trainer)
    trainer.loss_fn = good_loss
    events = run_epochs(trainer)
    assert [(e.model, e.epoch) for e in epoch_ends(events)] == [("lstm", 1), ("rnn", 1)]
    reference = Trainer(tiny, cpu)
    assert epoch_ends(events)[0].train_loss == epoch_ends(run_epochs(reference))[0].train_loss


NON_FINITE = r"LSTM epoch 1: loss (nan|inf), gradient norm \d[\d.e+-]* \(rolled back to the start of the epoch"


@pytest.mark.parametrize("val_fraction", [0.2, 0.0], ids=["caught-by-validation", "caught-in-the-weights"])
def test_an_update_that_ruins_the_weights_rolls_the_epoch_back(tiny, cpu, val_fraction):
    """The loss before the update is finite, the update is not: the validation loss (or, with no
    validation split, the weights themselves) shows it, and the error names the model and epoch."""
    trainer = Trainer(tiny.replace(val_fraction=val_fraction), cpu)
    before = params(trainer.models["lstm"])
    lstm, step = trainer.models["lstm"], trainer.optimizers["lstm"].step

    def ruinous_step(*args, **kwargs):
        step(*args, **kwargs)
        with torch.no_grad():
            lstm.fc.weight[0, 0] = math.inf

    trainer.optimizers["lstm"].step = ruinous_step
    with pytest.raises(NonFiniteLoss, match=NON_FINITE) as info:
        run_epochs(trainer)
    assert (info.value.model, info.value.epoch, trainer.epoch) == ("lstm", 1, 0)
    assert_params_equal(params(trainer.models["lstm"]), before, rtol=0, atol=0)


def test_an_infinite_gradient_with_a_finite_loss_is_caught_before_anything_else(tiny, cpu):
    trainer = Trainer(tiny, cpu)
    trainer.models["lstm"].fc.bias.register_hook(lambda grad: grad * math.inf)
    with pytest.raises(NonFiniteLoss) as info:
        run_epochs(trainer)
    loss = float(str(info.value).split("loss ")[1].split(",")[0])
    assert math.isfinite(loss) and "gradient norm inf" in str(info.value)  # the training loss, finite


def test_time_spent_between_chunks_is_not_training_time(tiny, cpu, monkeypatch):
    """On a clock the test drives: 5 s in every call between chunks (a pause), 0.5 s per loss."""
    import engine.trainer

    now = [0.0]
    monkeypatch.setattr(engine.trainer, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    trainer = Trainer(tiny, cpu)
    loss_fn = trainer.loss_fn

    def timed_loss(logits, targets):
        now[0] += 0.5
        return loss_fn(logits, targets)

    def pause() -> None:
        now[0] += 5.0

    trainer.loss_fn = timed_loss
    events = []
    trainer.run_epoch(pause, events.append)
    for end in epoch_ends(events):  # one training chunk and one validation chunk, each after a pause
        assert end.seconds == pytest.approx(1.0)
        assert end.samples_per_s == pytest.approx(len(trainer.data.train) / 0.5)


def test_a_non_finite_rnn_rolls_back_both_models_so_they_stay_in_lockstep(tiny, cpu):
    """If the RNN fails after the LSTM finished epoch k, retrying epoch k must not train the
    LSTM on it twice: both models go back to the start of the epoch."""
    trainer = Trainer(tiny, cpu)
    run_epochs(trainer)
    before = {name: params(m) for name, m in trainer.models.items()}
    hook = trainer.models["rnn"].register_forward_hook(lambda m, args, out: out * float("nan"))
    with pytest.raises(NonFiniteLoss) as info:
        run_epochs(trainer)
    hook.remove()
    assert info.value.model == "rnn"
    assert trainer.epoch == 1
    assert_params_equal(params(trainer.models["rnn"]), before["rnn"], rtol=0, atol=0)
    assert_params_equal(params(trainer.models["lstm"]), before["lstm"], rtol=0, atol=0)


# -- host syncs: on a GPU each is a stall of the whole pipeline ------------------------------


def count_host_reads(monkeypatch) -> list[str]:
    """Record every read of a tensor's value back to the host made by the engine's own code.

    torch.optim's Adam reads its step counters with .item(), but it keeps them on the CPU
    (unless capturable), so those reads never wait for a GPU and are not counted.
    """
    reads: list[str] = []
    for method in ("item", "tolist", "__bool__", "__float__", "__int__", "cpu", "numpy"):
        original = getattr(torch.Tensor, method)

        def counted(self, *args, _original=original, _method=method, **kwargs):
            if sys._getframe(1).f_globals.get("__name__", "").startswith("engine."):
                reads.append(_method)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, method, counted)
    return reads


def test_an_epochs_host_reads_do_not_grow_with_its_batches_or_chunks(tiny, cpu, monkeypatch):
    full = Trainer(tiny, cpu)
    many = Trainer(tiny.replace(series_length=2000, look_back=50, hidden=32, batch_size=256,
                                memory_budget=2**20), cpu)
    assert len(many._epoch_batches()) > 4 and many.chunk < 256  # many batches, each in chunks
    reads = count_host_reads(monkeypatch)
    run_epochs(full)
    full_batch_reads = list(reads)
    reads.clear()
    run_epochs(many)
    assert reads == full_batch_reads
    # per model: the training loss and gradient norm, the validation loss and accuracy, and
    # the prediction's probabilities; nothing per batch or per chunk
    assert sorted(full_batch_reads) == sorted(["item"] * 8 + ["tolist"] * 2)
