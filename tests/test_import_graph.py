"""No import cycle among the modules of ``captum_ifim`` and of ``comparisons``.

The graph is read from the source with ``ast`` (nothing is imported): one node per module,
an edge for every ``import`` and ``from ... import`` naming a module of the two packages,
at any depth (function-level and ``TYPE_CHECKING`` imports count). ``from pkg import name``
is an edge to ``pkg.name`` when that is a module and to ``pkg`` (its ``__init__``) otherwise.
Parent packages that Python initialises on the way are not edges.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("captum_ifim", "comparisons")


def module_names(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Module name -> source file, for every ``.py`` file of ``packages`` under ``root``."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of a (possibly relative) ``from`` import in ``module``."""
    if level == 0:
        return target or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def import_graph(root: Path, packages: Iterable[str]) -> dict[str, set[str]]:
    """Module -> the modules of ``packages`` it imports."""
    modules = module_names(root, packages)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = _resolve(name, is_package, node.level, node.module)
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    targets.append(submodule if submodule in modules else source)
            graph[name].update(target for target in targets if target in modules)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module, or a self-import
    (Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(ROOT, PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle(graph: dict[str, set[str]], package: str) -> None:
    inside = [c for c in cycles(graph) if any(m.split(".")[0] == package for m in c)]
    assert not inside, f"import cycles in {package}: {inside}"


def test_the_library_never_imports_the_harness(graph: dict[str, set[str]]) -> None:
    offending = {
        module: sorted(t for t in targets if t.split(".")[0] == "comparisons")
        for module, targets in graph.items()
        if module.split(".")[0] == "captum_ifim"
    }
    assert not {m: t for m, t in offending.items() if t}


def test_the_graph_sees_the_library_layout(graph: dict[str, set[str]]) -> None:
    """A sanity check of the reader itself on edges known to exist."""
    assert "captum_ifim._methods._registry" in graph["captum_ifim.methods"]
    assert "captum_ifim._ifim._output_heads" in graph["captum_ifim.metrics._predictive"]
    assert "captum_ifim._captum_compat" in graph["captum_ifim._ifim._decomposition"]


def test_the_reader_finds_cycles_through_function_level_and_relative_imports(
    tmp_path: Path,
) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from pkg.a import A\n")
    (package / "a.py").write_text("A = 1\n\ndef f():\n    from .sub import b\n    return b\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "b.py").write_text("from .. import a\n")
    (package / "c.py").write_text("import pkg.sub.b\n")
    graph = import_graph(tmp_path, ["pkg"])
    assert graph["pkg"] == {"pkg.a"}
    assert graph["pkg.a"] == {"pkg.sub.b"}
    assert graph["pkg.sub.b"] == {"pkg.a"}
    assert graph["pkg.c"] == {"pkg.sub.b"}
    assert cycles(graph) == [["pkg.a", "pkg.sub.b"]]
    (package / "sub" / "b.py").write_text("from pkg import sub\n")
    assert cycles(import_graph(tmp_path, ["pkg"])) == []
