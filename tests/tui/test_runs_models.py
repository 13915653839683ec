"""`lstm-tui runs` with runs of other models than the seed's pair (issue 17): the table has each
model's columns, a run without a model shows a dash there, a models column says which each run
trained, and the compare view charts every model of the compared runs."""

from __future__ import annotations

from pathlib import Path

from engine.config import RunConfig
from engine.events import CommandApplied, EpochEnd, Event, GradientFlow, RunStarted, RunStateChanged
from engine.rundir.directory import RunDirectory
from tests.tui.helpers import visible_text, wait_until
from tests.tui.test_runs_view import loaded, rows, table, title
from tests.tui.test_runs_width import columns, fits
from tui.cli.main import main
from tui.runs.app import RunsApp
from tui.runs.compare import CompareScreen
from tui.runs.compare_chart import CompareChart

WIDE = (200, 40)  # every column in view


def config(models: str) -> RunConfig:
    return RunConfig(series_length=300, look_back=10, epochs=40, models=models)


def made_up_run(cfg: RunConfig, epochs: int) -> list[Event]:
    """A finished run of ``cfg``'s models: model i (in the run's order) ends at train loss
    1 - 0.1 (i + 1), val loss 0.05 more; its last probe's horizon is 3 + i."""
    events: list[Event] = [
        RunStarted(config=cfg.to_dict(), device="cpu", device_name="test CPU",
                   parameters={model: 1 for model in cfg.model_names}, train_windows=200, val_windows=50,
                   data_sha256="0", chance_loss=1.0986, best_loss=1.0986, batches_per_epoch=1, chunks_per_batch=1),
        RunStateChanged(state="running"),
    ]
    for epoch in range(1, epochs + 1):
        for i, model in enumerate(cfg.model_names):
            loss = 1.0 - 0.1 * (i + 1) * epoch / epochs
            events.append(EpochEnd(model=model, epoch=epoch, train_loss=loss, val_loss=loss + 0.05, val_acc=0.5,
                                   grad_norm=0.1, lr=cfg.lr, seconds=0.01, samples_per_s=1000.0))
    events += [GradientFlow(model=model, epoch=epochs, norms=[1.0] * 8, cell_norms=None, horizon=3 + i,
                            cell_horizon=None) for i, model in enumerate(cfg.model_names)]
    return [*events, RunStateChanged(state="finished", epoch=epochs)]


def write(run_dir: Path, models: str, epochs: int = 3) -> Path:
    cfg = config(models)
    log = RunDirectory(run_dir).open_writer(cfg)
    for event in made_up_run(cfg, epochs):
        log(event)
    log.close()
    return run_dir


def by_name(app: RunsApp) -> dict[str, dict[str, str]]:
    return {row["name"]: row for row in rows(app)}


async def test_a_three_model_run_has_each_models_figures_in_its_order(tmp_path) -> None:
    write(tmp_path / "three", "lstm,rnn,gru")
    app = RunsApp(tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        assert columns(app) == ["mark", "name", "task", "state", "epochs", "lstm_train", "lstm_val", "rnn_train",
                                "rnn_val", "gru_train", "gru_val", "lstm_horizon", "rnn_horizon", "gru_horizon",
                                "started", "note"]  # no models column: every run trained the same three
        row = rows(app)[0]
        assert [row[f"{m}_train"] for m in ("lstm", "rnn", "gru")] == ["0.9000", "0.8000", "0.7000"]
        assert [row[f"{m}_val"] for m in ("lstm", "rnn", "gru")] == ["0.9500", "0.8500", "0.7500"]
        assert [row[f"{m}_horizon"] for m in ("lstm", "rnn", "gru")] == ["3", "4", "5"]
        header = visible_text(table(app)).splitlines()[0]
        assert header.index("LSTM val") < header.index("RNN val") < header.index("GRU val") < header.index("GRU hzn")


async def test_a_run_without_a_model_shows_dashes_in_its_columns_and_the_models_column_says_which(tmp_path) -> None:
    write(tmp_path / "a-pair", "lstm,rnn")
    write(tmp_path / "b-three", "lstm,rnn,gru")
    write(tmp_path / "c-gru", "gru")
    app = RunsApp(tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        assert columns(app)[:6] == ["mark", "name", "task", "state", "epochs", "models"]
        runs = by_name(app)
        assert {name: row["models"] for name, row in runs.items()} == {
            "a-pair": "lstm,rnn", "b-three": "lstm,rnn,gru", "c-gru": "gru"}
        assert (runs["a-pair"]["gru_train"], runs["a-pair"]["gru_val"], runs["a-pair"]["gru_horizon"]) == ("–",) * 3
        assert (runs["c-gru"]["lstm_val"], runs["c-gru"]["rnn_val"]) == ("–", "–")
        assert runs["c-gru"]["gru_val"] == "0.9500"  # its only model: the first of its run


async def test_models_columns_follow_the_order_the_runs_give_them(tmp_path) -> None:
    write(tmp_path / "run", "gru,rnn")
    app = RunsApp(tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        assert [key for key in columns(app) if key.endswith("_val")] == ["gru_val", "rnn_val"]
        assert "lstm_val" not in columns(app)


async def test_sorting_by_a_models_loss_puts_the_runs_without_it_last(tmp_path) -> None:
    write(tmp_path / "a-pair", "lstm,rnn")
    write(tmp_path / "b-gru-first", "gru,lstm")  # GRU val 0.95 - 0.1 * ... : see made_up_run
    write(tmp_path / "c-three", "lstm,rnn,gru")
    app = RunsApp(tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        table(app).sort_by("gru_val", reverse=False)
        await pilot.pause()
        assert "sorted by GRU val ▲" in title(app)
        assert [row["name"] for row in rows(app)] == ["c-three", "b-gru-first", "a-pair"]
        await pilot.press("r")
        assert [row["name"] for row in rows(app)] == ["b-gru-first", "c-three", "a-pair"]  # no GRU: still last


async def test_the_filter_finds_runs_by_their_models(tmp_path) -> None:
    write(tmp_path / "pair", "lstm,rnn")
    write(tmp_path / "three", "lstm,rnn,gru")
    app = RunsApp(tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await pilot.press("slash", *"gru")
        assert [row["name"] for row in rows(app)] == ["three"]


async def test_the_detail_line_names_the_runs_models(tmp_path) -> None:
    write(tmp_path / "three", "gru,lstm,rnn")
    app = RunsApp(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        await pilot.pause()
        assert "finished · models gru,lstm,rnn" in str(app.query_one("#runs-detail").render())


async def test_at_80_columns_three_models_show_each_validation_loss(tmp_path) -> None:
    for name in ("20261127T163501Z-seed", "20261128T090000Z-seed"):
        write(tmp_path / name, "lstm,rnn,gru")
    app = RunsApp(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        assert fits(app)
        # Sorted by start (the default), the start time gives way to the models' figures.
        assert columns(app) == ["mark", "name", "state", "epochs", "lstm_val", "rnn_val", "gru_val"]
        text = visible_text(table(app))
        assert "20261128T090000Z" in text and "GRU val" in text and "0.7500" in text


async def test_at_80_columns_mixed_runs_show_a_dash_where_a_run_has_no_such_model(tmp_path) -> None:
    write(tmp_path / "20261127T163501Z-seed", "lstm,rnn")
    write(tmp_path / "20261128T090000Z-seed", "lstm,rnn,gru")
    app = RunsApp(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        assert fits(app)
        assert columns(app) == ["mark", "name", "state", "epochs", "lstm_val", "rnn_val", "gru_val"]
        assert by_name(app)["20261127T163501Z-seed"]["gru_val"] == "–"


async def test_at_120_columns_three_models_keep_the_start_and_the_task(tmp_path) -> None:
    for name in ("20261127T163501Z-seed", "20261128T090000Z-seed"):
        write(tmp_path / name, "lstm,rnn,gru")
    app = RunsApp(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        assert fits(app)
        # The train losses go as one group: no table shows one model's and not another's.
        assert columns(app) == ["mark", "name", "task", "state", "epochs", "lstm_val", "rnn_val", "gru_val",
                                "started"]


async def test_the_compare_view_charts_every_model_of_the_compared_runs(tmp_path) -> None:
    write(tmp_path / "a-pair", "lstm,rnn")
    write(tmp_path / "b-three", "gru,lstm,rnn")
    app = RunsApp(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        table(app).sort_by("name", reverse=False)
        table(app).move_cursor(row=0)
        await pilot.press("space", "space", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen), what="the compare view")
        screen = app.screen
        await wait_until(pilot, lambda: [r.epochs_done for r in screen.runs] == [3, 3], what="the logs")
        charts = list(screen.query(CompareChart))
        assert [chart.model for chart in charts] == ["lstm", "rnn", "gru"]  # the first run's first
        await pilot.pause()
        labels = {chart.model: chart.curve_labels() for chart in charts}
        assert labels == {"lstm": ["a-pair", "b-three"], "rnn": ["a-pair", "b-three"], "gru": ["b-three"]}
        gru = next(chart for chart in charts if chart.model == "gru")
        assert str(gru.border_title).startswith("GRU · validation loss · lowest now 0.9500 (b-three)")
        assert "b-three" in visible_text(gru)
        compare_title = str(screen.query_one("#compare-title").render())
        assert "a-pair finished 3/40 (lstm,rnn)" in compare_title and "(gru,lstm,rnn)" in compare_title


async def test_the_compare_view_of_one_gru_run_has_one_chart(tmp_path) -> None:
    write(tmp_path / "gru", "gru")
    app = RunsApp(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen), what="the compare view")
        await wait_until(pilot, lambda: app.screen.runs[0].epochs_done == 3, what="the log")
        assert [chart.model for chart in app.screen.query(CompareChart)] == ["gru"]


def test_runs_list_has_each_models_columns_and_the_models_of_each_run(tmp_path, capsys) -> None:
    write(tmp_path / "a-pair", "lstm,rnn")
    write(tmp_path / "b-three", "lstm,rnn,gru")
    (tmp_path / "notes").mkdir()
    assert main(["runs", str(tmp_path), "--list"]) == 0
    header, *lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert header == ["run", "task", "state", "epochs", "models", "LSTM train", "LSTM val", "RNN train", "RNN val",
                      "GRU train", "GRU val", "LSTM hzn", "RNN hzn", "GRU hzn", "started", "note"]
    runs = {line[0]: dict(zip(header, line)) for line in lines}
    assert (runs["b-three"]["models"], runs["b-three"]["GRU val"], runs["b-three"]["GRU hzn"]) == (
        "lstm,rnn,gru", "0.7500", "5")
    assert (runs["a-pair"]["models"], runs["a-pair"]["GRU val"], runs["a-pair"]["RNN val"]) == (
        "lstm,rnn", "–", "0.8500")
    assert (runs["notes"]["models"], runs["notes"]["LSTM val"]) == ("–", "–")


def test_runs_list_of_the_seeds_pair_has_no_other_models_columns(tmp_path, capsys) -> None:
    write(tmp_path / "run", "lstm,rnn")
    assert main(["runs", str(tmp_path), "--list"]) == 0
    header = capsys.readouterr().out.splitlines()[0].split("\t")
    assert header == ["run", "task", "state", "epochs", "models", "LSTM train", "LSTM val", "RNN train", "RNN val",
                      "LSTM hzn", "RNN hzn", "started", "note"]


async def test_at_80x24_three_charts_scroll_each_one_readable_and_tab_brings_the_next_into_view(tmp_path) -> None:
    write(tmp_path / "three", "lstm,rnn,gru")
    app = RunsApp(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen), what="the compare view")
        await wait_until(pilot, lambda: app.screen.runs[0].epochs_done == 3, what="the log")
        await pilot.pause()
        charts = list(app.screen.query(CompareChart))
        assert [chart.model for chart in charts] == ["lstm", "rnn", "gru"]
        assert all(chart.outer_size.height >= 10 for chart in charts)
        gru = charts[-1]
        await pilot.press("tab", "tab", "tab")
        await wait_until(pilot, lambda: app.focused is gru, what="the GRU chart focused")
        await pilot.pause()
        view = app.screen.query_one("#compare-charts").region
        assert view.contains_region(gru.region)  # scrolled into view, whole
        assert "GRU · validation loss" in visible_text(gru)


async def test_the_compare_view_charts_the_models_a_live_run_restarts_with(tmp_path) -> None:
    pair, three = config("lstm,rnn"), config("lstm,rnn,gru")
    log = RunDirectory(tmp_path / "live").open_writer(pair)
    try:
        for event in made_up_run(pair, 2)[:-1]:  # no final state: still running
            log(event)
        app = RunsApp(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await loaded(pilot, app)
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen), what="the compare view")
            screen = app.screen
            await wait_until(pilot, lambda: screen.runs[0].epochs_done == 2, what="the first run's epochs")
            assert [chart.model for chart in screen.query(CompareChart)] == ["lstm", "rnn"]
            log.write_config(three)
            log(CommandApplied(command="restart", config=three.to_dict(), lr=three.lr))
            for event in made_up_run(three, 2)[:-1]:
                log(event)
            await wait_until(pilot, lambda: [chart.model for chart in screen.query(CompareChart)] == [
                "lstm", "rnn", "gru"], what="a GRU chart")
            await wait_until(pilot, lambda: screen.query_one("#compare-gru", CompareChart).curve_labels() == ["live"],
                             what="the GRU's curve")
    finally:
        log.close()
