"""The layout rules DESIGN.md states, checked on the source: files stay small, functions short,
ray and mlflow stay in their packages, protocol names are spelled in one module, no import
circles, and a top level of only the contract and the face."""

from __future__ import annotations

import ast
import re

import pytest

from tests.conftest import ROOT

PACKAGES = ("orchestrator", "trainers")
SOURCES = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60


def _rel(path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_files_and_functions_stay_small(path):
    text = path.read_text()
    assert text.count("\n") <= MAX_FILE_LINES, f"{_rel(path)} has over {MAX_FILE_LINES} lines: split it"
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines, line {node.lineno})"
            for node in ast.walk(ast.parse(text))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"{_rel(path)}: functions over {MAX_FUNCTION_LINES} lines: {', '.join(long)}"


def test_protocol_literals_live_in_the_protocol_module():
    """Tag names and event keys (``"orch.status"``, ``"orch_step"``) are spelled only in
    orchestrator/protocol.py; everything else uses its names."""
    pattern = re.compile(r"[\"'](orch_|orch\.)")
    found = [f"{_rel(p)}:{i}" for p in SOURCES if p.name != "protocol.py" or p.parent.name != "orchestrator"
             for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not found, f"protocol literals outside orchestrator/protocol.py: {', '.join(found)}"


def _imports(path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_ray_and_mlflow_stay_in_their_packages():
    ray_users = {_rel(p) for p in SOURCES if "ray" in _imports(p)}
    mlflow_users = {_rel(p) for p in SOURCES if "mlflow" in _imports(p)}
    assert all(p.startswith("orchestrator/run/") for p in ray_users), ray_users
    assert all(p.startswith("orchestrator/tracking/") for p in mlflow_users), mlflow_users
    pure = [p for p in SOURCES if _rel(p).startswith(("orchestrator/sweepfile/", "orchestrator/tables/", "trainers/"))]
    assert not any({"ray", "mlflow"} & _imports(p) for p in pure)


def test_orchestrator_report_stays_the_function_scripts_call():
    """No module of the package may be named like the face's functions: importing it would
    replace `orchestrator.report` (the function a training script calls) with the module."""
    import importlib
    import pkgutil

    import orchestrator

    for info in pkgutil.walk_packages(orchestrator.__path__, "orchestrator."):
        importlib.import_module(info.name)  # __main__ included: importing it must run nothing
    assert callable(orchestrator.report) and not isinstance(orchestrator.report, type(orchestrator))


def _module_name(path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports, anywhere in the file (lazy imports included);
    ``from pkg import name`` counts the submodule when ``name`` is one, else the package."""
    files = {_module_name(p): p for p in SOURCES if _rel(p).startswith("orchestrator/")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(here[:len(here) - node.level + 1] + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            for target in targets:
                while target and target not in files:
                    target = target.rpartition(".")[0]
                if target and target != module:
                    graph[module].add(target)
    return graph


def test_no_two_modules_import_each_other():
    """No import circle between modules, however long and however lazy: a module's imports are
    under it, so a newcomer reads the package bottom up."""
    graph, index, low, stack, circles = _import_graph(), {}, {}, [], []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
            if len(component) > 1:
                circles.append(" <-> ".join(sorted(component)))

    for module in graph:
        if module not in index:
            visit(module)
    assert not circles, "import circles: " + "; ".join(circles)
    assert "orchestrator.cli.common" in graph["orchestrator.cli.read"]  # the graph sees what it should


def test_the_top_level_holds_only_the_contract_and_the_face():
    """Everything else lives in a package that says which flow it belongs to (README, Layout)."""
    top = {p.name for p in (ROOT / "orchestrator").glob("*.py")}
    assert top == {"__init__.py", "trainer.py", "protocol.py", "registry.py"}, sorted(top)
    packages = {p.name for p in (ROOT / "orchestrator").iterdir() if (p / "__init__.py").is_file()}
    readme = (ROOT / "README.md").read_text()
    assert all(f"orchestrator/{name}/" in readme for name in packages), packages
