"""config.toml of any shape, size or depth: one warning, the defaults, never a crash or a hang
(issue 16), and a file that is not preferences is not saved over."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.config import RunConfig
from tests.tui.helpers import notifications, wait_until
from tui.dashboard.app import DashboardApp
from tui.dashboard.prefs import Prefs, display_options, load_prefs, prefs_path, save_prefs

CONFIG = RunConfig(series_length=300, look_back=5, epochs=40)
LONGEST_WARNING = 400  # characters, path included: a warning is one line of a toast
MOST_WARNINGS = 3  # one per bad key up to three, then one for them all


def _text(text: str) -> Callable[[Path], None]:
    return lambda path: path.write_text(text)


def _fifo(path: Path) -> None:
    os.mkfifo(path)  # opening it to read would wait for a writer for ever


HOSTILE: dict[str, Callable[[Path], None]] = {
    "arrays nested 30,000 deep": _text("theme = " + "[" * 30_000 + "]" * 30_000),
    "inline tables nested 5,000 deep": _text("theme = " + "{a = " * 5_000 + "1" + "}" * 5_000),
    "tables nested 5,000 deep": _text("[" + ".".join(["t"] * 5_000) + "]\nx = 1\n"),
    "10 MB of keys": _text("".join(f"k{i} = {i}\n" for i in range(800_000))),
    "a 10 MB theme name": _text('theme = "' + "x" * 10_000_000 + '"\n'),
    "binary": lambda path: path.write_bytes(bytes(range(256)) * 40),
    "a directory": lambda path: path.mkdir(),
    "a FIFO": _fifo,
    "a link to /dev/zero": lambda path: path.symlink_to("/dev/zero"),
    "an integer of 5,000 digits": _text("refresh_hz = " + "9" * 5_000 + "\n"),
    "an integer of 400 digits": _text("refresh_hz = " + "9" * 400 + "\n"),
    "a hexadecimal integer of 30,000 digits": _text("refresh_hz = 0x" + "f" * 30_000 + "\n"),
    "1,000 unknown keys": _text("".join(f"k{i} = {i}\n" for i in range(1_000))),
    "a key of 50,000 characters": _text("k" * 50_000 + " = 1\n"),
    "a key with a newline": _text('"smoothing\\n0.9" = 1\n'),
}


def one_line_each(warnings: list[str]) -> bool:
    return all("\n" not in w and len(w) <= LONGEST_WARNING for w in warnings)


def valid(prefs: Prefs, tmp_path: Path) -> bool:
    """Whether every value of ``prefs`` is one the file may hold: saved, it reads back as it is."""
    path = tmp_path / "saved" / "config.toml"
    save_prefs(prefs, path)
    return load_prefs(path) == (prefs, [])


@pytest.mark.timeout(30)  # a FIFO or /dev/zero must not hang (or fill memory) the start
@pytest.mark.parametrize("shape", list(HOSTILE))
def test_a_file_of_any_shape_is_one_warning_and_the_defaults(shape: str, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    HOSTILE[shape](path)
    prefs, warnings = load_prefs(path)
    assert prefs == Prefs()
    assert len(warnings) == 1 and one_line_each(warnings), warnings
    assert warnings[0].startswith(f"{path}: ")


def test_a_file_that_is_not_preferences_is_not_saved_over(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    path = prefs_path()
    path.parent.mkdir()
    path.write_text("smoothing = [unclosed\n")  # a typo the user will want to fix, not lose
    assert display_options(None, no_config=False)["prefs_file"] is None


async def test_changing_a_preference_leaves_a_broken_file_as_it_was(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    path = prefs_path()
    path.parent.mkdir()
    path.write_bytes(b"\xff\xfe not text")
    app = DashboardApp(CONFIG, start=False, **display_options(None, no_config=False))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: len(notifications(app)) == 1, what="the warning")
        assert notifications(app)[0].message == (
            f"{path}: not UTF-8 text; using the defaults, and not saving over it")
        await pilot.press("m")  # smoothing: a change that would be saved
        await pilot.pause()
    assert path.read_bytes() == b"\xff\xfe not text"


# -- any TOML at all ------------------------------------------------------------------------------

KEYS = st.one_of(st.sampled_from([f.name for f in Prefs.__dataclass_fields__.values()]), st.text(max_size=50))
SCALARS = st.one_of(st.booleans(), st.integers(), st.floats(), st.text(max_size=200), st.datetimes(),
                    st.dates(), st.times())
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                      max_leaves=20)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(KEYS, VALUES, max_size=12))
def test_any_toml_document_gives_valid_preferences_and_few_one_line_warnings(data: dict, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(tomli_w.dumps(data))
    prefs, warnings = load_prefs(path)
    assert valid(prefs, tmp_path)
    assert len(warnings) <= MOST_WARNINGS and one_line_each(warnings), warnings


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=2_000))
def test_any_bytes_give_valid_preferences_and_few_one_line_warnings(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(content)
    prefs, warnings = load_prefs(path)
    assert valid(prefs, tmp_path)
    assert len(warnings) <= MOST_WARNINGS and one_line_each(warnings), warnings
