"""The layer references: the numpy, torch and jax forwards agree, their VJPs agree with each
other and with central differences, the course-style example layers agree with them, and every
seeded slip disagrees (the comparison can fail)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deltacheck.core.errors import DeltacheckError
from deltacheck.oracles import unavailable_reason
from deltacheck.oracles.layers import KINDS, dropout_mask, forward, get_kind, vjp
from examples.layers.slips import SLIPS, course
from tests.layer_cases import (
    FIXED_KINDS,
    central_differences,
    draw_cases,
    drawn_mask,
    run_course_layer,
    with_mask,
)

# Every comparison is one number: max |got − want| over max(max |want|, 1), so that a gradient
# that is exactly 0 (batch norm's dx at N = 1) is compared absolutely. It passes at or below
# these, each some 1000 times the largest error measured on these cases:
TOLERANCES = {
    "frameworks": 1e-12,  # numpy, torch and jax: the same float64 arithmetic (measured 1e-15)
    "fd": 1e-7,  # central differences, step ε^(1/3) (measured 2e-10)
    "example": 1e-12,  # a course-style numpy layer against torch or jax (measured 4e-16)
}


def max_rel_err(got: object, want: object) -> float:
    """The comparison above; a wrong shape or a NaN is an infinite error."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return np.inf
    err = float(np.max(np.abs(got - want), initial=0.0) / max(np.max(np.abs(want), initial=0), 1))
    return err if np.isfinite(err) else np.inf


def assert_close(got: object, want: object, *, tol: str, what: str) -> None:
    """Fail with the worst entry, both values, the error and the tolerance."""
    __tracebackhide__ = True
    err = max_rel_err(got, want)
    if err <= TOLERANCES[tol]:
        return
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        raise AssertionError(f"{what}: shape {got.shape}, but should be {want.shape}")
    diff = np.nan_to_num(np.abs(got - want), nan=np.inf)
    at = tuple(int(i) for i in np.unravel_index(np.argmax(diff), got.shape))
    raise AssertionError(f"{what}{list(at) if at else ''} = {got[at]:.6g}, but should be "
                         f"{want[at]:.6g} (rel err {err:.2e} > {TOLERANCES[tol]:g})")


def needs(framework: str) -> pytest.MarkDecorator:
    """Skip, with the reason, when ``framework`` is not installed."""
    reason = unavailable_reason(framework)
    return pytest.mark.skipif(reason is not None, reason=reason or "")


FRAMEWORKS = [pytest.param(name, marks=needs(name)) for name in ("torch", "jax")]
ORACLES = [*FRAMEWORKS, "fd"]  # fd: central differences of the numpy reference forward
EXAMPLE_KINDS = (*FIXED_KINDS, "act:tanh")  # the kinds layers.py writes


def truth(oracle: str, kind: str, inputs: dict, params: dict, dout: object) -> dict:
    """The gradients of ⟨dout, out⟩ from torch, jax or central differences."""
    if oracle == "fd":
        return central_differences(kind, inputs, params, dout)
    return vjp(kind, oracle, inputs, params, dout)


def drawn(kind: str, rng: np.random.Generator) -> list[tuple[str, dict, dict, object]]:
    """(label, inputs, reference params, dout) for each case of ``kind``, dout drawn."""
    out = []
    for case in draw_cases(kind, rng):
        mask = drawn_mask(case, rng) if get_kind(kind).name == "dropout" else None
        params = with_mask(kind, case, mask)
        y, _ = forward(kind, "numpy", case.inputs, params)
        dout = 1.0 if get_kind(kind).loss else rng.standard_normal(y.shape)
        out.append((case.label, case.inputs, params, dout))
    return out


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_forward_agrees_with_numpy(kind, framework, rng):
    for label, inputs, params, _ in drawn(kind, rng):
        want, want_extras = forward(kind, "numpy", inputs, params)
        got, extras = forward(kind, framework, inputs, params)
        assert got.dtype == np.float64 and all(v.dtype == np.float64 for v in extras.values())
        assert_close(got, want, tol="frameworks", what=f"{kind} out ({label}, {framework})")
        assert extras.keys() == want_extras.keys()
        for name, value in extras.items():
            assert_close(value, want_extras[name], tol="frameworks", what=f"{kind} {name} ({label})")


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_vjp_agrees_with_central_differences(kind, framework, rng):
    for label, inputs, params, dout in drawn(kind, rng):
        got = vjp(kind, framework, inputs, params, dout)
        want = central_differences(kind, inputs, params, dout)
        assert list(got) == list(get_kind(kind).grads)
        for name in got:
            assert got[name].dtype == np.float64
            assert_close(got[name], want[name], tol="fd", what=f"{kind} {name} ({label}, {framework})")


@needs("torch")
@needs("jax")
@pytest.mark.parametrize("kind", list(KINDS))
def test_torch_and_jax_vjps_agree(kind, rng):
    for label, inputs, params, dout in drawn(kind, rng):
        by_jax = vjp(kind, "jax", inputs, params, dout)
        for name, value in vjp(kind, "torch", inputs, params, dout).items():
            assert_close(value, by_jax[name], tol="frameworks", what=f"{kind} {name} ({label})")


def _course_functions(module: object, kind: str) -> tuple:
    k = get_kind(kind)
    return (getattr(module, k.forward_name),
            *[getattr(module, name) for name in k.backward_names])


@pytest.mark.parametrize("kind", EXAMPLE_KINDS)
def test_example_forward_and_running_statistics_match_the_reference(kind, rng):
    forward_fn = _course_functions(course, kind)[0]
    for case in draw_cases(kind, rng):
        run = run_course_layer(kind, forward_fn, None, case, rng)
        want, extras = forward(kind, "numpy", case.inputs, run.ref_params)
        assert_close(run.out, want, tol="example", what=f"{kind} out ({case.label})")
        for name, value in extras.items():  # the course keeps them in its param dict
            assert_close(run.params["bn_param"][name], value, tol="example", what=f"{kind} {name}")


@pytest.mark.parametrize("oracle", ORACLES)
@pytest.mark.parametrize("kind", EXAMPLE_KINDS)
def test_example_backward_matches_the_reference(kind, oracle, rng):
    forward_fn, *backwards = _course_functions(course, kind)
    for backward_fn in backwards or [None]:
        for case in draw_cases(kind, rng):
            run = run_course_layer(kind, forward_fn, backward_fn, case, rng)
            if run.grads is None:
                continue  # batch norm in test mode: the course's backward is for training
            want = truth(oracle, kind, case.inputs, run.ref_params, run.dout)
            tol = "fd" if oracle == "fd" else "example"
            for name, value in run.grads.items():
                assert_close(value, want[name], tol=tol, what=f"{kind} {name} ({case.label})")


def _chained_truth(oracle, steps, dout):
    """The VJP of layers applied in turn, each step (kind, inputs, params) fed the last output."""
    outputs, grads = [], {}
    for i, (kind, inputs, params) in enumerate(steps):
        inputs = {**inputs, "x": outputs[-1]} if i else inputs
        outputs.append(forward(kind, "numpy", inputs, params)[0])
    for i in reversed(range(len(steps))):
        kind, inputs, params = steps[i]
        grads = truth(oracle, kind, {**inputs, "x": outputs[i - 1]} if i else inputs, params, dout)
        dout = grads["dx"]
    return grads


@pytest.mark.parametrize("oracle", ORACLES)
def test_example_sandwiches_match_the_chained_references(oracle, rng):
    x, w, b = (rng.standard_normal(shape) for shape in ((3, 2, 2), (4, 5), (5,)))
    out, cache = course.affine_relu_forward(x, w, b)
    dout = rng.standard_normal(out.shape)
    want = _chained_truth(oracle, [("affine", {"x": x, "w": w, "b": b}, {}), ("relu", {}, {})],
                          dout)
    tol = "fd" if oracle == "fd" else "example"
    for name, value in zip(("dx", "dw", "db"), course.affine_relu_backward(dout, cache), strict=True):
        assert_close(value, want[name], tol=tol, what=f"affine_relu {name}")
    x, w, b = (rng.standard_normal(shape) for shape in ((2, 2, 6, 6), (3, 2, 3, 3), (3,)))
    conv, pool = {"stride": 1, "pad": 1}, {"pool_height": 2, "pool_width": 2, "stride": 2}
    out, cache = course.conv_relu_pool_forward(x, w, b, conv, pool)
    dout = rng.standard_normal(out.shape)
    want = _chained_truth(oracle, [("conv", {"x": x, "w": w, "b": b}, {"conv_param": conv}),
                                   ("relu", {}, {}), ("max_pool", {}, {"pool_param": pool})], dout)
    for name, value in zip(("dx", "dw", "db"), course.conv_relu_pool_backward(dout, cache),
                           strict=True):
        assert_close(value, want[name], tol=tol, what=f"conv_relu_pool {name}")


def _disagrees(kind, forward_fn, backward_fn, oracle, rng) -> bool:
    """Whether a layer's gradients disagree with the oracle on at least one drawn case."""
    for case in draw_cases(kind, rng):
        with np.errstate(all="ignore"):  # a slip may divide by N − 1 = 0
            run = run_course_layer(kind, forward_fn, backward_fn, case, rng)
        if run.grads is None:
            continue
        want = truth(oracle, kind, case.inputs, run.ref_params, run.dout)
        tol = TOLERANCES["fd" if oracle == "fd" else "example"]
        if any(max_rel_err(run.grads[name], want[name]) > tol for name in want):
            return True
    return False


@pytest.mark.parametrize("oracle", ORACLES)
@pytest.mark.parametrize("name", list(SLIPS))
def test_every_seeded_slip_disagrees_with_the_reference(name, oracle, rng):
    slip = SLIPS[name]
    assert _disagrees(slip.kind, slip.forward, slip.backward, oracle, rng), \
        f"slip {name!r} ({slip.description}) agrees with {oracle} on every drawn case"


def test_the_slips_cover_every_kind():
    covered = {slip.kind.partition(":")[0] for slip in SLIPS.values()}  # act:tanh counts as act
    assert len(SLIPS) >= 25 and covered >= {*FIXED_KINDS, "act"}
    assert all(slip.description for slip in SLIPS.values())


def _by_path(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(f"deltacheck_test_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "layers"
BUGGY = {"affine_backward", "batchnorm_backward", "layernorm_backward", "dropout_backward",
         "conv_backward_naive", "max_pool_backward_naive", "softmax_loss"}


@pytest.mark.parametrize("oracle", ORACLES)
def test_the_buggy_file_fails_exactly_its_seven_slipped_layers(oracle, rng):
    buggy = _by_path(EXAMPLES / "buggy_layers.py")
    failing = set()
    for kind in EXAMPLE_KINDS:
        forward_fn, *backwards = _course_functions(buggy, kind)
        for fn in backwards or [forward_fn]:
            if _disagrees(kind, forward_fn, fn if backwards else None, oracle, rng):
                failing.add(fn.__name__)
    assert failing == BUGGY


TIES = np.array([[1.0, 3.0, 3.0], [3.0, 0.0, 3.0], [3.0, 3.0, 2.0]])[None, None]
# 2×2 windows, stride 1: every window's maximum 3 is tied; the first in row-major order wins.
FIRST_MAXIMA = np.array([[0.0, 2.0, 0.0], [1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])[None, None]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_max_pool_sends_a_tied_window_to_its_first_maximum(framework):
    params = {"pool_param": {"pool_height": 2, "pool_width": 2, "stride": 1}}
    dx = vjp("max_pool", framework, {"x": TIES}, params, np.ones((1, 1, 2, 2)))["dx"]
    np.testing.assert_array_equal(dx, FIRST_MAXIMA)
    out, cache = course.max_pool_forward_naive(TIES, params["pool_param"])
    np.testing.assert_array_equal(course.max_pool_backward_naive(np.ones_like(out), cache),
                                  FIRST_MAXIMA)


@pytest.mark.parametrize("framework", ["numpy", *FRAMEWORKS])
def test_float32_inputs_are_computed_in_float64(framework, rng):
    x, w = rng.standard_normal((2, 3)).astype(np.float32), rng.standard_normal((3, 2))
    inputs = {"x": x, "w": w.astype(np.float32), "b": np.zeros(2, dtype=np.float32)}
    out, _ = forward("affine", framework, inputs, {})
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, x.astype(np.float64) @ w.astype(np.float32))


@needs("jax")
def test_jax_x64_is_switched_on_only_inside_a_call(rng):
    import jax

    vjp("act:tanh", "jax", {"x": rng.standard_normal(3)}, {}, np.ones(3))
    assert not jax.config.jax_enable_x64


def test_the_references_import_without_torch_or_jax():
    code = ("import sys; import deltacheck.oracles.layers as layers; "
            "assert not {'torch', 'jax'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("call, message", [
    (lambda: forward("pool", "numpy", {}, {}), "unknown layer kind 'pool'"),
    (lambda: forward("act:swish", "numpy", {"x": np.ones(2)}, {}), "no activation called 'swish'"),
    (lambda: forward("affine", "numpy", {"x": np.ones((1, 2)), "w": np.ones((2, 1))}, {}),
     "affine inputs: missing b"),
    (lambda: forward("dropout", "numpy", {"x": np.ones(2)}, {"dropout_param": {}}),
     "dropout params: missing mask"),
    (lambda: forward("batchnorm", "numpy", {"x": np.ones((2, 1)), "gamma": np.ones(1),
                                            "beta": np.ones(1)}, {"bn_param": {"mode": "eval"}}),
     "mode='eval': choose 'train' or 'test'"),
    (lambda: vjp("relu", "torch", {"x": np.ones(2)}, {}, np.ones(3)), "dout has shape \\(3,\\)"),
    (lambda: vjp("svm_loss", "jax", {"x": np.ones((1, 2))}, {"y": [0]}, np.ones(1)),
     "a loss takes dout = 1.0"),
    (lambda: dropout_mask(np.zeros(2), np.zeros(2), {"mode": "train", "p": 0.5}), "exact zeros"),
    (lambda: vjp("relu", "numpy", {"x": np.ones(2)}, {}, np.ones(2)), "has no autograd"),
    (lambda: forward("relu", "mxnet", {"x": np.ones(2)}, {}), "unknown framework 'mxnet'"),
])
def test_bad_calls_say_what_to_fix(call, message):
    with pytest.raises(DeltacheckError, match=message):
        call()


def test_the_public_interface_is_pinned():
    import deltacheck.oracles.layers as layers

    assert sorted(layers.__all__) == ["FRAMEWORKS", "KINDS", "Kind", "call_settings", "declared",
                                      "dropout_mask", "forward", "get_kind", "vjp", "vjp_many"]
    assert KINDS["dropout"].reference_params == ("mask",)
    assert KINDS["conv"].backward_names == ("conv_backward_naive",)
    assert get_kind("act:tanh").forward_name == "tanh_forward"
