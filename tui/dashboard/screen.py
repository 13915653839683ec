"""The dashboard's screen: Textual's Screen, minus a full repaint on every focus change."""

from __future__ import annotations

from textual.reactive import Reactive
from textual.screen import Screen
from textual.widget import Widget


class DashboardScreen(Screen):
    """Textual repaints the whole screen when focus moves; here only the two panels whose
    border changes repaint (they restyle themselves). With training on both cores, the full
    repaint was most of the delay between tab and the frame that shows it."""

    focused: Reactive[Widget | None] = Reactive(None, repaint=False)
