"""Every front end tells the same story of a run whose log holds a restart and a resume.

The log: a first run (config A) trains 4 epochs and is restarted with config B; the second
run trains 5 epochs and is killed; it is resumed from its checkpoint after epoch 3 and trains
epochs 4 to 6. What is left of the run is epochs 1-3 of the second run and 4-6 of the third;
the expectation below is written from that sentence, not from any fold. The dashboard's state,
the runs table's summary, the compare view's curves, the export's CSV and `lstm-tui train`'s
final table must all say it, for the seed's pair and for three models in an order of their own.
"""

from __future__ import annotations

import pytest

from engine.config import MODEL_TITLES, RunConfig
from engine.events import CommandApplied, EpochEnd, GradientFlow, Prediction, RunStarted, RunStateChanged
from engine.rundir.directory import RunDirectory
from engine.rundir.follow import RunFollower
from tui.cli.train import HeadlessRun
from tui.dashboard.state import DashboardState
from tui.metrics import metrics_rows
from tui.runs.listing import SUMMARY_EVENTS, RunSummary, summarise

A = RunConfig(series_length=300, look_back=5, epochs=10)
B = RunConfig(task="echo", series_length=300, look_back=5, lag=4, epochs=8)
RESUMED_AFTER = 3
MODEL_SETS = {"pair": "lstm,rnn", "three": "gru,lstm,rnn"}


def loss(run: int, model: str, epoch: int) -> float:
    return 1.0 + 0.1 * run + 0.01 * epoch + 0.001 * ("lstm", "rnn", "gru").index(model)


def started(config: RunConfig, resumed: int = 0) -> RunStarted:
    return RunStarted(config=config.to_dict(), device="cpu", device_name="test CPU",
                      parameters={model: 1 for model in config.model_names},
                      train_windows=200, val_windows=50, data_sha256="0", chance_loss=1.0986, best_loss=0.29,
                      batches_per_epoch=1, chunks_per_batch=1, resumed_from_epoch=resumed)


def epochs(run: int, first: int, last: int, config: RunConfig, horizons: dict[int, int] = {}) -> list:  # noqa: B006
    events: list = []
    models = config.model_names
    for epoch in range(first, last + 1):
        for model in models:
            train = loss(run, model, epoch)
            events.append(EpochEnd(model=model, epoch=epoch, train_loss=train, val_loss=train + 0.5, val_acc=0.4,
                                   grad_norm=0.1, lr=config.lr, seconds=0.01, samples_per_s=1.0))
            events.append(Prediction(model=model, epoch=epoch, probabilities=[0.2, 0.5, 0.3], predicted=run % 3,
                                     true=epoch % 3))
        if epoch in horizons:
            events += [GradientFlow(model=model, epoch=epoch, norms=[1.0], cell_norms=None,
                                    horizon=horizons[epoch] + i, cell_horizon=None) for i, model in enumerate(models)]
    return events


def write_run(path, *, finish: bool, models: str = "lstm,rnn") -> RunDirectory:  # noqa: ANN001
    """The story in the module's docstring, written as a Session would write it; the restart
    trains ``models`` (the first run, the seed's pair)."""
    a, b = A, B.replace(models=models)
    run = RunDirectory(path)
    writer = run.open_writer(a)
    for event in [started(a), RunStateChanged(state="running", cause="start"), *epochs(1, 1, 4, a, {2: 5})]:
        writer(event)
    writer.write_config(b)
    for event in [CommandApplied(command="restart", config=b.to_dict(), lr=b.lr), started(b),
                  RunStateChanged(state="running", cause="start"), *epochs(2, 1, 5, b, {3: 7, 5: 9})]:
        writer(event)
    writer.close()  # killed: no final state
    writer = run.open_writer(b, resume=True)
    writer(started(b, resumed=RESUMED_AFTER))
    writer(RunStateChanged(state="running", cause="start", epoch=RESUMED_AFTER))
    if finish:
        for event in epochs(3, RESUMED_AFTER + 1, 6, b):
            writer(event)
        writer(RunStateChanged(state="finished", cause="completed", epoch=6))
    writer.close()
    return run


def expected(finish: bool, models: str) -> dict:
    """Per model, in the run's order: {epoch: train loss} of what is left, and the last probe's
    horizon."""
    last = 6 if finish else RESUMED_AFTER
    names = tuple(models.split(","))
    kept = {model: {e: loss(2 if e <= RESUMED_AFTER else 3, model, e) for e in range(1, last + 1)}
            for model in names}
    # The probe after epoch 5 of the second run was lost with it; the one after epoch 3 stands.
    horizons = {model: 7 + i for i, model in enumerate(names)}
    return {"epoch": last, "models": names, "losses": kept, "horizon": horizons, "label": "echo lag 4", "total": 8}


@pytest.fixture(params=[(finish, models) for models in MODEL_SETS for finish in (True, False)],
                ids=[f"{models}-{ending}" for models in MODEL_SETS
                     for ending in ("resumed-and-finished", "resumed-then-killed-at-once")])
def story(request, tmp_path):
    finish, models = request.param
    return (write_run(tmp_path / "run", finish=finish, models=MODEL_SETS[models]),
            expected(finish, MODEL_SETS[models]))


def test_the_dashboard_state_tells_it(story) -> None:
    run, want = story
    state = DashboardState()
    state.apply_all(run.events())
    assert (state.epoch, state.label, state.total_epochs) == (want["epoch"], want["label"], want["total"])
    for model in want["models"]:
        history = state.models[model]
        assert history.train_loss == want["losses"][model][want["epoch"]]
        assert history.val_loss == want["losses"][model][want["epoch"]] + 0.5
        assert history.train.points() == (list(want["losses"][model]), list(want["losses"][model].values()))
        assert state.flows[model].horizon == want["horizon"][model]
        assert [epoch for epoch, _, _ in history.recent] == list(want["losses"][model])


def test_the_runs_table_tells_it(story) -> None:
    run, want = story
    summary = summarise(run.path)
    assert (summary.epochs_done, summary.label, summary.epochs_total) == (want["epoch"], want["label"], want["total"])
    for model in want["models"]:
        assert summary.models[model].train_loss == want["losses"][model][want["epoch"]]
        assert summary.models[model].horizon == want["horizon"][model]


def test_the_compare_view_tells_it(story) -> None:
    run, want = story
    summary = RunSummary(run.path, curves=True)
    for event in RunFollower(run, only=SUMMARY_EVENTS).poll().events:
        summary.apply(event)
    for model in want["models"]:
        assert summary.models[model].train.points() == (list(want["losses"][model]),
                                                        list(want["losses"][model].values()))


def test_the_export_tells_it(story) -> None:
    run, want = story
    rows = metrics_rows(run.events())
    assert [(r["epoch"], r["model"]) for r in rows] == [
        (e, m) for e in range(1, want["epoch"] + 1) for m in want["models"]]  # the run's order of models
    for row in rows:
        assert row["train_loss"] == want["losses"][row["model"]][row["epoch"]]
    horizons = {(r["epoch"], r["model"]): r["gradient_horizon"] for r in rows if r["gradient_horizon"] != ""}
    assert horizons == {(3, model): h for model, h in want["horizon"].items()}


def test_the_headless_final_table_tells_it(story) -> None:
    run, want = story
    headless = HeadlessRun(RunDirectory(run.path).load_config())
    headless.apply_all(run.events())
    assert headless.title().startswith(f"{want['label']}: ")
    assert f" after {want['epoch']} epochs " in headless.title()
    rows = {row[0]: row for row in headless.rows()}
    for model in want["models"]:
        train = want["losses"][model][want["epoch"]]
        assert rows[MODEL_TITLES[model]][1:3] == (f"{train:.4f}", f"{train + 0.5:.4f}")
    assert list(rows) == [MODEL_TITLES[model] for model in want["models"]]


def test_every_front_end_says_the_same_final_state_of_a_finished_run(tmp_path) -> None:
    run = write_run(tmp_path / "run", finish=True)
    state, headless = DashboardState(), HeadlessRun(B)
    state.apply_all(run.events())
    headless.apply_all(run.events())
    assert state.run_state == headless.run_state == summarise(run.path).status == "finished"
