"""ASCII-only output (`--ascii`, or automatically when the locale is not UTF-8).

A line filter on everything the dashboard draws: box drawing becomes ``+-|``, braille chart
dots become ``.:*``, blocks and shades become ``#=:.``, and every other character outside ASCII
becomes a close ASCII stand-in of the same width (a letter with an accent: the letter), or ``?``. Colours are left alone, so a
heatmap (coloured spaces) looks the same; with NO_COLOR the heatmaps shade with ASCII
density characters already. A class name outside ASCII (a csv column's 'étoile') shows as its
stand-ins ('etoile'); the short labels of classes (tui/class_labels.py) stay unique through it.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Mapping
from functools import lru_cache

from rich.cells import cell_len
from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

SYMBOLS = {
    "…": "~", "·": ".", "×": "x", "✓": "v", "✗": "x", "÷": "/", "‖": "|", "∂": "d", "ₜ": "t", "°": "o",
    "–": "-", "—": "-", "→": ">", "←": "<", "↑": "^", "↓": "v", "▲": "^", "▼": "v", "▶": ">", "◀": "<",
    "•": "*", "●": "o", "○": "o", "◆": "*", "█": "#", "▓": "#", "▒": ":", "░": ".",
    "▁": "_", "▂": ".", "▃": "-", "▄": "=", "▅": "+", "▆": "*", "▇": "#", "▀": "#", "▐": "#", "▌": "#",
    "▏": "|", "▎": "|", "▍": "|", "▋": "#", "▊": "#", "▉": "#", "▕": "|", "²": "2", "³": "3", "±": "+",
    "“": '"', "”": '"', "‘": "'", "’": "'", "≤": "<", "≥": ">", "≈": "~", "∞": "8",
}
HORIZONTAL = set("─━┄┅┈┉╌╍═╴╶╸╺")
VERTICAL = set("│┃┆┇┊┋╎╏║╵╷╹╻")


@lru_cache(maxsize=4096)
def ascii_char(char: str) -> str:
    """One character's ASCII stand-in, as many cells wide as the original."""
    if char.isascii():
        return char
    code = ord(char)
    if 0x2800 <= code <= 0x28FF:  # braille: the chart's dots, by how many are set
        dots = bin(code - 0x2800).count("1")
        return " " if dots == 0 else "." if dots == 1 else ":" if dots == 2 else "*"
    if char in HORIZONTAL:
        return "-"
    if char in VERTICAL:
        return "|"
    if 0x2500 <= code <= 0x257F:  # corners, tees and crosses
        return "+"
    if char in SYMBOLS:
        return SYMBOLS[char]
    # A letter with an accent (a csv column's 'été'): the letter.
    base = unicodedata.normalize("NFKD", char)[:1]
    if base.isascii() and base.isprintable() and base and cell_len(char) == 1:
        return base
    return "?" * max(1, cell_len(char))


@lru_cache(maxsize=8192)
def ascii_text(text: str) -> str:
    return text if text.isascii() else "".join(ascii_char(c) for c in text)


class AsciiFilter(LineFilter):
    """Replaces every character outside ASCII in what reaches the terminal."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return [Segment(ascii_text(text), style, control) for text, style, control in segments]


def locale_is_utf8(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the user's locale (LC_ALL, else LC_CTYPE, else LANG) is UTF-8.

    Read from the environment, not from Python: Python coerces the C locale to UTF-8 for
    itself, but the terminal behind a C locale may well not show UTF-8.
    """
    name = environ.get("LC_ALL") or environ.get("LC_CTYPE") or environ.get("LANG") or "C"
    return "utf-8" in name.lower() or "utf8" in name.lower()
