"""`lstm-tui bench`'s breakdown of the engine's own work: each piece counted as often as the
engine calls it, a piece inside another counted once, and the engine left as it was."""

from __future__ import annotations

import pytest

import engine.session
import engine.trainer
from engine.config import RunConfig
from tui.bench.extras import PIECES, PieceTimes, engine_extras, wrapped

# 236 training windows in batches of 64: 4 batches an epoch
MINI_BATCH = RunConfig(series_length=300, look_back=4, hidden=4, batch_size=64, device="cpu")


@pytest.fixture(scope="module")
def extras() -> dict:
    return engine_extras(MINI_BATCH, epochs=4, warmup=1)


def test_each_piece_is_counted_as_often_as_the_engine_calls_it(extras) -> None:  # noqa: ANN001
    calls = {label: piece["calls_per_epoch"] for label, piece in extras["pieces"].items()}
    models = len(MINI_BATCH.model_names)
    assert calls["prediction"] == calls["rollback copy"] == models
    assert calls["gradient norm"] == 4 * models  # one per batch
    assert calls["random state"] == 1
    assert calls["events to listeners"] == 2 * models  # each model's epoch end and prediction
    # before the epoch, then before each batch's one chunk and the validation chunk, per model
    assert calls["commands between batches"] == 1 + models * (4 + 1)


def test_the_shares_are_of_the_epoch_and_add_up(extras) -> None:  # noqa: ANN001
    shares = [piece["share"] for piece in extras["pieces"].values()]
    assert all(share >= 0 for share in shares)
    assert extras["share"] == pytest.approx(sum(shares)) and 0 < extras["share"] < 1
    assert list(extras["pieces"]) == [label for label, _, _ in PIECES]


def test_a_piece_called_inside_another_counts_for_the_outer_one_only() -> None:
    times = PieceTimes()
    times.counting = True
    inner = times.timed("events to listeners", lambda: None)
    outer = times.timed("probes", lambda: [inner() for _ in range(3)])
    outer()
    inner()
    assert times.calls["probes"] == 1 and times.calls["events to listeners"] == 1


def test_nothing_is_counted_outside_the_timed_epochs() -> None:
    times = PieceTimes()
    times.timed("probes", lambda: None)()
    assert times.calls["probes"] == 0 and times.seconds["probes"] == 0.0


def test_the_engine_is_left_as_it_was() -> None:
    before = (engine.trainer.Trainer._prediction, engine.trainer.Rollback.save, engine.trainer.Gradients.norm,
              engine.session.Session._emit, engine.session.Session._probe)
    with pytest.raises(RuntimeError, match="inside"), wrapped(PieceTimes()):
        assert engine.trainer.Trainer._prediction is not before[0]
        raise RuntimeError("inside")
    after = (engine.trainer.Trainer._prediction, engine.trainer.Rollback.save, engine.trainer.Gradients.norm,
             engine.session.Session._emit, engine.session.Session._probe)
    assert after == before
