"""One epoch of every model of the run, in lockstep, on the same batches. Synchronous: no threads here.

Read top to bottom, this is the seed's training script made honest and scalable:
  * the same models, loss (cross-entropy), optimiser (Adam) and full-batch default;
  * a held-out tail of the series scored every epoch (the seed never validates);
  * a full batch that does not fit the memory budget, or that would keep a command waiting
    for long on a CPU, is split into chunks whose gradients are accumulated, so the update
    equals the full-batch update;
  * a non-finite loss rolls every model back to the start of the epoch and raises, so the
    caller can pause instead of crash.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from engine.baselines import baselines
from engine.config import NUM_CLASSES, RunConfig, clamp_lr, lr_factor
from engine.data import WeatherData, best_achievable_loss
from engine.device import device_name
from engine.events import EpochEnd, Event, Prediction, RunStarted
from engine.models import MODEL_CLASSES, MODEL_NAMES, parameter_count

FLOAT_BYTES = 4
KEEP_ENCODED_SHARE = 8  # the training split's one-hot is kept when it is at most 1/8 of the budget

# Peak memory of one forward/backward per window-step, measured as peak RSS on the CPU (torch
# 2.13): LSTM 763 bytes at hidden 10, 1,950 at 32, 6,184 at 100; RNN 213 at hidden 10. That is
# about 15 floats per hidden unit and layer (gates, cell and hidden states kept for the backward
# pass, and their gradients) plus some padding; 16 per unit plus 48 per layer bounds them all.
FLOATS_PER_UNIT, FLOATS_PER_LAYER = 16, 48

# CPU time of one window-step, forward and backward, of a one-layer LSTM of hidden 10: 0.65-0.85
# microseconds on the 2-core box this was built on (torch 2.13), whatever the batch or look-back;
# the RNN takes a third to a half of that. A hidden size h costs about cost(h) / cost(10) times
# as much, with cost(h) = h * (1 + h / 256) (measured up to hidden 256).
CPU_STEP_SECONDS = 0.8e-6
# Commands (pause, stop, quit) are applied between chunks, so one waits for at most one chunk.
CHUNK_SECONDS = 0.25
# A batch estimated below this is never split: the seed presets' full batches (seed-100k: about
# 0.65 s) train in one pass, bit for bit as the seed's loop does.
WHOLE_BATCH_SECONDS = 0.75


class NonFiniteLoss(RuntimeError):
    def __init__(self, model: str, epoch: int, loss: float, grad_norm: float) -> None:
        self.model = model
        self.epoch = epoch
        super().__init__(
            f"{model.upper()} epoch {epoch}: loss {loss:g}, gradient norm {grad_norm:g} "
            "(rolled back to the start of the epoch; lower the learning rate with [)"
        )


def bytes_per_window(cfg: RunConfig, num_classes: int = NUM_CLASSES) -> int:
    """Training memory of one window: its one-hot input plus what autograd keeps per step."""
    per_step = num_classes + cfg.layers * (FLOATS_PER_UNIT * cfg.hidden + FLOATS_PER_LAYER)
    return FLOAT_BYTES * cfg.look_back * per_step


def cpu_seconds_per_window(cfg: RunConfig) -> float:
    """Estimated CPU time of one window's forward and backward (the LSTM's, the slower model's)."""

    def cost(hidden: int) -> float:
        return hidden * (1 + hidden / 256)

    return CPU_STEP_SECONDS * cfg.look_back * cfg.layers * cost(cfg.hidden) / cost(10)


def chunk_windows(cfg: RunConfig, batch: int, device_type: str, num_classes: int = NUM_CLASSES) -> int:
    """How many windows one forward/backward may hold, for batches of ``batch`` windows.

    Always within the memory budget. On the CPU, a batch estimated to take longer than
    WHOLE_BATCH_SECONDS is also cut into chunks of about CHUNK_SECONDS, so a command never waits
    long; a shorter batch that fits the budget stays whole (the result is then >= ``batch``).
    On an accelerator a step costs about the same for a few windows or thousands, so only the
    budget limits a chunk there. The time is estimated from the config, never measured, so a
    run cuts its batches the same way every time and a resumed epoch replays bit for bit.
    """
    memory = max(1, cfg.memory_budget // bytes_per_window(cfg, num_classes))
    if device_type != "cpu":
        return memory
    per_window = cpu_seconds_per_window(cfg)
    short = max(1, min(memory, int(CHUNK_SECONDS / per_window)))
    if batch <= memory and batch * per_window <= WHOLE_BATCH_SECONDS:
        return max(batch, short)
    return short


def keeps_encoding(cfg: RunConfig, train_windows: int, num_classes: int = NUM_CLASSES) -> bool:
    """Whether the training split's one-hot (``train_windows`` windows) is encoded once and
    kept: when it takes at most 1/KEEP_ENCODED_SHARE of the memory budget."""
    kept = train_windows * cfg.look_back * num_classes * FLOAT_BYTES
    return kept * KEEP_ENCODED_SHARE <= cfg.memory_budget


def initial_models(cfg: RunConfig, device: torch.device, num_classes: int = NUM_CLASSES) -> dict[str, nn.Module]:
    """The run's models, in its order (cfg.models), with their initial weights: ``num_classes``
    one-hot inputs and as many outputs (the data's: WeatherData.num_classes).

    The weights are drawn from torch's global generator as the run's seed left it, one model
    after another in MODEL_NAMES order (LSTM, RNN, GRU) whatever order is shown: the seed's
    pair draws as the seed does (LSTM, then RNN), and `--models rnn,lstm` trains the same two
    models as `lstm,rnn`. A model left out draws nothing, so the GRU of a trio starts elsewhere
    than a GRU alone: compare a model across sets by many seeds, never by one.
    """
    drawn = {
        name: MODEL_CLASSES[name](num_classes, cfg.hidden, num_classes, cfg.layers).to(device)
        for name in MODEL_NAMES if name in cfg.model_names
    }
    if cfg.forget_bias is not None and "lstm" in drawn:
        drawn["lstm"].set_forget_bias(cfg.forget_bias)
    return {name: drawn[name] for name in cfg.model_names}


class Trainer:
    """The run's models, their optimisers and the data. ``run_epoch`` trains epoch k of each."""

    def __init__(self, cfg: RunConfig, device: torch.device) -> None:
        self.cfg = cfg
        self.device = device
        torch.manual_seed(cfg.seed)  # the data and every model's initial weights follow from the run's seed
        self.data = WeatherData(cfg, device)
        self.models: dict[str, nn.Module] = initial_models(cfg, device, self.data.num_classes)
        self.optimizers = {
            name: torch.optim.Adam(model.parameters(), lr=cfg.lr) for name, model in self.models.items()
        }
        self.loss_fn = nn.CrossEntropyLoss(reduction="sum")
        self.shuffle = torch.Generator().manual_seed(cfg.seed)  # mini-batch order, on the CPU
        self.epoch = 0  # epochs completed by every model
        self.batch_size = min(cfg.batch_size or len(self.data.train), len(self.data.train))
        # Planned once for the whole run: every batch and the validation pass use this size.
        self.chunk = chunk_windows(cfg, self.batch_size, device.type, self.data.num_classes)
        self._train_encoded: tuple[torch.Tensor, torch.Tensor] | None = None  # see _encode
        # Planned once too, on the whole split (the bench's scale run trains a prefix of it).
        self.keeps_encoding = keeps_encoding(cfg, len(self.data.train), self.data.num_classes)
        self._val_and_window: tuple[torch.Tensor, torch.Tensor] | None = None  # see _validate
        self._rollback = {name: Rollback(model, self.optimizers[name]) for name, model in self.models.items()}
        self._gradients = {name: Gradients(model) for name, model in self.models.items()}
        self.mid_epoch = False  # inside run_epoch: the live weights are part-way through an epoch
        self._epoch_rng: dict[str, torch.Tensor] = {}  # the random streams as the epoch began
        self._baselines: dict[str, float] | None = None  # engine/baselines.py, computed at the start

    # -- what a run is -------------------------------------------------------------------

    def started_event(self) -> RunStarted:
        n_train = len(self.data.train)
        if self._baselines is None:  # the data never changes: a resume's or a retry's are the same
            self._baselines = baselines(self.data.series, self.data.num_classes, self.data.split, self.cfg.look_back)
        return RunStarted(
            config=self.cfg.to_dict(),
            device=str(self.device),
            device_name=device_name(self.device),
            parameters={name: parameter_count(m) for name, m in self.models.items()},
            train_windows=n_train,
            val_windows=len(self.data.val),
            data_sha256=self.data.sha256,
            chance_loss=math.log(self.data.num_classes),
            best_loss=best_achievable_loss(self.cfg),
            batches_per_epoch=math.ceil(n_train / self.batch_size),
            chunks_per_batch=math.ceil(self.batch_size / self.chunk),
            resumed_from_epoch=self.epoch,
            classes=list(self.data.classes),
            baselines=self._baselines,
        )

    @property
    def lr(self) -> float:
        return next(iter(self.optimizers.values())).param_groups[0]["lr"]  # all have one rate

    def scale_lr(self, factor: float) -> float:
        """Multiply the learning rate by ``factor`` (finite, > 0), within [LR_MIN, LR_MAX]
        (engine/config.py); the new rate."""
        return self.set_lr(self.lr * lr_factor(factor))

    def set_lr(self, lr: float) -> float:
        """Every optimiser's learning rate, brought into [LR_MIN, LR_MAX]; the rate set."""
        lr = clamp_lr(lr)
        for optimizer in self.optimizers.values():
            for group in optimizer.param_groups:
                group["lr"] = lr
        return lr

    # -- state for checkpoints (engine/rundir/checkpoint.py) -------------------------------

    def rng_state(self) -> dict[str, torch.Tensor]:
        """The random streams training draws from. Only the shuffle is drawn per epoch today;
        the global ones are kept too, so a resume stays exact if a model ever draws (dropout).
        numpy's global generator is not used: the data has its own RandomState."""
        state = {"shuffle": self.shuffle.get_state(), "torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def set_rng_state(self, state: dict[str, torch.Tensor]) -> None:
        self.shuffle.set_state(state["shuffle"])
        torch.set_rng_state(state["torch"])
        if "cuda" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda"], self.device)

    def state_dict(self) -> dict[str, Any]:
        """Everything an exact resume needs, as of the last completed epoch.

        Keys: each model's name ("lstm", "rnn", "gru": its state_dict), "optimizers" ({name:
        its Adam's state_dict}), "epoch" and "rng". Called mid-epoch (a pause or stop inside an epoch), it gives the
        state from before that epoch began, which the rollback buffers keep, so a resume
        replays the interrupted epoch from its start. The learning rate is always the current
        one: a change made mid-epoch is kept. Tensors alias live ones: save before training on.
        """
        if self.mid_epoch:
            saved = {name: rollback.saved_state() for name, rollback in self._rollback.items()}
            models = {name: model_state for name, (model_state, _) in saved.items()}
            optimizers = {name: optimizer_state for name, (_, optimizer_state) in saved.items()}
            rng = self._epoch_rng
        else:
            models = {name: model.state_dict() for name, model in self.models.items()}
            optimizers = {name: optimizer.state_dict() for name, optimizer in self.optimizers.items()}
            rng = self.rng_state()
        return {**models, "optimizers": optimizers, "epoch": self.epoch, "rng": rng}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a ``state_dict()``: the next ``run_epoch`` trains epoch state["epoch"] + 1."""
        for name in self.models:
            self.models[name].load_state_dict(state[name])
            self.optimizers[name].load_state_dict(state["optimizers"][name])
        self.epoch = int(state["epoch"])
        self.set_rng_state(state["rng"])
        self.mid_epoch = False
        # A checkpoint from before the rate was clamped may hold any (1e300 overflows Adam's step).
        self.set_lr(self.lr)

    # -- one epoch -----------------------------------------------------------------------

    def run_epoch(self, between_batches: Callable[[], None], emit: Callable[[Event], None]) -> None:
        """Epoch k of each model in the run's order, on the same batches.

        ``between_batches`` is called before every chunk of every batch and of the validation
        pass; it may block (pause) or raise (stop, restart). Time spent inside it is not counted
        as training time.
        """
        epoch = self.epoch + 1
        for rollback in self._rollback.values():
            rollback.save()
        self._epoch_rng = self.rng_state()
        self.mid_epoch = True
        batches = self._epoch_batches()
        try:
            for name in self.models:
                # Emitted as each model finishes, so a listener's view (and the order of events
                # around a command applied mid-epoch) follows what really happened.
                for event in self._train_one(name, epoch, batches, between_batches):
                    emit(event)
        except NonFiniteLoss:
            # Every model goes back, so a retried epoch k is epoch k for all of them (the epoch_end
            # for k of those that had finished it appears again, for the retry).
            for rollback in self._rollback.values():
                rollback.restore()
            self.set_rng_state(self._epoch_rng)
            self.mid_epoch = False
            raise
        self.epoch = epoch
        self.mid_epoch = False

    def _epoch_batches(self) -> list[torch.Tensor]:
        starts = self.data.train.starts
        if self.batch_size >= len(starts):
            return [starts]
        # Drawn on the CPU (one seeded generator on every device), so a run shuffles alike on
        # any device; on CUDA it goes over from pinned memory without blocking this thread.
        order = torch.randperm(len(starts), generator=self.shuffle)
        if self.device.type == "cuda":
            order = order.pin_memory().to(self.device, non_blocking=True)
        else:
            order = order.to(self.device)
        return list(starts[order].split(self.batch_size))

    def _train_one(
        self, name: str, epoch: int, batches: list[torch.Tensor], between_batches: Callable[[], None]
    ) -> tuple[EpochEnd, Prediction]:
        model, optimizer = self.models[name], self.optimizers[name]
        model.train()
        started = time.perf_counter()
        waited = 0.0

        def between_chunks() -> None:
            nonlocal waited
            t = time.perf_counter()
            between_batches()
            waited += time.perf_counter() - t  # a pause is not training time

        loss_sum = torch.zeros((), device=self.device)
        gradients = self._gradients[name].bound()
        grad_norms: list[torch.Tensor] = []  # each batch's, on the device: averaged once, at the end
        for batch in batches:
            gradients.zero()
            for chunk in self._chunks(batch):
                between_chunks()
                inputs, targets = self._encode(chunk)
                # Sum over the chunk, divided by the whole batch: accumulated chunk gradients
                # equal the gradient of the batch's mean loss.
                loss = self.loss_fn(model(inputs), targets) / len(batch)
                loss.backward()
                loss_sum += loss.detach() * len(batch)
            grad_norms.append(gradients.norm())
            optimizer.step()
        n_train = len(self.data.train)
        train_loss = (loss_sum / n_train).item()  # the epoch's one host sync for training
        grad_norm = torch.stack(grad_norms).mean().item()
        if not (math.isfinite(train_loss) and math.isfinite(grad_norm)):
            raise NonFiniteLoss(name, epoch, train_loss, grad_norm)
        train_seconds = time.perf_counter() - started - waited
        val_loss, val_acc, window_logits = self._validate(name, between_chunks)
        # The loss above was computed before the update: an update that ruined the weights shows
        # only now. Caught here, the epoch rolls back to weights a lower learning rate can train.
        if val_loss is not None and not math.isfinite(val_loss):
            raise NonFiniteLoss(name, epoch, val_loss, grad_norm)
        if val_loss is None and not torch.stack([torch.isfinite(p).all() for p in model.parameters()]).all():
            raise NonFiniteLoss(name, epoch, math.nan, grad_norm)
        epoch_end = EpochEnd(
            model=name,
            epoch=epoch,
            train_loss=train_loss,
            val_loss=val_loss,
            val_acc=val_acc,
            grad_norm=grad_norm,
            lr=optimizer.param_groups[0]["lr"],
            seconds=time.perf_counter() - started - waited,
            samples_per_s=n_train / max(train_seconds, 1e-9),
        )
        return epoch_end, self._prediction(name, epoch, window_logits)

    def _chunks(self, batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (batch,) if len(batch) <= self.chunk else batch.split(self.chunk)

    def _encode(self, starts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One-hot a chunk of training windows on the device.

        The whole training split is encoded once and kept, as the seed keeps its input tensor,
        when it is one chunk (the seed's full batch) or takes at most 1/KEEP_ENCODED_SHARE of
        the memory budget (``keeps_encoding``; echo's mini-batches: 6.7 MB); a chunk is then one
        index_select of it. Encoding each mini-batch afresh took 3.9 % of an echo epoch. A split
        too big for that (the seed's 500k series at look-back 1,000: 4.8 GB) is encoded chunk by
        chunk.
        """
        train = self.data.train.starts
        if self._train_encoded is None:
            whole = starts is train and len(train) <= self.chunk
            if not (whole or self.keeps_encoding):
                return self.data.batch(starts)
            self._train_encoded = self.data.batch(train)
        inputs, targets = self._train_encoded
        if starts is train:
            return inputs, targets
        # Training windows start at 0, 1, 2, ...: a window's start is its column in the split.
        return inputs.index_select(1, starts), targets.index_select(0, starts)


    def evaluate(
        self, name: str, between_chunks: Callable[[], None] = lambda: None
    ) -> tuple[float | None, float | None]:
        """Mean cross-entropy and accuracy on the held-out tail.

        ``between_chunks`` is called before every chunk, as in training: at the seed's 500k
        series the validation pass alone takes tens of seconds on a CPU.
        """
        val_loss, val_acc, _ = self._validate(name, between_chunks)
        return val_loss, val_acc

    def _validate(
        self, name: str, between_chunks: Callable[[], None]
    ) -> tuple[float | None, float | None, torch.Tensor | None]:
        """``evaluate``'s figures, and the inference window's logits (1, classes) where the
        held-out tail is one chunk (the seed's full batch): the window rides along as one more
        column of that forward. Apart, the prediction's forward was 1.4 ms of a 60 ms seed-10k
        epoch (two models): so small a forward costs its dispatch, not its arithmetic."""
        val = self.data.val.starts
        if len(val) == 0:
            return None, None, None
        with torch.no_grad():  # a block, not a decorator: mutmut leaves decorated functions unmutated
            model = self.models[name]
            model.eval()
            if len(val) + 1 <= self.chunk:  # the window too: a chunk is the most one forward may take
                between_chunks()
                if self._val_and_window is None:  # encoded once and kept, as the whole training split
                    self._val_and_window = self.data.val_and_inference_window()
                inputs, targets = self._val_and_window
                logits = model(inputs)
                val_logits = logits[:-1]
                loss = self.loss_fn(val_logits, targets).item()
                correct = (val_logits.argmax(dim=1) == targets).sum().item()
                return loss / len(val), correct / len(val), logits[-1:]
            loss_sum = torch.zeros((), device=self.device)
            correct = torch.zeros((), device=self.device, dtype=torch.long)
            for chunk in self._chunks(val):
                between_chunks()
                inputs, targets = self.data.batch(chunk)
                logits = model(inputs)
                loss_sum += self.loss_fn(logits, targets)
                correct += (logits.argmax(dim=1) == targets).sum()
            return (loss_sum / len(val)).item(), correct.item() / len(val), None

    def predict(self, name: str, epoch: int) -> Prediction:
        """The seed's inference: tomorrow from the last look_back days of the series."""
        return self._prediction(name, epoch, None)

    def _prediction(self, name: str, epoch: int, logits: torch.Tensor | None) -> Prediction:
        """The Prediction from the inference window's ``logits``, computed here when None."""
        with torch.no_grad():
            if logits is None:
                model = self.models[name]
                model.eval()
                logits = model(self.data.inference_window())
            probabilities = torch.softmax(logits, dim=1)[0].tolist()
        return Prediction(
            model=name,
            epoch=epoch,
            probabilities=probabilities,
            predicted=max(range(len(probabilities)), key=probabilities.__getitem__),
            true=self.data.tomorrow,
        )


def views_of(flat: torch.Tensor, shaped_like: list[torch.Tensor]) -> list[torch.Tensor]:
    """``flat`` cut into consecutive views shaped like each of ``shaped_like``, in order."""
    views, offset = [], 0
    for t in shaped_like:
        views.append(flat[offset : offset + t.numel()].view_as(t))
        offset += t.numel()
    return views


class Gradients:
    """A model's gradients in one buffer, each parameter's .grad a view of it, so that zeroing
    them and their L2 norm (all of them together) are one op each, whatever the model.

    Ops this small cost their dispatch, not their arithmetic: zero_grad and a norm per tensor
    took 2.4 % of an echo epoch (a norm per mini-batch). Backward adds into an existing .grad
    in place, so the views stay views; ``bound()`` makes them views again if anything (a
    ``model.zero_grad()``) has set them to None or replaced them.
    """

    def __init__(self, model: nn.Module) -> None:
        self.parameters = list(model.parameters())
        first = self.parameters[0]
        self.flat = torch.zeros(sum(p.numel() for p in self.parameters), dtype=first.dtype, device=first.device)

    def bound(self) -> Gradients:
        """Every .grad a view of ``flat`` (from here on zeroed; they were views already, or
        set to None, or the gradients of a step already taken)."""
        if not all(p.grad is not None and p.grad._base is self.flat for p in self.parameters):
            for p, view in zip(self.parameters, views_of(self.flat, self.parameters)):
                p.grad = view
        return self

    def zero(self) -> None:
        self.flat.zero_()

    def norm(self) -> torch.Tensor:
        """The L2 norm of every gradient together, left on the device: what
        ``clip_grad_norm_(parameters, inf)`` returns, without its multiply of every gradient by 1."""
        return torch.linalg.vector_norm(self.flat)


class Rollback:
    """The parameters and optimiser state at the start of an epoch, kept in reused buffers.

    Copying into preallocated buffers costs microseconds per epoch, where a deepcopy of the
    optimiser's state_dict cost about 5% of a seed-10k epoch.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.model = model
        self.optimizer = optimizer
        self._saved: list[torch.Tensor] = []
        # The live tensors, listed once: Adam updates its moments and steps in place, so the list
        # holds until its state is made anew (the first step, a load_state_dict, a restore).
        self._live: list[torch.Tensor] = []
        self._live_of: tuple[Any, int] = (None, -1)  # (optimizer.state, its length) when listed
        self._planned: list[torch.Tensor] | None = None  # the live list the buffers below are for
        self._flat: list[tuple[list[torch.Tensor], torch.Tensor]] = []  # (live tensors, flat as views)
        self._apart: list[tuple[torch.Tensor, torch.Tensor]] = []  # (saved, live), copied one by one

    def _tensors(self) -> list[torch.Tensor]:
        state = self.optimizer.state
        listed_state, listed_length = self._live_of
        if state is not listed_state or len(state) != listed_length:
            tensors = [p.data for p in self.model.parameters()]
            for param_state in state.values():
                tensors += [v for v in param_state.values() if isinstance(v, torch.Tensor)]
            self._live, self._live_of = tensors, (state, len(state))
        return self._live

    # no_grad as a block in these, not a decorator: mutmut leaves decorated functions unmutated
    def save(self) -> None:
        tensors = self._tensors()
        with torch.no_grad():
            if tensors is not self._planned:
                self._plan(tensors)
            # One op per device and dtype: a copy per tensor, even as one foreach op, cost 0.9 %
            # of a seed-10k epoch (24 tensors a model, each copy its own dispatch).
            for live, flat in self._flat:
                torch.cat(live, out=flat)
            for saved, live_tensor in self._apart:
                saved.copy_(live_tensor)

    def _plan(self, tensors: list[torch.Tensor]) -> None:
        """Where ``save`` copies ``tensors`` to: a flat buffer per device and dtype (Adam keeps
        its steps on the CPU, whatever the model's device), each saved tensor a view of it; a
        tensor that is not contiguous (none is, here) gets a buffer of its own."""
        saved: list[torch.Tensor | None] = [None] * len(tensors)
        self._flat, self._apart = [], []
        groups: dict[tuple[torch.device, torch.dtype], list[int]] = {}
        for index, t in enumerate(tensors):
            if t.is_contiguous():
                groups.setdefault((t.device, t.dtype), []).append(index)
            else:
                saved[index] = torch.empty_like(t)
                self._apart.append((saved[index], t))
        for (device, dtype), indices in groups.items():
            members = [tensors[i] for i in indices]
            flat = torch.empty(sum(t.numel() for t in members), dtype=dtype, device=device)
            for i, view in zip(indices, views_of(flat, members)):
                saved[i] = view
            self._flat.append(([tensors[i].view(-1) for i in indices], flat))
        self._saved = [t for t in saved if t is not None]  # every index is one or the other
        self._planned = tensors

    def saved_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The model's and optimiser's state_dicts as they were at the last ``save()``."""
        model_state = self.model.state_dict()
        names = [name for name, _ in self.model.named_parameters()]
        model_state.update(zip(names, self._saved))  # buffers (none here) are not trained
        optimizer_state = self.optimizer.state_dict()
        saved = iter(self._saved[len(names):])
        if len(self._saved) == len(names):  # no step had been taken: no optimiser state yet
            optimizer_state["state"] = {}
        else:  # the same order as _tensors(): param by param, tensor by tensor
            optimizer_state["state"] = {
                index: {key: next(saved) if isinstance(value, torch.Tensor) else value
                        for key, value in state.items()}
                for index, state in optimizer_state["state"].items()
            }
        return model_state, optimizer_state

    def restore(self) -> None:
        tensors = self._tensors()
        if len(tensors) != len(self._saved):  # the optimiser's state was created this epoch
            self.optimizer.state.clear()
            tensors = self._tensors()
        with torch.no_grad():
            for t, saved in zip(tensors, self._saved):
                t.copy_(saved)
