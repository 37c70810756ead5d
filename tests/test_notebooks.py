"""Every notebook runs end to end (and is stored without outputs)."""

import os

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         "notebooks")
NAMES = sorted(n for n in os.listdir(NOTEBOOKS) if n.endswith(".ipynb"))


def test_there_are_five_notebooks():
    assert NAMES == ["01_conv2d_parameters.ipynb",
                     "02_initializers_regularizers_constraints.ipynb",
                     "03_inside_a_trained_cnn.ipynb", "04_comparing_runs.ipynb",
                     "05_functional_api.ipynb"]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name):
    notebook = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": NOTEBOOKS}}).execute()
    errors = [o for cell in notebook.cells if cell.cell_type == "code"
              for o in cell.outputs if o.output_type == "error"]
    assert not errors
