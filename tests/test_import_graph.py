"""The packages depend one way: zkmargin ← prover, verifier ← chain ← cli.

Reads every module's imports from its source (``ast``, nothing is executed) and fails on any
edge, even a lazy one inside a function, that points against the order, on ``verifier``
importing ``prover`` (the off-chain verifier stays independent of the code it checks), on
anything importing ``cli``, on a cycle between packages, and on a cycle between modules
through the imports that run when a module loads.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# package -> the packages it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "zkmargin": set(),
    "prover": {"zkmargin"},
    "verifier": {"zkmargin"},
    "chain": {"zkmargin", "prover", "verifier"},
    "cli": {"zkmargin", "prover", "verifier", "chain"},
}
PACKAGES = set(ALLOWED)


def modules() -> Iterator[tuple[str, Path]]:
    for package in sorted(PACKAGES):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


def _type_checking_block(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return isinstance(test, ast.Name | ast.Attribute) and ast.unparse(test).endswith(
        "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, *, import_time_only: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements; with ``import_time_only``, only those that run when the module
    loads (not inside functions, not in ``if TYPE_CHECKING:`` blocks)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif import_time_only and (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            or _type_checking_block(node)
        ):
            continue
        else:
            yield from _imports(node, import_time_only=import_time_only)


def imported(module: str, path: Path, *, import_time_only: bool = False) -> set[str]:
    """Absolute names of the project modules that ``module`` imports."""
    found: set[str] = set()
    tree = ast.parse(path.read_text(), str(path))
    for node in _imports(tree, import_time_only=import_time_only):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        else:
            if node.level:
                base = module.split(".")
                if path.name != "__init__.py":
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            # `from pkg import x` imports the module pkg.x when there is one, else pkg
            found.update(
                f"{name}.{alias.name}" if f"{name}.{alias.name}" in MODULES else name
                for alias in node.names
            )
    return {name for name in found if name.split(".")[0] in PACKAGES}


MODULES = dict(modules())


def graph(*, import_time_only: bool = False) -> dict[str, set[str]]:
    mods = MODULES
    edges: dict[str, set[str]] = {}
    for module, path in mods.items():
        targets = set()
        for name in imported(module, path, import_time_only=import_time_only):
            while name not in mods and "." in name:
                name = name.rsplit(".", 1)[0]
            if name in mods and name != module:
                targets.add(name)
        edges[module] = targets
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def package_edges() -> set[tuple[str, str]]:
    return {
        (src.split(".")[0], dst.split(".")[0])
        for src, targets in graph().items()
        for dst in targets
        if src.split(".")[0] != dst.split(".")[0]
    }


def test_packages_depend_one_way() -> None:
    wrong = sorted((a, b) for a, b in package_edges() if b not in ALLOWED[a])
    assert not wrong, f"imports against the layering: {wrong}"


def test_no_module_cycle() -> None:
    """No cycle among the imports that run at load time. A method may import a module of
    its own package lazily (``Prover.prove_many`` uses ``prover.batch``, which builds on
    ``Prover``); across packages even lazy imports must follow the layering (above)."""
    edges = graph(import_time_only=True)
    assert find_cycle(edges) is None, f"import cycle: {' -> '.join(find_cycle(edges) or [])}"


def test_no_package_cycle() -> None:
    edges: dict[str, set[str]] = {p: set() for p in PACKAGES}
    for a, b in package_edges():
        edges[a].add(b)
    assert find_cycle(edges) is None


def test_the_checker_sees_a_violation() -> None:
    """The checker is not vacuous: it finds the real edges, and a forbidden one would show."""
    edges = package_edges()
    assert ("cli", "chain") in edges and ("chain", "zkmargin") in edges
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    lazy = ast.parse(
        "import typing\nif typing.TYPE_CHECKING:\n    import a\ndef f():\n    import b\n"
    )
    assert [n.names[0].name for n in _imports(lazy, import_time_only=True)] == ["typing"]
    assert len(list(_imports(lazy, import_time_only=False))) == 3


@pytest.mark.parametrize("package", sorted(PACKAGES - {"cli"}))
def test_nothing_imports_the_cli(package: str) -> None:
    assert not any(b == "cli" for a, b in package_edges() if a == package)
