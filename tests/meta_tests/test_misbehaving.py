"""A misbehaving implementation gets a failing verdict with a reason: never a crash, never silence."""

import sys
from collections.abc import Mapping

import numpy as np
import pytest

from deltacheck import campaign, reference_impl
from deltacheck.core.verdicts import FAIL
from deltacheck.judging.check import check_case
from tests.helpers import random_case

ORACLES = ("fd",)  # the verdict comes from the call itself; one oracle is enough


@pytest.fixture
def case(rng):
    return random_case(rng, (2, 3, 2), ("tanh",), "mse", batch=2)


class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("__str__ is broken too")


class RaisingMapping(Mapping):
    """Has every key, but reading any of them raises."""

    def __getitem__(self, key):
        raise RuntimeError(f"cannot read {key}")

    def __iter__(self):
        return iter(("loss", "deltas", "grad_weights", "grad_biases"))

    def __len__(self):
        return 4


def pops_a_weight(weights, biases, activations, loss, x, t):
    out = reference_impl.backprop(weights, biases, activations, loss, x, t)
    weights.pop()
    return out


def appends_a_bias(weights, biases, activations, loss, x, t):
    out = reference_impl.backprop(weights, biases, activations, loss, x, t)
    biases.append(np.zeros(1))
    return out


def replaces_a_weight_with_junk(weights, biases, activations, loss, x, t):
    out = reference_impl.backprop(weights, biases, activations, loss, x, t)
    weights[0] = object()
    return out


def returns_none(*args):
    return None


def raises_unprintable(*args):
    raise Unprintable()


def exits(*args):
    sys.exit(3)


def returns_raising_mapping(*args):
    return RaisingMapping()


def returns_tensors_requiring_grad(*args):
    torch = pytest.importorskip("torch")
    out = reference_impl.backprop(*args)
    as_leaf = lambda v: torch.tensor(np.asarray(v), requires_grad=True)  # noqa: E731
    return {"loss": as_leaf(out["loss"]),
            **{k: [as_leaf(v) for v in out[k]] for k in ("deltas", "grad_weights",
                                                          "grad_biases")}}


@pytest.mark.parametrize("impl, words", [
    (pops_a_weight, "modified its inputs: weights (2 → 1 array)"),
    (appends_a_bias, "modified its inputs: biases (2 → 3 arrays)"),
    (replaces_a_weight_with_junk, "modified its inputs: weights[0]"),
    (returns_none, "returned None;"),
    (raises_unprintable, "raised Unprintable: <unprintable>"),
    (exits, "raised SystemExit: 3"),
    # needs compare.normalise to read a mapping defensively (another developer's fix)
    (returns_raising_mapping, "RuntimeError"),
])
def test_misbehaviour_is_a_failing_verdict_with_a_reason(case, impl, words):
    result = check_case(case, impl, ORACLES)
    assert result.verdict == FAIL
    assert words in result.impl_problem, result.impl_problem
    assert result.first_message() == f"the implementation {result.impl_problem}"
    assert result.oracles["fd"].verdict == FAIL
    assert result.oracles["fd"].message == result.first_message()


@pytest.mark.parametrize("impl", [raises_unprintable, exits])
def test_a_raising_implementation_keeps_a_traceback(case, impl):
    result = check_case(case, impl, ORACLES)
    assert "Traceback" in result.impl_traceback
    assert impl.__name__ in result.impl_traceback


def test_torch_tensors_requiring_grad_get_a_verdict(case):
    pytest.importorskip("torch")
    # The protocol returns arrays; numpy cannot read a tensor that requires grad, so the
    # implementation fails, and the reason says how to fix it.
    result = check_case(case, returns_tensors_requiring_grad, ("torch", "fd"))
    assert result.verdict == FAIL
    assert "deltas[0] is not an array of numbers (RuntimeError: " in result.impl_problem
    assert "detach()" in result.impl_problem


def test_a_campaign_keeps_every_result_when_exceptions_cannot_be_printed(tmp_path):
    config = campaign.Config(impl=raises_unprintable, impl_spec="raises_unprintable", seed=0,
                             examples=6, losses=["mse"], oracles=["fd"], max_layers=2,
                             max_width=2, max_batch=2, failures_dir=str(tmp_path))
    outcome = campaign.run(config)
    assert outcome.exit_code == 1
    doc = outcome.document
    assert doc["summary"]["failed_cases"] == doc["summary"]["cases"] >= 6
    assert all(f["impl_problem"] == "raised Unprintable: <unprintable>" for f in doc["failures"])


def test_an_activation_that_breaks_under_numpy_is_an_error_never_a_crash(rng):
    # h works under torch but raises under numpy: no floor can be computed, so nothing is
    # judged, and every oracle says why
    pytest.importorskip("torch")
    from deltacheck import Activation
    from deltacheck.core import activations as registry
    from deltacheck.core.verdicts import ERROR

    def h(a, xp):
        if xp is np:
            raise ValueError("no numpy here")
        return xp.tanh(a)

    picky = Activation("picky", h=h, dh=lambda a, xp: 1 - xp.tanh(a) ** 2)
    with registry.registered([picky]):
        case = random_case(rng, (2, 3, 2), ("picky",), "mse", batch=2)
        result = check_case(case, lambda w, b, acts, loss, x, t: reference_impl.backprop(
            w, b, ["tanh"], loss, x, t), ["torch", "fd"])
    assert result.verdict == ERROR
    assert "no numpy here" in result.oracles["torch"].message
    assert result.oracles["torch"].verdict == ERROR and result.oracles["fd"].verdict == ERROR
