"""The comparison must fail on known-wrong gradients: every check here has to be able to fail."""

import numpy as np
import pytest

from deltacheck import reference_impl
from deltacheck.core.verdicts import ERROR, FAIL, NOT_JUDGED, PASS
from deltacheck.judging.check import check_case
from deltacheck.judging.compare import compare_entries
from tests.helpers import perturbed, random_case

ORACLES = ("torch", "jax", "fd")


@pytest.fixture
def case(rng):
    return random_case(rng, (3, 5, 4, 2), ("tanh", "softplus"), "bce", batch=4)


def impl_returning(transform):
    def impl(*args):
        return transform(reference_impl.backprop(*args))
    return impl


def test_the_reference_passes(case):
    assert check_case(case, reference_impl.backprop, ORACLES).verdict == PASS


@pytest.mark.parametrize("oracle", ORACLES)
@pytest.mark.parametrize("key", ["deltas", "grad_weights", "grad_biases"])
@pytest.mark.parametrize("layer", [0, 2])
def test_one_entry_off_by_1e6_relative_fails(case, oracle, key, layer):
    out = reference_impl.backprop(*case.arguments())
    index = np.unravel_index(np.argmax(np.abs(out[key][layer])), out[key][layer].shape)
    result = check_case(case, impl_returning(lambda o: perturbed(o, key, layer, index, 1 + 1e-6)),
                        [oracle])
    assert result.verdict == FAIL
    failed = result.oracles[oracle].first_failure()
    assert (failed.quantity, failed.layer, failed.worst) == (key, layer, tuple(map(int, index)))
    assert "but " + oracle + " says" in failed.message


@pytest.mark.parametrize("oracle, off", [("torch", 1e-9), ("jax", 1e-9), ("fd", 1e-6)])
def test_a_slightly_wrong_loss_fails(case, oracle, off):
    result = check_case(case, impl_returning(lambda o: {**o, "loss": o["loss"] * (1 + off)}),
                        [oracle])
    assert result.oracles[oracle].first_failure().quantity == "loss"


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_entry_fails_everywhere(case, bad):
    result = check_case(case, impl_returning(lambda o: perturbed(o, "deltas", 1, (0, 0), bad)),
                        ORACLES)
    assert all(r.verdict == FAIL for r in result.oracles.values())
    assert "nan" in result.first_message() or "inf" in result.first_message()


def test_nan_loss_fails(case):
    result = check_case(case, impl_returning(lambda o: {**o, "loss": float("nan")}), ORACLES)
    assert result.verdict == FAIL


@pytest.mark.parametrize("transform, words", [
    (lambda o: {**o, "deltas": o["deltas"][:-1]}, "deltas has 2 arrays; it should have 3"),
    (lambda o: {**o, "grad_weights": [w.T for w in o["grad_weights"]]}, "grad_weights[0] has shape"),
    (lambda o: {**o, "grad_biases": [b[None] for b in o["grad_biases"]]}, "grad_biases[0] has shape"),
    (lambda o: {k: v for k, v in o.items() if k != "deltas"}, "no 'deltas'"),
    (lambda o: [o["loss"]], "should return a mapping"),
    (lambda o: {**o, "loss": "big"}, "loss has dtype <U3; it should hold real floats"),
    (lambda o: {**o, "loss": o["loss"] + 0j}, "loss has dtype complex128"),
    (lambda o: {**o, "grad_biases": [b.astype(str) for b in o["grad_biases"]]},
     "grad_biases[0] has dtype <U"),
    (lambda o: None, "returned None; it should return a mapping"),
    (lambda o: {**o, "deltas": 3.0}, "deltas is a float"),
])
def test_malformed_results_get_a_verdict_not_a_crash(case, transform, words):
    result = check_case(case, impl_returning(transform), ORACLES)
    assert result.verdict == FAIL
    assert words in result.impl_problem


def test_an_implementation_that_raises_gets_a_verdict(case):
    def impl(*args):
        raise ZeroDivisionError("oops")
    result = check_case(case, impl, ORACLES)
    assert result.verdict == FAIL
    assert result.impl_problem == "raised ZeroDivisionError: oops"
    assert "ZeroDivisionError" in result.impl_traceback


def test_an_implementation_that_modifies_its_inputs_fails(case):
    def impl(weights, biases, activations, loss, x, t):
        out = reference_impl.backprop(weights, biases, activations, loss, x, t)
        weights[1] -= 0.1 * out["grad_weights"][1]  # an SGD step in place
        return out
    result = check_case(case, impl, ORACLES)
    assert result.verdict == FAIL
    assert "modified its inputs: weights[1]" in result.impl_problem


def test_nan_never_passes_in_the_metric():
    for x, y in [(np.nan, 1.0), (1.0, np.nan), (np.inf, np.inf), (np.nan, np.nan)]:
        q = compare_entries(np.array([x]), np.array([y]), unjudged=None, uncertainty=0.0,
                             rtol=1e-3, floor=0.0, quantity="deltas", layer=0)
        assert q.verdict in (FAIL, ERROR), (x, y)


def test_unjudged_entries_are_counted_not_passed_and_nan_there_still_fails():
    x, y = np.array([1.0, 5.0]), np.array([1.0, 1.0])
    q = compare_entries(x, y, unjudged=np.array([False, True]), uncertainty=0.0, rtol=1e-12,
                         floor=0.0, quantity="deltas", layer=0)
    assert (q.verdict, q.judged, q.not_judged) == (PASS, 1, 1)
    q = compare_entries(x, y, unjudged=np.array([True, True]), uncertainty=0.0, rtol=1e-12,
                         floor=0.0, quantity="deltas", layer=0)
    assert q.verdict == NOT_JUDGED
    q = compare_entries(np.array([1.0, np.nan]), y, unjudged=np.array([False, True]),
                         uncertainty=0.0, rtol=1e-12, floor=0.0, quantity="deltas", layer=0)
    assert q.verdict == FAIL


def test_fd_error_bar_does_not_hide_a_gross_error(case):
    out = reference_impl.backprop(*case.arguments())
    result = check_case(case, impl_returning(
        lambda o: perturbed(o, "grad_weights", 0, (0, 0), 1.01)), ["fd"])
    assert result.verdict == FAIL
    assert out["grad_weights"][0][0, 0] != 0
