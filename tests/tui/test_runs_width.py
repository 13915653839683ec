"""`lstm-tui runs`: the table's columns take the width there is; the name never shows less than its
timestamp, and the least important columns go first (issue 16: at 120 columns names were cut to 3
characters and states to 5, with 40 columns left empty)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import RunConfig
from tests.tui.helpers import visible_text, wait_until
from tests.tui.test_runs_view import loaded, table, write_run
from tui.runs.app import RunsApp

ECHO = RunConfig(task="echo", series_length=300, look_back=10, lag=5, epochs=40)
DEFAULT_NAMES = ("20261127T163501Z-seed", "20261128T090000Z-seed")  # as `lstm-tui train` names runs
LONG_NAME = "echo-with-a-rather-long-name"


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    for name in DEFAULT_NAMES:
        write_run(tmp_path / name, 3)
    write_run(tmp_path / LONG_NAME, 3, config=ECHO)
    write_run(tmp_path / "xyz", 2, final="stopped")
    (tmp_path / "notes").mkdir()  # not a run
    return tmp_path


def columns(app: RunsApp) -> list[str]:
    return [str(key.value) for key in table(app).columns]


def screen_lines(app: RunsApp) -> list[str]:
    return visible_text(table(app)).splitlines()


def fits(app: RunsApp) -> bool:
    """No column is out of view: the table never scrolls sideways."""
    t = table(app)
    return t.virtual_size.width <= t.size.width


async def test_at_120_columns_names_and_states_show_in_full_and_only_the_least_important_go(runs) -> None:
    app = RunsApp(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        assert fits(app)
        assert columns(app) == ["mark", "name", "task", "state", "epochs", "lstm_train", "lstm_val", "rnn_train",
                                "rnn_val", "started"]  # the horizons and the note give way
        text = visible_text(table(app))
        for shown in (*DEFAULT_NAMES, "finished", "stopped", "not a run", "echo lag 5"):
            assert shown in text
        assert "echo-with-a-rather-long…" in text  # cut where the width ran out, and marked so
        t = table(app)
        assert sum(column.get_render_width(t) for column in t.columns.values()) == t.size.width


async def test_at_80_columns_a_name_keeps_its_timestamp_and_the_figures_that_matter_stay(runs) -> None:
    app = RunsApp(runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        assert fits(app)
        assert columns(app) == ["mark", "name", "state", "epochs", "lstm_val", "rnn_val", "started"]
        text = visible_text(table(app))
        for shown in (*(name[:16] for name in DEFAULT_NAMES), "finished", "stopped", "not a run"):
            assert shown in text


async def test_the_column_sorted_by_stays_in_view_when_narrow(runs) -> None:
    app = RunsApp(runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        assert "task" not in columns(app)
        await pilot.press("s", "s", "s")  # started, then note, name, task
        await wait_until(pilot, lambda: table(app).sort_key == "task", what="sorted by task")
        await pilot.pause()
        assert columns(app)[:3] == ["mark", "name", "task"]
        assert fits(app)
        assert "echo lag 5" in visible_text(table(app))


async def test_a_resize_fits_the_columns_to_the_new_width(runs) -> None:
    app = RunsApp(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        await pilot.resize_terminal(80, 24)
        await wait_until(pilot, lambda: "task" not in columns(app), what="the columns refitted")
        assert fits(app)
        await pilot.resize_terminal(200, 40)
        await wait_until(pilot, lambda: "note" in columns(app), what="every column back")
        assert fits(app)
        assert LONG_NAME in visible_text(table(app))
