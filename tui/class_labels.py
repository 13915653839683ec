"""Short labels for a run's classes: what a heatmap's input row, a table's probabilities and a
legend call each class where its name does not fit. The one owner of that rule.

Each class gets its shortest prefix that no other class's name starts with (Sunny, Rainy,
Cloudy: S, R, C); a class whose prefix needs more than ``width`` cells (sun beside snow at one
cell) gets another short label no other class has: its first letter and a later one, a letter
of its name (then in the other case), then a digit or letter of its own. Labels stay unique with ``--ascii`` on too (the
filter turns é and è both into ?): no two share their ASCII form (tui/ascii.py).
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Iterator, Sequence

from rich.cells import cell_len

# The last resort for a one-cell label: 64 and more characters, as many as a run may have classes.
SPARE = string.digits + string.ascii_lowercase + string.ascii_uppercase + "$&%+=@^~!"


def _ascii(label: str) -> str:
    if label.isascii():
        return label
    from tui.ascii import ascii_text  # only for a name outside ASCII: textual need not load otherwise

    return ascii_text(label)


def _shortest_unique_prefix(name: str, others: Sequence[str]) -> str:
    """``name``'s shortest prefix that no name of ``others`` starts with (all of it when it is the
    start of another name)."""
    for n in range(1, len(name) + 1):
        if not any(other.startswith(name[:n]) for other in others):
            return name[:n]
    return name


def _candidates(name: str, width: int) -> Iterator[str]:
    """Labels to try for a class whose prefix does not fit, best first."""
    if width >= 2 and name:
        yield from (name[0] + later for later in name[1:])
        yield from (name[0] + digit for digit in string.digits[1:])
    yield from name
    yield from name.swapcase()
    yield from SPARE


def short_labels(names: Sequence[str], width: int = 1) -> tuple[str, ...]:
    """One label per name, in order, each at most ``width`` cells (``width`` >= 1) and no two alike,
    nor alike once made ASCII. Only past len(SPARE) classes at one cell may a label be wider: the
    class's number."""
    if width < 1:
        raise ValueError("width must be at least 1")
    # Whitespace shows as nothing: labels come from the names without it.
    squeezed = ["".join(name.split()) for name in names]
    labels: list[str | None] = [None] * len(names)
    taken: set[str] = set()
    for i, name in enumerate(squeezed):
        prefix = _shortest_unique_prefix(name, squeezed[:i] + squeezed[i + 1:])
        if prefix and cell_len(prefix) <= width and _ascii(prefix) not in taken:
            labels[i] = prefix
            taken |= {prefix, _ascii(prefix)}
    for i, name in enumerate(squeezed):
        if labels[i] is not None:
            continue
        fits = (c for c in _candidates(name, width) if cell_len(c) <= width and c.isprintable())
        numbers = (str(n) for n in itertools.count(i))  # wider than asked, but unique
        label = next(c for c in itertools.chain(fits, numbers) if c not in taken and _ascii(c) not in taken)
        labels[i] = label
        taken |= {label, _ascii(label)}
    return tuple(str(label) for label in labels)
