"""Kinks are judged wherever they can be: torch and jax up to the rounding of a, fd a step away.

Within its own rounding of a kink an implementation's h' is a convention, so those entries are
not judged; everywhere else autograd is exact. The masks follow each entry's dependency, and
the rounding floor never reads the jump of h' across a kink as a curvature.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deltacheck import Case, reference_impl
from deltacheck.core.verdicts import FAIL, PASS
from deltacheck.judging.check import activation_objects, check_case
from deltacheck.oracles import fd
from deltacheck.oracles.base import kink_taint

DATA = Path(__file__).parent / "data" / "f32_relu_within_rounding.json"


def _one_unit_at(a0: float, *, dtype: str = "float64", act: str = "relu") -> Case:
    """Two samples into two relu units: sample 0 puts unit 0 at a = a0, the rest far away."""
    W = [np.array([[1.0, 0.5], [-0.7, 0.9]]), np.array([[1.3, -0.4], [0.6, 0.8]])]
    x = np.array([[0.4, -0.2], [0.9, 0.7]])
    b = [np.array([a0 - 0.3, 0.25]), np.array([0.1, -0.2])]
    return Case(widths=(2, 2, 2), activations=(act,), loss="mse", dtype=dtype, weights=tuple(W),
                biases=tuple(b), x=x, t=np.array([[0.3, -0.5], [1.2, 0.4]]))


def _dead_band(weights, biases, activations, loss, x, t):
    """relu' = 0 on (0, 4e-6]: a slip that only a unit next to the kink shows."""
    hidden = activation_objects(activations)
    E = reference_impl.LOSSES[loss]
    a, z = reference_impl.forward(weights, biases, hidden, x, output=E.output)
    delta = [E.output_delta(z[-1], t)]
    delta.insert(0, (a[0] > 4e-6) * (delta[0] @ weights[1]))
    gw, gb = reference_impl.gradients(delta, z)
    return {"loss": E.value(a[-1], t), "deltas": delta, "grad_weights": gw, "grad_biases": gb}


@pytest.mark.parametrize("oracle", ["torch", "jax"])
def test_autograd_judges_a_unit_next_to_the_kink(oracle):
    pytest.importorskip(oracle)
    case = _one_unit_at(2e-6)
    assert check_case(case, reference_impl.backprop, [oracle]).verdict == PASS
    result = check_case(case, _dead_band, [oracle])
    assert result.verdict == FAIL
    assert result.oracles[oracle].not_judged == 0


def test_fd_leaves_a_step_around_the_kink_unjudged():
    case = _one_unit_at(2e-6)
    g = fd.gradients(case.weights, case.biases, activation_objects(["relu"]), "mse",
                     case.x, case.t)
    assert g.unjudged["deltas"][0][0, 0] and not g.unjudged["deltas"][0][1].any()
    assert check_case(case, _dead_band, ["fd"]).verdict == PASS  # fd cannot see it: by design


@pytest.mark.parametrize("oracle", ["torch", "jax"])
def test_autograd_masks_only_within_rounding_of_the_kink(oracle):
    pytest.importorskip(oracle)
    for a0, masked in ((0.0, True), (1e-17, True), (1e-9, False), (-1e-9, False)):
        result = check_case(_one_unit_at(a0), reference_impl.backprop, [oracle])
        assert (result.oracles[oracle].not_judged > 0) == masked, a0
        assert result.verdict == PASS


def test_a_dead_unit_below_does_not_inherit_the_mask():
    # three layers: the kink sits in layer 1; layer 0 has a dead unit (δ = 0 whatever flows
    # in) and a live one. Only the live one's δ depends on the kink's convention.
    W = [np.array([[1.0], [1.0]]), np.array([[1.0, 1.0]]), np.array([[1.0]])]
    b = [np.array([-5.0, 0.0]), np.array([-0.5]), np.array([0.0])]
    x = np.array([[0.5]])  # a[0] = (−4.5, 0.5), a[1] = 0.5 − 0.5 = 0: on the kink
    relu = activation_objects(["relu", "relu"])
    a = [x @ W[0].T + b[0]]
    z = [x, np.maximum(a[0], 0)]
    a.append(z[1] @ W[1].T + b[1])
    z.append(np.maximum(a[1], 0))
    a.append(z[2] @ W[2].T + b[2])
    taint = kink_taint(W, a, z, relu, biases=b, eps=float(np.finfo(float).eps))
    assert taint["deltas"][1].all()
    assert taint["deltas"][0].tolist() == [[False, True]]
    assert not taint["deltas"][2].any() and not taint["grad_weights"][2].any()
    # ∂W[0] of the dead unit: z = x ≠ 0, but its δ is exactly 0 whatever the convention
    assert taint["grad_weights"][0].tolist() == [[False], [True]]


@pytest.mark.parametrize("dtype, planted", [("float32", 5e-3), ("float64", 1e-11)])
def test_the_floor_takes_no_curvature_across_a_kink(dtype, planted):
    # a relu unit at a = 5e-5 is judged (it is far from its rounding); the floor of its row of
    # ∂W[0] must not carry relu's jump in h' read as h'' ≈ 1/step (which made it 1 % of the
    # row in float32): a planted error of 0.5 % in float32 (1e-11 relative in float64) fails
    # against torch, as it does at a = 0.3
    pytest.importorskip("torch")

    def planted_error(*args):
        out = reference_impl.backprop(*args)
        out["grad_weights"][0][0] = out["grad_weights"][0][0] * (1 + planted)
        return out

    for a0 in (5e-5, 0.3):
        case = _one_unit_at(a0, dtype=dtype)
        assert check_case(case, reference_impl.backprop, ["torch"]).verdict == PASS
        result = check_case(case, planted_error, ["torch"])
        assert result.verdict == FAIL, (a0, result.oracles["torch"].err)


def test_a_relu_unit_within_float32_rounding_of_its_kink_keeps_its_floor():
    # drawn by the campaign: a relu unit a hair below 0 in the oracle's float64 is a hair above
    # it in the implementation's float32, so its z is ~1e-9 instead of 0; the forward floor of
    # the ∂W fed by that z must take the slope of the other side (an error of 1e-3 still fails)
    pytest.importorskip("torch")
    case = Case.loads(DATA.read_text())
    assert check_case(case, reference_impl.backprop, ["torch", "jax", "fd"]).verdict == PASS

    def off_by_a_thousandth(*args):
        out = reference_impl.backprop(*args)
        out["grad_weights"][-1] = out["grad_weights"][-1] * (1 + 1e-3)
        return out

    assert check_case(case, off_by_a_thousandth, ["torch"]).verdict == FAIL
