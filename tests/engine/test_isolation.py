"""The engine stands alone: importing it loads no terminal-UI library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UI_PACKAGES = {"textual", "rich", "plotext", "textual_plotext"}

CHECK = f"""
import pkgutil, sys
import engine
for module in pkgutil.walk_packages(engine.__path__, "engine."):
    __import__(module.name)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {UI_PACKAGES!r})
assert not loaded, loaded
print("ok", len([m for m in sys.modules if m.startswith("engine.")]))
"""


def test_importing_every_engine_module_loads_no_ui_library():
    result = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")


def test_the_engine_never_names_a_ui_library_in_its_source():
    for path in (ROOT / "engine").rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                assert words[1].split(".")[0] not in UI_PACKAGES | {"tui"}, f"{path.name}: {line}"
