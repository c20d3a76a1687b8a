"""The lecture notebook runs end to end: a backprop with a planted slip is found by
check_backprop and fixed, and every result renders inline as a card."""

import shutil
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("jax")
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "notebooks" / "lecture.ipynb"


def _stderr(cell):
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stderr")


def _html(cell):
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.get("outputs", []))


@pytest.mark.slow
def test_lecture_notebook_finds_the_planted_slip_and_its_fix_passes(tmp_path):
    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    nb = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    # the notebook's own asserts fail the run if the slip is missed or the fix is not passed
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    code = {c.source.strip().splitlines()[-1]: c for c in nb.cells if c.cell_type == "code"}
    cards = {last: _html(c) for last, c in code.items()}
    # the progress bar redraws one line in place (no widget library needed)
    assert "\r" in _stderr(code["buggy"]) and "[#" in _stderr(code["buggy"])
    assert "FAIL" in cards["buggy"] and "First disagreement" in cards["buggy"]
    assert "evaluated at z" in cards["buggy"]  # the diagnosis, inline
    assert "FAIL" in cards["one"] and "quantity" in cards["one"]  # check_case's matrix
    assert "PASS" in cards["fixed"] and "backprop_fixed.html" in cards["fixed"]
    assert "deltacheck-card" in cards["audit"]
    assert "deltacheck-card" in cards["demo"] and "demo.html" in cards["demo"]
    for name in ("backprop_buggy.html", "backprop_fixed.html", "swish.html", "demo.html"):
        assert (tmp_path / "reports" / name).is_file(), name  # beside the notebook


def test_a_case_result_renders_as_a_card_that_can_fail():
    import numpy as np

    import deltacheck
    from deltacheck.bugs import slope_of_z

    rng = np.random.default_rng(1)
    case = deltacheck.Case(widths=(3, 4, 2), activations=("tanh",), loss="mse", dtype="float64",
                           weights=(rng.normal(size=(4, 3)), rng.normal(size=(2, 4))),
                           biases=(np.zeros(4), np.zeros(2)), x=rng.normal(size=(2, 3)),
                           t=rng.normal(size=(2, 2)))
    good = deltacheck.check_case(case, deltacheck.reference_impl.backprop, ["torch"])
    html = good._repr_html_()
    assert "PASS" in html and "every oracle agrees" in html and "δ[0]" in html
    bad = deltacheck.check_case(case, slope_of_z, ["torch"])._repr_html_()
    assert "FAIL" in bad and "First disagreement" in bad and "evaluated at z" in bad
    assert "<script" not in bad
