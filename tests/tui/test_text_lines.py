"""Panels drawn through the line API lay their Text out exactly as Rich would, once per change."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from tests.tui.helpers import OneWidgetApp
from tui.widgets.text_lines import TextLines, text_strips

CONSOLE = Console(color_system="truecolor", width=200, legacy_windows=False)
STYLES = ("", "bold", "dim", "red on blue", "reverse", "bold yellow", "italic #336699")
BASES = (Style.null(), Style(bgcolor="grey11"), Style(color="white", bgcolor="#102030", bold=True))

pieces = st.lists(st.tuples(st.text(st.sampled_from("ab xyz·█▌é世\n"), max_size=12), st.sampled_from(STYLES)),
                  max_size=8)


def _text(parts: list[tuple[str, str]], no_wrap: bool, overflow: str | None) -> Text:
    text = Text(no_wrap=no_wrap, overflow=overflow)  # type: ignore[arg-type]
    for chars, style in parts:
        text.append(chars, style)
    return text


def _cells(lines) -> list[list[tuple[str, Style | None]]]:  # noqa: ANN001
    return [[(char, segment.style) for segment in line for char in segment.text] for line in lines]


@settings(max_examples=300, deadline=None)
@given(parts=pieces, width=st.integers(1, 30), no_wrap=st.booleans(),
       overflow=st.sampled_from([None, "crop", "ellipsis", "fold"]), base=st.sampled_from(BASES))
def test_text_strips_match_rich_layout_cell_for_cell(parts, width, no_wrap, overflow, base) -> None:
    text = _text(parts, no_wrap, overflow)
    expected = CONSOLE.render_lines(text.copy(), CONSOLE.options.update(width=width, height=None, highlight=False),
                                    style=base, pad=True)
    strips = text_strips(text, width, base, CONSOLE)
    assert [strip.cell_length for strip in strips] == [width] * len(expected)
    assert [[(c, s or Style.null()) for c, s in line] for line in _cells(strips)] == \
           [[(c, s or Style.null()) for c, s in line] for line in _cells(expected)]


class Counted(TextLines, Widget):
    def __init__(self) -> None:
        super().__init__()
        self.message = "first"
        self.renders = 0

    def render(self) -> Text:
        self.renders += 1
        return Text(self.message, no_wrap=True)


async def test_a_panel_lays_its_text_out_once_per_refresh_and_shows_the_new_text() -> None:
    app = OneWidgetApp(Counted())
    async with app.run_test(size=(30, 6)) as pilot:
        widget = app.query_one(Counted)
        await pilot.pause()
        before = widget.renders
        for y in range(5):  # the compositor asking for every line, again and again
            widget.render_line(y)
        assert widget.renders == before
        widget.message = "second"
        widget.refresh()
        await pilot.pause()
        assert widget.renders == before + 1
        assert "second" in widget.render_line(0).text
