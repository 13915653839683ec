"""Draw a widget's Rich Text through Textual's line API, once per refresh."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip


def text_strips(text: Text, width: int, base: Style, console: Console) -> list[Strip]:
    """``text`` laid out at ``width`` (its own wrap and overflow), a strip per line, over
    ``base``, each padded to ``width``."""
    lines = text.split("\n", allow_blank=True)
    if ((not text.no_wrap and any(line.cell_len > width for line in lines))
            or text.justify not in (None, "default", "left") or "\t" in text.plain):  # Rich lays it out
        options = console.options.update(width=width, height=None, highlight=False)
        return [Strip(line, width) for line in console.render_lines(text, options, style=base, pad=True)]
    strips = []
    for line in lines:  # one line each: render it as Rich would, without its layout pass
        if line.cell_len > width:
            line.truncate(width, overflow=line.overflow or "crop")
        segments = Segment.apply_style(line.render(console), base)
        strips.append(Strip(segments, line.cell_len).extend_cell_length(width, base))
    return strips


class TextLines:
    """Mixin for a Widget whose ``render()`` returns Rich Text.

    Textual would convert the Text into its own Content and render that into strips on every
    refresh; for these panels, redrawn with new data every frame, that conversion cost more
    than building the Text. Here Rich lays it out directly, and the strips are kept until the
    next refresh or a change of size or style.
    """

    _text_lines: list[Strip] = []
    _text_lines_key: tuple[Any, ...] | None = None

    def refresh(self, *regions: Any, **kwargs: Any) -> Any:
        self._text_lines_key = None
        return super().refresh(*regions, **kwargs)  # type: ignore[misc]

    def render_line(self, y: int) -> Strip:
        width, height = self.size  # type: ignore[attr-defined]
        base = self.visual_style.rich_style  # type: ignore[attr-defined]
        key = (width, height, base)
        if key != self._text_lines_key:
            text = self.render()  # type: ignore[attr-defined]
            if not isinstance(text, Text):
                text = Text(str(text))
            self._text_lines = text_strips(text, max(width, 1), base, self.app.console)[:height]  # type: ignore[attr-defined]
            self._text_lines_key = key
        lines = self._text_lines
        return lines[y] if y < len(lines) else Strip.blank(width, base)
