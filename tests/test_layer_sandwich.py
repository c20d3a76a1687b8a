"""Sandwich layers (affine_relu, affine_bn_relu, affine_ln_relu, conv_relu, conv_relu_pool,
conv_bn_relu): found by name, checked against the composed references, and a slip is put on the
inner layer that made it or on the composition."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import deltacheck
from deltacheck.layers.discovery import find_layers
from deltacheck.oracles.layers import forward, vjp
from examples.layers.slips import (
    affine_relu_skips_relu_backward,
    conv_bn_relu_swaps_dgamma_dbeta,
    course,
)
from tests.layer_cases import SANDWICH_KINDS, draw_cases

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "layers"


def _pair(kind: str) -> tuple:
    return getattr(course, f"{kind}_forward"), getattr(course, f"{kind}_backward")


def test_every_sandwich_of_the_example_file_is_found_by_name():
    layers, unplaced = find_layers(course)
    kinds = {spec.kind for spec in layers}
    assert kinds >= set(SANDWICH_KINDS)
    assert not [name for name in unplaced if "relu" in name]


@pytest.mark.parametrize("kind", SANDWICH_KINDS)
def test_the_reference_is_the_composition_of_the_layers(kind, rng):
    from deltacheck.oracles.layers.sandwich import stages

    for case in draw_cases(kind, rng):
        out, _ = forward(kind, "numpy", case.inputs, case.params)
        last, given, params = stages(kind, case.inputs, case.params)[-1]
        want, _ = forward(last, "numpy", given, params)
        assert np.array_equal(out, want)
        dout = rng.standard_normal(out.shape)
        course_out, cache = _pair(kind)[0](*case.inputs.values(),
                                           *[dict(p) for p in case.params.values()])
        np.testing.assert_allclose(course_out, out, rtol=1e-12, atol=1e-12)
        grads = _pair(kind)[1](dout, cache)
        for name, value in zip(vjp(kind, "torch", case.inputs, case.params, dout).values(), grads,
                               strict=True):
            np.testing.assert_allclose(value, name, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", SANDWICH_KINDS)
def test_the_correct_sandwich_passes(kind):
    result = deltacheck.check_layer(_pair(kind), kind=kind, examples=12, oracles=("torch", "fd"))
    assert result.passed, result


def affine_backward(dout, cache):
    """dw computed as doutᵀ x, (M, D), and reshaped to w's (D, M)."""
    x, w, _ = cache
    return (dout.dot(w.T).reshape(x.shape), dout.T.dot(x.reshape(len(x), -1)).reshape(w.shape),
            dout.sum(axis=0))


def affine_relu_backward(dout, cache):
    """Correct, but it calls the slipped affine_backward above."""
    fc_cache, relu_cache = cache
    return affine_backward(course.relu_backward(dout, relu_cache), fc_cache)


def _failure(result: deltacheck.LayerResult) -> dict:
    assert not result.passed
    return result.document["layers"][0]["failures"][-1]


def test_a_slipped_inner_layer_takes_the_blame():
    result = deltacheck.check_layer((course.affine_relu_forward, affine_relu_backward),
                                    kind="affine_relu", examples=10, oracles=("torch",))
    failure = _failure(result)
    blame = failure["diagnosis"]["attribution"]
    assert blame["to"] == "inner" and blame["layer"] == "affine", blame
    assert blame["names"] == "affine_forward/affine_backward" and blame["gradient"] == "dw"
    assert "(in affine)" in failure["diagnosis"]["cause"]


def test_a_composition_slip_is_blamed_on_the_composition():
    forward_fn = course.affine_relu_forward
    result = deltacheck.check_layer((forward_fn, affine_relu_skips_relu_backward),
                                    kind="affine_relu", examples=20, oracles=("torch",))
    blame = _failure(result)["diagnosis"]["attribution"]
    # the affine it calls is right, and it calls no relu_backward
    assert blame["to"] == "composition" and "no relu_backward" in blame["text"], blame


def test_a_sandwich_written_inline_is_not_attributed():
    def backward(dout, cache):  # calls no inner layer by name
        (x, w, _), a = cache
        da = dout * (a > 0) * 2.0
        return (da @ w.T).reshape(x.shape), x.reshape(len(x), -1).T @ da, da.sum(0)

    result = deltacheck.check_layer((course.affine_relu_forward, backward), kind="affine_relu",
                                    examples=10, oracles=("torch",))
    blame = _failure(result)["diagnosis"]["attribution"]
    assert blame["to"] == "unknown" and "cannot be checked apart" in blame["text"]


def test_a_slip_in_the_composition_is_blamed_on_it():
    result = deltacheck.check_layer((course.conv_bn_relu_forward,
                                     conv_bn_relu_swaps_dgamma_dbeta), kind="conv_bn_relu",
                                    examples=20, oracles=("torch",))
    failure = _failure(result)
    blame = failure["diagnosis"]["attribution"]
    assert blame["to"] == "composition", blame
    assert "in the composition" in failure["diagnosis"]["cause"]


@pytest.mark.parametrize("name", ["mean_far_above_spread", "constant_channel"])
def test_a_norm_input_far_from_zero_against_its_spread_is_no_false_alarm(name):
    # found cases: the convolution's output per channel is b ± 0.01 (or b exactly: the kernel
    # reads only padding), so x̂ = (a − μ) / σ is rounded to ε |a| / σ; the course's
    # conv_bn_relu gave db = −5e-11 and dγ = 1e-14 for a true 0
    from deltacheck.layers.discovery import LayerSpec
    from deltacheck.layers.judging import check_case
    from deltacheck.layers.replay import load_case

    case = load_case(Path(__file__).parent / "data" / f"layer_conv_bn_relu_{name}.json")
    names = ("conv_bn_relu_forward", "conv_bn_relu_backward")
    right = LayerSpec("conv_bn_relu", *_pair("conv_bn_relu"), *names)
    assert check_case(right, case, ["torch", "jax", "fd"]).verdict == "pass"
    wrong = LayerSpec("conv_bn_relu", course.conv_bn_relu_forward,
                      conv_bn_relu_swaps_dgamma_dbeta, *names)
    assert check_case(wrong, case, ["torch"]).verdict == "fail"


def _near_kink_cases(count: int = 40):
    """affine_relu in float32 with a[0, 0] within float32 rounding of 0 (by its bias)."""
    from deltacheck.layers.draws import LayerCase

    rng = np.random.default_rng(3)
    for trial in range(count):
        x = rng.standard_normal((3, 4)).astype(np.float32)
        w = rng.standard_normal((4, 3)).astype(np.float32)
        b = rng.standard_normal(3).astype(np.float32)
        exact = float(x[0].astype(np.float64) @ w[:, 0].astype(np.float64))
        b[0] = np.float32(-exact + rng.choice([1e-8, -1e-8, 3e-8]))
        yield LayerCase("affine_relu", "float32", {"x": x, "w": w, "b": b}, {}, trial)


def test_a_relu_input_within_rounding_of_its_kink_is_not_judged():
    pytest.importorskip("torch")
    from deltacheck.layers.discovery import LayerSpec
    from deltacheck.layers.judging import check_case

    forward_, backward_ = _pair("affine_relu")
    spec = LayerSpec("affine_relu", forward_, backward_, "affine_relu_forward",
                     "affine_relu_backward")
    flipped = verdicts = 0
    for case in _near_kink_cases():
        x, w, b = (case.inputs[n] for n in ("x", "w", "b"))
        ours = (x @ w + b)[0, 0] > 0
        flipped += ours != (float(x[0].astype(np.float64) @ w[:, 0].astype(np.float64))
                            + float(b[0]) > 0)
        outcome = check_case(spec, case, ["torch", "fd"])
        assert outcome.verdict != "fail", outcome.message
        verdicts += outcome.not_judged > 0
    assert flipped > 5 and verdicts == 40  # the sign flips happen, and no case is judged
    # away from the kink, a wrong backward still fails: the check can fail
    wrong = LayerSpec("affine_relu", forward_, lambda dout, cache: tuple(
        2 * g for g in backward_(dout, cache)), "affine_relu_forward", "wrong")
    from deltacheck.layers.draws import LayerCase
    drawn = draw_cases("affine_relu", np.random.default_rng(0))[0]
    case = LayerCase("affine_relu", "float64", drawn.inputs, drawn.params, 0)
    assert check_case(wrong, case, ["torch", "fd"]).verdict == "fail"
