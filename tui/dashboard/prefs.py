"""The dashboard's preferences, kept between sessions in ``<config dir>/lstm-tui/config.toml``.

``$XDG_CONFIG_HOME/lstm-tui/config.toml`` (``~/.config`` by default, through platformdirs). A
change made in the app is written back at once. A key that is unknown or has a bad value costs
only that key: the app warns in one line and uses its default. A file of any other shape (not a
regular file, unreadable, too big, not UTF-8, not TOML, nested too deep) is one warning, the
defaults, and left as it is: the session's changes are not saved over it.
"""

from __future__ import annotations

import math
import os
import reprlib
import stat
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from engine.rundir.files import atomic_write_text

SMOOTHING_CHOICES = (0.0, 0.6, 0.9, 0.99)
X_AXIS_CHOICES = ("epoch", "wall", "elapsed")
MAX_BYTES = 64 * 1024  # six short lines are the whole file: anything this big is not preferences
MAX_KEY_WARNINGS = 3  # more bad keys than this are said in one warning, not one each
MAX_THEME_CHARS = 100
# A bad key or value is shown this short: a warning is one line, however big or deep the value.
_SHOWN = reprlib.Repr()  # keyword arguments only from Python 3.12
_SHOWN.maxlevel, _SHOWN.maxdict, _SHOWN.maxlist = 2, 3, 3
_SHOWN.maxstring = _SHOWN.maxother = _SHOWN.maxlong = 40
_SHOWN_KEY_CHARS = 40
_SHOWN_VALUE_CHARS = 80


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
        good = isinstance(value, str) and 0 < len(value) <= MAX_THEME_CHARS and value.isprintable()
        return None if good else "not a theme name"
    if name == "x_axis":
        return None if value in X_AXIS_CHOICES else f"not one of {', '.join(X_AXIS_CHOICES)}"
    # A TOML integer has no bound: compared as it is (float() of 10**400 overflows).
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and (
        isinstance(value, int) or math.isfinite(value))
    if name == "refresh_hz":
        return None if number and 0.5 <= value <= 60 else "not a number from 0.5 to 60"
    if name == "smoothing":
        return None if number and value in SMOOTHING_CHOICES else "not one of 0, 0.6, 0.9, 0.99"
    return "unknown key"


class _NotPreferences(Exception):
    """The file as a whole cannot be preferences; the message says why, in a few words."""


def load_prefs(path: Path) -> tuple[Prefs, list[str]]:
    """The preferences in ``path`` (defaults where missing) and the warnings: one per bad key
    (one for them all beyond MAX_KEY_WARNINGS), or one for a file that is not preferences."""
    prefs, warnings, _ = _load(path)
    return prefs, warnings


def _load(path: Path) -> tuple[Prefs, list[str], bool]:
    """``load_prefs``, and whether the file may be written over (not when it is not
    preferences: whatever it is, it stays as the user left it)."""
    try:
        data = _parse(_read(path))
    except FileNotFoundError:
        return Prefs(), [], True
    except _NotPreferences as exc:
        return Prefs(), [f"{path}: {exc}; using the defaults, and not saving over it"], False
    known = {f.name for f in fields(Prefs)}
    good: dict[str, Any] = {}
    bad: list[str] = []
    for key, value in data.items():
        problem = _check(key, value) if key in known else "unknown key"
        if problem:
            bad.append(f"{_shown_key(key)} = {_shown(value)}: {problem}")
        else:
            good[key] = float(value) if key in ("refresh_hz", "smoothing") else value
    if len(bad) > MAX_KEY_WARNINGS:
        warnings = [f"{path}: {len(bad):,} keys ignored, unknown or with bad values (the first: {bad[0]})"]
    else:
        warnings = [f"{path}: {line}; ignored" for line in bad]
    return Prefs(**good), warnings, True


def _read(path: Path) -> str:
    """The file's text. Non-blocking, so a FIFO in its place cannot hang the start; a device
    (/dev/zero) or a directory is refused before a byte is read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _NotPreferences(f"cannot read it ({exc.strerror or exc})") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise _NotPreferences("a directory, not a file")
        if not stat.S_ISREG(mode):
            raise _NotPreferences("not a regular file")
        chunks, size = [], 0
        while size <= MAX_BYTES and (chunk := os.read(fd, MAX_BYTES + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise _NotPreferences(f"cannot read it ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if size > MAX_BYTES:
        raise _NotPreferences(f"over {MAX_BYTES // 1024} KB, too big to be preferences")
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError:
        raise _NotPreferences("not UTF-8 text") from None


def _parse(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _NotPreferences(f"not valid TOML ({exc})") from None
    except RecursionError:  # arrays or inline tables nested thousands deep
        raise _NotPreferences("not valid TOML (nested too deep)") from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise _NotPreferences(f"not valid TOML ({str(exc).split(';')[0]})") from None


def _shown_key(key: str) -> str:
    text = key if key.isprintable() else repr(key)  # a quoted key may hold a newline
    return text if len(text) <= _SHOWN_KEY_CHARS else text[: _SHOWN_KEY_CHARS - 1] + "…"


def _shown(value: Any) -> str:
    try:
        text = _SHOWN.repr(value)
    except ValueError:  # a hexadecimal integer too long to write in decimal
        return f"<{type(value).__name__}>"
    # Each string in it is short, but a table of escaped keys need not be.
    return text if len(text) <= _SHOWN_VALUE_CHARS else text[: _SHOWN_VALUE_CHARS - 1] + "…"


def save_prefs(prefs: Prefs, path: Path) -> None:
    """Write ``prefs`` atomically (a crash leaves the old file or the new one)."""
    import tomli_w  # only when a preference changes, not with every dashboard

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, tomli_w.dumps(asdict(prefs)))


def display_options(refresh_hz: float | None, no_config: bool) -> dict[str, Any]:
    """The dashboard's keyword arguments for its preferences: from the file unless
    ``no_config``; a ``--refresh-hz`` given on the command line wins over the file's."""
    if no_config:
        return {"refresh_hz": refresh_hz or Prefs().refresh_hz}
    path = prefs_path()
    prefs, warnings, writable = _load(path)
    return {"refresh_hz": refresh_hz or prefs.refresh_hz, "prefs": prefs, "prefs_file": path if writable else None,
            "prefs_warnings": warnings}
