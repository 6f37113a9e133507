"""The package's modules import each other at the top of the file, in one
direction: persistence knows networks only through their state."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import swiftprop

PACKAGE = Path(swiftprop.__file__).parent
MODULES = sorted(PACKAGE.glob("*.py"))
# Optional dependencies, imported where they are used so that
# `import swiftprop` never needs them (swiftprop.sklearn needs
# scikit-learn).
OPTIONAL = {"tqdm.auto", "matplotlib.pyplot", "matplotlib.collections",
            "onnx", "skl2onnx.common.data_types", "skl2onnx.common.utils",
            ".sklearn", "threadpoolctl"}


def imports_inside_functions(tree):
    """(line, module) of every import statement inside a function body."""
    found = []
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Import):
                found += [(node.lineno, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                found.append((node.lineno, "." * node.level
                              + (node.module or "")))
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_imports_are_at_the_top(path):
    tree = ast.parse(path.read_text())
    late = [(line, module) for line, module in imports_inside_functions(tree)
            if module not in OPTIONAL]
    assert not late, f"{path.name} imports inside functions: {late}"


def test_persistence_uses_only_the_network_state():
    source = (PACKAGE / "persistence.py").read_text()
    tree = ast.parse(source)
    imported = {node.module for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module}
    assert "network" not in imported
    for private in ("_lock", "_handle", "_engine"):
        assert private not in source, f"persistence.py mentions {private}"


def test_each_module_imports_on_its_own():
    # Any order of first imports works: no module needs another one
    # half-initialised.
    for path in MODULES:
        if path.stem in ("__init__", "sklearn"):
            continue
        subprocess.run([sys.executable, "-c",
                        f"import swiftprop.{path.stem}"], check=True, cwd="/")
