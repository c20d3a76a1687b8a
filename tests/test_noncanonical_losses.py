"""The quadratic cost on a sigmoid or tanh output: δ_k = (y_k − t_k) g'(a_k), never y_k − t_k.

deltacheck.case.Case does not take these losses yet, so the reference and every oracle are
called on plain arrays, and judged by deltacheck's own rule (tests/plain.py).
"""

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deltacheck import reference_impl
from deltacheck.oracles import base, fd, jax_oracle, torch_oracle
from deltacheck.reference_impl import losses
from tests.plain import assert_agrees, disagreements, draw_plain, plain_cases

NONCANONICAL = ("mse_sigmoid", "mse_tanh")
ORACLES = [torch_oracle, jax_oracle, fd]
FRAMEWORK = {"torch": "torch", "jax": "jax", "fd": None}
EPS = float(np.finfo(np.float64).eps)


def needs(oracle):
    if FRAMEWORK[oracle.name]:
        pytest.importorskip(FRAMEWORK[oracle.name])


def output_and_slope(loss, a):
    """y = g(a) by torch's own functions, and g'(a) by torch's autograd: no formula of ours."""
    torch = pytest.importorskip("torch")
    g = {"mse_sigmoid": torch.sigmoid, "mse_tanh": torch.tanh}[loss]
    a = torch.tensor(a, requires_grad=True)
    y = g(a)
    (slope,) = torch.autograd.grad(y.sum(), a)
    return y.detach().numpy(), slope.numpy()


@pytest.mark.parametrize("loss", NONCANONICAL)
@pytest.mark.parametrize("oracle", ORACLES, ids=lambda o: o.name)
@given(data=st.data())
def test_the_reference_agrees_with_every_oracle(loss, oracle, data):
    needs(oracle)
    case = data.draw(plain_cases(losses=(loss,), activations=("tanh", "sigmoid", "softplus",
                                                              "relu")))
    assert_agrees(reference_impl.backprop(*case.arguments()), case.truth(oracle),
                  oracle=oracle.name, case=case)


@pytest.mark.parametrize("loss", NONCANONICAL)
@pytest.mark.parametrize("oracle", ORACLES, ids=lambda o: o.name)
@given(data=st.data())
def test_the_output_error_is_y_minus_t_times_g_prime(loss, oracle, data):
    needs(oracle)
    case = data.draw(plain_cases(losses=(loss,), max_layers=1))
    truth = case.truth(oracle)
    a = case.x @ case.weights[0].T + case.biases[0]
    y, slope = output_and_slope(loss, a)
    # δ_k = (y_k − t_k) g'(a_k)
    assert_agrees({"deltas": [(y - case.t) * slope]}, truth, oracle=oracle.name, case=case,
                  keys=("deltas",))
    # ... and not y_k − t_k, wherever g'(a) is not 1 (tanh at a = 0) or y = t
    gap = np.abs((y - case.t) * (1 - slope)).max()
    if gap > 1e-6 * np.abs(y - case.t).max() + 1e-9:
        assert disagreements({"deltas": [y - case.t]}, truth, oracle=oracle.name,
                             keys=("deltas",))


@pytest.mark.parametrize("loss", NONCANONICAL)
def test_a_known_wrong_output_error_fails_the_comparison(loss, rng, monkeypatch):
    pytest.importorskip("torch")
    case = draw_plain(rng, (3, 4, 2), ("tanh",), loss, batch=4)
    truth = case.truth(torch_oracle)
    assert not disagreements(reference_impl.backprop(*case.arguments()), truth, oracle="torch")
    # plant δ = y − t, the canonical pairs' output error, into the reference
    canonical = dataclasses.replace(losses.LOSSES[loss], dg=None)
    monkeypatch.setitem(losses.LOSSES, loss, canonical)
    wrong = reference_impl.backprop(*case.arguments())
    failed = disagreements(wrong, truth, oracle="torch", context=loss)
    # E is right; δ_out is wrong, and so is everything computed from it
    assert {line.split("[")[0] for line in failed} == {"δ", "∂W", "∂b"}
    assert any(line.startswith("δ[1]") for line in failed), failed
    with pytest.raises(AssertionError, match=r"\] = .*, but torch says .*rel err"):
        assert_agrees(wrong, truth, oracle="torch", case=case)


@pytest.mark.parametrize("loss, exact", [
    ("mse_sigmoid", lambda a: math.exp(-abs(a)) / (1 + math.exp(-abs(a))) ** 2),
    ("mse_tanh", lambda a: 1 / math.cosh(a) ** 2),
])
def test_g_prime_keeps_its_digits_in_saturation(loss, exact):
    # g' from a, not as y(1 − y) or 1 − y²: those are 0 once y rounds to ±1 (a ≈ 37, 19)
    a = np.linspace(-40, 40, 801)
    dg = losses.LOSSES[loss].dg(a)
    want = np.array([exact(v) for v in a])
    assert np.all(np.abs(dg - want) <= 8 * EPS * want)
    y = losses.LOSSES[loss].output(a)
    naive = y * (1 - y) if loss == "mse_sigmoid" else 1 - y**2
    assert not np.all(np.abs(naive - want) <= 8 * EPS * want)  # the check can fail


def test_the_output_error_needs_the_logits():
    E = losses.LOSSES["mse_sigmoid"]
    assert not E.canonical and losses.LOSSES["bce"].canonical
    with pytest.raises(ValueError, match="needs the logits"):
        E.output_delta(np.zeros((1, 1)), np.zeros((1, 1)))


@pytest.mark.parametrize("loss", NONCANONICAL)
def test_the_loss_terms_bound_what_evaluating_e_adds_up(loss, rng):
    a, t = 10 * rng.normal(size=(5, 3)), rng.uniform(size=(5, 3))
    terms = base.loss_terms_per_sample(loss, a, t)
    E_n = 0.5 * ((losses.LOSSES[loss].output(a) - t) ** 2).sum(axis=1)
    assert np.all(terms >= E_n) and np.all(terms <= 0.5 * 3 * 2**2)  # |y|, |t| ≤ 1
    with pytest.raises(ValueError, match="unknown loss"):
        base.loss_terms_per_sample("mse_relu", a, t)


def test_one_jax_compilation_serves_every_loss(rng):
    pytest.importorskip("jax")
    jax_oracle.forget_compiled()
    for i, loss in enumerate(jax_oracle.LOSS_ORDER * 2):
        case = draw_plain(rng, (2 + i % 3, 3, 2 + i % 2), ("tanh",), loss, batch=1 + i % 4)
        case.truth(jax_oracle)
    fn, = jax_oracle.compiled_functions()
    assert fn._cache_size() == 1
