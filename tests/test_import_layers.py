"""The package's imports run downward only and form no circle.

Every ``import`` of the package, at module level or inside a function, is read with ``ast`` from the
source (no module is imported).  :data:`LAYERS` lists the floors from the top (the command line) to
the bottom (modules that import nothing of the package); a module may import from its own floor or
any floor below, never from one above, and the module graph has no cycle (a function-level import
closes a circle as surely as a top-level one; importing one's own package counts).  A new module
must be given a floor here, which is the moment to ask where it belongs.

Each check is shown to reject a broken graph (a synthetic package with a circle, an upward edge).
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "islp_ch10"

# Top floor first.  A subpackage (data, reference, testing) is one unit for the floors; inside it
# only the no-circle rule applies.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__main__",),
    ("cli",),
    ("sweep", "reproduce", "claims_table", "data_commands", "benchmarking", "testing"),
    ("outdir",),
    ("report", "experiments"),
    ("lab_defaults", "double_descent", "pretrained"),
    ("training", "models", "solvers", "errors"),
    ("data", "schemas"),
    ("claims", "threads", "machine", "fileio", "reference", "__init__"),
    ("judge",),
)


# ----------------------------------------------------------------------------- reading the graph
def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def import_graph(root: Path) -> dict[str, set[str]]:
    """``{module: modules of the package it imports}`` for every ``.py`` file under ``root``."""
    files = {_module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    top = root.name
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if _is_package(path) else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets.add(base)
                targets.update(f"{base}.{a.name}" for a in node.names)  # `from pkg import submodule`
        graph[name] = {t for t in targets if t in files and t != name and t.split(".")[0] == top}
    return graph


@functools.cache
def package_graph() -> dict[str, set[str]]:
    """The package's import graph, read once per test process (the tests only read it)."""
    return import_graph(PACKAGE)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of the graph as ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 finished
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def floor_of(module: str, layers=LAYERS, top: str = "islp_ch10") -> int | None:
    """The floor index of ``module`` (0 = top), by its first name under the package."""
    rest = module.split(".")[1:] if module != top else ["__init__"]
    unit = rest[0] if rest else "__init__"
    return next((i for i, floor in enumerate(layers) if unit in floor), None)


def upward_edges(graph: dict[str, set[str]], layers=LAYERS, top: str = "islp_ch10") -> list[str]:
    """Every import from a lower floor to a higher one, as ``"a -> b"``."""
    bad = []
    for src, targets in graph.items():
        for dst in targets:
            s, d = floor_of(src, layers, top), floor_of(dst, layers, top)
            if s is not None and d is not None and d < s:
                bad.append(f"{src} -> {dst}")
    return sorted(bad)


# ----------------------------------------------------------------------------- the package
def test_every_module_has_a_floor():
    unplaced = sorted(m for m in package_graph() if floor_of(m) is None)
    assert not unplaced, f"give these modules a floor in LAYERS (tests/test_import_layers.py): {unplaced}"


def test_no_import_runs_upward():
    assert upward_edges(package_graph()) == []


def test_no_circle_in_the_package():
    assert find_cycle(package_graph()) is None


def test_the_graph_sees_function_level_and_relative_imports():
    graph = package_graph()
    assert "islp_ch10.experiments" in graph["islp_ch10.cli"]  # imported inside cmd_reproduce
    assert "islp_ch10.data._core" in graph["islp_ch10.data"]  # `from ._core import ...`
    assert "islp_ch10.fileio" in graph["islp_ch10.report"]


# ----------------------------------------------------------------------------- broken variants
def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_circle_through_a_function_level_import_is_found(tmp_path):
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "low.py": "def f():\n    from pkg import high\n",
            "high.py": "from pkg.low import f\n",
        },
    )
    assert find_cycle(import_graph(root)) in (
        ["pkg.high", "pkg.low", "pkg.high"],
        ["pkg.low", "pkg.high", "pkg.low"],
    )


def test_a_subpackage_importing_itself_is_a_circle(tmp_path):
    # data/_core.py once imported its own package so that tests could patch `fetch` there
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "data/__init__.py": "from ._core import fetch\n",
            "data/_core.py": "def fetch(): ...\ndef get():\n    import pkg.data as p\n    return p.fetch\n",
        },
    )
    assert find_cycle(import_graph(root)) == ["pkg.data", "pkg.data._core", "pkg.data"]


def test_an_upward_import_is_reported(tmp_path):
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "cli.py": "from pkg import data\n",
            "data/__init__.py": "",
            "data/__main__.py": "from pkg.cli import main\n",
        },
    )
    layers = (("cli",), ("data",), ("__init__",))
    assert upward_edges(import_graph(root), layers, top="pkg") == ["pkg.data.__main__ -> pkg.cli"]
    assert find_cycle(import_graph(root)) is None  # no circle: only the floors catch this one


def test_an_acyclic_downward_package_passes(tmp_path):
    root = _package(tmp_path, {"__init__.py": "", "cli.py": "from . import data\n", "data/__init__.py": ""})
    layers = (("cli",), ("data",), ("__init__",))
    assert find_cycle(import_graph(root)) is None
    assert upward_edges(import_graph(root), layers, top="pkg") == []
