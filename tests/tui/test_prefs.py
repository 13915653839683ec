"""Preferences in config.toml: read at start, written on every change, never fatal."""

from __future__ import annotations

import pytest

from engine.config import RunConfig
from tests.tui.helpers import notifications, wait_until
from tui.dashboard.app import DashboardApp
from tui.dashboard.prefs import Prefs, display_options, load_prefs, prefs_path, save_prefs, tomllib

CONFIG = RunConfig(series_length=300, look_back=5, epochs=40)


def test_the_file_lives_under_xdg_config_home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert prefs_path() == tmp_path / "lstm-tui" / "config.toml"


def test_no_file_means_the_defaults_and_no_warning(tmp_path) -> None:
    assert load_prefs(tmp_path / "config.toml") == (Prefs(), [])


def test_saved_preferences_read_back(tmp_path) -> None:
    path = tmp_path / "lstm-tui" / "config.toml"
    prefs = Prefs(theme="nord", refresh_hz=4.0, smoothing=0.9, x_axis="elapsed", log_scale=True, system_pane=True)
    save_prefs(prefs, path)
    assert load_prefs(path) == (prefs, [])


def test_a_corrupt_file_gives_one_warning_and_the_defaults(tmp_path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("smoothing = [unclosed")
    prefs, warnings = load_prefs(path)
    assert prefs == Prefs()
    assert len(warnings) == 1 and "not valid TOML" in warnings[0]


@pytest.mark.parametrize(("line", "key"), [
    ("colour = 'red'", "colour"), ("smoothing = 0.5", "smoothing"), ("refresh_hz = 1000", "refresh_hz"),
    ("x_axis = 'steps'", "x_axis"), ("log_scale = 'yes'", "log_scale"), ("refresh_hz = nan", "refresh_hz"),
])
def test_a_bad_or_unknown_key_costs_only_that_key(tmp_path, line: str, key: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"{line}\nsystem_pane = true\n")
    prefs, warnings = load_prefs(path)
    assert prefs == Prefs(system_pane=True)
    assert len(warnings) == 1 and f"{key} = " in warnings[0] and warnings[0].endswith("ignored")


def test_no_config_reads_and_writes_nothing(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    save_prefs(Prefs(refresh_hz=2.0), prefs_path())
    assert display_options(None, no_config=True) == {"refresh_hz": 10.0}
    assert display_options(None, no_config=False)["refresh_hz"] == 2.0
    assert display_options(5.0, no_config=False)["refresh_hz"] == 5.0  # the flag wins


async def test_changes_in_the_app_are_saved(tmp_path) -> None:
    path = tmp_path / "config.toml"
    app = DashboardApp(CONFIG, start=False, prefs=Prefs(), prefs_file=path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("m", "m", "x", "l", "y")
        app.theme = "nord"
        await pilot.pause()
    saved = tomllib.loads(path.read_text())
    assert saved == {"theme": "nord", "refresh_hz": 10.0, "smoothing": 0.9, "x_axis": "wall", "log_scale": True,
                     "system_pane": True}


async def test_the_app_starts_with_the_saved_preferences(tmp_path) -> None:
    prefs = Prefs(theme="nord", smoothing=0.99, x_axis="elapsed", log_scale=True, system_pane=True)
    app = DashboardApp(CONFIG, start=False, prefs=prefs, prefs_file=tmp_path / "config.toml")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        chart = app.dashboard.charts["lstm"]
        assert app.theme == "nord" and app.dashboard.system_pane.display
        assert (chart.smoothing, chart.x_mode, chart.log_scale) == (0.99, "elapsed", True)
    assert not (tmp_path / "config.toml").exists()  # starting is not a change


async def test_file_warnings_show_in_the_app(tmp_path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("smoothing = 0.5\ntheme = 'no-such-theme'\n")
    prefs, warnings = load_prefs(path)
    app = DashboardApp(CONFIG, start=False, prefs=prefs, prefs_file=path, prefs_warnings=warnings)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: len(notifications(app)) == 2)
        messages = [n.message for n in notifications(app)]
        assert any("smoothing = 0.5" in m for m in messages)
        assert any("no-such-theme" in m for m in messages)
        assert app.theme != "no-such-theme"
