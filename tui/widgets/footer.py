"""Textual's Footer, rebuilt only when the keys it shows change.

Textual's Footer recomposes (unmounts and mounts every key, then lays out the whole screen)
on every focus change. Moving focus between panels whose keys are all hidden leaves the
footer as it was, so that work only delays the frame the user is waiting for: with a run
training on both cores it was most of a tab press's latency.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self._shown: tuple | None = None

    def shown_keys(self, screen: Screen) -> tuple:
        """What the footer draws: the visible bindings, whether enabled, and their tooltips."""
        return tuple(
            (binding.key, binding.action, binding.description, enabled, tooltip)
            for (_, binding, enabled, tooltip) in screen.active_bindings.values()
            if binding.show
        )

    def bindings_changed(self, screen: Screen) -> None:
        if self._bindings_ready and screen.app.app_focus and screen is self.screen:
            shown = self.shown_keys(screen)
            if shown == self._shown:
                return
            self._shown = shown
        super().bindings_changed(screen)
