"""A PlotextPlot that rebuilds its figure only when its data, size, scale or theme change."""

from __future__ import annotations

import time

from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual_plotext import PlotextPlot

from tui.plotext_text import figure_strips
from tui.widgets.text_lines import text_strips


class CachedPlot(PlotextPlot):
    """Subclasses draw into ``self.plt`` in ``draw(width)`` and call ``changed()`` on new data.

    Drawn through Textual's line API: the figure's cells go straight into strips, cached
    until the next change (see tui.plotext_text for why not through Rich Text).
    """

    can_focus = True
    ALLOW_MAXIMIZE = True

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.log_scale = False
        self._version = 0
        self._cache_key: tuple | None = None
        self._strips: list[Strip] = []
        self.built_at = 0.0  # time.perf_counter() when the figure was last rebuilt (for the bench)

    def changed(self) -> None:
        """New data: the figure is rebuilt on the next render."""
        self._version += 1
        self.refresh()

    def set_log_scale(self, on: bool) -> None:
        self.log_scale = on
        self.refresh()

    def draw(self, width: int) -> None:
        raise NotImplementedError

    @property
    def drawn_lines(self) -> list[str]:
        """The chart as last drawn, a string per row."""
        return [strip.text for strip in self._strips]

    def render_line(self, y: int) -> Strip:
        width, height = self.size.width, self.size.height
        base = self.visual_style.rich_style
        key = (self._version, width, height, self.log_scale, self.app.theme, base)
        if key != self._cache_key:
            try:
                self.plt.clear_figure()
                self.draw(width)
                strips = self._build_strips(width, height, base)
            except Exception as exc:  # noqa: BLE001 - a plotting library's bug must not end the app
                message = Text(f"chart unavailable: {type(exc).__name__}: {exc}", "red")
                strips = text_strips(message, max(width, 1), base, self.app.console)
            self._strips = [strip.crop_extend(0, width, base) for strip in strips[:height]]
            self._cache_key = key
            self.built_at = time.perf_counter()
        return self._strips[y] if y < len(self._strips) else Strip.blank(width, base)

    def _build_strips(self, width: int, height: int, base: Style) -> list[Strip]:
        """What PlotextPlot.render does, minus the ANSI round trip (see tui.plotext_text)."""
        plot = self.plt
        plot.plotsize(width, height)
        plot._set_size(width, height)  # as textual-plotext does: resizing misbehaves without it
        plot.theme(self._get_plotext_theme_name(self.app.theme))
        return figure_strips(plot, base)
