"""The public face: exactly the documented names, the old import paths, and results that keep
their diagnosis whatever the registry holds by the time they are written."""

import importlib
import importlib.util
import subprocess
import sys

import numpy as np
import pytest

import deltacheck
from deltacheck import Activation, Case, check_case, reference_impl
from deltacheck.core.activations import registered
from deltacheck.core.loading import load_implementation
from deltacheck.results.document import failure_json

PUBLIC = {"Activation", "Architecture", "Case", "CaseResult", "DeltacheckError", "Layer",
          "architectures", "audit_activation", "cases", "check_backprop", "check_case",
          "check_layer", "check_model", "compare", "run_demo"}


def test_exactly_the_documented_names_are_public():
    assert set(deltacheck.__all__) == PUBLIC
    assert len(deltacheck.__all__) == len(PUBLIC)
    for name in deltacheck.__all__:
        assert getattr(deltacheck, name) is not None


@pytest.mark.parametrize("name", deltacheck.RESERVED)
def test_reserved_names_are_free_of_modules(name):
    # a subpackage called check_layer would shadow the function the layer job adds
    assert importlib.util.find_spec(f"deltacheck.{name}") is None
    assert name not in deltacheck.__all__ or callable(getattr(deltacheck, name))


@pytest.mark.parametrize(("module", "name", "warns"), [
    ("deltacheck.check", "activation_objects", True),
    ("deltacheck.demo_output_errors", "PAIRS", True),
    ("deltacheck.reference_impl", "sgd_steps", False),
    ("deltacheck.audit", "AuditConfig", False),
    ("deltacheck.audit", "run", False),
    ("deltacheck.strategies", "cases", False),
    ("deltacheck.testing", "assert_agrees", False),
    ("deltacheck.tolerances", "TABLE", False),
    ("deltacheck.cli", "main", False),
])
def test_the_documented_import_paths_keep_working(module, name, warns):
    mod = importlib.import_module(module)
    if warns:
        with pytest.warns(DeprecationWarning, match="moved to"):
            assert getattr(mod, name) is not None
    else:
        assert getattr(mod, name) is not None


def test_seeded_bugs_load_by_their_documented_spec():
    bug = load_implementation("deltacheck.bugs:slope_of_z")
    assert callable(bug)


def test_python_m_tolerances_prints_the_table():
    done = subprocess.run([sys.executable, "-m", "deltacheck.tolerances"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "| torch | 1e-12 | 1e-05 |" in done.stdout.replace("`", "")


def _case(act: str) -> Case:
    rng = np.random.default_rng(1)
    return Case(widths=(3, 4, 2), activations=(act,), loss="mse", dtype="float64",
                weights=(rng.normal(size=(4, 3)), rng.normal(size=(2, 4))),
                biases=(rng.normal(size=4), rng.normal(size=2)),
                x=rng.normal(size=(5, 3)), t=rng.normal(size=(5, 2)))


def _doubled_hidden_delta(weights, biases, activations, loss, x, t):
    out = reference_impl.backprop(weights, biases, activations, loss, x, t)
    out["deltas"][0] = 2 * out["deltas"][0]
    out["grad_weights"][0] = 2 * out["grad_weights"][0]
    out["grad_biases"][0] = 2 * out["grad_biases"][0]
    return out


def test_a_result_keeps_its_diagnosis_after_its_activation_leaves_the_registry():
    cube = Activation("cube_root_ish", h=lambda a, xp: a / (1 + a * a) ** 0.5,
                      dh=lambda a, xp: (1 + a * a) ** -1.5)
    with registered([cube]):
        result = check_case(_case("cube_root_ish"), _doubled_hidden_delta, ["torch", "fd"])
    assert result.verdict == "fail"
    written = failure_json(0, result, minimal=True, repro="")
    diagnosis = written["diagnosis"]
    assert "could not be made" not in diagnosis["detail"], diagnosis["detail"]
    assert diagnosis["first_wrong"] == {"q": "hidden_delta", "layer": 0}
