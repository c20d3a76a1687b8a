"""The finite-difference oracle: central differences, error bars, kink-aware."""

import json
from pathlib import Path

import numpy as np
import pytest

from deltacheck import Case, reference_impl
from deltacheck import testing as dt
from deltacheck.core import tolerances
from deltacheck.core.tolerances import FD_STEP
from deltacheck.judging.check import activation_objects, check_case
from deltacheck.oracles import fd, torch_oracle
from tests.helpers import random_case


def test_the_step_balances_truncation_against_rounding():
    # ε^(1/3) should sit at the bottom of the error curve of a central difference: a tenth
    # of it drowns in rounding, ten times it in truncation.
    def error(step, a):
        estimate = (np.tanh(a + step) - np.tanh(a - step)) / (2 * step)
        return np.abs(estimate - (1 - np.tanh(a) ** 2)).max()

    a = np.linspace(-2, 2, 401)
    at_step = error(FD_STEP, a)
    assert at_step < error(FD_STEP / 10, a) and at_step < error(FD_STEP * 10, a)
    assert at_step < 1e-10


def test_agrees_with_autograd_within_its_tolerance(rng):
    pytest.importorskip("torch")
    for acts, loss in [(("tanh", "sigmoid"), "mse"), (("gelu",), "bce"), (("softplus",), "ce")]:
        case = random_case(rng, (3, 4, 4, 3)[: len(acts) + 2], acts, loss)
        hidden = activation_objects(acts)
        mine = fd.gradients(case.weights, case.biases, hidden, loss, case.x, case.t)
        ref = torch_oracle.gradients(case.weights, case.biases, hidden, loss, case.x, case.t)
        for key in ("deltas", "grad_weights", "grad_biases"):
            for l in range(case.n_layers):
                dt.assert_close(mine.quantity(key)[l], ref.quantity(key)[l], oracle="fd",
                                what=f"{key}[{l}]", loss_value=ref.loss)
                # the error bar is far inside the tolerance on smooth, O(1) networks
                rtol = tolerances.lookup("fd", "float64").rtol
                scale = np.abs(ref.quantity(key)[l]).max()
                assert (mine.uncertainty[key][l] < 0.25 * rtol * scale).all()


def test_a_step_across_a_kink_is_not_judged(rng):
    case = random_case(rng, (1, 1, 1), ("relu",), "mse", batch=1)
    w = np.array([[1.0]])
    x = np.array([[1e-7]])  # a = 1e-7 + b: within one step of relu's kink at 0
    g = fd.gradients([w, case.weights[1]], [np.zeros(1), case.biases[1]],
                     activation_objects(["relu"]), "mse", x, case.t)
    assert g.unjudged["deltas"][0].all() and g.unjudged["grad_weights"][0].all()
    assert not g.unjudged["deltas"][1].any()


def test_error_bar_widens_where_the_curvature_jumps():
    # softsign'' jumps at 0: a difference across 0 is first-order only, and the bar says so
    w, b = [np.array([[1.0]]), np.array([[1.0]])], [np.zeros(1), np.zeros(1)]
    g = fd.gradients(w, b, activation_objects(["softsign"]), "mse", np.zeros((1, 1)),
                     np.ones((1, 1)))
    ref = torch_oracle.gradients(w, b, activation_objects(["softsign"]), "mse", np.zeros((1, 1)),
                                 np.ones((1, 1)))
    err = abs(g.deltas[0][0, 0] - ref.deltas[0][0, 0])  # δ = h'(0) w δ_out = −1
    assert ref.deltas[0][0, 0] == -1.0
    assert 1e-7 < err <= g.uncertainty["deltas"][0][0, 0]


def test_error_bar_covers_the_rounding_of_wide_sums():
    # widths [1, 10, 23, 27, 1], E ≈ 0.8, a layer of gradients ~1e-9: each evaluation of E is
    # rounded by ε times sums far larger than |E|, and the bar must say so
    path = Path(__file__).parent / "data" / "wide_tiny_gradient.json"
    case = Case.from_json(json.loads(path.read_text()))
    result = check_case(case, reference_impl.backprop, ["fd", "torch"])
    assert result.verdict == "pass", result.first_message()
