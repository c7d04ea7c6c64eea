"""Import hygiene of the xpnet package, read statically from the source (issue 11).

Every import counts: module level and inside functions, absolute and relative, and
``importlib.import_module("...")`` with a literal name. Imports under ``if TYPE_CHECKING:`` never
run, so they are left out. Checked: nothing imports the command line, the import graph has no
cycle, the math modules import no array library, no module is over 400 lines, and no backend
carries an ``inplace`` switch.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import xpnet

PACKAGE = Path(xpnet.__file__).resolve().parent
MATH_MODULES = ("layers", "activations", "losses", "network", "clipping", "optim", "training")
ARRAY_LIBRARIES = {"numpy", "cupy", "torch", "array_api_strict", "jax"}
MAX_LINES = 400


@dataclass(frozen=True)
class Import:
    """One import statement: the dotted names it may load (most specific first) and where it is."""

    names: tuple[str, ...]
    lineno: int


def module_name(path: Path) -> str:
    """``xpnet/tune/study.py`` -> ``xpnet.tune.study``; ``xpnet/tune/__init__.py`` -> ``xpnet.tune``."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Imports(ast.NodeVisitor):
    """Collects the imports of one module, resolving relative ones against its package."""

    def __init__(self, name: str, is_package: bool):
        self.package = name if is_package else name.rpartition(".")[0]
        self.found: list[Import] = []

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
            return
        for child in node.orelse:
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        self.found.extend(Import((alias.name,), node.lineno) for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            parts = self.package.split(".")
            anchor = ".".join(parts[: len(parts) - node.level + 1])
            base = f"{anchor}.{base}" if base else anchor
        # `from a import b` loads a.b when that is a module, else takes name b from a
        self.found.extend(Import((f"{base}.{alias.name}", base), node.lineno) for alias in node.names)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        first = node.args[0] if node.args else None
        if called in ("import_module", "__import__") and isinstance(first, ast.Constant):
            if isinstance(first.value, str) and not first.value.startswith("."):
                self.found.append(Import((first.value,), node.lineno))
        self.generic_visit(node)


def imports_of(name: str) -> list[Import]:
    """Every import in module ``name`` (a key of MODULES)."""
    path = MODULES[name]
    visitor = _Imports(name, path.name == "__init__.py")
    visitor.visit(ast.parse(path.read_text(), filename=str(path)))
    return visitor.found


def resolve(imp: Import) -> str | None:
    """The xpnet module an import loads (the most specific one that exists), or None if outside xpnet."""
    for candidate in imp.names:
        while candidate:
            if candidate in MODULES:
                return candidate
            candidate = candidate.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    """Module -> the xpnet modules it imports (self-imports of a package's own names dropped)."""
    graph = {}
    for name in MODULES:
        targets = {resolve(imp) for imp in imports_of(name)}
        graph[name] = {t for t in targets if t is not None and t != name}
    return graph


def _in_cli(name: str) -> bool:
    return name == "xpnet.cli" or name.startswith("xpnet.cli.")


def test_the_library_never_imports_the_command_line():
    """cli imports the library, never the reverse (``python -m xpnet`` is the command line too)."""
    offenders = [
        f"{MODULES[name].relative_to(PACKAGE.parent)}:{imp.lineno} imports {resolve(imp)}"
        for name in MODULES
        if not _in_cli(name) and name != "xpnet.__main__"
        for imp in imports_of(name)
        if resolve(imp) is not None and _in_cli(resolve(imp))
    ]
    assert not offenders, "the library imports xpnet.cli:\n" + "\n".join(offenders)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of ``graph`` (each a list of nodes)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def cycle_through(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest import cycle inside one strongly connected component, as a path that returns to its start."""
    start, members = min(component), set(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for succ in sorted(graph[node] & members):
                if succ == start:
                    return [*paths[node], start]
                if succ not in paths:
                    paths[succ] = [*paths[node], succ]
                    nxt.append(succ)
        frontier = nxt
    raise AssertionError(f"{component} is not a cycle")


def test_no_import_cycle():
    """The static import graph of xpnet/ (function-level imports included) is acyclic."""
    graph = import_graph()
    cycles = [cycle_through(graph, c) for c in strongly_connected(graph) if len(c) > 1]
    assert not cycles, "import cycles in xpnet/:\n" + "\n".join(" -> ".join(c) for c in sorted(cycles))


def _math_files() -> list[str]:
    """The math modules, each a module or a package of them."""
    return sorted(
        name
        for name in MODULES
        for math in MATH_MODULES
        if name == f"xpnet.{math}" or name.startswith(f"xpnet.{math}.")
    )


@pytest.mark.parametrize("name", _math_files())
def test_math_modules_import_no_array_library(name):
    """The math is written against the backend's namespace: no numpy, cupy, torch, strict or jax."""
    found = [
        f"line {imp.lineno}: {imp.names[-1]}"
        for imp in imports_of(name)
        if imp.names[-1].split(".")[0] in ARRAY_LIBRARIES
    ]
    assert not found, f"{name} imports an array library: " + "; ".join(found)


def test_every_math_module_is_checked():
    assert {n.split(".")[1] for n in _math_files()} == set(MATH_MODULES)


def test_no_module_over_400_lines():
    long = {
        str(path.relative_to(PACKAGE.parent)): n
        for path in MODULES.values()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def _is_backend_class(node: ast.ClassDef) -> bool:
    names = [node.name, *(ast.unparse(base) for base in node.bases)]
    return any(n.endswith("Backend") for n in names)


def _inplace_definitions(cls: ast.ClassDef) -> list[int]:
    """Lines where a class defines ``inplace``: in its body, or as ``self.inplace`` in a method."""
    lines = []
    for node in ast.walk(cls):
        defines = (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "inplace") or (
            isinstance(node, ast.Name) and node.id == "inplace" and isinstance(node.ctx, ast.Store)
        )
        stored_attr = (
            isinstance(node, ast.Attribute) and node.attr == "inplace" and isinstance(node.ctx, ast.Store)
        )
        if defines or stored_attr:
            lines.append(node.lineno)
    return lines


def test_backends_have_no_inplace_switch():
    """The NumPy fast path is the NumPy backend's ops, not a backend-wide flag the math tests."""
    found = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and _is_backend_class(node):
                found += [f"{name}.{node.name} (line {n})" for n in _inplace_definitions(node)]
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "inplace"
                and "backend" in ast.unparse(node.value)
            ):
                found.append(f"{name}: {ast.unparse(node)} (line {node.lineno})")
    assert not found, "a backend-wide inplace switch: " + ", ".join(found)


def test_backend_objects_have_no_inplace_attribute():
    """The same at run time, for every Backend class loaded and each backend this machine has."""
    classes, todo = [], [xpnet.Backend]
    while todo:
        cls = todo.pop()
        classes.append(cls)
        todo.extend(cls.__subclasses__())
    flagged = [c.__name__ for c in classes if hasattr(c, "inplace")]
    assert not flagged, f"Backend classes with an inplace attribute: {flagged}"
    instances = []
    for name in ("numpy", "array_api_strict", "torch"):
        try:
            instances.append(xpnet.get_backend(name))
        except xpnet.BackendUnavailableError:
            continue
    flagged = [b.name for b in instances if hasattr(b, "inplace")]
    assert not flagged, f"backends with an inplace attribute: {flagged}"
