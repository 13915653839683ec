"""Colour ramps for the heatmaps: value -> cell style, and the legend that explains them.

Sequential values (gates in [0, 1], log norms) use a viridis-like ramp whose brightness rises
with the value, so it still reads in greyscale (Textual turns colours grey under NO_COLOR).
Signed values (candidate, cell and hidden states) use a diverging blue-grey-red ramp. Where
colour cannot carry the value at all, cells are drawn with an ASCII density ramp instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from rich.color import Color
from rich.style import Style
from rich.text import Text

LEVELS = 24  # distinct shades per ramp: more than a terminal cell shows apart
# (position, (r, g, b)) stops; in between, linear interpolation
VIRIDIS = ((0.0, (68, 1, 84)), (0.25, (59, 82, 139)), (0.5, (33, 145, 140)), (0.75, (94, 201, 98)),
           (1.0, (253, 231, 37)))
COOLWARM = ((0.0, (59, 76, 192)), (0.5, (205, 205, 205)), (1.0, (180, 4, 38)))
DENSITY = " .:-=+*#%@"  # light to dense: the shade of a cell without colour


@dataclass(frozen=True)
class Scale:
    """How values map onto a ramp: the range, and whether it diverges around zero."""

    low: float
    high: float
    diverging: bool = False

    def position(self, value: float) -> float:
        """Where ``value`` falls on the ramp, 0..1 (clamped; NaN lands at 0)."""
        if not math.isfinite(value):
            return 0.0 if math.isnan(value) or value < 0 else 1.0
        span = self.high - self.low
        if span <= 0:
            return 0.5
        return min(1.0, max(0.0, (value - self.low) / span))

    def level(self, value: float) -> int:
        return min(LEVELS - 1, int(self.position(value) * LEVELS))


def _interpolate(stops: tuple, t: float) -> tuple[int, int, int]:
    for (t0, c0), (t1, c1) in zip(stops, stops[1:], strict=False):
        if t <= t1:
            u = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
            return tuple(round(a + (b - a) * u) for a, b in zip(c0, c1, strict=True))  # type: ignore[return-value]
    return stops[-1][1]


@lru_cache(maxsize=256)
def level_color(level: int, diverging: bool) -> Color:
    t = (level + 0.5) / LEVELS
    return Color.from_rgb(*_interpolate(COOLWARM if diverging else VIRIDIS, t))


@lru_cache(maxsize=512)
def cell_style(level: int, diverging: bool, cursor: bool = False) -> Style:
    """A cell painted in the level's colour; the cursor's cell gets a contrasting mark."""
    background = level_color(level, diverging)
    if not cursor:
        return Style(bgcolor=background, color=background)
    r, g, b = background.get_truecolor()
    contrast = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "white"
    return Style(bgcolor=background, color=contrast, bold=True)


def density_char(level: int) -> str:
    return DENSITY[min(len(DENSITY) - 1, level * len(DENSITY) // LEVELS)]


def format_value(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    return f"{value:.3g}" if abs(value) < 1e-2 and value != 0 else f"{value:.2f}"


def legend(scale: Scale, width: int, *, colour: bool = True, label: str = "") -> Text:
    """``low [ramp] high`` in ``width`` cells (at least a few cells of ramp)."""
    low, high = format_value(scale.low), format_value(scale.high)
    ramp_width = max(4, width - len(low) - len(high) - 2 - (len(label) + 1 if label else 0))
    text = Text(no_wrap=True, overflow="ellipsis")
    if label:
        text.append(label + " ", "dim")
    text.append(low + " ", "dim")
    for x in range(ramp_width):
        level = min(LEVELS - 1, x * LEVELS // ramp_width)
        if colour:
            text.append(" ", cell_style(level, scale.diverging))
        else:
            text.append(density_char(level))
    text.append(" " + high, "dim")
    return text


def fit_cell(count: int, room: int, *, widest: int = 2) -> int:
    """Cells per value that fit ``count`` values in ``room`` columns: 2, 1, or 0 for two
    values per cell (half blocks)."""
    for cell in range(widest, 0, -1):
        if count * cell <= room:
            return cell
    return 0


def heat_cells(values: list[float], scale: Scale, cell: int, *, colour: bool = True,
               mark: int | None = None) -> Text:
    """One heatmap row. ``cell`` from ``fit_cell``; ``mark`` is the index under the cursor.

    Half blocks (cell 0) draw the left value in the foreground of ``▌`` and the right one in
    its background; without colour a cell is a density character and there are no halves.
    """
    text = Text(no_wrap=True, overflow="crop")
    if cell == 0 and not colour:
        cell = 1
    if cell:
        for index, value in enumerate(values):
            level = scale.level(value)
            here = index == mark
            if colour:
                glyph = "×" if here else " "
                text.append(glyph.ljust(cell), cell_style(level, scale.diverging, here))
            else:
                text.append(("X" if here else density_char(level)) * cell)
        return text
    for index in range(0, len(values), 2):
        left = scale.level(values[index])
        right = scale.level(values[index + 1]) if index + 1 < len(values) else left
        here = mark in (index, index + 1)
        text.append("▌", Style(color=level_color(left, scale.diverging),
                               bgcolor=level_color(right, scale.diverging), underline=here, bold=here))
    return text
