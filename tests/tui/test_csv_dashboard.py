"""The dashboard on a csv file's series (issue 20): the prediction panel's bars for any number of
classes (the likeliest, and how many it left out, where the rows run short), the heatmaps' input
row in the classes' unique short labels, the loss chart's baseline lines and the verdict on which
one the model is under, and the help screen's chance ln K. Made-up events (no torch, no file)."""

from __future__ import annotations

import math

from engine.config import RunConfig
from engine.events import EpochEnd, Hidden, Prediction, RunStarted, RunStateChanged
from tests.tui.helpers import PARAMETERS, visible_text, wait_until
from tui.dashboard.app import DashboardApp, EngineEvent
from tui.screens.help import HelpScreen

STEPS = 12


def csv_config(models: str = "lstm,rnn") -> RunConfig:
    return RunConfig(task="csv", data="/data/made-up.csv", column="sky", series_length=300, look_back=STEPS,
                     epochs=40, models=models)


def made_up_probabilities(k: int, model: int) -> list[float]:
    """K distinct probabilities summing to 1, their order shuffled by class (the likeliest not class 0)."""
    weights = [((i * 37 + model * 11) % k) + 1.0 for i in range(k)]
    return [w / sum(weights) for w in weights]


def baselines_of(k: int) -> dict[str, float]:
    return {"chance": math.log(k), "frequency": 0.9 * math.log(k), "markov-1": 0.7 * math.log(k),
            "markov-2": 0.6 * math.log(k), "markov-3": 0.65 * math.log(k)}


def csv_run(config: RunConfig, classes: list[str], val_loss: float, window: list[int] | None = None) -> list:
    """The events of a short made-up csv run: ``classes``, made-up baselines, three epochs whose
    last validation loss is ``val_loss``, a prediction with no truth, and optionally a probe."""
    k = len(classes)
    events: list = [
        RunStarted(config=config.to_dict(), device="cpu", device_name="test CPU",
                   parameters={name: PARAMETERS[name] for name in config.model_names},
                   train_windows=200, val_windows=50, data_sha256="0", chance_loss=math.log(k), best_loss=None,
                   batches_per_epoch=1, chunks_per_batch=1, classes=classes, baselines=baselines_of(k)),
        RunStateChanged(state="running"),
    ]
    for epoch in (1, 2, 3):
        for i, model in enumerate(config.model_names):
            events.append(EpochEnd(model=model, epoch=epoch, train_loss=val_loss, val_loss=val_loss,
                                   val_acc=0.5, grad_norm=0.1, lr=config.lr, seconds=0.01, samples_per_s=1000.0))
            p = made_up_probabilities(k, i)
            events.append(Prediction(model=model, epoch=epoch, probabilities=p, predicted=p.index(max(p)),
                                     true=None))
    if window is not None:
        units = 4
        events.append(Hidden(model="rnn", epoch=3, window_start=0, window=window,
                             h=[[0.1 * u for u in range(units)] for _ in range(STEPS)], saturation=0.0,
                             saturation_per_unit=[0.0] * units))
    return events


async def fed(pilot, app: DashboardApp, events: list) -> None:  # noqa: ANN001
    for event in events:
        app.post_message(EngineEvent(event))
    await wait_until(pilot, lambda: app.state.epoch == 3, what="the epochs folded")
    await wait_until(pilot, lambda: app.dashboard.caught_up, what="a frame")
    await pilot.pause()


MANY = [f"state {i:02d}" for i in range(64)]


async def test_at_80x24_64_classes_show_the_likeliest_and_how_many_were_left_out() -> None:
    app = DashboardApp(csv_config(), start=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await fed(pilot, app, csv_run(app.config, MANY, 3.0))
        panel = app.dashboard.predictions["lstm"]
        text = visible_text(panel)
        rows = [line for line in text.splitlines() if "state " in line and "%" in line]
        shown = [line.split("state ")[1][:2] for line in rows]
        p = made_up_probabilities(64, 0)
        likeliest = sorted(range(64), key=lambda i: -p[i])[:len(rows)]
        assert 1 <= len(rows) < 64
        assert shown == [f"{i:02d}" for i in likeliest]
        assert f"+{64 - len(rows)} more" in text
        assert "true" not in text  # a csv run's prediction has no truth
        assert f"next day {MANY[likeliest[0]]}" in text


async def test_a_few_classes_all_get_a_bar_and_no_line_says_more() -> None:
    names = ["drizzle", "fog", "rain", "snow", "sun"]
    app = DashboardApp(csv_config(), start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed(pilot, app, csv_run(app.config, names, 1.0))
        text = visible_text(app.dashboard.predictions["rnn"])
        p = made_up_probabilities(5, 1)
        for name, share in zip(names, p, strict=True):
            assert any(line.strip("│ ").startswith(name) and f"{share:.1%}" in line for line in text.splitlines())
        assert "more" not in text


async def test_a_5_class_runs_heatmap_input_row_shows_unique_short_labels() -> None:
    names = ["drizzle", "fog", "rain", "snow", "sun"]
    window = [(3 * s) % 5 for s in range(STEPS)]
    app = DashboardApp(csv_config(), start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed(pilot, app, csv_run(app.config, names, 1.0, window))
        await wait_until(pilot, lambda: "waiting" not in visible_text(app.dashboard.gates["rnn"]), what="the probe")
        text = visible_text(app.dashboard.gates["rnn"])
        # By hand: sun and snow share s, so one of them takes another letter; d, f, r are the initials.
        labels = {0: "d", 1: "f", 2: "r"}
        row = next(line for line in text.splitlines() if line.lstrip("│ ").startswith("in "))
        letters = row.lstrip("│ ")[4:].replace(" ", "")
        letters = "".join(ch for ch in letters if ch.isalnum())[:STEPS]
        assert len(letters) == STEPS
        for step, cls in enumerate(window):
            if cls in labels:
                assert letters[step] == labels[cls]
        snow, sun = {letters[s] for s, c in enumerate(window) if c == 3}, {letters[s] for s, c in enumerate(window)
                                                                             if c == 4}
        assert len(snow) == len(sun) == 1 and snow != sun and not (snow | sun) & set(labels.values())
        # The cursor's read-out (at the last step) names the class in full.
        assert names[window[-1]] in text


async def test_a_csv_runs_loss_chart_draws_its_frequency_and_lowest_baseline() -> None:
    app = DashboardApp(csv_config(), start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed(pilot, app, csv_run(app.config, ["drizzle", "fog", "rain", "snow", "sun"], 1.0))
        text = visible_text(app.dashboard.charts["lstm"])
        # baselines_of(5): Markov order 2 is the lowest (0.6 ln 5)
        assert "Markov order 2" in text and "class frequencies" in text and "chance ln 5" in text
        assert "chance ln 3" not in text


async def test_the_chart_says_which_baseline_the_validation_loss_is_under() -> None:
    k = 5
    lines = baselines_of(k)
    loss = (lines["markov-1"] + lines["markov-3"]) / 2  # under Markov order 1 only
    app = DashboardApp(csv_config(), start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed(pilot, app, csv_run(app.config, ["drizzle", "fog", "rain", "snow", "sun"], loss))
        assert "under Markov order 1" in str(app.dashboard.charts["lstm"].border_subtitle)


async def test_a_loss_above_every_baseline_is_said_so() -> None:
    app = DashboardApp(csv_config(), start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed(pilot, app, csv_run(app.config, ["drizzle", "fog", "rain", "snow", "sun"], 5.0))
        assert "above every baseline" in str(app.dashboard.charts["rnn"].border_subtitle)


async def test_the_help_screen_gives_chance_ln_k_and_the_datas_baselines() -> None:
    app = DashboardApp(csv_config(), start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await fed(pilot, app, csv_run(app.config, MANY, 3.0))
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help screen")
        intro = app.screen.intro
        assert "chance (ln 64)" in intro and "Markov" in intro
