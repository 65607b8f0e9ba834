"""The house keeps its shape: no import cycles, and the pure layers import nothing that touches the world.

Every module under daemon/coachd is parsed with `ast`; every import counts, at module level, inside
functions and under `if TYPE_CHECKING:` alike (a cycle that only types see still ties two modules
together, and a deferred import is still a dependency).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

SOURCE_ROOT = Path(__file__).resolve().parents[2] / "daemon"
PACKAGE = "coachd"

# The layers that decide and describe, and the ones that touch the world (DESIGN.md section 3).
PURE = ("coachd.model", "coachd.plan", "coachd.replies",
        *(f"coachd.reporting.{name}" for name in ("figures", "figures_people", "program_index", "survey",
                                                   "privacy", "action_items", "charts")))
WORLD = ("coachd.observe", "coachd.execute", "coachd.runtime", "coachd.store", "coachd.providers")
# Every layer reads the config, and the config names each provider's own options section: what the
# config imports is not counted against the modules that read it.
NOT_FOLLOWED = ("coachd.config",)


def module_files(root: Path = SOURCE_ROOT, package: str = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (a package is its __init__)."""
    found: dict[str, Path] = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imported(module: str, is_package: bool, tree: ast.AST) -> Iterable[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every import statement anywhere in the tree."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importing module's package
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            yield base, [alias.name for alias in node.names]


def import_graph(files: Mapping[str, Path]) -> dict[str, set[str]]:
    """Module -> the package's own modules it imports (`from pkg import mod` counts as importing pkg.mod)."""
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets: set[str] = set()
        for base, names in _imported(module, path.name == "__init__.py", tree):
            submodules = [f"{base}.{name}" for name in names if f"{base}.{name}" in files]
            if submodules:
                targets.update(submodules)
            if base in files and (not names or len(submodules) < len(names)):  # names of the module itself
                targets.add(base)
        targets.discard(module)
        graph[module] = targets
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """One cycle (a -> b -> ... -> a) through each group of modules that import each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(group, graph) for group in groups]


def _cycle_in(group: set[str], graph: Mapping[str, set[str]]) -> list[str]:
    """A shortest path from the group's first module back to itself, inside the group."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & group):
                if nxt == start:
                    return paths[node] + [start]
                if nxt not in paths:
                    paths[nxt] = paths[node] + [nxt]
                    following.append(nxt)
        frontier = following
    return sorted(group)  # unreachable: a strongly connected group always closes


def _within(module: str, prefixes: Iterable[str]) -> str | None:
    return next((p for p in prefixes if module == p or module.startswith(p + ".")), None)


def layer_breaches(graph: Mapping[str, set[str]], pure: Iterable[str] = PURE, world: Iterable[str] = WORLD,
                   not_followed: Iterable[str] = NOT_FOLLOWED) -> list[str]:
    """Every pure module that reaches a world module, directly or through other modules (not through
    `not_followed`), with the path."""
    pure, world, not_followed = tuple(pure), tuple(world), tuple(not_followed)
    breaches = []
    for module in sorted(graph):
        if not _within(module, pure):
            continue
        paths = {module: [module]}
        frontier = [module]
        while frontier:  # breadth first: the shortest path is the one to show
            following = []
            for node in frontier:
                for nxt in sorted(graph[node]):
                    if nxt in paths:
                        continue
                    paths[nxt] = paths[node] + [nxt]
                    if _within(nxt, world):
                        breaches.append(" -> ".join(paths[nxt]))
                    elif not _within(nxt, not_followed):
                        following.append(nxt)
            frontier = following
    return breaches


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(module_files())


def test_the_walk_sees_every_module_and_its_deferred_imports(graph: dict[str, set[str]]) -> None:
    """The checks below are only as good as the graph: it holds the subpackages and a function-level import."""
    assert {"coachd.model", "coachd.plan.planner", "coachd.reporting.figures", "coachd.runtime.jobs"} <= set(graph)
    assert "coachd.plan.planner" in graph["coachd.reporting.figures"]


def test_no_import_cycles(graph: dict[str, set[str]]) -> None:
    found = cycles(graph)
    assert not found, "modules that import each other:\n" + "\n".join(" -> ".join(c) for c in found)


def test_pure_layers_import_nothing_that_touches_the_world(graph: dict[str, set[str]]) -> None:
    breaches = layer_breaches(graph)
    assert not breaches, "pure layers reaching observe/execute/runtime/store/providers:\n" + "\n".join(breaches)


def test_a_cycle_is_found_and_named(tmp_path: Path) -> None:
    """A function-level import that closes a loop is a cycle, shown as the modules it runs through."""
    package = tmp_path / "coachd"
    (package / "reporting").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "reporting" / "__init__.py").write_text("")
    (package / "reporting" / "a.py").write_text("from coachd.reporting import b\n")
    (package / "reporting" / "b.py").write_text("def f():\n    from .a import thing\n")
    found = cycles(import_graph(module_files(tmp_path)))
    assert found == [["coachd.reporting.a", "coachd.reporting.b", "coachd.reporting.a"]]


def test_a_pure_module_reaching_the_store_is_a_breach(tmp_path: Path) -> None:
    package = tmp_path / "coachd"
    for sub in ("plan", "model", "store", "config", "providers"):
        (package / sub).mkdir(parents=True)
        (package / sub / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "plan" / "planner.py").write_text("from coachd.model.types import X\n")
    (package / "model" / "types.py").write_text("import typing\nif typing.TYPE_CHECKING:\n"
                                                 "    from coachd.store.db import Store\n")
    (package / "store" / "db.py").write_text("")
    (package / "plan" / "series.py").write_text("from coachd.config import ProgramConfig\n")
    (package / "config" / "__init__.py").write_text("from coachd.providers.registry import sections\n")
    (package / "providers" / "registry.py").write_text("")
    breaches = layer_breaches(import_graph(module_files(tmp_path)))
    # The config's own imports are not followed; the store reached through a pure module is, from both.
    assert breaches == ["coachd.model.types -> coachd.store.db",
                        "coachd.plan.planner -> coachd.model.types -> coachd.store.db"]
