"""The rounding floors of a norm layer in float32, on cases a 2,000-case run found: x far from
0 against its spread (x̂ = (x − μ) / σ is rounded to ε |x| / σ, not ε), and a near-constant
row of two entries (a floor estimated from perturbations of random sign misses it whenever
both entries move together: one perturbation alternates along every axis). The correct layer
passes; dx half again too large still fails (with two features dx is itself the residue of a
cancellation of terms 1,000 times its size: float32 cannot resolve 1 % of it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deltacheck.layers.discovery import LayerSpec
from deltacheck.layers.judging import check_case
from deltacheck.layers.replay import load_case
from deltacheck.layers.truths import SHAKES, _signs
from examples.layers.slips import course

DATA = Path(__file__).parent / "data"
NAMES = ("layernorm_forward", "layernorm_backward")


def _half_again(dout, cache):
    dx, dgamma, dbeta = course.layernorm_backward(dout, cache)
    return 1.5 * dx, dgamma, dbeta


@pytest.mark.parametrize("name", ["far_from_zero", "near_constant_pair"])
def test_a_correct_float32_layernorm_passes_where_x_hat_is_ill_conditioned(name):
    pytest.importorskip("torch")
    case = load_case(DATA / f"layer_layernorm_f32_{name}.json")
    right = LayerSpec("layernorm", course.layernorm_forward, course.layernorm_backward, *NAMES)
    assert check_case(right, case, ["torch", "fd"]).verdict == "pass"
    wrong = LayerSpec("layernorm", course.layernorm_forward, _half_again, *NAMES)
    assert check_case(wrong, case, ["torch"]).verdict == "fail"


def test_the_last_perturbation_moves_every_pair_of_neighbours_apart():
    signs = _signs(np.random.default_rng(0), (3, 2, 2), SHAKES - 1)
    assert set(np.unique(signs)) == {-1.0, 1.0}
    for axis in range(3):
        assert (np.diff(signs, axis=axis) != 0).all()
