"""The rounding floor: wide enough for correct code in either dtype, narrow enough to catch bugs."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, target
from hypothesis import strategies as st

from deltacheck import Case, reference_impl
from deltacheck import strategies as ds
from deltacheck.core import tolerances
from deltacheck.core.verdicts import FAIL
from deltacheck.judging import rounding
from deltacheck.judging.check import activation_objects, check_case
from deltacheck.oracles import torch_oracle

SMALL_GRADIENTS = Path(__file__).parent / "data" / "f32_small_gradients.json"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(data=st.data())
def test_correct_code_uses_a_fraction_of_the_floor(dtype, data):
    case = data.draw(ds.cases(dtype=dtype))
    hidden = activation_objects(case.activations)
    truth = torch_oracle.gradients(case.weights, case.biases, hidden, case.loss, case.x, case.t)
    out = reference_impl.backprop(*case.arguments())
    eps = np.finfo(dtype).eps
    m = rounding.magnitudes(case, hidden, truth)
    # below the floor under every floor (ε² max(1, |E|)) a difference is underflow, which
    # that floor covers: a float32 sigmoid of -100 is a subnormal, or 0
    least = tolerances.least_floor(dtype, truth.loss)
    used = abs(out["loss"] - truth.loss) / (eps * m["loss"])
    for key in ("deltas", "grad_weights", "grad_biases"):
        for l in range(case.n_layers):
            diff = np.abs(out[key][l] - truth.quantity(key)[l])
            judged = ~truth.unjudged[key][l] & (diff > least)
            if judged.any():
                used = max(used, float((diff[judged] / (eps * m[key][l][judged])).max()))
    target(float(used), label="share of ε M used")
    # measured: at most about 1.5 over thousands of cases; the floor is 16 ε M
    assert used <= rounding.FLOOR_FACTOR / 4, used


def _load_small_gradients() -> Case:
    return Case.from_json(json.loads(SMALL_GRADIENTS.read_text()))


@pytest.mark.parametrize("change", [0.0, -1.0, 1.01])
def test_small_float32_gradients_are_still_judged(change):
    # a float32 case with E ≈ 30 whose first layers carry gradients of ~1e-5: a floor scaled by
    # E would let any value through there; the per-entry floor does not
    case = _load_small_gradients()

    def scaled_first_layers(*args):
        out = reference_impl.backprop(*args)
        for key in ("deltas", "grad_weights", "grad_biases"):
            for l in range(2):
                out[key][l] = change * out[key][l]
        return out

    assert check_case(case, reference_impl.backprop, ["torch", "fd"]).verdict == "pass"
    result = check_case(case, scaled_first_layers, ["torch", "jax", "fd"])
    assert result.verdict == FAIL
    assert all(r.verdict == FAIL for r in result.oracles.values())


def test_floors_of_several_oracles_together_are_each_oracles_own():
    pytest.importorskip("torch")
    from deltacheck.oracles import fd

    case = _load_small_gradients()
    hidden = activation_objects(case.activations)
    truths = [oracle.gradients(case.weights, case.biases, hidden, case.loss, case.x, case.t)
              for oracle in (torch_oracle, fd)]
    truths[1].deltas = [10.0 * d for d in truths[1].deltas]  # floors that must differ
    together = rounding.floors_of_each(case, hidden, truths)
    for truth, floors in zip(truths, together, strict=True):
        alone = rounding.floors(case, hidden, truth)
        assert floors["loss"] == pytest.approx(alone["loss"], rel=1e-12)
        for key in ("deltas", "grad_weights", "grad_biases"):
            for got, want in zip(floors[key], alone[key], strict=True):
                np.testing.assert_allclose(got, want, rtol=1e-12)
    assert not np.allclose(together[0]["deltas"][0], together[1]["deltas"][0])
