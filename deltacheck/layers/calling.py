"""Run a user's layer on one case: forward on copies, then backward on a drawn ``dout``.

Whatever the layer does wrong is a reason, never an exception out of here: it raised, it did not
return ``(out, cache)``, a gradient has the wrong shape, or it changed an input array. Batch
norm's running statistics in its param dict are outputs (``UserRun.extras``), not changed
inputs; dropout's mask is read back from its output and handed to the reference.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deltacheck.core.errors import exception_text
from deltacheck.layers.discovery import LayerSpec
from deltacheck.layers.draws import LayerCase
from deltacheck.oracles.layers import Kind, dropout_mask, forward, get_kind

STATS = ("running_mean", "running_var")


@dataclass
class UserRun:
    """What the user's layer gave on one case, and what the reference needs to judge it."""

    out: Any = None  # the output, or the loss of a loss kind
    grads: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)  # running statistics after the call
    ref_params: dict[str, Any] = field(default_factory=dict)  # the reference's (mask included)
    dout: Any = 1.0
    problem: str = ""  # why no gradient can be judged: raised, bad return, shapes, ...
    stage: str = ""  # forward, backward, shape, modified
    checks_backward: bool = True  # False for batch norm in test mode (the course's is train-only)


def user_params(spec: LayerSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    """The case's params in the user's convention (dropout's p as a drop probability)."""
    out = copy.deepcopy(dict(params))
    if spec.params.get("dropout_p") == "drop" and "dropout_param" in out:
        out["dropout_param"]["p"] = 1.0 - out["dropout_param"]["p"]
    return out


def call_forward(spec: LayerSpec, kind: Kind, inputs: Mapping[str, np.ndarray],
                 params: Mapping[str, Any], *, copies: bool = True) -> tuple[Any, Any]:
    """``forward(*inputs, *params)`` (on copies unless ``copies=False``; params in the user's
    convention)."""
    args = {n: np.array(inputs[n], order="K") if copies else inputs[n] for n in kind.inputs}
    result = spec.forward(*[args[n] if n in args else params[n] for n in kind.signature])
    return stacked(kind, result)


def stacked(kind: Kind, result: Any) -> Any:
    """``(out, cache)``: a forward's several outputs (lstm_step's next_h, next_c) stacked into
    one ``out``, as the reference has them; a result of any other form is left as it is."""
    count = len(kind.outputs)
    if count == 1 or not isinstance(result, (tuple, list)) or len(result) != count + 1:
        return result
    try:
        out = np.stack([np.asarray(v) for v in result[:count]])
    except (TypeError, ValueError):
        return result
    return out, result[count]


def _raised(where: str, exc: BaseException) -> str:
    return f"{where} raised {type(exc).__name__}: {exception_text(exc)}"


def _pair(value: Any, what: str, kind: Kind) -> tuple[Any, Any] | str:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        wanted = "(loss, dx)" if kind.loss else f"({', '.join(kind.outputs)}, cache)"
        return f"{what} returned {type(value).__name__}, not {wanted}"
    return value[0], value[1]


def run_user(spec: LayerSpec, case: LayerCase) -> UserRun:
    """Forward (a train step first for a test-mode batch norm), backward, and the checks."""
    kind = get_kind(spec.kind)
    run = UserRun(ref_params=copy.deepcopy(case.params))
    params = user_params(spec, case.params)
    if case.train_first:
        message = _train_step(spec, kind, case, params, run)
        if message:
            run.problem, run.stage = message, "forward"
            return run
    pristine = {n: v.copy() for n, v in case.inputs.items()}
    inputs = {n: np.array(v, order="K") for n, v in case.inputs.items()}
    try:
        with np.errstate(all="ignore"):
            result = call_forward(spec, kind, inputs, params, copies=False)
    except Exception as exc:
        run.problem, run.stage = _raised(spec.forward_name, exc), "forward"
        return run
    pair = _pair(result, spec.forward_name, kind)
    if isinstance(pair, str):
        run.problem, run.stage = pair, "forward"
        return run
    if kind.loss:
        run.out, run.grads = pair[0], {"dx": pair[1]}
    else:
        run.out, cache = pair
        run.extras = _stats(params)
        if kind.name == "dropout":
            _read_mask(run, case)
        if run.problem:
            return run
        want, _ = forward(kind, "numpy", case.inputs, run.ref_params)
        rng = np.random.default_rng(case.seed + 1)
        run.dout = rng.standard_normal(want.shape).astype(case.dtype)
        run.checks_backward = not case.train_first
        if run.checks_backward and spec.backward is not None:
            _backward(spec, kind, run, cache)
    _check_unchanged(run, pristine, inputs)
    return run


def _train_step(spec: LayerSpec, kind: Kind, case: LayerCase, params: dict[str, Any],
                run: UserRun) -> str:
    """Run a train step on a batch of its own; its running stats are what test mode uses."""
    key = "bn_param" if "bn_param" in kind.params else kind.params[0]
    train = {**params, key: {**params[key], "mode": "train"}}
    rng = np.random.default_rng(case.seed + 2)
    x = rng.standard_normal(case.inputs["x"].shape).astype(case.dtype)
    try:
        with np.errstate(all="ignore"):
            call_forward(spec, kind, {**case.inputs, "x": x}, train)
    except Exception as exc:
        return _raised(f"{spec.forward_name} (train step before test mode)", exc)
    for name in STATS:  # the user's dict now holds what test mode reads
        if name in train[key]:
            params[key][name] = train[key][name]
            run.ref_params[key][name] = np.array(train[key][name], dtype=np.float64)
    return ""


def _stats(params: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key in ("bn_param",):
        if key in params:
            found |= {name: params[key][name] for name in STATS if name in params[key]}
    return found


def _read_mask(run: UserRun, case: LayerCase) -> None:
    x = case.inputs["x"]
    if np.shape(run.out) != x.shape:
        run.problem, run.stage = (f"output shape {np.shape(run.out)}, but should be {x.shape}",
                                  "shape")
        return
    run.ref_params["mask"] = dropout_mask(x, np.asarray(run.out),
                                          case.params["dropout_param"])


def _backward(spec: LayerSpec, kind: Kind, run: UserRun, cache: Any) -> None:
    assert spec.backward is not None
    name = spec.backward_name or f"{spec.name}'s backward"
    # one upstream gradient per output (lstm_step: dnext_h, dnext_c), each the user's own copy
    douts = [np.array(d, order="K") for d in
             (run.dout if len(kind.outputs) > 1 else [run.dout])]
    try:
        with np.errstate(all="ignore"):
            grads = spec.backward(*douts, cache)
    except Exception as exc:
        run.problem, run.stage = _raised(name, exc), "backward"
        return
    if len(kind.grads) == 1 and not isinstance(grads, (tuple, list)):
        grads = (grads,)
    if not isinstance(grads, (tuple, list)) or len(grads) != len(kind.grads):
        got = len(grads) if isinstance(grads, (tuple, list)) else type(grads).__name__
        run.problem, run.stage = (f"{name} returned {got} values, but should "
                                  f"return ({', '.join(kind.grads)})"), "backward"
        return
    run.grads = dict(zip(kind.grads, grads, strict=True))
    given = run.dout if len(kind.outputs) > 1 else [run.dout]
    for output, dout, before in zip(kind.outputs, douts, given, strict=True):
        if not np.array_equal(dout, before, equal_nan=True):
            upstream = "dout" if output == "out" else f"d{output}"
            run.problem, run.stage = (f"{name} changed {upstream} in place",
                                      "modified")
            return


def _check_unchanged(run: UserRun, pristine: Mapping[str, np.ndarray],
                     passed: Mapping[str, np.ndarray]) -> None:
    for name, before in pristine.items():
        if not np.array_equal(before, passed[name], equal_nan=True) and not run.problem:
            run.problem, run.stage = f"the layer changed its input {name} in place", "modified"


def shape_problem(kind: Kind, run: UserRun, case: LayerCase, want_out: Any) -> str:
    """Why the output or a gradient cannot be compared (shape, not an array), or ''."""
    if np.shape(run.out) != np.shape(want_out):
        what = "loss" if kind.loss else "output"
        return f"{what} shape {np.shape(run.out)}, but should be {np.shape(want_out)}"
    for (name, grad), inp in zip(run.grads.items(), kind.inputs, strict=False):
        want = case.inputs[inp].shape
        try:
            got = np.shape(grad)
        except Exception:
            got = None
        if got != want:
            return f"{name} has shape {got}, but should be {want} (the shape of {inp})"
    return ""

