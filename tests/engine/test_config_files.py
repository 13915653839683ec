"""config.json is read whole or refused in one line: a file with settings missing is not
completed with defaults (only the settings added since the first version may be missing), and a
file of any other shape, size or depth says what is wrong with it."""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config import LATER_KEYS, ConfigError, RunConfig
from engine.rundir.directory import CONFIG_FILE, RunDirectory
from engine.rundir.files import RunDirError

# RunConfig's fields in the first version (git show e9a4b7c:engine/config.py).
FIRST_VERSION = {"task", "series_length", "look_back", "lag", "echo_p", "hidden", "layers", "forget_bias", "epochs",
                 "lr", "batch_size", "val_fraction", "seed", "device", "memory_budget", "preset"}
FIELDS = [f.name for f in dataclasses.fields(RunConfig)]
CFG = RunConfig(series_length=300, look_back=5, epochs=3)


def without(*keys: str) -> dict:
    return {k: v for k, v in CFG.to_dict().items() if k not in keys}


def test_the_settings_that_may_be_missing_are_exactly_those_added_since_the_first_version():
    assert set(FIELDS) - FIRST_VERSION == LATER_KEYS


def test_a_config_without_epochs_is_refused_naming_it():
    with pytest.raises(ConfigError, match=r"^epochs: missing$"):
        RunConfig.from_dict(without("epochs"))


def test_every_missing_setting_is_named_in_one_line():
    with pytest.raises(ConfigError) as refused:
        RunConfig.from_dict(without("lr", "epochs", "seed"))
    assert str(refused.value) == "epochs: missing (and lr, seed)"


@pytest.mark.parametrize("key", sorted(set(FIELDS) - LATER_KEYS))
def test_any_setting_of_the_first_version_missing_is_refused(key):
    with pytest.raises(ConfigError, match=f"^{key.replace('_', '-')}: missing"):
        RunConfig.from_dict(without(key))


def test_a_config_written_before_the_later_settings_loads_with_their_defaults():
    assert RunConfig.from_dict(without(*LATER_KEYS)) == CFG


def test_a_run_directory_whose_config_lacks_a_setting_is_refused_in_one_line(tmp_path):
    (tmp_path / CONFIG_FILE).write_text(json.dumps(without("epochs"), indent=2))
    with pytest.raises(RunDirError) as refused:
        RunDirectory(tmp_path).load_config()
    assert str(refused.value) == f"{tmp_path / CONFIG_FILE} is not a valid config: epochs: missing"


def test_a_config_with_an_editors_byte_order_mark_loads(tmp_path):
    (tmp_path / CONFIG_FILE).write_bytes(b"\xef\xbb\xbf" + json.dumps(CFG.to_dict()).encode())
    assert RunDirectory(tmp_path).load_config() == CFG


SHAPES = {
    "nested 100,000 deep": ("[" * 100_000, "not JSON (nested too deeply)"),
    "a number of 5,000 digits": ("9" * 5000, "not JSON (a number too long to read)"),
    "bytes that are not UTF-8": (b"\xff\xfe\x00\x01", "not UTF-8 text"),
    "over a megabyte": (" " * (2**20 + 1), "over 1 MiB, which no config is"),
    "a list": ("[]", "not a JSON object"),
    "a 100,000-character value": (json.dumps({**CFG.to_dict(), "task": "x" * 100_000}), "task: unknown task 'xxx"),
}


@pytest.mark.parametrize(("content", "says"), SHAPES.values(), ids=SHAPES)
def test_a_config_of_another_shape_is_refused_in_one_short_line(content, says, tmp_path):
    path = tmp_path / CONFIG_FILE
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(RunDirError) as refused:
        RunDirectory(tmp_path).load_config()
    message = str(refused.value)
    assert message.startswith(f"{path} is not a valid config: {says}")
    assert "\n" not in message and len(message) < 400 + len(str(tmp_path))  # the path, then a short why


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(changes=st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=4), JSON, max_size=3),
       dropped=st.sets(st.sampled_from(FIELDS), max_size=2))
def test_a_config_json_of_any_content_is_a_config_or_a_one_line_refusal(changes, dropped):
    data = {k: v for k, v in {**CFG.to_dict(), **changes}.items() if k not in dropped}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / CONFIG_FILE).write_text(json.dumps(data))
        try:
            config = RunDirectory(tmp).load_config()
        except RunDirError as exc:
            assert "\n" not in str(exc)
            return
    assert config.to_dict() == {**RunConfig().to_dict(), **data}
