"""How engine events reach the screen: folded on the UI's own pulse, never a message each."""

from __future__ import annotations

import threading
import time

from engine.config import RunConfig
from engine.events import RunStateChanged
from tests.tui.helpers import synthetic_run, wait_until
from tui.dashboard.app import DashboardApp
from tui.dashboard.pacing import MAX_PULSE_S, SLOWEST_REDRAW_S, RedrawPacer
from tui.widgets.header import RunHeader

CONFIG = RunConfig(series_length=300, look_back=5, epochs=500)
NO_REDRAW_S = 600.0  # a chart redraw held off this long: what shows meanwhile came from the pulse
WAIT_S = 60.0  # waits for what the pulse shows within a second: only a hang, or a wait for a redraw, takes it


async def test_a_burst_of_engine_events_wakes_the_ui_with_no_message_per_event(monkeypatch) -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        posted: list[object] = []
        post_message = app.post_message

        def counting(message):  # noqa: ANN001
            posted.append(message)
            return post_message(message)

        monkeypatch.setattr(app, "post_message", counting)
        events = synthetic_run(CONFIG, 500)  # 2,000 and more events, as fast as a thread can send
        sender = threading.Thread(target=lambda: [app.receive(event) for event in events])
        sender.start()
        sender.join()
        assert posted == []
        await wait_until(pilot, lambda: app.state.epoch == 500, what="every event folded")
        assert app.state.models["rnn"].val_loss == events[-2].val_loss


async def test_events_are_folded_a_few_times_a_second_even_at_the_slowest_refresh() -> None:
    app = DashboardApp(CONFIG, start=False, refresh_hz=0.5)
    assert app.dashboard.pacer.pulse_s == MAX_PULSE_S
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.dashboard.pacer.timer is not None and app.dashboard.pacer.timer._interval == MAX_PULSE_S
        app.dashboard.pacer.next_redraw = time.perf_counter() + NO_REDRAW_S  # not folded by a redraw
        for event in synthetic_run(CONFIG, 3):
            app.receive(event)
        await wait_until(pilot, lambda: app.state.epoch == 3, timeout=WAIT_S, what="events folded")


async def test_redraws_slow_down_when_drawing_takes_more_than_the_uis_share(monkeypatch) -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        pacer = app.dashboard.pacer
        pacer.ui_share = 0.04  # as on 2 cores, whatever this box has

        def costly_redraw(force: bool = False) -> None:
            # 0.2 s a frame: above 4 % of a core even at the slowest pace but one (1.6 s)
            busy_until = time.thread_time() + 0.2
            while time.thread_time() < busy_until:
                pass

        monkeypatch.setattr(app.dashboard, "redraw", costly_redraw)
        await wait_until(pilot, lambda: pacer.interval == SLOWEST_REDRAW_S, timeout=WAIT_S,
                         what="the redraws slowed to the slowest pace")


async def test_a_pause_shows_in_the_header_at_once_while_the_charts_are_paced_slowly() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        for event in synthetic_run(CONFIG, 2):
            app.receive(event)
        await wait_until(pilot, lambda: "RUNNING" in app.query_one(RunHeader).plain, what="the run")
        app.dashboard.pacer.next_redraw = time.perf_counter() + NO_REDRAW_S  # no redraw of the charts during this test
        app.receive(RunStateChanged(state="paused", reason="paused by you", epoch=2))
        await wait_until(pilot, lambda: "PAUSED" in app.query_one(RunHeader).plain, timeout=WAIT_S,
                         what="the pause in the header")


async def test_the_header_ticks_each_second_while_the_charts_are_paced_slowly() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        events = synthetic_run(CONFIG, 3)
        for event in events[:-4]:  # epochs 1 and 2
            app.receive(event)
        await wait_until(pilot, lambda: "epoch 2/500" in app.query_one(RunHeader).plain, what="epoch 2")
        app.dashboard.pacer.next_redraw = time.perf_counter() + NO_REDRAW_S  # no redraw of the charts during this test
        for event in events[-4:]:
            app.receive(event)
        await wait_until(pilot, lambda: "epoch 3/500" in app.query_one(RunHeader).plain, timeout=WAIT_S,
                         what="the header's next second")


class RecordingPanels:
    """What the pacer drives, recording each call: a fold, a redraw, a header alone."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def fold(self) -> None:
        self.calls.append("fold")

    def redraw(self) -> None:
        self.calls.append("redraw")

    def between_frames(self) -> None:
        self.calls.append("header")


def test_each_pulse_folds_and_redraws_only_when_a_redraw_is_due() -> None:
    panels = RecordingPanels()
    calls = panels.calls
    pacer = RedrawPacer(panels, refresh_hz=10.0)
    pacer.next_redraw = time.perf_counter() + 60
    pacer.pulse()
    pacer.next_redraw = 0.0
    pacer.pulse()
    assert calls == ["fold", "header", "fold", "redraw"]
    assert pacer.next_redraw > time.perf_counter()  # the next one a redraw interval away


def test_redraws_fall_due_on_the_pacers_clock_so_time_it_does_not_count_draws_nothing() -> None:
    """The bench holds a run between its windows on a clock that stops meanwhile: a window must
    not begin with a redraw a continuous run would not have made (only its own time counts)."""
    panels = RecordingPanels()
    calls = panels.calls
    now = [1000.0]
    pacer = RedrawPacer(panels, refresh_hz=10.0)
    pacer.clock = lambda: now[0]
    pacer.next_redraw = now[0] + pacer.interval
    time.sleep(pacer.interval * 1.5)  # the wall clock runs past the redraw; the pacer's does not
    pacer.pulse()
    now[0] += pacer.interval
    pacer.pulse()
    assert calls == ["fold", "header", "fold", "redraw"]
    assert pacer.next_redraw == now[0] + pacer.interval
