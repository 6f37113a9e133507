"""``examples/notebook.ipynb`` runs from top to bottom in a real Jupyter
kernel (with ``SWIFTPROP_FAST=1``, so in seconds) without an error."""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "notebook.ipynb"


def test_notebook_runs_without_errors(monkeypatch):
    if not NOTEBOOK.exists():
        pytest.skip(f"{NOTEBOOK} is not in this tree")
    # The kernel inherits this environment: fast mode, and a backend that
    # needs no display.
    monkeypatch.setenv("SWIFTPROP_FAST", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError naming the failing cell

    outputs = "\n".join(
        output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
        for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.outputs)
    assert "fast mode: True" in outputs
    assert "max |engine - NumPy|" in outputs
    assert "identical predictions: True" in outputs
    assert "swiftprop: test accuracy" in outputs
    images = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.outputs if "image/png" in output.get("data", {})]
    assert len(images) == 3  # XOR loss curve, digits loss curves, digits
    assert not any(output.get("output_type") == "error"
                   for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.outputs)
    assert "TqdmWarning" not in outputs
