"""A PlotextPlot that rebuilds its figure only when its data, size, scale or theme change."""

from __future__ import annotations

from rich.text import Text
from textual.app import RenderResult
from textual_plotext import PlotextPlot

from tui.plotext_text import figure_text


class CachedPlot(PlotextPlot):
    """Subclasses draw into ``self.plt`` in ``draw(width)`` and call ``changed()`` on new data."""

    can_focus = True
    ALLOW_MAXIMIZE = True

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.log_scale = False
        self._version = 0
        self._cache_key: tuple | None = None
        self._cache: Text | None = None

    def changed(self) -> None:
        """New data: the figure is rebuilt on the next render."""
        self._version += 1
        self.refresh()

    def set_log_scale(self, on: bool) -> None:
        self.log_scale = on
        self.refresh()

    def draw(self, width: int) -> None:
        raise NotImplementedError

    def render(self) -> RenderResult:
        width, height = self.size.width, self.size.height
        key = (self._version, width, height, self.log_scale, self.app.theme)
        if key != self._cache_key or self._cache is None:
            try:
                self.plt.clear_figure()
                self.draw(width)
                self._cache = self._build_text(width, height)
            except Exception as exc:  # noqa: BLE001 - a plotting library's bug must not end the app
                self._cache = Text(f"chart unavailable: {type(exc).__name__}: {exc}", "red")
            self._cache_key = key
        return self._cache

    def _build_text(self, width: int, height: int) -> Text:
        """What PlotextPlot.render does, minus the ANSI round trip (see tui.plotext_text)."""
        plot = self.plt
        plot.plotsize(width, height)
        plot._set_size(width, height)  # as textual-plotext does: resizing misbehaves without it
        plot.theme(self._get_plotext_theme_name(self.app.theme))
        return figure_text(plot)
