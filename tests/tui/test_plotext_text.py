"""The direct matrix-to-strips path draws exactly what plotext's ANSI output would."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual_plotext.plot import Plot

from tests.tui.helpers import OneWidgetApp, visible_text
from tui.plotext_text import figure_strips
from tui.widgets.cached_plot import CachedPlot


def _figure(log_scale: bool = False) -> Plot:
    plot = Plot()
    plot.plotsize(50, 14)
    plot._set_size(50, 14)
    plot.theme("pro")
    plot.plot([1, 2, 3, 4, 5], [1.3, 1.2, 1.1, 1.05, 1.0], label="train", color="cyan+", marker="braille")
    plot.plot([1, 2, 3, 4, 5], [1.2, 1.15, 1.12, 1.1, 1.11], label="val", color="yellow+", marker="braille")
    plot.hline(1.0986, "red")
    plot.text("chance ln 3", x=1, y=1.0986, color="red", alignment="left")
    if log_scale:
        plot.yscale("log")
    return plot


def _cells(text: Text) -> list[tuple[str, str]]:
    """Every character with the style it is drawn in."""
    cells = []
    for line in text.split("\n"):
        for offset, char in enumerate(line.plain):
            style = line.get_style_at_offset(_CONSOLE, offset)
            cells.append((char, str(style)))
    return cells


from rich.console import Console  # noqa: E402

_CONSOLE = Console(color_system="truecolor", width=80)


def _strip_cells(strips) -> list[tuple[str, str]]:
    cells = []
    for strip in strips:
        for segment in strip:
            cells.extend((char, str(segment.style)) for char in segment.text)
    return cells


def test_figure_strips_draw_the_same_cells_as_plotext_ansi_output() -> None:
    expected = Text.from_ansi(_figure().build())
    strips = figure_strips(_figure(), Style.null())
    assert [strip.text for strip in strips] == expected.plain.rstrip("\n").split("\n")
    assert _strip_cells(strips) == _cells(expected)


def test_figure_strips_match_on_a_log_axis_too() -> None:
    expected = Text.from_ansi(_figure(log_scale=True).build())
    strips = figure_strips(_figure(log_scale=True), Style.null())
    assert [strip.text for strip in strips] == expected.plain.rstrip("\n").split("\n")


def test_figure_strips_put_each_cell_over_the_widget_style() -> None:
    base = Style(bgcolor="grey11", italic=True)
    plain = figure_strips(_figure(), Style.null())
    based = figure_strips(_figure(), base)
    for plain_strip, based_strip in zip(plain, based, strict=True):
        for plain_segment, based_segment in zip(plain_strip, based_strip, strict=True):
            assert based_segment.style == base + plain_segment.style


class _Broken(CachedPlot):
    def draw(self, width: int) -> None:
        raise ValueError("boom")


async def test_a_plotting_error_shows_in_the_panel_and_the_app_stays_up() -> None:
    app = OneWidgetApp(_Broken())
    async with app.run_test(size=(60, 8)) as pilot:
        await pilot.pause()
        assert "chart unavailable: ValueError: boom" in visible_text(app.query_one(_Broken))
        assert app.is_running
