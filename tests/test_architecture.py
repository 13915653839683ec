"""The shape of the code: imports go one way, and the engine owns the run directory.

The import graph is read from the source (every import statement, at module level or inside a
function), so a lazy import that closes a cycle counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "tui")
# What only the engine's run directory may touch: the log's, lock's and checkpoint's own
# modules, and the names of its files.
RUNDIR_INTERNALS = ("engine.rundir.log", "engine.rundir.lock", "engine.rundir.checkpoint",
                    "engine.rundir.commands")
RUNDIR_FILE_NAMES = ("config.json", "events.jsonl", "checkpoint.pt", "commands.jsonl", "lock")
CODEC = {("engine.rundir.log", "event_to_json")}  # the events' JSON form, for `watch --json`


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}


def imports(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    """(module, names) for every import in ``path``, relative imports resolved."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, tuple(alias.name for alias in node.names)))
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    edges: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for target, names in imports(path):
            # `from tui.cli import main` imports the module tui.cli.main
            candidates = [f"{target}.{n}" for n in names if f"{target}.{n}" in known] or [target]
            edges[name] |= {c for c in candidates if c in known and c != name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_in_engine_or_tui() -> None:
    edges = graph()
    assert "engine.rundir.directory" in edges["tui.dashboard.sources"]  # lazy imports count too
    assert "tui.cli.main" in edges["tui.cli.__main__"]
    assert cycles(edges) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_engine_never_imports_the_front_ends() -> None:
    for name, path in modules().items():
        if name.startswith("engine"):
            for target, _ in imports(path):
                assert target.split(".")[0] != "tui", f"{name} imports {target}"


def test_front_ends_reach_the_run_directory_only_through_the_engine_s_run_directory() -> None:
    for name, path in modules().items():
        if not name.startswith("tui"):
            continue
        for target, names in imports(path):
            if target in RUNDIR_INTERNALS:
                assert {(target, n) for n in names} <= CODEC, f"{name} imports {names} from {target}"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):  # run_dir / "events.jsonl"
                for side in (node.left, node.right):
                    assert not (isinstance(side, ast.Constant) and side.value in RUNDIR_FILE_NAMES), (
                        f"{name} builds the path of a run directory's {side.value}")


def test_no_class_in_tui_is_over_about_300_lines() -> None:
    for name, path in modules().items():
        if name.startswith("tui"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef):
                    length = node.end_lineno - node.lineno + 1
                    assert length <= 320, f"{name}.{node.name} is {length} lines"


def test_test_files_have_names_of_their_own() -> None:
    # tests/ has no __init__.py files: two test modules of one name in two folders stop pytest
    # collecting either ("import file mismatch").
    names = [path.name for path in (ROOT / "tests").rglob("test_*.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []


def unmutated_functions(path: Path) -> list[str]:
    """The functions in ``path`` that mutmut leaves unmutated: it skips any with a decorator
    but a lone staticmethod or classmethod (mutmut/mutation/file_mutation.py). A property that
    only returns an expression is allowed: there is little in it to get wrong."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or not node.decorator_list:
            continue
        names = [ast.unparse(d) for d in node.decorator_list]
        if names in (["staticmethod"], ["classmethod"]):
            continue
        body = [stmt for stmt in node.body if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))]
        if names == ["property"] and len(body) == 1 and isinstance(body[0], ast.Return):
            continue
        found.append(f"{path.name}:{node.lineno} {node.name} (@{', @'.join(names)})")
    return found


def test_every_function_of_the_mutation_tested_core_can_be_mutated() -> None:
    import tomllib

    core = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]["only_mutate"]
    assert len(core) == 4
    assert [f for name in core for f in unmutated_functions(ROOT / name)] == []


def test_a_decorated_function_is_found_unmutated(tmp_path: Path) -> None:
    source = tmp_path / "core.py"
    source.write_text("import torch\n\n@torch.no_grad()\ndef f():\n    return 1\n\n@staticmethod\ndef g():\n"
                      "    return 2\n\n@property\ndef h(self):\n    'doc'\n    return 3\n")
    assert unmutated_functions(source) == ["core.py:4 f (@torch.no_grad())"]
