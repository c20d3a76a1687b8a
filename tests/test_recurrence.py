"""The recurrence δ_j = h'(a_j) Σ_k w_kj δ_k, and the worked two-layer tanh example."""

import numpy as np
import pytest
from hypothesis import given

from deltacheck import reference_impl
from deltacheck import strategies as ds
from deltacheck import testing as dt
from deltacheck.judging.check import activation_objects
from deltacheck.oracles import torch_oracle
from tests.helpers import random_case


def test_worked_example_two_layer_tanh_mse(rng):
    case = random_case(rng, (3, 4, 2), ("tanh",), "mse", batch=5)
    W1, W2 = case.weights
    a1 = case.x @ W1.T + case.biases[0]
    z1 = np.tanh(a1)
    y = z1 @ W2.T + case.biases[1]
    delta2 = y - case.t  # δ⁽²⁾_k = y_k − t_k
    delta1 = (1 - z1**2) * (delta2 @ W2)  # δ⁽¹⁾_j = (1 − z_j²) Σ_k w⁽²⁾_kj δ⁽²⁾_k
    out = reference_impl.backprop(*case.arguments())
    truth = torch_oracle.gradients(case.weights, case.biases, activation_objects(("tanh",)),
                                   "mse", case.x, case.t)
    dt.assert_close(out["deltas"][1], delta2, what="reference δ⁽²⁾")
    dt.assert_close(out["deltas"][0], delta1, what="reference δ⁽¹⁾")
    dt.assert_close(truth.deltas[0], delta1, what="torch δ⁽¹⁾")
    dt.assert_close(truth.grad_weights[0], delta1.T @ case.x, what="torch ∂W⁽¹⁾")


@given(case=ds.cases(min_layers=2))
def test_autograd_deltas_obey_the_recurrence(case):
    hidden = activation_objects(case.activations)
    truth = torch_oracle.gradients(case.weights, case.biases, hidden, case.loss, case.x, case.t)
    a, _ = reference_impl.forward(case.weights, case.biases, hidden, case.x, output=lambda v: v)
    for l in range(case.n_layers - 1):
        if truth.unjudged["deltas"][l].any():
            continue  # at a kink h' is a convention, not a derivative
        # δ_j = h'(a_j) Σ_k w_kj δ_k, with autograd's δ on both sides
        expected = hidden[l].dh(a[l], np) * (truth.deltas[l + 1] @ case.weights[l + 1])
        dt.assert_close(truth.deltas[l], expected, what=f"δ[{l}]", loss_value=truth.loss)


@pytest.mark.parametrize("L", [1, 2, 5])
def test_backward_returns_one_delta_per_layer(rng, L):
    case = random_case(rng, (2,) * (L + 1), ("sigmoid",) * (L - 1), "bce")
    out = reference_impl.backprop(*case.arguments())
    assert [d.shape for d in out["deltas"]] == [(3, 2)] * L
