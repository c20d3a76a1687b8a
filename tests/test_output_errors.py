"""Output errors: δ_k = y_k − t_k for MSE+identity, BCE+sigmoid and softmax+CE, and not otherwise."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deltacheck import reference_impl
from deltacheck import strategies as ds
from deltacheck import testing as dt
from deltacheck.core import activations as registry
from deltacheck.oracles import fd, jax_oracle, torch_oracle

FRAMEWORK = {"torch": "torch", "jax": "jax", "fd": None}


def output(loss, a):
    """y = g(a) by torch's own functions: no formula of ours."""
    torch = pytest.importorskip("torch")
    g = {"mse": lambda v: v, "bce": torch.sigmoid, "ce": lambda v: torch.softmax(v, dim=1)}
    return g[loss](torch.tensor(a)).numpy()


@pytest.mark.parametrize("loss", ["mse", "bce", "ce"])
@pytest.mark.parametrize("oracle", [torch_oracle, jax_oracle, fd], ids=["torch", "jax", "fd"])
@given(data=st.data())
def test_autograd_output_error_is_y_minus_t(loss, oracle, data):
    if FRAMEWORK[oracle.name]:
        pytest.importorskip(FRAMEWORK[oracle.name])
    case = data.draw(ds.cases(max_layers=1, losses=[loss]))
    a = case.x @ case.weights[0].T + case.biases[0]
    y = output(loss, a)
    truth = oracle.gradients(case.weights, case.biases, [], loss, case.x, case.t)
    # δ_k = ∂E/∂a_k = y_k − t_k
    dt.assert_close(truth.deltas[-1], y - case.t, oracle=oracle.name, what="δ_out",
                    loss_value=truth.loss)


@pytest.mark.parametrize("loss", ["mse", "bce", "ce"])
@given(data=st.data())
def test_reference_output_error_is_y_minus_t(loss, data):
    case = data.draw(ds.cases(losses=[loss]))
    out = reference_impl.backprop(*case.arguments())
    a_out = reference_impl.forward(case.weights, case.biases,
                                   [registry.REGISTRY[n] for n in case.activations], case.x,
                                   output=lambda a: a)[0][-1]
    y = output(loss, a_out)
    dt.assert_close(out["deltas"][-1], y - case.t, what="δ_out", loss_value=out["loss"])


def test_non_canonical_pair_is_not_y_minus_t():
    # MSE on sigmoid outputs: δ_k = (y_k − t_k) σ'(a_k), not y_k − t_k.
    torch = pytest.importorskip("torch")
    a = torch.tensor([[-1.5, 0.3, 2.0]], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([[0.0, 1.0, 0.5]], dtype=torch.float64)
    y = torch.sigmoid(a)
    E = 0.5 * ((y - t) ** 2).sum()
    (delta,) = torch.autograd.grad(E, a)
    y = y.detach()
    dt.assert_close(delta, (y - t) * y * (1 - y), what="δ_out")
    with pytest.raises(AssertionError, match="should be"):
        dt.assert_close(delta, y - t, what="δ_out")
