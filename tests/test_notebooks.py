"""Every notebook under notebooks/ runs top to bottom on the real datasets, in this environment's kernel."""

from __future__ import annotations

import functools
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
# the rule of tests/training/test_importers.py: ETA_SHARED_DATA, else shared/data beside the repo
DATA = Path(os.environ.get("ETA_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
needs_data = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"shared datasets not found at {DATA} (set ETA_SHARED_DATA to their folder)"
)
WALKTHROUGH = "amazon_delivery_walkthrough"
COVERAGE_LINE = re.compile(r"window coverage at target (0\.\d+): ([01]\.\d+)")


@functools.cache
def executed(name: str) -> nbformat.NotebookNode:
    """The notebook run once per session, cwd = notebooks/. `python3` is ipykernel's own kernel, launched with
    this interpreter (sys.executable), so the notebook sees the project's venv and packages."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ETA_SHARED_DATA", str(DATA))  # the kernel inherits the environment
        client = NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
        )
        client.execute()
    return nb


def stdout(cells: list[nbformat.NotebookNode]) -> str:
    return "".join(
        out["text"]
        for cell in cells
        for out in cell.get("outputs", [])
        if out["output_type"] == "stream" and out["name"] == "stdout"
    )


@needs_data
@pytest.mark.parametrize("name", sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")))
def test_notebook_runs_without_errors(name: str) -> None:
    code = [cell for cell in executed(name).cells if cell.cell_type == "code"]
    errors = [out for cell in code for out in cell.outputs if out["output_type"] == "error"]
    assert errors == []
    assert all(cell.execution_count for cell in code), "a code cell did not run"


@needs_data
def test_walkthrough_runs_in_this_venv_and_prints_its_coverage() -> None:
    nb = executed(WALKTHROUGH)
    assert f"python: {sys.executable}\n" in stdout(nb.cells)
    calibration = [cell for cell in nb.cells if cell.get("id") == "calibration"]
    observed = {float(t): float(c) for t, c in COVERAGE_LINE.findall(stdout(calibration))}
    assert sorted(observed) == [0.8, 0.9, 0.95], stdout(calibration)
    assert [observed[t] for t in (0.8, 0.9, 0.95)] == sorted(observed.values()), observed  # rises with target
    assert all(abs(observed[t] - t) < 0.1 for t in observed), observed  # within 10 points of each target
    assert "late-risk model fitted: False" in stdout(nb.cells)  # no promise in the data: no late-risk model
