"""The layout rules DESIGN.md states, checked on the source: files stay small, functions short,
ray and mlflow stay in their packages, protocol names are spelled in one module."""

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
        importlib.import_module(info.name)
    assert callable(orchestrator.report) and not isinstance(orchestrator.report, type(orchestrator))
