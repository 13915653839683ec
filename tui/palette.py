"""The command palette's entries for an app's key bindings, so the palette and the footer agree."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import partial

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType


def binding_commands(app: App, bindings: Iterable[BindingType]) -> Iterator[SystemCommand]:
    """One palette entry per binding, named by its description and run as its key is; quit is
    left out (Textual's own Quit command calls action_quit)."""
    for binding in bindings:
        assert isinstance(binding, Binding)
        if binding.action == "quit":
            continue
        key = binding.key_display or binding.key
        yield SystemCommand(binding.tooltip or binding.description, f"key: {key}",
                            partial(app.run_action, binding.action))
