"""The diagnosis under declared conventions and at the comparison's own resolution: δ not
provided (the walk starts from ∂W and ∂b and says what it could not see), a forward slip
under a mean reduction, and run-to-run differences below the allowance as information."""

from __future__ import annotations

import numpy as np
import pytest

from deltacheck import reference_impl
from deltacheck.diagnosis import check_case
from deltacheck.diagnosis.diagnose import diagnose
from deltacheck.judging import check
from tests.helpers import random_case
from tests.impls.slips import _build

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _grads_only(inner):
    def backprop(weights, biases, activations, loss, x, t):
        out = inner(weights, biases, activations, loss, x, t)
        return {k: out[k] for k in ("loss", "grad_weights", "grad_biases")}
    backprop.provides = ("loss", "grad_weights", "grad_biases")
    return backprop


NO_SLOPE = _build(slope=lambda n, a, z: np.ones_like(a))


@pytest.mark.parametrize("batch", [1, 3])  # ∂b is δ at N = 1; ∂W = δᵀ z shows it at N ≤ width
def test_without_delta_the_walk_starts_from_the_gradients(batch):
    pytest.importorskip("torch")
    case = random_case(np.random.default_rng(2), (3, 4, 4, 2), ("tanh", "tanh"), "mse",
                       batch=batch)
    d = check_case(case, _grads_only(NO_SLOPE), ("torch",)).diagnosis
    assert (d["kind"], d["first_wrong"]["q"], d["first_wrong"]["layer"]) == (
        "activation_derivative", "grad_weights", 1), d
    assert "δ[1] is not provided, but" in d["detail"]
    assert "the walk starts from ∂W and ∂b" in d["detail"] and "not seen: δ" in d["detail"]
    assert "implementation's own δ" not in d["detail"]


def test_without_delta_two_samples_of_one_unit_are_read_from_dw_and_db_together():
    pytest.importorskip("torch")
    # z[l] is 2×1, of rank 1 < N: ∂W alone cannot show δ, [∂W ∂b] = δᵀ [z 1] can
    case = random_case(np.random.default_rng(3), (1, 1, 1), ("elu",), "mse", batch=2)
    d = check_case(case, _grads_only(NO_SLOPE), ("torch",)).diagnosis
    assert (d["kind"], d["first_wrong"]["q"]) == ("activation_derivative", "grad_weights"), d
    assert "[∂W[0] ∂b[0]] = δᵀ [z[0] 1]" in d["detail"]
    assert "could not be recovered" not in d["detail"]


def test_without_delta_a_unit_a_hair_from_a_kink_is_not_read_as_rank():
    # relu outputs of 1 and ≈ 1e-13 (a unit just above its kink) have rank 2 in exact
    # arithmetic, but the rounding of ∂W, amplified by cond ≈ 1e13, is all that lstsq reads
    from deltacheck.diagnosis.recovered import _solvable
    z = np.array([[1.0, 4e-13, 0.0], [1.0, 2.4e-13, 0.0]])
    assert np.linalg.matrix_rank(z) == 2 and not _solvable(z, 2, "float64")
    z[:, 1] = [0.4, 0.24]
    assert _solvable(z, 2, "float64")
    z[:, 1] = [1e-3, 1.2e-3]  # cond ≈ 1e4: enough in float64, not in float32
    assert _solvable(z, 2, "float64") and not _solvable(z, 2, "float32")
    assert not _solvable(z, 4, "float64")  # more samples than units


def test_without_delta_a_gradient_slip_never_speaks_of_the_implementations_own_delta():
    pytest.importorskip("torch")
    case = random_case(np.random.default_rng(2), (3, 4, 2), ("tanh",), "mse", batch=6)
    decay = _build(grad_w=lambda d, z, a, l: d.T @ z[l] + 0.01 * np.ones((d.shape[1],
                                                                           z[l].shape[1])))
    d = check_case(case, _grads_only(decay), ("torch",)).diagnosis
    assert d["first_wrong"]["q"] == "grad_weights"
    assert "implementation's own δ" not in d["detail"]
    assert "could not be recovered" in d["detail"]  # 6 samples, 4 and 3 units: rank too low
    assert d["kind"] == "unknown" and "δ[1] cannot be seen" in d["detail"], d
    # with δ provided, the same slip is traced from its own δ
    d = check_case(case, decay, ("torch",)).diagnosis
    assert "implementation's own δ" in d["detail"] and "not seen" not in d["detail"]


def _mean(inner):
    def backprop(weights, biases, activations, loss, x, t):
        out = inner(weights, biases, activations, loss, x, t)
        n = len(x)
        return {"loss": out["loss"] / n, **{k: [v / n for v in out[k]]
                                            for k in ("deltas", "grad_weights", "grad_biases")}}
    backprop.reduction = "mean"
    return backprop


def _on_2x(weights, biases, activations, loss, x, t):
    return reference_impl.backprop(weights, biases, activations, loss, 2 * x, t)


@pytest.mark.parametrize("loss", ["mse", "bce", "ce"])
def test_a_forward_slip_under_a_mean_reduction_is_forward(loss):
    pytest.importorskip("torch")
    case = random_case(np.random.default_rng(4), (3, 4, 3), ("tanh",), loss)
    d = check_case(case, _mean(_on_2x), ("torch",)).diagnosis
    assert (d["kind"], d["first_wrong"]["q"]) == ("forward", "loss"), d
    # a wrong E with a right δ is not a forward slip: E(y′) then differs from it
    half = _mean(_build(loss_value=lambda e, n: 2 * e))
    d = check_case(case, half, ("torch",)).diagnosis
    assert d["kind"] == "loss_value", d


def test_a_forward_slip_seen_only_through_db_at_one_sample():
    pytest.importorskip("torch")
    case = random_case(np.random.default_rng(5), (3, 4, 2), ("tanh",), "mse", batch=1)
    d = check_case(case, _grads_only(_on_2x), ("torch",)).diagnosis
    assert d["kind"] == "forward" and "∂b[1] (one sample: the output δ)" in d["detail"], d


def _noisy(inner, size):
    def backprop(weights, biases, activations, loss, x, t):
        out = inner(weights, biases, activations, loss, x, t)
        out["deltas"] = [d + size * np.random.default_rng().standard_normal(d.shape) * np.abs(d)
                         for d in out["deltas"]]
        return out
    return backprop


def test_differences_below_the_allowance_never_replace_the_kind():
    pytest.importorskip("torch")
    case = random_case(np.random.default_rng(6), (3, 4, 2), ("tanh",), "mse")
    wrong = _build(grad_b=lambda d: 2 * d.sum(axis=0))
    result = check.check_case(case, _noisy(wrong, 1e-16), ("torch",), repeat=True)
    assert result.nondeterministic
    d = diagnose(result)
    assert (d.kind, d.q) == ("factor", "grad_biases"), d.to_json()
    assert "not bit-reproducible" in d.detail
    # differences beyond the allowance stay the kind
    result = check.check_case(case, _noisy(wrong, 1e-3), ("torch",), repeat=True)
    assert diagnose(result).kind == "nondeterministic"


@pytest.mark.parametrize("order, how", [(lambda n: np.roll(n, 1), "sample n − 1's"),
                                        (lambda n: n[::-1], "in reverse order")])
def test_samples_paired_with_another_samples_targets_or_inputs_are_per_sample(order, how):
    pytest.importorskip("torch")
    case = random_case(np.random.default_rng(5), (3, 4, 2), ("tanh",), "mse", batch=4)
    targets = _build(out_delta=lambda y, t, a, loss: y - t[order(np.arange(len(t)))])
    d = check_case(case, targets, ("torch",)).diagnosis
    assert (d["kind"], d["first_wrong"]["q"]) == ("per_sample", "output_delta"), d
    assert "targets of another sample" in d["detail"] and how in d["detail"]
    inputs = _build(grad_w=lambda dl, z, a, l: dl.T @ z[l][order(np.arange(len(dl)))])
    d = check_case(case, inputs, ("torch",)).diagnosis
    assert (d["kind"], d["first_wrong"]["q"]) == ("per_sample", "grad_weights"), d
    # a sign slip is still a sign, not a misalignment
    d = check_case(case, _build(out_delta=lambda y, t, a, loss: t - y), ("torch",)).diagnosis
    assert d["kind"] == "sign", d
