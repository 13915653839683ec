"""The dashboard's preferences, kept between sessions in ``<config dir>/lstm-tui/config.toml``.

``$XDG_CONFIG_HOME/lstm-tui/config.toml`` (``~/.config`` by default, through platformdirs). A
change made in the app is written back at once. A file that cannot be read, or a key that is
unknown or has a bad value, costs only that key: the app warns in one line and uses the default.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import platformdirs
import tomli_w

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from engine.rundir.files import atomic_write_text

SMOOTHING_CHOICES = (0.0, 0.6, 0.9, 0.99)
X_AXIS_CHOICES = ("epoch", "wall", "elapsed")


@dataclass(frozen=True)
class Prefs:
    theme: str = "textual-dark"
    refresh_hz: float = 10.0
    smoothing: float = 0.0  # one of SMOOTHING_CHOICES
    x_axis: str = "epoch"  # one of X_AXIS_CHOICES
    log_scale: bool = False
    system_pane: bool = False

    def with_(self, **changes: Any) -> Prefs:
        return replace(self, **changes)


def prefs_path() -> Path:
    return Path(platformdirs.user_config_dir("lstm-tui")) / "config.toml"


def _check(name: str, value: Any) -> str | None:
    """Why ``value`` is no good for ``name``, or None."""
    if name in ("log_scale", "system_pane"):
        return None if isinstance(value, bool) else "not true or false"
    if name == "theme":
        return None if isinstance(value, str) and value else "not a theme name"
    if name == "x_axis":
        return None if value in X_AXIS_CHOICES else f"not one of {', '.join(X_AXIS_CHOICES)}"
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if name == "refresh_hz":
        return None if number and 0.5 <= value <= 60 else "not a number from 0.5 to 60"
    if name == "smoothing":
        return None if number and float(value) in SMOOTHING_CHOICES else "not one of 0, 0.6, 0.9, 0.99"
    return "unknown key"


def load_prefs(path: Path) -> tuple[Prefs, list[str]]:
    """The preferences in ``path`` (defaults where missing) and one warning per problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Prefs(), []
    except (OSError, UnicodeDecodeError) as exc:
        return Prefs(), [f"{path}: cannot read it ({exc}); using the defaults"]
    except tomllib.TOMLDecodeError as exc:
        return Prefs(), [f"{path}: not valid TOML ({exc}); using the defaults"]
    known = {f.name for f in fields(Prefs)}
    good: dict[str, Any] = {}
    warnings = []
    for key, value in data.items():
        problem = _check(key, value) if key in known else "unknown key"
        if problem:
            warnings.append(f"{path}: {key} = {value!r}: {problem}; ignored")
        else:
            good[key] = float(value) if key in ("refresh_hz", "smoothing") else value
    return Prefs(**good), warnings


def save_prefs(prefs: Prefs, path: Path) -> None:
    """Write ``prefs`` atomically (a crash leaves the old file or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, tomli_w.dumps(asdict(prefs)))


def display_options(refresh_hz: float | None, no_config: bool) -> dict[str, Any]:
    """The dashboard's keyword arguments for its preferences: from the file unless
    ``no_config``; a ``--refresh-hz`` given on the command line wins over the file's."""
    if no_config:
        return {"refresh_hz": refresh_hz or Prefs().refresh_hz}
    path = prefs_path()
    prefs, warnings = load_prefs(path)
    return {"refresh_hz": refresh_hz or prefs.refresh_hz, "prefs": prefs, "prefs_file": path,
            "prefs_warnings": warnings}
