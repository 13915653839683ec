"""Build a plotext figure straight into Textual strips, skipping the ANSI round trip.

textual-plotext asks plotext for an ANSI string (one escape per colour change, built cell by
cell) and parses it back with ``Text.from_ansi``. Both halves are pure Python over every cell
and cost about half of a chart's redraw; reading plotext's cell matrix directly gives the
same text and styles for a fraction of that. As strips, it also skips Textual's conversion of
Rich Text into its own Content and back into strips, which cost as much again.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from plotext._utility import colors_to_ansi
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip


@lru_cache(maxsize=512)
def _cell_style(fullground: object, style: object, background: object) -> Style:
    """The Rich style of one plotext colour triple, via plotext's own ANSI codes."""
    parsed = Text.from_ansi(colors_to_ansi(fullground, style, background) + "x")
    return parsed.spans[0].style if parsed.spans else Style.null()  # type: ignore[return-value]


def _runs(figure) -> Iterator[list[tuple[str, Style]]]:  # noqa: ANN001 - plotext's figure has no public type
    """Lay out and draw ``figure`` (as ``figure.build()`` does); each row, top down, as runs
    of (characters, style) of one colour."""
    figure._set_sizes()
    figure._build_matrix()
    matrix = figure.monitor.matrix
    for row in matrix.Rows[::-1]:
        markers = matrix.marker[row]
        colours = list(zip(matrix.fullground[row], matrix.style[row], matrix.background[row]))
        runs = []
        start = 0
        for col in range(1, len(markers) + 1):
            if col == len(markers) or colours[col] != colours[start]:
                runs.append(("".join(markers[start:col]), _cell_style(*colours[start])))
                start = col
        yield runs


def figure_strips(figure, base: Style) -> list[Strip]:  # noqa: ANN001
    """``figure`` drawn as one strip per row, each cell's style over ``base`` (the widget's)."""
    return [Strip([Segment(chars, base + style) for chars, style in runs]) for runs in _runs(figure)]
