"""Every seeded bug is a real bug: torch autograd disagrees with it on a case of its region.

The witnesses are built by hand, one family per region the bugs hide in (ordinary values,
overflow, a ReLU kink's neighbourhood, exact labels, depth, width, batch), and the reference
implementation must pass every one of them, so a bug's failure is its own.
"""

from __future__ import annotations

import numpy as np
import pytest

from deltacheck import bugs, reference_impl
from deltacheck.core import activations as registry
from deltacheck.core.case import Case
from deltacheck.core.conventions import declared
from deltacheck.judging.check import check_case

KINDS = {"factor", "sign", "transpose", "activation_derivative", "output_error", "loss_value",
         "assembly", "per_sample", "precision", "nonfinite", "overflow", "near_kink",
         "nondeterministic", "unknown", "forward", "stateful", "aliasing"}
FIRST = {"loss", "output_delta", "hidden_delta", "grad_weights", "grad_biases"}


def _targets(rng: np.random.Generator, loss: str, shape: tuple[int, int], exact: bool) -> np.ndarray:
    N, K = shape
    if loss == "mse":
        return rng.normal(size=shape)
    if loss == "bce":
        return (rng.random(shape) < 0.5).astype(float) if exact else rng.uniform(size=shape)
    if exact:
        return np.eye(K)[rng.integers(0, K, size=N)]
    return rng.dirichlet(np.ones(K), size=N)


def _case(rng, widths, acts, loss, *, batch=3, scale=1.0, exact=False, kink=None) -> Case:
    L = len(widths) - 1
    W = [rng.normal(size=(widths[l + 1], widths[l])) / np.sqrt(widths[l]) for l in range(L)]
    b = [0.3 * rng.normal(size=widths[l + 1]) for l in range(L)]
    x = rng.normal(size=(batch, widths[0]))
    if scale != 1.0:  # the first layer's and the logits' pre-activations in the hundreds
        W[0] = W[0] * scale
        W[-1] = W[-1] * scale
    if kink is not None:  # unit 0 of layer 0 at a = kink for sample 0
        b[0][0] = kink - x[0] @ W[0][0]
    return Case(widths=widths, activations=acts, loss=loss, dtype="float64", weights=tuple(W),
                biases=tuple(b), x=x, t=_targets(rng, loss, (batch, widths[-1]), exact))


def witnesses() -> list[Case]:
    """A few cases of every region, for every loss and activation."""
    rng = np.random.default_rng(7)
    out = []
    for loss in ("mse", "bce", "ce"):
        for act in registry.BUILTIN_NAMES:
            out.append(_case(rng, (3, 4, 4, 3), (act, act), loss))
            out.append(_case(rng, (3, 4, 3), (act,), loss, scale=400.0))
        for act in ("relu", "leaky_relu"):
            for kink in (2e-6, -5e-6, 0.0):
                out.append(_case(rng, (2, 3, 2), (act,), loss, kink=kink))
        out.append(_case(rng, (3, 3, 3), ("tanh",), loss, exact=True))
        out.append(_case(rng, (2, 3, 3, 3, 3, 2), ("tanh",) * 4, loss))
        out.append(_case(rng, (2, 10, 3), ("tanh",), loss))
        out.append(_case(rng, (2, 3, 2), ("tanh",), loss, batch=10))
        out.append(_case(rng, (2, 3, 2), ("identity",), loss, scale=800.0))
    return out


@pytest.fixture(scope="module")
def cases():
    pytest.importorskip("torch")
    found = witnesses()
    # the witnesses are fair: the reference passes every one of them
    for case in found:
        result = check_case(case, reference_impl.backprop, ["torch"])
        assert result.verdict == "pass", (case.summary(), result.first_message())
    return found


def test_there_are_many_distinct_bugs():
    assert len(bugs.BUGS) >= 25
    assert len({bug.name for bug in bugs.BUGS}) == len(bugs.BUGS)
    assert len({bug.backprop for bug in bugs.BUGS}) == len(bugs.BUGS)
    for bug in bugs.BUGS:
        assert bug.kind in KINDS, bug.name
        assert bug.first_wrong in FIRST, bug.name
        assert bug.description


@pytest.mark.parametrize("bug", bugs.BUGS, ids=lambda bug: bug.name)
def test_every_bug_disagrees_with_torch_somewhere(bug, cases):
    # in the bug's declared conventions; probing for arrays that a later call overwrites
    conventions = declared(bug.backprop)
    failing = [c for c in cases if check_case(c, bug.backprop, ["torch"], probe=True,
                                              conventions=conventions).verdict == "fail"]
    assert failing, f"{bug.name} agrees with torch on every witness"
