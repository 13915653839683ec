"""The dashboard's first frame waits for nothing it does not draw (issue 19), and the bench
that times it against a minimal Textual app (tui/bench/first_frame.py)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import RunConfig
from tests.tui.helpers import wait_until
from tui.bench.first_frame import (
    ALT_SCREEN,
    child_env,
    first_frame_figures,
    frame_end,
    time_first_frame,
)
from tui.cli.main import main
from tui.dashboard.app import DashboardApp
from tui.dashboard.tuning import pause_collections
from tui.widgets.gradient_flow import GradientFlowChart

CONFIG = RunConfig(series_length=300, look_back=10, epochs=40)
HEAVY = ("torch", "numpy", "plotext", "textual_plotext", "psutil")

# Records which heavy modules are loaded when the first frame goes to the terminal, then goes on
# as `lstm-tui` (the bench's time_first_frame ends it with SIGTERM once that frame is read).
AT_FIRST_FRAME = f"""
import json, sys
from textual.app import App

shown = App._display
written = []

def display(self, screen, renderable):
    shown(self, screen, renderable)
    if renderable is not None and not written:
        written.append(True)
        with open("loaded.json", "w") as f:
            json.dump([m for m in {HEAVY!r} if m in sys.modules], f)

App._display = display
from tui.cli.main import main
sys.argv = ["lstm-tui"]
sys.exit(main())
"""


def test_importing_the_dashboard_loads_no_torch_numpy_or_plotext() -> None:
    code = f"import sys, tui.cli.main, tui.dashboard.app; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_first_frame_is_painted_before_torch_numpy_or_plotext_load(tmp_path: Path) -> None:
    time_first_frame([sys.executable, "-c", AT_FIRST_FRAME], cwd=tmp_path, env=child_env(tmp_path), stop="term")
    assert json.loads((tmp_path / "loaded.json").read_text()) == []


async def test_the_charts_are_drawn_once_the_first_frame_is_up() -> None:
    app = DashboardApp(CONFIG, start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        flow = app.query_one(GradientFlowChart)
        await wait_until(pilot, lambda: bool(flow.drawn_lines), what="the gradient-flow plot")
        assert any("1e-3" in line for line in flow.drawn_lines)  # its threshold's label
        assert any("chance ln 3" in line for line in app.dashboard.charts["lstm"].drawn_lines)


async def test_collections_paused_for_the_start_resume_after_the_first_frame() -> None:
    pause_collections()
    app = DashboardApp(CONFIG, start=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, gc.isenabled, what="collections to resume")
    finally:
        gc.enable()


def test_collections_run_again_when_a_dashboard_ends_before_its_first_frame() -> None:
    assert main([]) == 2  # refused (no terminal here) after the pause, before any app
    assert gc.isenabled()


ROWS = 4


def screen(*rows: bytes, cursor: bytes = b"\x1b[1;1H") -> bytes:
    """What Textual writes for a full-screen frame of ``rows``: a move to each row, its text, then
    the cursor's own move."""
    return b"".join(b"\x1b[%d;1H" % (y + 1) + row for y, row in enumerate(rows)) + cursor


def test_a_frame_ends_after_its_bottom_row_and_the_cursor_move_that_follows() -> None:
    frame = screen(b"a", b"b", b"c", b"d")
    output = b"\x1b[?25l" + ALT_SCREEN + frame + b"\x1b[2;1Hmore"
    assert frame_end(output, ROWS) == len(b"\x1b[?25l" + ALT_SCREEN + frame)


def test_no_frame_while_its_bottom_row_or_its_closing_move_is_missing() -> None:
    whole = ALT_SCREEN + screen(b"a", b"b", b"c", b"d")
    assert frame_end(whole[: whole.index(b"\x1b[4;1H")], ROWS) is None
    assert frame_end(whole[: -len(b"\x1b[1;1H")], ROWS) is None
    assert frame_end(screen(b"a", b"b", b"c", b"d"), ROWS) is None  # not on the alternate screen yet


def test_first_frame_figures_give_each_sample_and_the_ratio_of_the_medians() -> None:
    figures = first_frame_figures(repeats=1)
    assert len(figures["samples"]["lstm_tui"]) == len(figures["samples"]["minimal"]) == 1
    assert figures["lstm_tui_s"] == figures["samples"]["lstm_tui"][0] > 0
    assert figures["ratio"] == pytest.approx(figures["lstm_tui_s"] / figures["minimal_s"])
    assert figures["met"] == (figures["ratio"] <= figures["target_ratio"])
    assert figures["pair_ratios"] == [pytest.approx(figures["ratio"])]  # one pair: its ratio is the medians'
