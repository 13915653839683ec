"""--ascii: nothing outside ASCII reaches the screen."""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from engine.config import RunConfig
from tests.tui.helpers import synthetic_probes, synthetic_run, visible_text, wait_until
from tui.ascii import ascii_char, ascii_text, locale_is_utf8
from tui.dashboard.app import DashboardApp, EngineEvent
from tui.widgets.gate_heatmap import GatePanel
from tui.widgets.gradient_flow import GradientFlowChart
from tui.widgets.gradient_history import GradientHistory
from tui.widgets.header import RunHeader
from tui.widgets.loss_chart import LossChart
from tui.widgets.prediction import PredictionPanel

CONFIG = RunConfig(series_length=300, look_back=10, epochs=40)


@pytest.mark.parametrize(("char", "stand_in"), [
    ("─", "-"), ("│", "|"), ("╭", "+"), ("┤", "+"), ("█", "#"), ("▁", "_"), ("·", "."), ("…", "~"),
    ("✓", "v"), ("✗", "x"), ("\u2800", " "), ("\u2801", "."), ("\u28ff", "*"), ("°", "o"), ("a", "a"),
])
def test_each_character_gets_an_ascii_stand_in(char: str, stand_in: str) -> None:
    assert ascii_char(char) == stand_in


def test_stand_ins_keep_the_width_so_columns_stay_aligned() -> None:
    text = "╭─ LSTM · train ─╮│⡇⣿ 48% ✓│界"
    converted = ascii_text(text)
    assert converted.isascii()
    assert cell_len(converted) == cell_len(text)


@pytest.mark.parametrize(("environ", "utf8"), [
    ({"LANG": "en_US.UTF-8"}, True), ({"LC_ALL": "C.utf8", "LANG": "C"}, True), ({"LANG": "C"}, False),
    ({}, False), ({"LC_ALL": "C", "LANG": "en_US.UTF-8"}, False), ({"LC_CTYPE": "de_DE.ISO-8859-1"}, False),
])
def test_utf8_is_read_from_the_users_locale(environ: dict[str, str], utf8: bool) -> None:
    assert locale_is_utf8(environ) is utf8


async def test_every_panel_draws_in_ascii_only() -> None:
    app = DashboardApp(CONFIG, start=False, ascii_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        for event in synthetic_run(CONFIG, 4) + synthetic_probes(4):
            app.post_message(EngineEvent(event))
        await wait_until(pilot, lambda: app.state.flows["rnn"].epoch == 4)
        await wait_until(pilot, lambda: app.dashboard.caught_up)
        await pilot.pause()
        for kind in (RunHeader, LossChart, PredictionPanel, GatePanel, GradientFlowChart, GradientHistory):
            for widget in app.query(kind):
                text = visible_text(widget)
                assert text.strip() and text.isascii(), f"{widget} drew {set(c for c in text if not c.isascii())}"
