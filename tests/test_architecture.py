"""The tree's architecture, enforced: the import graph of `simulator/` and `workloads/`
(every import, including those inside functions, read with `ast`) has no cycle, and
no module imports from a higher layer. The layer order is written once, here
(docs/architecture.md draws it). A module may import its own folder or any lower
layer; two folders on one layer may not import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Bottom to top. "simulator" is the package root's own small modules (abc, debug,
# params, usage, environment, progress): the shared types everything may use.
LAYERS = (
    ("simulator",),
    ("simulator.engine",),
    ("simulator.chain",),
    ("simulator.costs",),
    ("simulator.backends",),
    ("simulator.strategies",),
    ("simulator.insight",),
    ("simulator.sources",),
    ("workloads",),
    ("simulator.runs",),
    ("simulator.harness",),
    ("simulator.cli",),
)
RANK = {folder: rank for rank, folders in enumerate(LAYERS) for folder in folders}


def modules() -> dict:
    """{dotted module name: (path, is a package's __init__)} under both packages."""
    found = {}
    for package in ("simulator", "workloads"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def folder(module: str, is_package: bool) -> str:
    """The folder (a LAYERS entry) a module belongs to."""
    parts = module.split(".")
    container = parts if is_package else parts[:-1]
    return ".".join(container[:2]) if container[0] == "simulator" else container[0]


def imports(known: dict) -> dict:
    """{module: sorted modules of either package it imports}."""
    graph = {}
    for module, (path, is_package) in known.items():
        here = module.split(".") if is_package else module.split(".")[:-1]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names if alias.name in known)
            elif isinstance(node, ast.ImportFrom):
                base = (".".join(here[:len(here) - node.level + 1]
                                 + ([node.module] if node.module else []))
                        if node.level else node.module)
                named = [f"{base}.{alias.name}" for alias in node.names]
                if named and all(name in known for name in named):
                    targets.update(named)  # `from package import module, ...`
                elif base in known:
                    targets.add(base)
        targets.discard(module)
        graph[module] = sorted(targets)
    return graph


def cycle(graph: dict) -> list:
    """One import cycle as a list of modules, or []."""
    state = {}
    path = []

    def visit(node):
        state[node] = "open"
        path.append(node)
        for target in graph[node]:
            if state.get(target) == "open":
                return path[path.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        state[node] = "done"
        path.pop()
        return []

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def test_every_folder_has_a_layer():
    known = modules()
    folders = {folder(module, is_package) for module, (_, is_package) in known.items()}
    assert folders <= set(RANK), f"folders without a layer: {sorted(folders - set(RANK))}"


def test_no_import_cycle():
    found = cycle(imports(modules()))
    assert not found, "import cycle: " + " -> ".join(found)


def test_imports_run_downwards():
    known = modules()
    upward = []
    for module, targets in imports(known).items():
        mine = folder(module, known[module][1])
        for target in targets:
            theirs = folder(target, known[target][1])
            if theirs != mine and RANK[theirs] >= RANK[mine]:
                upward.append(f"{module} ({mine}) imports {target} ({theirs})")
    assert not upward, "imports from an equal or higher layer:\n" + "\n".join(upward)


def test_the_checks_see_a_cycle_and_an_upward_import():
    """The helpers themselves: a made-up graph with a cycle is caught."""
    assert cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert cycle({"a": ["b"], "b": []}) == []
    assert folder("simulator.engine.mv_memory", False) == "simulator.engine"
    assert folder("simulator.abc", False) == "simulator"
    assert folder("workloads.erc20", False) == "workloads"
    assert folder("simulator.strategies", True) == "simulator.strategies"


MAX_PARAMETERS = 8  # a run is described by one value (runs/spec.py), not keyword lists


def test_no_function_takes_more_than_eight_parameters():
    long = []
    for module, (path, _) in modules().items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                a = node.args
                names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
                count = (len(names) + bool(a.vararg) + bool(a.kwarg)
                         - (names[:1] in (["self"], ["cls"])))
                if count > MAX_PARAMETERS:
                    long.append(f"{module}.{node.name}: {count}")
    assert not long, "functions with more than 8 parameters: " + ", ".join(long)
