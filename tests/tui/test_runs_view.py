"""`lstm-tui runs`: the runs table (figures, sorting, filter, marks) and the compare view."""

from __future__ import annotations

import time
from pathlib import Path

from engine.config import RunConfig
from engine.events import RunStateChanged
from engine.rundir.directory import CONFIG_FILE, EVENTS_FILE, RunDirectory, RunWriter
from tests.tui.helpers import synthetic_probes, synthetic_run, visible_text, wait_until
from tui.cli.main import main
from tui.runs.app import RunsApp
from tui.runs.compare import CompareScreen
from tui.runs.compare_chart import CompareChart
from tui.runs.listing import READING
from tui.runs.table import RunsTable

CONFIG = RunConfig(series_length=300, look_back=10, epochs=40)
ECHO = RunConfig(task="echo", series_length=300, look_back=10, lag=5, epochs=40)
SIZE = (170, 40)  # every column in view


def write_run(run_dir: Path, epochs: int, *, config: RunConfig = CONFIG, final: str | None = "finished",
              probes: bool = True, close: bool = True) -> RunWriter:
    log = RunDirectory(run_dir).open_writer(config)
    for event in synthetic_run(config, epochs) + (synthetic_probes(epochs) if probes else []):
        log(event)
    if final:
        log(RunStateChanged(state=final, epoch=epochs))
    if close:
        log.close()
    return log


def table(app: RunsApp) -> RunsTable:
    return app.query_one(RunsTable)


def rows(app: RunsApp) -> list[dict[str, str]]:
    """The table's rows top to bottom, each as column key -> the text shown."""
    t = table(app)
    keys = [str(key.value) for key in t.columns]
    return [dict(zip(keys, (str(cell) for cell in t.get_row(row.key)))) for row in t.ordered_rows]


def names(app: RunsApp) -> list[str]:
    return [row["name"] for row in rows(app)]


def title(app: RunsApp) -> str:
    return str(app.query_one("#runs-title").render())


async def loaded(pilot, app: RunsApp) -> None:  # noqa: ANN001
    await wait_until(pilot, lambda: not app.loading and all(r.status != READING for r in table(app).runs.values()),
                     what="every run read")


async def test_the_table_lists_every_run_with_its_final_figures(tmp_path) -> None:
    write_run(tmp_path / "short", 5)
    write_run(tmp_path / "long", 12)
    app = RunsApp(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        by_name = {row["name"]: row for row in rows(app)}
        # synthetic_run: loss = 1.1 - 0.02 * epoch / (1 + i), val = loss + 0.01; probes: horizons 9 and 6
        assert by_name["long"] == {**by_name["long"], "task": "seed", "state": "finished", "epochs": "12/40",
                                   "lstm_train": "0.8600", "lstm_val": "0.8700", "rnn_train": "0.9800",
                                   "rnn_val": "0.9900", "lstm_horizon": "9", "rnn_horizon": "6"}
        assert by_name["short"]["epochs"] == "5/40" and by_name["short"]["lstm_val"] == "1.0100"
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(table(app).runs[str(tmp_path / "long")].started))
        assert by_name["long"]["started"] == started
        assert "0.8700" in visible_text(table(app))


async def test_each_run_shows_its_state(tmp_path) -> None:
    live = write_run(tmp_path / "live", 2, final=None, close=False)
    try:
        write_run(tmp_path / "stopped", 2, final="stopped")
        write_run(tmp_path / "crashed", 2, final=None)  # closed without a final state
        app = RunsApp(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await loaded(pilot, app)
            assert {row["name"]: row["state"] for row in rows(app)} == {
                "live": "live", "stopped": "stopped", "crashed": "crashed"}
    finally:
        live.close()


async def test_a_run_without_gradient_probes_shows_a_dash_for_its_horizon(tmp_path) -> None:
    write_run(tmp_path / "run", 3, probes=False)
    app = RunsApp(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        assert (rows(app)[0]["lstm_horizon"], rows(app)[0]["rnn_horizon"]) == ("–", "–")


async def test_a_torn_last_line_is_noted_and_the_figures_stand(tmp_path) -> None:
    write_run(tmp_path / "run", 4)
    with open(tmp_path / "run" / EVENTS_FILE, "a") as f:
        f.write('{"event":"epoch_end","model":"lstm","ep')  # a crash mid-write
    app = RunsApp(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        row = rows(app)[0]
        assert (row["epochs"], row["lstm_train"], row["note"]) == ("4/40", "1.0200", "1 log line skipped")


async def test_a_directory_that_is_not_a_run_is_listed_as_such_with_the_reason(tmp_path) -> None:
    write_run(tmp_path / "run", 2)
    (tmp_path / "empty").mkdir()
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / CONFIG_FILE).write_text("{not json")
    app = RunsApp(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        by_name = {row["name"]: row for row in rows(app)}
        assert by_name["run"]["state"] == "finished"
        assert (by_name["empty"]["state"], by_name["empty"]["note"]) == ("not a run", "no config.json")
        assert by_name["corrupt"]["state"] == "not a run"
        assert by_name["corrupt"]["note"].startswith("config.json is not a valid config:")


async def test_a_run_without_a_run_started_event_is_dated_by_its_directory_name(tmp_path) -> None:
    run = tmp_path / "20261127T163501Z-seed"
    write_run(run, 2)
    lines = (run / EVENTS_FILE).read_text().splitlines(keepends=True)
    (run / EVENTS_FILE).write_text("".join(line for line in lines if '"run_started"' not in line))
    app = RunsApp(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(1795797301))  # 2026-11-27 16:35:01 UTC
        assert rows(app)[0]["started"] == started


async def test_s_cycles_the_sort_column_and_r_reverses_it(tmp_path) -> None:
    for name, epochs in (("a", 3), ("b", 12), ("c", 7)):
        write_run(tmp_path / name, epochs)
    app = RunsApp(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        for _ in range(len(table(app).all_columns)):
            if "sorted by LSTM val ▲" in title(app):
                break
            await pilot.press("s")
        assert "sorted by LSTM val ▲" in title(app)
        assert names(app) == ["b", "c", "a"]  # lowest validation loss first
        await pilot.press("r")
        assert "sorted by LSTM val ▼" in title(app)
        assert names(app) == ["a", "c", "b"]


async def test_clicking_a_header_sorts_by_that_column(tmp_path) -> None:
    for name, epochs in (("a", 3), ("b", 12), ("c", 7)):
        write_run(tmp_path / name, epochs)
    app = RunsApp(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        t = table(app)
        x = sum(column.get_render_width(t) for column in t.ordered_columns[: t.get_column_index("epochs")])
        await pilot.click(RunsTable, offset=(x + 1, 0))
        assert "sorted by epochs ▲" in title(app)
        assert names(app) == ["a", "c", "b"]


async def test_slash_filters_the_rows_by_a_regular_expression_and_escape_clears_it(tmp_path) -> None:
    write_run(tmp_path / "seed-one", 2)
    write_run(tmp_path / "seed-two", 2)
    write_run(tmp_path / "echo-one", 2, config=ECHO)
    app = RunsApp(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await pilot.press("slash", *"^seed-(one|two)$")
        assert sorted(names(app)) == ["seed-one", "seed-two"]
        await pilot.press("enter")  # keeps the filter, back to the table
        assert isinstance(app.focused, RunsTable) and "filter /^seed-(one|two)$/" in title(app)
        await pilot.press("escape")
        assert sorted(names(app)) == ["echo-one", "seed-one", "seed-two"]


async def test_a_bad_regular_expression_shows_a_one_line_message(tmp_path) -> None:
    write_run(tmp_path / "seed-one", 2)
    write_run(tmp_path / "echo-one", 2, config=ECHO)
    app = RunsApp(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await pilot.press("slash", *"echo(")  # "echo" filters; "echo(" is not an expression
        message = str(app.query_one("#filter-error").render())
        assert message.startswith("not a regular expression: missing )") and "\n" not in message
        assert app.query_one("#filter-error").display
        assert names(app) == ["echo-one"]  # the last good filter stays
        await pilot.press("escape")
        assert not app.query_one("#filter-error").display and len(names(app)) == 2


async def test_space_marks_the_run_under_the_cursor(tmp_path) -> None:
    write_run(tmp_path / "a", 2)
    write_run(tmp_path / "b", 3)
    app = RunsApp(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        first = names(app)[0]
        await pilot.press("space")
        assert [row["mark"] for row in rows(app)] == ["●", ""]
        assert table(app).marked == {str(tmp_path / first)} and "1 marked" in title(app)
        await pilot.press("up", "space")
        assert [row["mark"] for row in rows(app)] == ["", ""]


async def test_enter_compares_the_marked_runs_one_curve_each_with_a_legend(tmp_path) -> None:
    for name, epochs in (("alpha-run", 6), ("beta-run", 9), ("gamma-run", 4)):
        write_run(tmp_path / name, epochs)
    app = RunsApp(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        assert names(app) == ["gamma-run", "beta-run", "alpha-run"]  # newest first
        await pilot.press("down", "space", "space", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen), what="the compare view")
        screen = app.screen
        await wait_until(pilot, lambda: [r.epochs_done for r in screen.runs] == [9, 6], what="the logs")
        for chart in screen.query(CompareChart):
            assert chart.curve_labels() == ["beta-run", "alpha-run"]
            await pilot.pause()
            text = visible_text(chart)
            assert "alpha-run" in text and "beta-run" in text and "chance ln 3" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, CompareScreen)


async def test_enter_without_marks_compares_the_run_under_the_cursor(tmp_path) -> None:
    write_run(tmp_path / "a", 2)
    write_run(tmp_path / "b", 3)
    app = RunsApp(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen), what="the compare view")
        assert [run.name for run in app.screen.runs] == [names(app)[1]]


async def test_the_compare_view_follows_a_live_run_as_its_log_grows(tmp_path) -> None:
    log = write_run(tmp_path / "live", 2, final=None, close=False)
    try:
        app = RunsApp(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await loaded(pilot, app)
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen), what="the compare view")
            screen = app.screen
            await wait_until(pilot, lambda: screen.runs[0].epochs_done == 2, what="the first epochs")
            for event in synthetic_run(CONFIG, 5)[2 + 4 * 2:]:  # epochs 3 to 5
                log(event)
            await wait_until(pilot, lambda: screen.runs[0].epochs_done == 5, what="the new epochs")
            val = screen.runs[0].models["lstm"].val
            assert val is not None and val.points()[0] == [1, 2, 3, 4, 5]
            assert "live live 5/40" in str(screen.query_one("#compare-title").render())
    finally:
        log.close()


async def test_q_quits(tmp_path) -> None:
    write_run(tmp_path / "a", 2)
    app = RunsApp(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, what="the app to end")


def test_runs_on_a_missing_directory_is_one_line_and_exit_2(tmp_path, capsys) -> None:
    assert main(["runs", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.splitlines() == [f"lstm-tui runs: error: no such directory: {tmp_path / 'missing'}"]


def test_runs_list_prints_every_run_newest_first(tmp_path, capsys) -> None:
    write_run(tmp_path / "older", 2)
    write_run(tmp_path / "newer", 3)
    (tmp_path / "notes").mkdir()
    assert main(["runs", str(tmp_path), "--list"]) == 0
    lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert lines[0][:4] == ["run", "task", "state", "epochs"]
    assert [(line[0], line[2], line[3]) for line in lines[1:]] == [
        ("newer", "finished", "3/40"), ("older", "finished", "2/40"), ("notes", "not a run", "–")]
