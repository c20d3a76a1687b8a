"""Drawn cases for the layer kinds, a course-style layer run on one, and central differences."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from deltacheck.oracles.layers import KINDS, dropout_mask, forward, get_kind
from deltacheck.oracles.layers.kinds import RECURRENT, SANDWICHES
from deltacheck.tolerances import FD_STEP


class LayerCase(NamedTuple):
    """Inputs and the course-style params (as the user's forward takes them) of one drawn case."""

    label: str
    inputs: dict[str, np.ndarray]
    params: dict[str, Any]


def _normal(rng: np.random.Generator, **shapes: tuple[int, ...]) -> dict[str, np.ndarray]:
    return {name: rng.standard_normal(shape) for name, shape in shapes.items()}


def _norm(rng: np.random.Generator, x: tuple[int, ...], channels: tuple[int, ...]) -> dict:
    return _normal(rng, x=x, gamma=channels, beta=channels)


def _bn_param(rng: np.random.Generator, mode: str, C: int) -> dict[str, Any]:
    return {"mode": mode, "eps": 1e-3, "momentum": 0.8, "running_mean": rng.standard_normal(C),
            "running_var": rng.uniform(0.5, 2.0, C)}


def draw_cases(kind: str, rng: np.random.Generator) -> list[LayerCase]:
    """The cases of ``kind``: N = 1, pad 0, strides that skip a row, overlapping pools included."""
    k, C = get_kind(kind), LayerCase
    if k.activation is not None:
        return [C("(3, 4)", _normal(rng, x=(3, 4)), {}),
                C("N = 1, (1, 2, 3)", _normal(rng, x=(1, 2, 3)), {})]
    labels = {"y": rng.integers(0, 5, 4)}
    if k.name in RECURRENT:
        return recurrent_cases(k.name, rng)
    if k.name in SANDWICHES:
        return sandwich_cases(k.name, rng)
    return {
        "affine": [C("x (2, 3, 2)", _normal(rng, x=(2, 3, 2), w=(6, 4), b=(4,)), {}),
                   C("N = 1", _normal(rng, x=(1, 5), w=(5, 3), b=(3,)), {})],
        "batchnorm": [
            C("train", _norm(rng, (4, 3), (3,)), {"bn_param": _bn_param(rng, "train", 3)}),
            C("train, N = 1, no running stats", _norm(rng, (1, 3), (3,)),
              {"bn_param": {"mode": "train"}}),
            C("test", _norm(rng, (4, 3), (3,)), {"bn_param": _bn_param(rng, "test", 3)})],
        "layernorm": [C("(4, 3)", _norm(rng, (4, 3), (3,)), {"ln_param": {}}),
                      C("N = 1, eps 1e-3", _norm(rng, (1, 5), (5,)), {"ln_param": {"eps": 1e-3}})],
        "dropout": [C("train, p = 0.6", _normal(rng, x=(4, 5)),
                      {"dropout_param": {"mode": "train", "p": 0.6, "seed": 7}}),
                    C("test", _normal(rng, x=(3, 2)), {"dropout_param": {"mode": "test", "p": 0.6}})],
        "conv": [C("stride 2 (the last row unread), pad 1",
                   _normal(rng, x=(2, 2, 6, 5), w=(3, 2, 3, 3), b=(3,)),
                   {"conv_param": {"stride": 2, "pad": 1}}),
                 C("N = 1, stride 1, pad 0", _normal(rng, x=(1, 1, 4, 4), w=(2, 1, 2, 2), b=(2,)),
                   {"conv_param": {"stride": 1, "pad": 0}})],
        "max_pool": [C("overlapping 3×2 windows, stride 1", _normal(rng, x=(2, 2, 5, 4)),
                       {"pool_param": {"pool_height": 3, "pool_width": 2, "stride": 1}}),
                     C("N = 1, 2×2, stride 2", _normal(rng, x=(1, 1, 4, 4)),
                       {"pool_param": {"pool_height": 2, "pool_width": 2, "stride": 2}})],
        "spatial_batchnorm": [
            C("train", _norm(rng, (2, 3, 4, 3), (3,)), {"bn_param": _bn_param(rng, "train", 3)}),
            C("train, N = 1", _norm(rng, (1, 2, 3, 3), (2,)), {"bn_param": {"mode": "train"}}),
            C("test", _norm(rng, (2, 3, 2, 2), (3,)), {"bn_param": _bn_param(rng, "test", 3)})],
        "spatial_groupnorm": [
            C("G = 2", _norm(rng, (2, 4, 2, 3), (1, 4, 1, 1)), {"G": 2, "gn_param": {}}),
            C("N = 1, G = 3, eps 1e-3", _norm(rng, (1, 6, 2, 2), (1, 6, 1, 1)),
              {"G": 3, "gn_param": {"eps": 1e-3}})],
        "softmax_loss": [C("(4, 5)", _normal(rng, x=(4, 5)), labels),
                         C("N = 1", _normal(rng, x=(1, 3)), {"y": np.array([2])})],
        "svm_loss": [C("(4, 5)", _normal(rng, x=(4, 5)), labels),
                     C("N = 1", _normal(rng, x=(1, 3)), {"y": np.array([0])})],
    }[k.name]


def with_mask(kind: str, case: LayerCase, mask: np.ndarray) -> dict[str, Any]:
    """The reference's params: the course params, and for dropout the mask it applied."""
    return {**case.params, "mask": mask} if get_kind(kind).reference_params else case.params


def drawn_mask(case: LayerCase, rng: np.random.Generator) -> np.ndarray:
    """A scaled dropout mask (0 or 1/p), drawn as the course draws it."""
    p = case.params["dropout_param"]["p"]
    return (rng.random(case.inputs["x"].shape) < p) / p


def trains(case: LayerCase) -> bool:
    """False for a batch norm in test mode, whose backward the course code does not handle."""
    return case.params.get("bn_param", {}).get("mode", "train") == "train"


class CourseRun(NamedTuple):
    """What a course-style layer gave on one case."""

    out: np.ndarray
    grads: dict[str, np.ndarray] | None  # None when it has no backward for the case
    params: dict[str, Any]  # the params after the call (running statistics)
    dout: Any
    ref_params: dict[str, Any]  # the params for the reference, dropout's mask included


def run_course_layer(kind: str, forward_fn: Callable, backward_fn: Callable | None,
                     case: LayerCase, rng: np.random.Generator) -> CourseRun:
    """Forward on copies of the case's arrays, then backward on a drawn dout (a loss: dout = 1)."""
    k = get_kind(kind)
    params = copy.deepcopy(case.params)
    args = [case.inputs[n].copy() if n in k.inputs else params[n] for n in k.signature]
    if k.loss:
        loss, dx = forward_fn(*args)
        return CourseRun(np.asarray(loss), {"dx": dx}, params, 1.0, case.params)
    *outs, cache = forward_fn(*args)
    out = outs[0] if len(outs) == 1 else np.stack(outs)  # lstm_step: next_h, next_c stacked
    mask = (dropout_mask(case.inputs["x"], out, case.params["dropout_param"])
            if k.name == "dropout" else None)
    dout = rng.standard_normal(out.shape)
    if backward_fn is None or not trains(case):
        return CourseRun(out, None, params, dout, with_mask(kind, case, mask))
    grads = backward_fn(*(dout if len(outs) > 1 else [dout]), cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    return CourseRun(out, dict(zip(k.grads, grads, strict=True)), params, dout,
                     with_mask(kind, case, mask))


def central_differences(kind: str, inputs: dict[str, np.ndarray], params: dict[str, Any],
                        dout: Any) -> dict[str, np.ndarray]:
    """∂⟨dout, out⟩/∂input by central differences of the numpy reference forward."""
    k = get_kind(kind)
    grads = {}
    for name, grad_name in zip(k.inputs, k.grads, strict=True):
        g = np.zeros(inputs[name].shape)
        for index in np.ndindex(*g.shape):
            value = inputs[name][index]
            h = FD_STEP * max(1.0, abs(value))
            sides = []
            for moved in (value + h, value - h):
                x = inputs[name].copy()
                x[index] = moved
                sides.append(forward(kind, "numpy", {**inputs, name: x}, params)[0])
            g[index] = np.sum(dout * (sides[0] - sides[1])) / ((value + h) - (value - h))
        grads[grad_name] = g
    return grads


def recurrent_cases(kind: str, rng: np.random.Generator) -> list[LayerCase]:
    """Two cases of a recurrent kind: one with several steps, one with T = 1 (or N = 1)."""
    C, normal = LayerCase, rng.standard_normal
    if kind == "word_embedding":  # words repeat: the gradient of a row adds up
        return [C("repeated words", {"W": normal((4, 3))}, {"x": np.array([[0, 3, 0], [3, 3, 1]])}),
                C("T = 1", {"W": normal((2, 2))}, {"x": np.array([[1], [1]])})]
    if kind == "temporal_affine":
        return [C("(2, 3, 4)", _normal(rng, x=(2, 3, 4), w=(4, 5), b=(5,)), {}),
                C("T = 1", _normal(rng, x=(1, 1, 2), w=(2, 3), b=(3,)), {})]
    if kind == "temporal_softmax_loss":
        mask = np.array([[True, True, False], [True, False, False]])
        return [C("masked", _normal(rng, x=(2, 3, 4)), {"y": rng.integers(0, 4, (2, 3)), "mask": mask}),
                C("T = 1", _normal(rng, x=(2, 1, 3)), {"y": np.array([[2], [0]]),
                                                        "mask": np.array([[True], [True]])})]
    G = 4 if kind.startswith("lstm") else 1
    cases = []
    for label, N, T, D, H, scale in (("T = 3", 2, 3, 3, 2, 1.0), ("T = 1, saturated", 1, 1, 2, 3, 6.0)):
        inputs = {"x": normal((N, D) if kind.endswith("_step") else (N, T, D)),
                  "prev_h" if kind.endswith("_step") else "h0": normal((N, H)),
                  "Wx": scale * normal((D, G * H)), "Wh": scale * normal((H, G * H)),
                  "b": scale * normal((G * H,))}
        if kind == "lstm_step":
            inputs["prev_c"] = normal((N, H))
        cases.append(C(label, inputs, {}))
    return cases


def sandwich_cases(kind: str, rng: np.random.Generator) -> list[LayerCase]:
    """Two cases of a sandwich layer: a general one and one with N = 1 (a pool that overlaps)."""
    C, conv = LayerCase, {"conv_param": {"stride": 1, "pad": 1}}
    cases = []
    for label, N in (("(3, ...)", 3), ("N = 1", 1)):
        if kind.startswith("affine"):
            inputs, params, M = _normal(rng, x=(N, 2, 3), w=(6, 4), b=(4,)), {}, 4
        else:
            inputs, params, M = _normal(rng, x=(N, 2, 5, 4), w=(3, 2, 3, 3), b=(3,)), dict(conv), 3
        if "_bn_" in kind:
            params["bn_param"] = _bn_param(rng, "train", M)
        if "_ln_" in kind:
            params["ln_param"] = {"eps": 1e-5}
        if "_pool" in kind:
            params["pool_param"] = {"pool_height": 2, "pool_width": 2, "stride": 1}
        if "_bn_" in kind or "_ln_" in kind:
            inputs |= _normal(rng, gamma=(M,), beta=(M,))
        cases.append(C(label, inputs, params))
    return cases


SANDWICH_KINDS = tuple(SANDWICHES)
FIXED_KINDS = tuple(name for name in KINDS if not name.startswith("act:") and name not in RECURRENT
                    and name not in SANDWICHES)
