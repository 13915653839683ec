"""Small history charts of the machine's figures, like nvitop's: toggled with `y`."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget

from tui.dashboard.system import SystemSample, format_bytes

# (id, label, value of a sample or None when it has none, its text)
FIGURES = (
    ("cpu", "CPU", lambda s: s.cpu_percent, lambda v: f"{v:.0f}%"),
    ("rss", "memory", lambda s: s.rss, format_bytes),
    ("gpu-util", "GPU", lambda s: s.gpu.utilisation if s.gpu else None, lambda v: f"{v:.0f}%"),
    ("gpu-mem", "GPU memory", lambda s: s.gpu.memory_used if s.gpu else None, format_bytes),
)


class SystemPane(Widget):
    """One sparkline per figure over the last samples, with the latest value beside it.

    Its rows are made when it is first shown: hidden (as it starts unless asked for), they
    were half the dashboard's widgets for Textual to style before its first frame.
    """

    def compose(self) -> ComposeResult:
        return []

    def _rows(self) -> None:
        """Mount the rows, if they are not there yet."""
        if self.children:
            return
        from textual.widgets import Label, Sparkline  # with the rows: not in the first frame

        for key, label, _, _ in FIGURES:
            row = Horizontal(id=f"system-{key}", classes="system-row")
            self.mount(row)  # in the DOM at once (its mount event comes later): its own mount can follow
            row.mount(Label(label, classes="system-label"), Sparkline([], id=f"spark-{key}", classes="system-spark"),
                      Label("–", id=f"value-{key}", classes="system-value"))

    def show(self, samples: Sequence[SystemSample]) -> None:
        from textual.widgets import Label, Sparkline

        self._rows()
        for key, _, value_of, text_of in FIGURES:
            values = [v for v in (value_of(s) for s in samples) if v is not None]
            row = self.query_one(f"#system-{key}")
            row.display = bool(values) or not key.startswith("gpu")  # no GPU rows without a GPU
            self.query_one(f"#spark-{key}", Sparkline).data = [float(v) for v in values]
            self.query_one(f"#value-{key}", Label).update(text_of(values[-1]) if values else "–")
        self.border_subtitle = f"last {len(samples)} s" if samples else ""
        self.border_title = "system · this process" + (" and its GPU" if samples and samples[-1].gpu else "")
