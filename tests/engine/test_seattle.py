"""--preset seattle: Seattle's daily weather 2012-2015, read from the CSV inside the vega_datasets
package (the `weather` extra) without importing it; without the package, one line saying how
to install it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from engine.config import PRESETS, ConfigError, from_preset, seattle_csv

# The SHA-256 of vega_datasets 0.9.0's _data/seattle-weather.csv: a run records it, and another
# file under that name would be another run's data.
SEATTLE_SHA256 = "62f0609f787158128aa2bd102967173a4953122dd4f872bf1d502cae1037df0b"

needs_vega = pytest.mark.skipif(importlib.util.find_spec("vega_datasets") is None,
                                reason="the weather extra (vega_datasets) is not installed")


def test_the_seattle_preset_predicts_the_weather_column_in_date_order_over_a_month():
    assert PRESETS["seattle"] == dict(task="csv", column="weather", order_by="date", look_back=30,
                                      batch_size=64, epochs=30)


@needs_vega
def test_the_seattle_preset_reads_the_bundled_file_whose_hash_is_pinned():
    cfg = from_preset("seattle", device="cpu")
    assert cfg.data_file_sha256 == SEATTLE_SHA256
    assert (cfg.series_length, cfg.preset, cfg.label) == (1_461, "seattle", "seattle")


@needs_vega
def test_seattles_classes_are_its_five_kinds_of_weather():
    from engine.data import task_classes

    assert task_classes(from_preset("seattle")) == ("drizzle", "fog", "rain", "snow", "sun")


@needs_vega
def test_the_file_is_found_without_importing_vega_datasets_or_pandas():
    code = ("import sys; from engine.config import from_preset; from_preset('seattle'); "
            "print(sorted({'vega_datasets', 'pandas'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_without_vega_datasets_the_preset_says_in_one_line_how_to_install_it(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vega_datasets" else real(name, *a))
    with pytest.raises(ConfigError) as info:
        seattle_csv()
    assert str(info.value) == ("preset: seattle reads its weather from the vega_datasets package, which is not "
                               "installed: pip install 'lstm-tui[weather]'")
    with pytest.raises(ConfigError, match=r"pip install 'lstm-tui\[weather\]'"):
        from_preset("seattle")


@needs_vega
def test_the_seattle_preset_on_another_task_keeps_its_settings_but_reads_no_file():
    from engine.sweep.grid import config_from_flags

    cfg = config_from_flags({"preset": "seattle", "task": "seed"})
    assert (cfg.task, cfg.data, cfg.column, cfg.preset, cfg.look_back) == ("seed", None, None, None, 30)
