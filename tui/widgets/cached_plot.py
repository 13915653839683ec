"""A plotext chart that rebuilds its figure only when its data, size, scale or theme change.

What textual-plotext's PlotextPlot widget does, without loading plotext before the chart is
first drawn: plotext and textual-plotext take a good share of the dashboard's start-up, and a
chart that waits (``deferred``, the dashboard's first frame) shows its border and title alone.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from tui.widgets.text_lines import text_strips

if TYPE_CHECKING:
    from textual_plotext import Plot


class CachedPlot(Widget):
    """Subclasses draw into ``self.plt`` in ``draw(width)`` and call ``changed()`` on new data.

    Drawn through Textual's line API: the figure's cells go straight into strips, cached
    until the next change (see tui.plotext_text for why not through Rich Text).
    """

    DEFAULT_CSS = """
    CachedPlot {
        width: 1fr;
        height: 1fr;
    }
    """

    can_focus = True
    ALLOW_MAXIMIZE = True
    # As PlotextPlot's: "auto" follows the app's Textual theme; else a plotext theme's name.
    theme: reactive[str] = reactive("auto")

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.log_scale = False
        self.deferred = False  # True: nothing drawn (nor plotext loaded) until it is set False
        self._plot: Plot | None = None
        self._version = 0
        self._cache_key: tuple | None = None
        self._strips: list[Strip] = []
        self.built_at = 0.0  # time.perf_counter() when the figure was last rebuilt (for the bench)

    def on_mount(self) -> None:
        # A new theme is a new cache key: the figure is rebuilt in its colours on the next render.
        self.app.theme_changed_signal.subscribe(self, lambda theme: self.refresh())

    @property
    def plt(self) -> Plot:
        """The plotext figure to draw into (textual-plotext's Plot: plotext without its global state)."""
        if self._plot is None:
            from textual_plotext import Plot

            self._plot = Plot()
        return self._plot

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
        if self.deferred:
            return Strip.blank(width, base)
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
        from tui.plotext_text import figure_strips

        plot = self.plt
        plot.plotsize(width, height)
        plot._set_size(width, height)  # as textual-plotext does: resizing misbehaves without it
        plot.theme(self._plotext_theme(self.app.theme))
        return figure_strips(plot, base)

    def _plotext_theme(self, app_theme: str) -> str:
        """The plotext theme to draw in: with "auto", one made from the app's theme (its
        surface as the background, its foreground as the text), registered with plotext as
        PlotextPlot registers it."""
        if self.theme != "auto":
            return self.theme
        from plotext._dict import themes
        from textual_plotext.plot import _rgbify_theme, _sequence

        name = f"textual-auto-{app_theme}"
        if name not in themes:
            variables = self.app.theme_variables
            surface = Color.parse(variables.get("surface")).rgb
            themes[name] = _rgbify_theme(surface, surface, Color.parse(variables.get("foreground")).rgb,
                                         "default", _sequence)
        return name
