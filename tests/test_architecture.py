"""The code's shape, as docs/architecture.md draws it: the front ends go through one door
(``Service``), the core never imports a front end, and no module imports itself back."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from rag.service import Service

PACKAGE = Path(__file__).resolve().parents[1] / "rag"
FRONT_ENDS = ("web", "api", "slack", "server", "cli")
# what a front end may use of the service: its door methods, and the settings it reads
DOOR = {
    name
    for name in dir(Service)
    if not name.startswith("_")
    and name not in {"store", "access", "pipeline", "retriever", "answerer", "indexer"}
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _is_front_end(module: str) -> bool:
    return module.split(".")[1] in FRONT_ENDS if module.count(".") else False


def _imports(path: Path, module: str) -> set[str]:
    """The rag modules ``path`` imports (at any depth of the file)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:
                base = ".".join(module.split(".")[: -node.level] + [node.module])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in names if name == "rag" or name.startswith("rag.")}


def _service_attributes(path: Path) -> set[tuple[str, int]]:
    """``service.<attribute>`` uses in a file: (attribute, line)."""
    uses = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "service"
        ):
            uses.add((node.attr, node.lineno))
    return uses


def test_front_ends_use_only_the_service_door():
    modules = _modules()
    front_ends = {name: path for name, path in modules.items() if _is_front_end(name)}
    assert {"rag.web", "rag.api", "rag.slack", "rag.server", "rag.cli.answers"} <= set(front_ends)
    reached = sorted(
        f"{path.relative_to(PACKAGE.parent)}:{line} service.{attribute}"
        for path in front_ends.values()
        for attribute, line in _service_attributes(path)
        if attribute not in DOOR
    )
    assert reached == [], "front ends reaching past the door:\n" + "\n".join(reached)


def test_the_door_check_sees_a_reach_past_it(tmp_path):
    reaching = tmp_path / "reaching.py"
    reaching.write_text("def f(service):\n    return service.store.folder, service.stats()\n")
    assert {a for a, _ in _service_attributes(reaching) if a not in DOOR} == {"store"}


def test_the_core_never_imports_a_front_end():
    modules = _modules()
    wrong = sorted(
        f"{name} imports {imported}"
        for name, path in modules.items()
        if not _is_front_end(name) and name != "rag"
        for imported in _imports(path, name)
        if _is_front_end(imported) and imported in modules
    )
    assert wrong == []


def test_no_import_cycles():
    modules = _modules()
    graph = {
        name: {imp for imp in _imports(path, name) if imp in modules and imp != name}
        for name, path in modules.items()
    }
    # a package's __init__ importing its own modules is how packages are made, not a cycle
    graph = {
        name: {imp for imp in deps if not imp.startswith(name + ".")}
        for name, deps in graph.items()
    }
    cycle = _find_cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


@pytest.mark.parametrize(
    "graph, cyclic",
    [({"a": {"b"}, "b": {"c"}, "c": set()}, False), ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True)],
)
def test_the_cycle_check_finds_a_cycle(graph, cyclic):
    assert (_find_cycle(graph) is not None) == cyclic


MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60


def test_no_module_or_function_too_long_to_read():
    too_long = []
    for name, path in _modules().items():
        source = path.read_text(encoding="utf-8")
        if source.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"{name}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name}: {length} lines")
    assert too_long == []
