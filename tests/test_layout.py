"""The package's import graph: stages import only earlier stages, no cycles, no
package-internal imports hidden inside functions (except deferred heavy dependencies)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "blgnn_es"

# The path a run takes; a module may import its own stage and earlier ones only.
STAGES = ("errors", "fileio", "tables", "tasks", "model", "config", "kernel", "learner",
          "jax_learner", "evaluation", "fitness", "baselines", "parallel", "es", "reports", "cli")
# Imports deferred on purpose: an optional heavy dependency loaded only when asked for.
DEFERRED = {("blgnn_es.parallel.backends", "blgnn_es.parallel.dask_cluster"),
            ("blgnn_es.parallel.backends", "blgnn_es.parallel.jax_backend")}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(name: str, path: Path) -> list[tuple[str, bool]]:
    """(imported blgnn_es module, whether the import sits inside a function)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            inside.update(id(child) for child in ast.walk(node) if child is not node)
    found = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            if target.startswith("blgnn_es."):
                found.append((target, id(node) in inside))
    return found


def _stage(module: str) -> int:
    return STAGES.index(module.split(".")[1])


def test_stages_import_only_earlier_stages_and_nothing_inside_functions():
    modules = _modules()
    backwards, hidden = [], []
    for name, path in modules.items():
        if name == "blgnn_es":
            continue  # the lazy public API: importlib on first attribute access
        for target, in_function in _imports(name, path):
            target = target if target in modules else target.rpartition(".")[0]
            if target not in modules or target == "blgnn_es":
                continue
            if _stage(target) > _stage(name):
                backwards.append(f"{name} -> {target}")
            if in_function and (name, target) not in DEFERRED:
                hidden.append(f"{name} -> {target}")
    assert backwards == []
    assert hidden == []


def test_no_import_cycles():
    modules = _modules()
    graph = {name: {t if t in modules else t.rpartition(".")[0]
                    for t, _ in _imports(name, path)} & set(modules) - {name, "blgnn_es"}
             for name, path in modules.items() if name != "blgnn_es"}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1  # on the current path
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*trail[trail.index(target):], target]))
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = 2  # done

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_importing_the_package_and_tasks_loads_neither_numba_nor_matplotlib():
    code = ("import sys, blgnn_es, blgnn_es.tasks; "
            "print(sorted(m for m in ('numba', 'matplotlib', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
