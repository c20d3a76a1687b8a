"""Evidence the minimal case cannot give: the minimal case grown (three samples, three softmax
outputs) where the run met no larger case that settles the kind, and a wrong forward pass seen
through the implementation's own loss (its gradients are the derivatives of its own E)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from deltacheck import reference_impl
from deltacheck.campaign import larger, own_loss
from deltacheck.campaign.ledger import Ledger
from deltacheck.campaign.planning import Config
from deltacheck.core.case import Case
from tests.helpers import random_case

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _ledger(impl) -> Ledger:
    return Ledger(Config(impl=impl, impl_spec="", oracles=("torch",), profile="ci"))


def _one_hot(case: Case) -> Case:
    return replace(case, t=np.eye(case.widths[-1])[np.argmax(case.t, axis=1)])


def test_grown_keeps_every_entry_and_adds_samples_and_a_class():
    case = _one_hot(random_case(np.random.default_rng(1), (2, 3, 2), ("tanh",), "ce", batch=1))
    big = larger.grown(case)
    assert big is not None and big.widths == (2, 3, 3) and big.batch == 3
    np.testing.assert_array_equal(big.weights[0], case.weights[0])
    np.testing.assert_array_equal(big.weights[1][:2], case.weights[1])
    np.testing.assert_array_equal(big.x[:1], case.x)
    # one-hot rows stay one-hot (labels): the old sample's new class is not its target, the
    # new samples' targets are its own rolled
    assert set(np.unique(big.t)) == {0.0, 1.0} and (big.t.sum(axis=1) == 1).all()
    assert big.t[0, 2] == 0 and len({tuple(r) for r in big.t}) == 3
    for loss, low, high in (("bce", 0, 1), ("mse_tanh", -1, 1)):
        small = random_case(np.random.default_rng(2), (2, 2), (), loss, batch=1)
        t = larger.grown(small).t
        assert t.shape == (3, 2) and t.min() >= low and t.max() <= high
    # three samples of a non-softmax output: nothing to grow
    assert larger.grown(random_case(np.random.default_rng(3), (2, 2), (), "mse", batch=3)) \
        is None


def _temperature_delta(weights, biases, activations, loss, x, t):
    """ce: the output δ from softmax(a/2), E right (∂W, ∂b follow the wrong δ)."""
    out = reference_impl.backprop(weights, biases, activations, loss, x, t)
    a = x @ weights[0].T + biases[0]
    e = np.exp(a / 2 - (a / 2).max(axis=1, keepdims=True))
    d = e / e.sum(axis=1, keepdims=True) - t
    return {**out, "deltas": [d], "grad_weights": [d.T @ x], "grad_biases": [d.sum(axis=0)]}


def test_a_k2_minimal_case_is_grown_to_tell_an_output_slip_from_a_factor(monkeypatch):
    pytest.importorskip("torch")
    case = random_case(np.random.default_rng(4), (2, 2), (), "ce", batch=1)
    d = _ledger(_temperature_delta).check(case, "minimal").diagnosis
    assert d["kind"] == "output_error", d
    assert "the minimal case grown, N = 3, widths 2-3" in d["detail"] and "K = 2" in d["detail"]
    # without growing, the minimal case alone reads as a factor
    monkeypatch.setattr(larger, "grown", lambda case, samples=3: None)
    d = _ledger(_temperature_delta).check(case, "minimal").diagnosis
    assert d["kind"] == "factor", d


def _sigmoid_output_mse(weights, biases, activations, loss, x, t):
    """mse on an identity output computed with a sigmoid output: δ and E consistent with it."""
    return reference_impl.backprop(weights, biases, activations, "mse_sigmoid", x, t)


def _halved_delta_doubled_loss(weights, biases, activations, loss, x, t):
    """Two slips that do not explain each other: E doubled, the output δ's last entry halved."""
    out = reference_impl.backprop(weights, biases, activations, loss, x, t)
    d = out["deltas"][-1].copy()
    d[:, -1] /= 2
    z = np.tanh(x @ weights[0].T + biases[0])
    return {**out, "loss": 2 * out["loss"], "deltas": [*out["deltas"][:-1], d],
            "grad_weights": [*out["grad_weights"][:-1], d.T @ z],
            "grad_biases": [*out["grad_biases"][:-1], d.sum(axis=0)]}


@pytest.mark.parametrize("widths, acts", [((1, 1), ()), ((3, 4, 2), ("tanh",))])
def test_gradients_of_the_implementations_own_loss_are_a_forward_slip(widths, acts):
    pytest.importorskip("torch")
    case = random_case(np.random.default_rng(5), widths, acts, "mse", batch=2)
    d = _ledger(_sigmoid_output_mse).check(case, "minimal").diagnosis
    assert (d["kind"], d["first_wrong"]["q"]) == ("forward", "loss"), d
    assert "derivatives of the implementation's own E" in d["detail"]


def test_gradients_that_are_not_those_of_its_own_loss_are_not_a_forward_slip(monkeypatch):
    pytest.importorskip("torch")
    case = random_case(np.random.default_rng(6), (3, 4, 2), ("tanh",), "mse", batch=2)
    ledger = _ledger(_halved_delta_doubled_loss)
    d = ledger.check(case, "minimal").diagnosis
    assert d["first_wrong"]["q"] == "loss" and d["kind"] != "forward", d
    result = ledger.check(case, "generate")
    slope, bar, norm = own_loss.slope_along_own_gradient(ledger.config, result)
    assert abs(slope - norm) > 100 * bar  # measured, and far from |g|
    # the same check passes a forward slip only because its slope is |g|: break the slope
    # and the forward slip is no longer claimed
    monkeypatch.setattr(own_loss, "slope_along_own_gradient",
                        lambda config, result: (0.0, 1e-12, 1.0))
    case = random_case(np.random.default_rng(5), (3, 4, 2), ("tanh",), "mse", batch=2)
    d = _ledger(_sigmoid_output_mse).check(case, "minimal").diagnosis
    assert d["kind"] != "forward", d


def test_one_entry_of_a_float32_slope_is_grown_before_it_is_called_a_wrong_derivative():
    pytest.importorskip("torch")
    from deltacheck.campaign.bugs import BUGS
    bugs = {bug.name: bug for bug in BUGS}
    case = random_case(np.random.default_rng(7), (1, 1, 1), ("tanh",), "mse", batch=1)
    d = _ledger(bugs["tanh_slope_f32"].backprop).check(case, "minimal").diagnosis
    assert d["kind"] == "precision" and "one entry of δ" in d["detail"], d
    # a float32 constant is one value however many entries: still a wrong derivative
    case = random_case(np.random.default_rng(8), (1, 1, 1), ("leaky_relu",), "mse", batch=1)
    case = replace(case, x=-np.abs(case.x) - 3, weights=(np.abs(case.weights[0]) + 0.1,
                                                            case.weights[1]),
                   biases=(np.zeros(1), case.biases[1]))  # a < 0: the float32 slope 0.01
    d = _ledger(bugs["leaky_slope_f32"].backprop).check(case, "minimal").diagnosis
    assert d["kind"] == "activation_derivative", d


def _drops_one_other_entry(seeded: bool):
    """The output δ doubled at [0, 0]; on a case of more entries, one other entry zeroed at
    random (``seeded``: always the same one)."""
    def backprop(weights, biases, activations, loss, x, t):
        out = reference_impl.backprop(weights, biases, activations, loss, x, t)
        d = out["deltas"][-1].copy()
        d[0, 0] *= 2
        if d.size > 1:
            rng = np.random.default_rng(0 if seeded else None)
            d.reshape(-1)[1 + rng.integers(d.size - 1)] = 0.0
        return {**out, "deltas": [*out["deltas"][:-1], d]}
    return backprop


@pytest.mark.parametrize("seeded", [False, True])
def test_a_larger_case_that_differs_call_to_call_makes_the_minimal_one_nondeterministic(seeded):
    pytest.importorskip("torch")
    from deltacheck.diagnosis import check_case, diagnosed
    impl = _drops_one_other_entry(seeded)
    small = random_case(np.random.default_rng(9), (2, 1), (), "mse", batch=1)
    big = diagnosed(check_case(random_case(np.random.default_rng(10), (2, 4), (), "mse",
                                           batch=6), impl, ("torch",)))
    d = _ledger(impl).check(small, "minimal", larger=big).diagnosis
    if seeded:  # the same values every call: the minimal case's own kind stands
        assert d["kind"] == "factor", d
    else:
        assert d["kind"] == "nondeterministic", d
        assert "on the run's larger failing case" in d["detail"] and "factor" in d["detail"]


def test_without_a_larger_case_the_minimal_one_grown_wide_shows_the_chance():
    pytest.importorskip("torch")
    impl = _drops_one_other_entry(seeded=False)
    small = random_case(np.random.default_rng(9), (2, 1), (), "mse", batch=1)
    d = _ledger(impl).check(small, "minimal").diagnosis
    assert d["kind"] == "nondeterministic" and "the minimal case grown, N = 64" in d["detail"], d
    d = _ledger(_drops_one_other_entry(seeded=True)).check(small, "minimal").diagnosis
    assert d["kind"] == "factor", d
