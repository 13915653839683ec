"""Build a plotext figure straight into Rich Text, skipping the ANSI round trip.

textual-plotext asks plotext for an ANSI string (one escape per colour change, built cell by
cell) and parses it back with ``Text.from_ansi``. Both halves are pure Python over every cell
and cost about half of a chart's redraw; reading plotext's cell matrix directly gives the
same text and styles for a fraction of that.
"""

from __future__ import annotations

from functools import lru_cache

from plotext._utility import colors_to_ansi
from rich.style import Style
from rich.text import Text


@lru_cache(maxsize=512)
def _cell_style(fullground: object, style: object, background: object) -> Style:
    """The Rich style of one plotext colour triple, via plotext's own ANSI codes."""
    parsed = Text.from_ansi(colors_to_ansi(fullground, style, background) + "x")
    return parsed.spans[0].style if parsed.spans else Style.null()  # type: ignore[return-value]


def figure_text(figure) -> Text:  # noqa: ANN001 - plotext's figure class has no public type
    """Lay out and draw ``figure`` (as ``figure.build()`` does) and return it as Text."""
    figure._set_sizes()
    figure._build_matrix()
    matrix = figure.monitor.matrix
    text = Text()
    append = text.append
    for row in matrix.Rows[::-1]:
        markers = matrix.marker[row]
        colours = list(zip(matrix.fullground[row], matrix.style[row], matrix.background[row]))
        start = 0
        for col in range(1, len(markers) + 1):
            if col == len(markers) or colours[col] != colours[start]:
                append("".join(markers[start:col]), _cell_style(*colours[start]))
                start = col
        append("\n")
    return text
