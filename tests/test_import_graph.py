"""paperfeed's modules import one another without circles: the import graph, read from the source
with `ast`, is acyclic. Imports inside functions count too (a late import is how a circle hides);
imports only for the type checker (`if TYPE_CHECKING:`) do not."""

from __future__ import annotations

import ast
from pathlib import Path

import paperfeed

SRC = Path(paperfeed.__file__).parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in SRC.rglob("*.py")}


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The paperfeed modules `name` imports: `from a import b` imports `a.b` when that is a
    module, else `a` (a package's parents, always loaded first, are not counted)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            submodules = {f"{base}.{a.name}" for a in node.names} & known
            found.update(submodules)
            if len(submodules) < len(node.names):  # names defined in `base` itself
                found.add(base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in found if m in known and m != name}


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := walk(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := walk(start)):
            return cycle
    return None


def test_the_graph_sees_real_imports() -> None:
    """The graph is read right: known edges, late and relative alike, are in it."""
    graph = import_graph()
    assert "paperfeed.store.base" in graph["paperfeed.store.common"]
    assert "paperfeed.library" in graph["paperfeed.cli.common"]
    assert "paperfeed.store.sqlite.backend" in graph["paperfeed.store.engines"]  # a late import
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_the_two_backends_never_import_each_other() -> None:
    graph = import_graph()
    for name, deps in graph.items():
        for this, other in (("sqlite", "postgres"), ("postgres", "sqlite")):
            if name.startswith(f"paperfeed.store.{this}"):
                assert not {d for d in deps if d.startswith(f"paperfeed.store.{other}")}, name


def test_the_store_knows_nothing_of_the_faces() -> None:
    graph = import_graph()
    faces = ("paperfeed.cli", "paperfeed.web", "paperfeed.library")
    for name, deps in graph.items():
        if name.startswith("paperfeed.store"):
            assert not {d for d in deps if d.startswith(faces)}, name
