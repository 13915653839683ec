"""RunConfig: defaults, presets, validation that names the bad field, and round trips."""

from __future__ import annotations

import dataclasses
import json
import math
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from engine.config import (
    CHANCE_LOSS,
    MODEL_KINDS,
    PRESETS,
    TASKS,
    ConfigError,
    RunConfig,
    format_field,
    from_preset,
    parse_field,
    parse_size,
    run_label,
    split_point,
)


def test_defaults_are_the_seed_articles_settings():
    cfg = RunConfig()
    assert cfg.task == "seed"
    assert cfg.hidden == 10
    assert cfg.layers == 1
    assert cfg.epochs == 400
    assert cfg.lr == 0.01
    assert cfg.batch_size is None  # full batch
    assert cfg.val_fraction == 0.2
    assert cfg.seed == 42
    assert cfg.device == "auto"


def test_probes_are_on_by_default_after_every_epoch_at_most_once_a_second():
    cfg = RunConfig()
    assert (cfg.probe_every, cfg.probe_seconds, cfg.probe_steps) == (1, 1.0, 64)


def test_a_config_json_without_probe_settings_gets_the_defaults():
    data = {k: v for k, v in RunConfig(epochs=7).to_dict().items() if not k.startswith("probe_")}
    assert RunConfig.from_dict(data) == RunConfig(epochs=7)


def test_chance_loss_is_ln_3():
    assert pytest.approx(1.0986, abs=1e-4) == CHANCE_LOSS


@pytest.mark.parametrize(
    ("name", "length"), [("seed-10k", 10_000), ("seed-50k", 50_000), ("seed-100k", 100_000)]
)
def test_seed_presets_are_the_seed_articles_three_series_lengths(name, length):
    cfg = from_preset(name)
    assert cfg.task == "seed"
    assert cfg.series_length == length
    assert (cfg.hidden, cfg.layers, cfg.epochs, cfg.lr, cfg.batch_size) == (10, 1, 400, 0.01, None)
    assert cfg.preset == name
    assert cfg.label == name


def test_echo_preset_is_the_lag_30_task_the_lstm_can_learn():
    cfg = from_preset("echo")
    assert cfg.task == "echo"
    assert (cfg.series_length, cfg.look_back, cfg.lag, cfg.echo_p) == (20_000, 35, 30, 0.9)
    assert (cfg.epochs, cfg.batch_size) == (15, 128)
    assert cfg.forget_bias == 2.0  # f ~ 0.88 at the start, so the cell can carry the echo 30 steps
    assert cfg.lag <= cfg.look_back


def test_preset_overrides_replace_only_the_named_fields():
    cfg = from_preset("seed-50k", epochs=5, lr=0.002, hidden=16)
    assert (cfg.series_length, cfg.epochs, cfg.lr, cfg.hidden) == (50_000, 5, 0.002, 16)
    assert cfg.preset == "seed-50k"
    assert cfg.look_back == RunConfig().look_back


def test_unknown_preset_is_a_config_error_naming_preset():
    with pytest.raises(ConfigError) as info:
        from_preset("seed-1m")
    assert info.value.field == "preset"


# -- validation ----------------------------------------------------------------------------

BAD_VALUES = [
    ("series_length", dict(series_length=-5)),
    ("series_length", dict(series_length=0)),
    ("series_length", dict(series_length=10.5)),
    ("series_length", dict(series_length="10000")),
    ("look_back", dict(look_back=0)),
    ("look_back", dict(series_length=300, look_back=300)),
    ("look_back", dict(series_length=300, look_back=301)),
    ("lag", dict(task="echo", look_back=10, lag=11)),
    ("lag", dict(lag=0)),
    ("echo_p", dict(echo_p=-0.1)),
    ("echo_p", dict(echo_p=1.5)),
    ("echo_p", dict(echo_p=math.nan)),
    ("hidden", dict(hidden=0)),
    ("hidden", dict(hidden=-1)),
    ("hidden", dict(hidden=True)),
    ("layers", dict(layers=0)),
    ("layers", dict(layers=99)),
    ("epochs", dict(epochs=0)),
    ("epochs", dict(epochs=math.inf)),
    ("lr", dict(lr=0.0)),
    ("lr", dict(lr=-0.01)),
    ("lr", dict(lr=math.nan)),
    ("lr", dict(lr=math.inf)),
    ("lr", dict(lr="fast")),
    ("batch_size", dict(batch_size=0)),
    ("batch_size", dict(batch_size="full")),
    ("val_fraction", dict(val_fraction=0.9)),
    ("val_fraction", dict(val_fraction=-0.1)),
    ("val_fraction", dict(series_length=30, look_back=10, val_fraction=0.2)),  # no val window
    ("seed", dict(seed=-1)),
    ("seed", dict(seed=2**32)),
    ("task", dict(task="sunny")),
    ("device", dict(device="gpu")),
    ("device", dict(device="cuda:")),
    ("device", dict(device="CPU")),
    ("memory_budget", dict(memory_budget=1000)),
    ("memory_budget", dict(memory_budget="2G")),
    ("preset", dict(preset="nope")),
    ("probe_every", dict(probe_every=-1)),
    ("probe_every", dict(probe_every=1.5)),
    ("probe_seconds", dict(probe_seconds=-0.5)),
    ("probe_seconds", dict(probe_seconds=math.nan)),
    ("probe_seconds", dict(probe_seconds=math.inf)),
    ("probe_seconds", dict(probe_seconds="1s")),
    ("probe_steps", dict(probe_steps=0)),
    ("probe_steps", dict(probe_steps=True)),
]


@pytest.mark.parametrize(("field", "values"), BAD_VALUES, ids=[f"{f}={v}" for f, v in BAD_VALUES])
def test_a_bad_value_is_a_config_error_naming_its_field(field, values):
    with pytest.raises(ConfigError) as info:
        RunConfig(**values)
    assert info.value.field == field
    assert field.replace("_", "-") in str(info.value)


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


def test_run_config_is_frozen():
    cfg = RunConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.epochs = 5  # type: ignore[misc]


def test_replace_validates_the_new_values():
    with pytest.raises(ConfigError) as info:
        RunConfig().replace(hidden=0)
    assert info.value.field == "hidden"


def test_to_dict_from_dict_round_trips_through_json():
    cfg = from_preset("echo", seed=7, device="cpu", memory_budget=parse_size("512M"))
    again = RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg


def test_from_dict_rejects_unknown_keys_naming_them():
    data = {**RunConfig().to_dict(), "hiden": 10}
    with pytest.raises(ConfigError) as info:
        RunConfig.from_dict(data)
    assert info.value.field == "hiden"


# -- the documented ranges, as a property ------------------------------------------------------

# field -> (low, high, whole numbers only, low end open)
RANGES = {
    "series_length": (20, 100_000_000, True, False),
    "look_back": (1, 100_000, True, False),
    "lag": (1, 100_000, True, False),
    "echo_p": (0.0, 1.0, False, False),
    "hidden": (1, 4096, True, False),
    "layers": (1, 8, True, False),
    "epochs": (1, 10_000_000, True, False),
    "lr": (1e-6, 10.0, False, False),  # LR_MIN, LR_MAX
    "batch_size": (1, 100_000_000, True, False),
    "val_fraction": (0.0, 0.5, False, False),
    "seed": (0, 2**32 - 1, True, False),
    "memory_budget": (2**20, 2**50, True, False),
    "probe_every": (0, 10_000_000, True, False),
    "probe_seconds": (0.0, 86_400.0, False, False),
    "probe_steps": (1, 100_000, True, False),
}

# Other fields as permissive as they go, so the field under test is the only constraint.
ROOMY = dict(series_length=100_000_000, look_back=1, lag=1, val_fraction=0.0)


def _in_range(field, value):
    low, high, whole, open_low = RANGES[field]
    if isinstance(value, bool):
        return False
    if whole and not isinstance(value, int):
        return False
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    return (low < value if open_low else low <= value) and value <= high


candidates = st.one_of(
    st.integers(min_value=-(2**60), max_value=2**60),
    st.integers(min_value=-10, max_value=5000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1.0, max_value=12.0),
    st.booleans(),
)


@pytest.mark.parametrize("field", sorted(RANGES))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=candidates)
def test_a_numeric_field_is_accepted_in_its_range_or_rejected_naming_it(field, value):
    base = {k: v for k, v in ROOMY.items() if k != field}
    if field == "series_length":
        base = dict(look_back=1, val_fraction=0.0)
    try:
        cfg = RunConfig(**base, **{field: value})
    except ConfigError as exc:
        assert exc.field == field, f"{field}={value!r} blamed {exc.field}"
    else:
        assert _in_range(field, getattr(cfg, field)), f"{field}={value!r} accepted"


@pytest.mark.parametrize("field", sorted(RANGES))
def test_each_end_of_a_documented_range_is_accepted(field):
    low, high, whole, open_low = RANGES[field]
    base = {k: v for k, v in ROOMY.items() if k != field}
    if field == "series_length":
        base = dict(look_back=1, val_fraction=0.0)
    ends = [high] if open_low else [low, high]
    for value in ends:
        assert getattr(RunConfig(**base, **{field: value}), field) == value


# -- whole configs, generated ------------------------------------------------------------------


@st.composite
def valid_configs(draw) -> dict:
    """Every field drawn from its documented range, the look-back and lag kept within what the
    series and its split leave room for."""
    task = draw(st.sampled_from(TASKS))
    val_fraction = draw(st.one_of(st.just(0.0), st.just(0.5), st.floats(0.0, 0.5)))
    series_length = draw(st.one_of(st.integers(20, 5_000), st.integers(20, 100_000_000)))
    values = dict(task=task, series_length=series_length, val_fraction=val_fraction)
    split = split_point(SimpleNamespace(series_length=series_length, val_fraction=val_fraction))
    room = min(100_000, split - 1)
    if val_fraction:
        room = min(room, series_length - split - 1)
    assume(room >= 1)
    look_back = draw(st.integers(1, room))
    values.update(
        look_back=look_back,
        lag=draw(st.integers(1, look_back if task == "echo" else 100_000)),
        echo_p=draw(st.floats(0.0, 1.0)),
        hidden=draw(st.integers(1, 4096)),
        layers=draw(st.integers(1, 8)),
        forget_bias=draw(st.none() | st.floats(-10.0, 10.0)),
        epochs=draw(st.integers(1, 10_000_000)),
        lr=draw(st.floats(1e-6, 10.0)),
        batch_size=draw(st.none() | st.integers(1, 100_000_000)),
        seed=draw(st.integers(0, 2**32 - 1)),
        device=draw(st.sampled_from(["auto", "cpu", "cuda", "cuda:0", "cuda:12", "mps"])),
        memory_budget=draw(st.integers(2**20, 2**50)),
        probe_every=draw(st.integers(0, 10_000_000)),
        probe_seconds=draw(st.floats(0.0, 86_400.0)),
        probe_steps=draw(st.integers(1, 100_000)),
        preset=draw(st.sampled_from([None, *PRESETS])),
        models=",".join(draw(st.permutations(MODEL_KINDS))[: draw(st.integers(1, 3))]),
    )
    if task == "csv":  # its file is read by build_config, never by RunConfig
        values.update(data="/data/series.csv", column=draw(st.sampled_from(["weather", "état"])),
                      order_by=draw(st.none() | st.just("date")), data_file_sha256=draw(st.none() | st.just("0" * 64)))
    return values


@settings(max_examples=200, deadline=None)
@given(values=valid_configs())
def test_a_valid_config_is_accepted_with_every_value_kept(values):
    cfg = RunConfig(**values)
    assert {name: getattr(cfg, name) for name in values} == values


@settings(max_examples=200, deadline=None)
@given(values=valid_configs())
def test_a_valid_config_round_trips_through_to_dict_from_dict_and_json(values):
    cfg = RunConfig(**values)
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    assert RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


NUMERIC_FIELDS = sorted(RANGES) + ["forget_bias"]
OPTIONAL_FIELDS = {"forget_bias", "batch_size", "preset"}  # None means "the default behaviour"


def wrong_types(field: str) -> st.SearchStrategy:
    """Values of a type the field never takes."""
    return st.one_of(
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        st.tuples(st.integers()),
        st.booleans() if field in NUMERIC_FIELDS else st.nothing(),
        st.none() if field not in OPTIONAL_FIELDS else st.nothing(),
        st.text(max_size=8) if field in NUMERIC_FIELDS else st.integers() | st.floats(),
    )


@pytest.mark.parametrize("field", [
    *NUMERIC_FIELDS, "task", "device", "preset", "models",
])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
@example(data=None)  # the list and the dict below, whatever Hypothesis draws
def test_a_wrong_typed_value_is_a_config_error_naming_its_field(field, data):
    values = [["echo"], {"seed": 1}] if data is None else [data.draw(wrong_types(field), label=field)]
    for value in values:
        with pytest.raises(ConfigError) as info:
            RunConfig(**{field: value})
        assert info.value.field == field, f"{field}={value!r} blamed {info.value.field}"
        assert field.replace("_", "-") in str(info.value)


@settings(max_examples=60, deadline=None)
@given(key=st.text(min_size=1, max_size=20).filter(lambda k: k not in RunConfig().to_dict()))
def test_from_dict_rejects_any_unknown_key_naming_it(key):
    with pytest.raises(ConfigError) as info:
        RunConfig.from_dict({**RunConfig().to_dict(), key: 1})
    assert info.value.field == key


# -- sizes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("2G", 2 * 2**30),
        ("2g", 2 * 2**30),
        ("512M", 512 * 2**20),
        ("1.5GB", int(1.5 * 2**30)),
        ("2GiB", 2 * 2**30),
        ("64k", 64 * 2**10),
        ("1T", 2**40),
        ("1048576", 2**20),
        (" 3 M ", 3 * 2**20),
        (4096, 4096),
    ],
)
def test_parse_size_reads_binary_units(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "2X", "-1G", "G2", "1.2.3M"])
def test_parse_size_rejects_what_is_not_a_size_naming_memory_budget(text):
    with pytest.raises(ConfigError) as info:
        parse_size(text)
    assert info.value.field == "memory_budget"


def test_the_presets_are_the_five_whose_values_are_checked():
    """The seed article's three rows and the echo task (above), and Seattle's weather
    (tests/engine/test_seattle.py); a preset added without a test of its values fails here."""
    assert sorted(PRESETS) == ["echo", "seattle", "seed-100k", "seed-10k", "seed-50k"]


# -- a field from what a person typed (the command line's flags and the form's inputs) ------------


@pytest.mark.parametrize(("name", "text", "value"), [
    ("series_length", "10000", 10_000), ("series_length", " 10_000 ", 10_000), ("series_length", "10,000", 10_000),
    ("lr", "1e-3", 0.001), ("echo_p", "0.9", 0.9),
    ("batch_size", "full", None), ("batch_size", "FULL", None), ("batch_size", "", None), ("batch_size", "128", 128),
    ("forget_bias", "default", None), ("forget_bias", "2", 2.0),
    ("memory_budget", "512M", 512 * 2**20), ("device", " cuda:1 ", "cuda:1"),
])
def test_a_fields_text_parses_to_its_value(name, text, value):
    assert parse_field(name, text) == value


@pytest.mark.parametrize(("name", "text", "message"), [
    ("hidden", "ten", "hidden: 'ten' is not a whole number"),
    ("epochs", "1.5", "epochs: '1.5' is not a whole number"),
    ("lr", "fast", "lr: 'fast' is not a number"),
    ("batch_size", "half", "batch-size: 'half' is not a whole number or 'full'"),
    ("forget_bias", "strong", "forget-bias: 'strong' is not a number or 'default'"),
    ("memory_budget", "lots", "memory-budget"),
])
def test_text_that_is_not_a_value_is_an_error_naming_the_field(name, text, message):
    with pytest.raises(ConfigError, match=message):
        parse_field(name, text)


@pytest.mark.parametrize("config", [RunConfig(), from_preset("echo")], ids=["seed", "echo"])
def test_every_fields_text_reads_back_as_its_value(config):
    for field in dataclasses.fields(RunConfig):
        if field.name != "preset":
            assert parse_field(field.name, format_field(field.name, getattr(config, field.name))) \
                == getattr(config, field.name), field.name


def test_the_label_is_the_preset_else_the_task_with_the_echos_lag():
    assert run_label({"preset": "seed-50k", "task": "seed"}) == "seed-50k"
    assert run_label({"task": "echo", "lag": 12}) == "echo lag 12"
    assert run_label({"task": "seed"}) == "seed"
    assert run_label({}) == "seed"  # an old or partial config.json still gets a name


@pytest.mark.parametrize(("field", "value", "shown"), [("lr", 20.0, "20"), ("echo_p", 2.0, "2"), ("lr", 1e-9, "1e-09")])
def test_an_out_of_range_number_is_shown_as_it_was_written(field, value, shown):
    with pytest.raises(ConfigError) as raised:
        RunConfig(**{field: value})
    assert str(raised.value).startswith(f"{field.replace('_', '-')}: {shown} is out of range")


# -- the models of a run -------------------------------------------------------------------------


def test_a_run_trains_the_seeds_pair_unless_told_otherwise():
    assert RunConfig().models == "lstm,rnn"
    assert RunConfig().model_names == ("lstm", "rnn")


@pytest.mark.parametrize(("text", "names"), [
    ("gru", ("gru",)), ("rnn,lstm", ("rnn", "lstm")), ("lstm,rnn,gru", ("lstm", "rnn", "gru")),
    ("GRU, lstm", ("gru", "lstm")), (" rnn ,gru ", ("rnn", "gru")),
])
def test_models_are_any_of_the_three_in_the_order_given(text, names):
    cfg = RunConfig(models=parse_field("models", text))
    assert cfg.model_names == names
    assert cfg.models == ",".join(names)  # one spelling, in config.json as on the command line


@pytest.mark.parametrize(("text", "message"), [
    ("lstm,transformer", "models: unknown model 'transformer' (choose from lstm, rnn, gru)"),
    ("lstm,lstm", "models: lstm is named twice (each model runs once)"),
    ("", "models: no model named (choose from lstm, rnn, gru)"),
    ("lstm,,rnn", "models: 'lstm,,rnn' has an empty name (choose from lstm, rnn, gru)"),
])
def test_an_unknown_repeated_or_missing_model_is_one_line_naming_models(text, message):
    with pytest.raises(ConfigError) as info:
        RunConfig(models=text)
    assert str(info.value) == message and info.value.field == "models"


def test_a_config_json_from_before_models_trains_the_seeds_pair():
    data = {k: v for k, v in RunConfig(epochs=7).to_dict().items() if k != "models"}
    assert RunConfig.from_dict(data).model_names == ("lstm", "rnn")


def test_model_names_of_a_logged_config_default_to_the_seeds_pair():
    from engine.config import model_names

    assert model_names({"task": "seed"}) == ("lstm", "rnn")
    assert model_names({"models": "gru,rnn"}) == ("gru", "rnn")


def test_model_names_of_a_logged_config_leave_out_names_this_version_does_not_know():
    from engine.config import model_names

    assert model_names({"models": "lstm,foo,lstm"}) == ("lstm",)  # a crafted log's, repeated
    assert model_names({"models": "transformer"}) == ("lstm", "rnn")
    assert model_names({"models": 7}) == ("lstm", "rnn")
