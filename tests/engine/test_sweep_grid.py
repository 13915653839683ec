"""The grid of a sweep: the product of the flags' lists and the seeds, named trials, and the
bad grids refused in one line before anything starts."""

from __future__ import annotations

import json

import pytest

from engine.config import PRESETS, ConfigError, RunConfig
from engine.sweep.grid import GRID_LIMIT, Grid, GridError, SweepDirectory, config_from_flags, trial_name

TINY = {"series_length": "300", "look_back": "5", "epochs": "2", "device": "cpu"}


def grid(**lists: str) -> Grid:
    seeds = lists.pop("seeds", None)
    seed = lists.pop("seed", None)
    models = lists.pop("models", None)
    return Grid.from_flags(lists, seeds=seeds, seed=seed, models=models)


# -- the product -----------------------------------------------------------------------------------

def test_the_trials_are_the_product_of_the_lists_and_the_seeds() -> None:
    g = grid(**TINY, lr="0.01,0.05", hidden="4,8,16", seeds="2")
    assert g.axes == ("hidden", "lr")  # in RunConfig's order
    assert g.size == len(g.trials) == 3 * 2 * 2
    combos = {(t.config.hidden, t.config.lr, t.seed) for t in g.trials}
    assert combos == {(h, lr, s) for h in (4, 8, 16) for lr in (0.01, 0.05) for s in (0, 1)}


def test_seeds_n_means_seeds_zero_to_n_minus_one() -> None:
    assert grid(**TINY, seeds="4").seeds == (0, 1, 2, 3)


def test_seed_lists_the_seeds() -> None:
    g = grid(**TINY, seed="3,7")
    assert g.seeds == (3, 7)
    assert [t.config.seed for t in g.trials] == [3, 7]


def test_without_seeds_a_sweep_has_the_runs_default_seed() -> None:
    assert grid(**TINY, lr="0.01,0.02").seeds == (RunConfig().seed,)


def test_every_seed_covers_the_whole_grid_before_the_next_seed_begins() -> None:
    g = grid(**TINY, lr="0.01,0.02,0.03", seeds="2")
    assert [t.seed for t in g.trials] == [0, 0, 0, 1, 1, 1]


def test_models_are_not_an_axis_every_trial_trains_them_all() -> None:
    g = grid(**TINY, models="GRU, lstm", seeds="2")
    assert g.axes == () and g.size == 2
    assert {t.config.models for t in g.trials} == {"gru,lstm"}


def test_a_preset_is_the_base_and_flags_override_it() -> None:
    g = grid(preset="echo", lag="10,20", epochs="3", device="cpu")
    assert [(t.config.preset, t.config.lag, t.config.epochs, t.config.batch_size) for t in g.trials] == [
        ("echo", 10, 3, 128), ("echo", 20, 3, 128)]


def test_presets_can_be_an_axis() -> None:
    g = grid(preset="seed-10k,seed-50k", epochs="2", device="cpu")
    assert [t.config.series_length for t in g.trials] == [10_000, 50_000]


def test_a_value_is_read_as_the_train_flag_reads_it() -> None:
    g = grid(**TINY, batch_size="full,16", forget_bias="default,2", memory_budget="512M")
    assert {(t.config.batch_size, t.config.forget_bias) for t in g.trials} == {
        (None, None), (None, 2.0), (16, None), (16, 2.0)}
    assert g.trials[0].config.memory_budget == 512 * 2**20
    assert g.flags["forget_bias"] == ("default", "2")


# -- the echo task's look-back ---------------------------------------------------------------------

@pytest.mark.parametrize(("lag", "look_back"), [(10, 15), (30, 35), (80, 85)])
def test_on_the_echo_task_a_look_back_not_given_is_lag_plus_5(lag: int, look_back: int) -> None:
    g = grid(preset="echo", lag=str(lag), device="cpu")
    assert g.trials[0].config.look_back == look_back


def test_a_look_back_given_is_kept() -> None:
    assert grid(preset="echo", lag="10,20", look_back="40").trials[0].config.look_back == 40


def test_the_echo_preset_keeps_its_own_window() -> None:
    assert config_from_flags({"preset": "echo"}) == RunConfig(**PRESETS["echo"], preset="echo")


def test_the_seed_task_keeps_its_look_back() -> None:
    assert config_from_flags({"lag": 50}).look_back == RunConfig().look_back


def test_a_task_changed_from_the_presets_drops_the_preset_name() -> None:
    config = config_from_flags({"preset": "seed-10k", "task": "echo"})
    assert (config.preset, config.task, config.look_back) == (None, "echo", 35)


# -- names and sweep.json --------------------------------------------------------------------------

def test_a_trial_is_named_by_its_swept_values_and_its_seed() -> None:
    g = grid(**TINY, lag="10", forget_bias="default,2", batch_size="full,8", seeds="2")
    names = [t.name for t in g.trials]
    # The axes in the order of the run's settings (RunConfig's fields), whatever the flags' order.
    assert names[:4] == ["forget-bias-default_batch-size-full_seed-0", "forget-bias-default_batch-size-8_seed-0",
                         "forget-bias-2_batch-size-full_seed-0", "forget-bias-2_batch-size-8_seed-0"]
    assert len(set(names)) == len(names)


def test_a_name_keeps_to_characters_a_shell_takes() -> None:
    assert trial_name(0, (("device", "cuda:1"),), 3) == "device-cuda.1_seed-3"


def test_a_name_too_long_falls_back_to_the_points_index() -> None:
    point = tuple((f"axis_{i}", "x" * 20) for i in range(10))
    assert trial_name(7, point, 2) == "point-7_seed-2"


def test_the_default_models_given_or_not_are_the_same_sweep() -> None:
    assert grid(**TINY, models="LSTM, rnn") == grid(**TINY)


def test_sweep_json_reads_back_as_the_same_grid(tmp_path) -> None:
    g = grid(**TINY, lr="0.01,1e-3", batch_size="full,8", seeds="3", models="rnn,gru")
    sweep = SweepDirectory(tmp_path / "s")
    sweep.create(g)
    assert sweep.load_grid() == g
    data = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert data["trials"] == 12 and data["axes"] == ["lr", "batch_size"]
    assert (tmp_path / "s" / "trials").is_dir()


def test_the_same_grid_may_run_again_in_its_directory(tmp_path) -> None:
    g = grid(**TINY, lr="0.01,0.02")
    sweep = SweepDirectory(tmp_path)
    sweep.create(g)
    before = (tmp_path / "sweep.json").read_text()
    sweep.check_for(grid(**TINY, lr="0.01, 0.020"))  # the same values, written otherwise
    sweep.create(g)
    assert (tmp_path / "sweep.json").read_text() == before


# -- bad grids: one line naming the problem --------------------------------------------------------

BAD_GRIDS = {
    "too many trials": (dict(lag="1,2,3,4,5,6,7,8,9,10", seeds="1001"), "10,010 trials"),
    "too many seeds": (dict(seeds="10001"), "seeds: 10,001 is out of range"),
    "no seeds": (dict(seeds="0"), "seeds: 0 is out of range"),
    "seeds as words": (dict(seeds="ten"), "seeds: 'ten' is not a whole number"),
    "seeds and seed": (dict(seeds="3", seed="1,2"), "not both"),
    "an empty item": (dict(lag="10,,30"), "lag: an empty item in '10,,30'"),
    "a trailing comma": (dict(lr="0.01,"), "lr: an empty item"),
    "only commas": (dict(hidden=","), "hidden: no value given"),
    "an empty flag": (dict(epochs=""), "epochs: no value given"),
    "a word for a number": (dict(lr="0.01,fast"), "lr: 'fast' is not a number"),
    "a fraction for a whole number": (dict(hidden="8,8.5"), "hidden: '8.5' is not a whole number"),
    "out of range": (dict(lr="0.01,20"), "lr: 20 is out of range"),
    "nan": (dict(echo_p="nan"), "echo-p: nan is out of range"),
    "a value listed twice": (dict(lag="10,20,10"), "lag: 10 is listed twice"),
    "the same value spelt twice": (dict(series_length="300,3_00"), "series-length: 3_00 is listed twice"),
    "an unknown preset": (dict(preset="echo,seed-1m"), "preset: unknown preset 'seed-1m'"),
    "an unknown task": (dict(task="seed,weather"), "task: unknown task 'weather'"),
    "a bad device": (dict(device="cpu,tpu"), "device: 'tpu' is not a device"),
    "a bad batch size": (dict(batch_size="full,half"), "batch-size: 'half' is not a whole number or 'full'"),
    "a bad memory budget": (dict(memory_budget="2G,lots"), "memory-budget: 'lots' is not a size"),
    "a bad model": (dict(models="lstm,transformer"), "models: unknown model 'transformer'"),
    "a lag past the look-back": (dict(task="echo", look_back="20", lag="10,30"), "(at --lag 30)"),
    "a look-back past the series": (dict(series_length="100", look_back="5,200"), "look-back: 200 must be shorter"),
    "a seed out of range": (dict(seed="1,-1"), "seed: -1 is out of range"),
}


@pytest.mark.parametrize(("lists", "says"), BAD_GRIDS.values(), ids=BAD_GRIDS)
def test_a_bad_grid_is_one_line_naming_it(lists: dict, says: str) -> None:
    with pytest.raises(GridError) as caught:
        grid(**{"device": "cpu", **lists})
    message = str(caught.value)
    assert says in message
    assert "\n" not in message


def test_there_are_at_least_15_bad_grids() -> None:
    assert len(BAD_GRIDS) >= 15


def test_the_limit_counts_the_product_before_building_any_trial(monkeypatch) -> None:
    built = []
    monkeypatch.setattr("engine.sweep.grid.config_from_flags", lambda flags: built.append(flags))
    with pytest.raises(GridError, match="at most 10,000"):
        grid(lag=",".join(str(n) for n in range(1, 102)), seeds="100")
    assert built == []
    assert GRID_LIMIT == 10_000


def test_a_directory_holding_another_sweep_is_refused_naming_the_difference(tmp_path) -> None:
    sweep = SweepDirectory(tmp_path)
    sweep.create(grid(**TINY, lr="0.01,0.02", seeds="3"))
    before = (tmp_path / "sweep.json").read_bytes()
    for other, says in [(grid(**TINY, lr="0.01,0.03", seeds="3"), "its --lr is 0.01,0.02, this one's 0.01,0.03"),
                        (grid(**TINY, lr="0.01,0.02", seeds="4"), "its seeds are 0..2, this one's 0..3"),
                        (grid(**TINY, lr="0.01,0.02", seeds="3", models="gru"), "its --models is lstm,rnn, this "
                         "one's gru")]:
        with pytest.raises(GridError, match="holds another sweep") as caught:
            sweep.check_for(other)
        assert says in str(caught.value)
    assert (tmp_path / "sweep.json").read_bytes() == before


def test_a_directory_with_other_files_and_no_sweep_is_refused(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(GridError, match="not empty and holds no sweep"):
        SweepDirectory(tmp_path).check_for(grid(**TINY))


def test_a_file_for_a_sweep_directory_is_refused(tmp_path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(GridError, match="is a file"):
        SweepDirectory(tmp_path / "f").check_for(grid(**TINY))


@pytest.mark.parametrize("text", ["{", "[]", '{"format": 2, "grid": {}}',
                                  '{"format": 1, "grid": {"flags": {"lr": ["fast"]}, "seeds": [0], "models": null}}',
                                  '{"format": 1, "grid": {"flags": {}, "seeds": ["0"], "models": null}}'])
def test_a_sweep_json_this_version_cannot_read_is_one_line(tmp_path, text: str) -> None:
    (tmp_path / "sweep.json").write_text(text)
    with pytest.raises(GridError) as caught:
        SweepDirectory(tmp_path).load_grid()
    assert "sweep.json" in str(caught.value) and "\n" not in str(caught.value)


def test_config_from_flags_names_the_field_out_of_range() -> None:
    with pytest.raises(ConfigError, match="lr"):
        config_from_flags({"lr": 50.0})
