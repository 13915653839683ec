"""Faults while a run trains: a learning rate that blows the loss up, and a sink that blocks."""

from __future__ import annotations

import math
import threading
import time

import pytest

from engine.config import RunConfig
from engine.events import Alert, Cause, EpochEnd, RunFinished, RunStateChanged
from engine.session import Session
from tests.engine.recorder import Recorder

WAIT = 30.0  # generous: the box is shared; a passing test never waits this long
# lr 0.01 x 2^128 ~ 3e36: one Adam step takes the weights past what float32 holds. A power of
# two, so scaling back by its inverse gives the old learning rate exactly.
BLOW_UP = 2.0**128
ENDLESS = RunConfig(series_length=300, look_back=5, epochs=100_000, device="cpu")


def past_the_clamp(session: Session, factor: float) -> None:
    """Scale a paused run's learning rate by ``factor`` beyond LR_MAX, where no command takes it
    (engine/config.py): the one way left to make a loss non-finite, whose pause and rollback
    these tests are about. The worker is blocked between batches meanwhile."""
    assert session.trainer is not None and session.run_state == "paused"
    for optimizer in session.trainer.optimizers.values():
        for group in optimizer.param_groups:
            group["lr"] *= factor


def paused_for_a_non_finite_loss(event) -> bool:
    return isinstance(event, RunStateChanged) and event.state == "paused" and event.cause == Cause.NON_FINITE


def blow_up(start, config: RunConfig) -> tuple[Session, Recorder, int]:
    """Train two epochs, pause at the end of one, raise the lr until the loss cannot be finite and
    go on. Returns the session, its events and the index of the pause that follows.

    The lr changes between epochs, so the first update with it is the epoch's first: where a
    command lands inside an epoch would otherwise decide which update blows up."""
    rec = Recorder()
    session = start(config, rec)
    rec.wait_for(lambda e: isinstance(e, EpochEnd) and e.epoch >= 2)
    session.pause()
    at, _ = rec.wait_for(lambda e: isinstance(e, RunStateChanged) and e.state == "paused")
    session.step()  # the rest of this epoch, then a pause at its end
    rec.wait_for(lambda e: isinstance(e, RunStateChanged) and e.state == "paused" and e.cause == Cause.STEP,
                 after=at + 1)
    past_the_clamp(session, BLOW_UP)
    session.resume()
    at, _ = rec.wait_for(paused_for_a_non_finite_loss)
    return session, rec, at


def blow_up_and_recover(start, config: RunConfig) -> tuple[list, int]:
    """After a blow-up, lower the lr below where it was and resume: three more epochs must train.

    Returns the events and the index of the pause; fails if the run paused again instead."""
    session, rec, at = blow_up(start, config)
    trained = max(e.epoch for e in rec.snapshot()[:at] if isinstance(e, EpochEnd))
    session.scale_lr(1 / BLOW_UP / 4)
    session.resume()
    _, event = rec.wait_for(lambda e: paused_for_a_non_finite_loss(e) or (
        isinstance(e, EpochEnd) and e.model == "rnn" and e.epoch >= trained + 3), after=at + 1)
    assert not paused_for_a_non_finite_loss(event), f"lowering the lr did not help: {event}"
    return rec.snapshot(), at


def test_a_learning_rate_that_blows_the_loss_up_pauses_the_run_with_an_error_alert(start) -> None:
    session, rec, at = blow_up(start, ENDLESS.replace(batch_size=64))
    paused = rec.snapshot()[at]
    assert paused.reason in ("non-finite loss in LSTM", "non-finite loss in RNN")
    alerts = [e for e in rec.snapshot()[:at] if isinstance(e, Alert)]
    assert len(alerts) == 1 and alerts[0].level == "error" and "lower the learning rate" in alerts[0].message
    time.sleep(0.3)
    assert session.run_state == "paused" and session.alive


def test_after_a_blow_up_a_lower_learning_rate_trains_on_with_finite_losses_mini_batch(start) -> None:
    events, at = blow_up_and_recover(start, ENDLESS.replace(batch_size=64))
    after = [e for e in events[at:] if isinstance(e, EpochEnd)]
    assert len(after) >= 6
    assert all(math.isfinite(e.train_loss) and math.isfinite(e.val_loss) for e in after)
    assert after[-1].lr == pytest.approx(ENDLESS.lr / 4)




def test_after_a_blow_up_a_lower_learning_rate_trains_on_with_finite_losses_full_batch(start) -> None:
    events, at = blow_up_and_recover(start, ENDLESS)
    after = [e for e in events[at:] if isinstance(e, EpochEnd)]
    assert all(math.isfinite(e.train_loss) and math.isfinite(e.val_loss) for e in after)


def test_an_epoch_whose_update_made_the_loss_non_finite_is_never_reported_as_trained(start) -> None:
    """Full batch: the learning rate blows up; every epoch reported before the pause has finite
    losses (the epoch whose update blew up is rolled back, not reported)."""
    _, rec, at = blow_up(start, ENDLESS)
    ends = [e for e in rec.snapshot()[:at] if isinstance(e, EpochEnd)]
    assert all(math.isfinite(e.train_loss) and math.isfinite(e.val_loss) for e in ends)


# -- a sink that blocks --------------------------------------------------------------------------


def test_a_sink_blocked_for_seconds_per_event_does_not_hold_the_run_up(start) -> None:
    release = threading.Event()
    slow_got: list = []

    def blocked(event) -> None:  # as a hung terminal or disk might: held until the run has finished
        slow_got.append(event)
        release.wait(WAIT)  # WAIT only ends a hang

    first, second = Recorder(), Recorder()
    try:
        start(RunConfig(series_length=300, look_back=5, epochs=30, device="cpu"), first, blocked, second)
        first.wait_for(lambda e: isinstance(e, RunStateChanged) and e.state == "finished")
        second.wait_for(lambda e: isinstance(e, RunStateChanged) and e.state == "finished")
        behind = len(slow_got)
    finally:
        release.set()
    events = first.snapshot()
    assert len([e for e in events if isinstance(e, EpochEnd)]) == 60  # 30 epochs x 2 models
    assert any(isinstance(e, RunFinished) for e in events)
    assert second.snapshot() == events  # every other sink got every event, in order
    assert behind <= 1  # the blocked sink was still held in its first event (if it had got one)
