"""The torch oracle: float64 autograd with probes, torch's own activations and losses."""

import numpy as np
import pytest

from deltacheck import testing as dt
from deltacheck.core.activations import Activation
from deltacheck.judging.check import activation_objects
from deltacheck.oracles import fd, torch_oracle
from tests.helpers import random_case

torch = pytest.importorskip("torch")  # every test here runs the torch oracle


def test_single_layer_mse_matches_the_closed_form(rng):
    case = random_case(rng, (3, 2), (), "mse", batch=4)
    g = torch_oracle.gradients(case.weights, case.biases, [], "mse", case.x, case.t)
    delta = case.x @ case.weights[0].T + case.biases[0] - case.t
    dt.assert_close(g.loss, 0.5 * (delta**2).sum(), what="E")
    dt.assert_close(g.grad_weights[0], delta.T @ case.x, what="∂W[0]")
    dt.assert_close(g.grad_biases[0], delta.sum(axis=0), what="∂b[0]")


def test_outputs_are_float64_even_for_a_float32_case(rng):
    case = random_case(rng, (2, 3, 2), ("gelu",), "ce", dtype="float32")
    g = torch_oracle.gradients(case.weights, case.biases, activation_objects(case.activations),
                               "ce", case.x, case.t)
    assert all(v.dtype == np.float64 for v in [*g.deltas, *g.grad_weights, *g.grad_biases])
    assert torch.get_default_dtype() == torch.float32  # never changed as a side effect


def test_relu_exactly_at_the_kink_is_not_judged(rng):
    case = random_case(rng, (2, 2, 1), ("relu",), "mse", batch=2)
    x = np.array(case.x)
    x[0] = 0.0
    b0 = np.zeros(2)
    g = torch_oracle.gradients(case.weights, [b0, case.biases[1]], activation_objects(["relu"]),
                               "mse", x, case.t)
    # sample 0 has a = 0 in every hidden unit: its δ[0] and everything fed by it is not judged
    assert g.unjudged["deltas"][0][0].all() and not g.unjudged["deltas"][0][1].any()
    assert g.unjudged["grad_biases"][0].all()
    assert not g.unjudged["deltas"][1].any()


def test_a_user_activation_runs_through_the_array_api(rng):
    # dh is never called: the oracle differentiates h itself
    swish = Activation("swish2", h=lambda a, xp: a / (1 + xp.exp(-2 * a)),
                       dh=lambda a, xp: 1 / 0)
    case = random_case(rng, (2, 3, 1), ("tanh",), "mse")
    g = torch_oracle.gradients(case.weights, case.biases, [swish], "mse", case.x, case.t)
    ref = fd.gradients(case.weights, case.biases, [swish], "mse", case.x, case.t)
    dt.assert_close(g.deltas[0], ref.deltas[0], oracle="fd", what="δ[0]", loss_value=g.loss)
    dt.assert_close(g.grad_weights[0], ref.grad_weights[0], oracle="fd", what="∂W[0]",
                    loss_value=g.loss)


def test_a_float32_case_widens_the_kink_by_its_rounding():
    # a = 1000 − 999.999 ≈ 1e-3 comes from terms of size 1000: in float32 the implementation's
    # own a may land on either side of relu's kink, so the entry cannot be judged; in float64
    # it can
    W = [np.array([[1.0, -1.0]]), np.array([[2.0]])]
    b = [np.zeros(1), np.zeros(1)]
    x, t = np.array([[1000.0, 999.999]]), np.array([[1.0]])
    masks = {}
    for dtype in ("float32", "float64"):
        cast = [np.asarray(v, dtype=dtype) for v in (*W, *b, x, t)]
        g = torch_oracle.gradients(cast[:2], cast[2:4], activation_objects(["relu"]), "mse",
                                   cast[4], cast[5])
        masks[dtype] = bool(g.unjudged["deltas"][0][0, 0])
    assert masks == {"float32": True, "float64": False}


def test_the_thread_count_is_restored(rng):
    before = torch.get_num_threads()
    case = random_case(rng, (2, 2), (), "mse")
    torch_oracle.gradients(case.weights, case.biases, [], "mse", case.x, case.t)
    assert torch.get_num_threads() == before
