"""Chain rule: ∂E/∂w_ji = Σ_n δ_nj z_ni and ∂E/∂b_j = Σ_n δ_nj, from each oracle's own values."""

import numpy as np
import pytest
from hypothesis import given

from deltacheck import reference_impl
from deltacheck import strategies as ds
from deltacheck import testing as dt
from deltacheck.judging.check import activation_objects
from deltacheck.oracles import jax_oracle, torch_oracle


@pytest.mark.parametrize("oracle", [torch_oracle, jax_oracle], ids=["torch", "jax"])
@given(case=ds.cases())
def test_weight_gradient_is_delta_times_input(oracle, case):
    hidden = activation_objects(case.activations)
    truth = oracle.gradients(case.weights, case.biases, hidden, case.loss, case.x, case.t)
    _, z = reference_impl.forward(case.weights, case.biases, hidden, case.x, output=lambda a: a)
    for l, delta in enumerate(truth.deltas):
        # ∂E/∂w_ji = Σ_n δ_nj z_ni: autograd's ∂W must factor through its own δ.
        dt.assert_close(truth.grad_weights[l], delta.T @ z[l], what=f"∂W[{l}]",
                        loss_value=truth.loss)
        dt.assert_close(truth.grad_biases[l], delta.sum(axis=0), what=f"∂b[{l}]",
                        loss_value=truth.loss)


@given(case=ds.cases())
def test_reference_weight_gradient_is_its_delta_times_input(case):
    hidden = activation_objects(case.activations)
    out = reference_impl.backprop(*case.arguments())
    _, z = reference_impl.forward(case.weights, case.biases, hidden, case.x, output=lambda a: a)
    for l, delta in enumerate(out["deltas"]):
        # ∂E/∂w_ji = Σ_n δ_nj z_ni, summed here sample by sample
        outer = sum(np.outer(delta[n], z[l][n]) for n in range(case.batch))
        dt.assert_close(out["grad_weights"][l], outer, what=f"∂W[{l}]", loss_value=out["loss"])
        dt.assert_close(out["grad_biases"][l], delta.sum(axis=0), what=f"∂b[{l}]",
                        loss_value=out["loss"])
