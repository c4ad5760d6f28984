"""The example notebooks run from top to bottom on the CPU (so they cannot rot) and are stored
without outputs. Each executes in a fresh kernel of this interpreter, in its own temporary
folder (its runs/ land there), with one thread; its wall time is printed (`pytest -s`)."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
BUDGET_S = 300  # per notebook on one (shared) thread; they take well under a minute alone


def test_the_four_first_notebooks_are_there():
    first = {
        "01_drifting_collapse",
        "02_chart_transport_surface",
        "03_your_own_method",
        "04_lyapunov_diagnostics",
    }
    assert first <= {p.stem for p in NOTEBOOKS}  # the README and docs/start.md name them


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code), (
        f"{path.name} holds outputs: clear them before committing (Jupyter: Edit > Clear "
        f"Outputs of All Cells, or jupyter nbconvert --clear-output --inplace {path.name})"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=BUDGET_S, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})  # fmt: skip
    start = time.perf_counter()
    client.execute()  # a failing cell raises CellExecutionError with its traceback
    seconds = time.perf_counter() - start
    print(f"{path.name}: {seconds:.1f} s")
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    assert (tmp_path / "runs" / "notebooks").is_dir()  # it trained into its own folder
